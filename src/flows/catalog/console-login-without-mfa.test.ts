import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { at, findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'console-login-without-mfa';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises on an IAM user console sign-in without MFA (AWS docs)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('anaya signed in to the AWS console without MFA (account 111122223333)');
  });
  it('ignores sign-ins with MFA, failed sign-ins and root (reported by root-activity)', () => {
    expect(findings([at(`${R}aws-docs-examples.json`, 1)], ID)).toEqual([]);
    expect(findings([at(`${R}aws-docs-examples.json`, 2)], ID)).toEqual([]);
    expect(findings([at(`${R}aws-docs-examples.json`, 5)], ID)).toEqual([]);
  });
  it('honours the break-glass allow-list', () => {
    const { records } = positive();
    expect(findings(records, ID, { allow: { breakGlassRoles: ['anaya'] } })).toEqual([]);
  });
});
