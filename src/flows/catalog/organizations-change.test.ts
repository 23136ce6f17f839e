import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'organizations-change';
const R = 'records/';

describe(ID, () => {
  it('raises when an account is created in the organization (AWS Organizations docs)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toMatch(/^Organization changed: bob /);
  });
  it('raises when an organizational unit is created', () => {
    expect(findings([record('flows/aws-organizations-docs.json', 'CreateOrganizationalUnit')], ID)).toHaveLength(1);
  });
  it('ignores a failed policy attachment and a denied attempt to leave', () => {
    expect(findings([record('flows/aws-organizations-docs.json', 'AttachPolicy')], ID)).toEqual([]);
    expect(findings([record(`${R}denied.json`, 'LeaveOrganization')], ID)).toEqual([]);
  });
});
