import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { at, findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'root-activity';
const R = 'records/';

describe(ID, () => {
  it('raises when root signs in to the console (AWS docs)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toBe('Root user used: the root user of account 111122223333 signed in to the AWS console');
  });
  it('groups root calls of one account into one finding', () => {
    const f = findings([at(`${R}aws-docs-examples.json`, 5), at(`${R}aws-docs-examples.json`, 8), at(`${R}aws-docs-examples.json`, 9)], ID);
    expect(f.map((x) => x.count)).toEqual([3]);
  });
  it('ignores failed root sign-ins and IAM users', () => {
    expect(findings([at(`${R}aws-docs-examples.json`, 7)], ID)).toEqual([]);
    expect(findings([at(`${R}aws-docs-examples.json`, 0), record(`${R}writes-iam.json`, 'UploadSSHPublicKey')], ID)).toEqual([]);
  });
});
