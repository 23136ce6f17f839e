import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'access-key-quarantined';
const PANTHER = 'flows/panther-analysis.json';

describe(ID, () => {
  it('raises (critical) when AWSCompromisedKeyQuarantineV2 is attached, in place of iam-policy-change (Panther test record)', () => {
    const { records, config } = POSITIVE[ID]!();
    const all = findings(records, undefined, config);
    expect(all.map((f) => f.flow)).toEqual([ID]);
    expect(all[0]!.severity).toBe('critical');
    expect(all[0]!.title).toBe('Exposed access key quarantined by AWS (test-user): a-role/user.name attached a policy to the IAM user test-user');
    expect(all[0]!.body).toContain('AWSCompromisedKeyQuarantineV2');
  });

  it('knows the first and later versions of the policy, and nothing else', () => {
    for (const [arn, n] of [
      ['arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine', 1],
      ['arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3', 1],
      ['arn:aws:iam::aws:policy/ReadOnlyAccess', 0],
      ['arn:aws:iam::111122223333:policy/AWSCompromisedKeyQuarantineV2', 0],
    ] as const) {
      const r = record(PANTHER, 'AttachUserPolicy');
      (r.requestParameters as Record<string, unknown>).policyArn = arn;
      expect(findings([r], ID), arn).toHaveLength(n);
    }
  });

  it('ignores the inline deny-all policy of the same Panther rule (a person quarantining by hand is iam-policy-change)', () => {
    expect(findings([record(PANTHER, 'PutUserPolicy')], ID)).toEqual([]);
  });
});
