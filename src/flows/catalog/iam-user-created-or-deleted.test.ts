import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { at, findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'iam-user-created-or-deleted';
const R = 'records/';

describe(ID, () => {
  it('raises when an IAM user is created (AWS docs)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('IAM user created: Alice created the IAM user Bob');
  });
  it('ignores creating a role', () => {
    expect(findings([record(`${R}aws-docs-examples.json`, 'CreateRole')], ID)).toEqual([]);
    expect(findings([at(`${R}aws-docs-examples.json`, 14)], ID)).toEqual([]);
  });
});
