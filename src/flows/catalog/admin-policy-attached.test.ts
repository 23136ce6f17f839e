import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'admin-policy-attached';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises when AdministratorAccess is attached to a user (Stratus iam-create-admin-user)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('critical');
    expect(f.title).toBe('Administrator access granted: christophe attached a policy to the IAM user malicious-iam-user');
  });
  it('raises on an inline policy allowing *:* on * (derived from a Panther test log, see SOURCES.md)', () => {
    const f = findings([record('flows/derived.json', 'PutUserPolicy')], ID);
    expect(f).toHaveLength(1);
    expect(f[0]!.title).toContain('(inline policy TestUserAllowAll allowing everything)');
  });
  it('ignores other managed policies and an inline policy denying everything (Panther test logs)', () => {
    expect(findings([record('flows/panther-analysis.json', 'AttachUserPolicy')], ID)).toEqual([]);
    expect(findings([record('flows/panther-analysis.json', 'PutUserPolicy')], ID)).toEqual([]);
  });
  it('is not silenced by the infrastructure-as-code allow-list', () => {
    const { records } = positive();
    expect(findings(records, ID, { allow: { iacIdentities: ['christophe'] } })).toHaveLength(1);
  });
});
