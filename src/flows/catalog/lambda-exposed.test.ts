import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { functionUrl, lambdaPermission, OUTSIDER } from '../../../test/fixtures/flows/exposure-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'lambda-exposed';

describe(ID, () => {
  it("raises on a permission letting '*' invoke a function (Stratus lambda-backdoor-function, built from the API reference: AddPermission20150331v2)", () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toBe('Lambda function opened to everyone (orders-api): mallory');
  });
  it('raises on a permission for an account that is not ours, and on a function URL without authentication', () => {
    expect(findings([lambdaPermission(OUTSIDER)], ID).map((x) => x.title)).toEqual([`Lambda function opened to another account (orders-api): mallory let in ${OUTSIDER}`]);
    expect(findings([lambdaPermission(`arn:aws:iam::${OUTSIDER}:root`)], ID)).toHaveLength(1);
    expect(findings([functionUrl('NONE')], ID).map((x) => x.title)).toEqual(['Lambda function given a public URL (orders-api): mallory']);
  });
  it("ignores service principals, our accounts, permissions kept to our organization, and URLs that need IAM", () => {
    expect(findings([lambdaPermission('s3.amazonaws.com', { sourceAccount: '111122223333' })], ID)).toEqual([]);
    expect(findings([lambdaPermission('111122223333')], ID)).toEqual([]);
    expect(findings([lambdaPermission(OUTSIDER)], ID, { trustedAccounts: [OUTSIDER] })).toEqual([]);
    expect(findings([lambdaPermission('*', { principalOrgID: 'o-a1b2c3d4e5' })], ID)).toEqual([]);
    expect(findings([functionUrl('AWS_IAM')], ID)).toEqual([]);
  });
});
