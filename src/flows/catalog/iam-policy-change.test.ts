import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'iam-policy-change';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises when a role trust policy is updated (Stratus iam-backdoor-role, its account listed under trustedAccounts)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('IAM trust policy changed: christophe updated the IAM role stratus-red-team-backdoor-r-role');
  });
  it('raises on a managed policy attached from the console (Panther test log, policy changed to ReadOnlyAccess)', () => {
    const r = record('flows/panther-analysis.json', 'AttachUserPolicy');
    (r.requestParameters as Record<string, unknown>).policyArn = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
    expect(findings([r], ID)).toHaveLength(1);
  });
  it("leaves AWS's compromised-key quarantine to access-key-quarantined (the Panther record as published)", () => {
    const all = findings([record('flows/panther-analysis.json', 'AttachUserPolicy')]);
    expect(all.map((x) => x.flow)).toEqual(['access-key-quarantined']);
  });
  it('leaves AdministratorAccess to admin-policy-attached (nothing doubled)', () => {
    const all = findings([record(`${R}stratus-aws.persistence.iam-create-admin-user.json`, 'AttachUserPolicy')]);
    expect(all.filter((x) => x.flow === ID)).toEqual([]);
    expect(all.filter((x) => x.flow === 'admin-policy-attached')).toHaveLength(1);
  });
  it('ignores failed changes and infrastructure-as-code identities', () => {
    expect(findings([record(`${R}denied.json`, 'DeleteGroupPolicy')], ID)).toEqual([]);
    const { records, config } = positive();
    expect(findings(records, ID, { ...config, allow: { iacIdentities: ['christophe'] } })).toEqual([]);
  });
  it('leaves a trust policy opened to an account that is not ours to role-trust-external (nothing doubled)', () => {
    const all = findings([record(`${R}stratus-aws.persistence.iam-backdoor-role.json`, 'UpdateAssumeRolePolicy')]);
    expect(all.map((x) => x.flow)).toEqual(['role-trust-external']);
  });
});
