import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'access-key-created';
const R = 'records/';

describe(ID, () => {
  it('raises, and says so, when a key is created for another user (Stratus iam-create-admin-user)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('Access key created for another user: christophe created an access key for the IAM user malicious-iam-user');
  });
  it('ignores creating the user itself', () => {
    expect(findings([record(`${R}stratus-aws.persistence.iam-create-admin-user.json`, 'CreateUser')], ID)).toEqual([]);
  });
});
