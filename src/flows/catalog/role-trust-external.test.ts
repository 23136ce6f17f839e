import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { createRole, OUTSIDER } from '../../../test/fixtures/flows/exposure-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'role-trust-external';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises on a trust policy updated to trust an account that is not ours (Stratus iam-backdoor-role)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toBe('Role stratus-red-team-backdoor-r-role changed so that another account may assume it: christophe trusted 193672423079');
  });
  it("raises on a role created trusting an outside account or '*' (Stratus iam-create-backdoor-role, built)", () => {
    expect(findings([createRole({ AWS: `arn:aws:iam::${OUTSIDER}:root` })], ID).map((x) => x.title)).toEqual([
      `Role support-access created so that another account may assume it: mallory trusted ${OUTSIDER}`,
    ]);
    expect(findings([createRole({ AWS: '*' })], ID).map((x) => x.title)).toEqual(['Role support-access created so that anyone may assume it: mallory']);
    // An external id does not make a vendor's account ours.
    expect(findings([createRole({ AWS: OUTSIDER }, { StringEquals: { 'sts:ExternalId': 'vendor-123' } })], ID)).toHaveLength(1);
  });
  it("ignores services, our accounts, trusted vendors and '*' kept to our organization", () => {
    expect(findings([createRole({ Service: 'lambda.amazonaws.com' })], ID)).toEqual([]);
    expect(findings([createRole({ AWS: 'arn:aws:iam::111122223333:role/ci' })], ID)).toEqual([]);
    expect(findings([createRole({ AWS: OUTSIDER })], ID, { trustedAccounts: [OUTSIDER] })).toEqual([]);
    expect(findings([createRole({ AWS: '*' }, { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } })], ID)).toEqual([]);
  });
  it('is reported once: iam-policy-change leaves the event to it', () => {
    const { records } = positive();
    expect(findings(records).map((x) => x.flow)).toEqual([ID]);
  });
});
