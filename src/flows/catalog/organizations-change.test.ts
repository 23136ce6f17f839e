import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'organizations-change';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises when an account is created in the organization (AWS Organizations docs)', () => {
    const { records, config } = positive();
    const f = findings(records, ID, config);
    expect(f).toHaveLength(1);
    expect(f[0]!.severity).toBe('high');
    expect(f[0]!.title).toMatch(/^Organization changed: bob /);
  });
  it('raises when an organizational unit is created', () => {
    expect(findings([record('flows/aws-organizations-docs.json', 'CreateOrganizationalUnit')], ID)).toHaveLength(1);
  });
  it('ignores a failed policy attachment and a denied attempt to leave', () => {
    expect(findings([record('flows/aws-organizations-docs.json', 'AttachPolicy')], ID)).toEqual([]);
    expect(findings([record(`${R}denied.json`, 'LeaveOrganization')], ID)).toEqual([]);
  });
});
