import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { call } from '../../../test/fixtures/flows/build.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'organization-leave-attempt';

describe(ID, () => {
  it('raises on a denied LeaveOrganization, alone (organizations-change, critical-action-denied and unauthorized-api-calls leave it)', () => {
    const { records, config } = POSITIVE[ID]!();
    const all = findings(records, undefined, config);
    expect(all.map((f) => f.flow)).toEqual([ID]);
    expect(all[0]!.severity).toBe('high');
    expect(all[0]!.title).toBe('Attempt to leave the organization: SampleRole/SampleSession tried to take the account out of the organization');
  });

  it('raises on an account that left, in place of organizations-change', () => {
    const left = call({ source: 'organizations.amazonaws.com', name: 'LeaveOrganization', region: 'us-east-1' });
    const all = findings([left], undefined);
    expect(all.map((f) => f.flow)).toEqual([ID]);
    expect(all[0]!.title).toMatch(/^Account left the organization: alice /);
    expect(all[0]!.severity).toBe('critical');
  });

  it('with the flow turned off, organizations-change reports the exit and critical-action-denied the denied try', () => {
    const off = { [ID]: { enabled: false } };
    expect(findings([call({ source: 'organizations.amazonaws.com', name: 'LeaveOrganization' })], undefined, off).map((f) => f.flow)).toEqual(['organizations-change']);
    expect(findings([record('records/denied.json', 'LeaveOrganization')], undefined, off).map((f) => f.flow)).toEqual(['critical-action-denied']);
  });
});
