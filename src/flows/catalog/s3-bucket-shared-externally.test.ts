import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { backdoorBucketPolicy, bucketPolicy, OUTSIDER } from '../../../test/fixtures/flows/exposure-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 's3-bucket-shared-externally';
const read = (principal: unknown, condition?: Record<string, unknown>) => ({
  Effect: 'Allow',
  Principal: principal,
  Action: 's3:GetObject',
  Resource: 'arn:aws:s3:::orders-exports/*',
  ...(condition ? { Condition: condition } : {}),
});

describe(ID, () => {
  it('raises on a bucket policy letting in an account that is not ours (Stratus s3-backdoor-bucket-policy, built)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toBe(`Bucket orders-exports shared with another account by its policy: mallory let in ${OUTSIDER}`);
  });
  it("raises on '*' without an organization condition, and on NotPrincipal", () => {
    expect(findings([bucketPolicy([read('*')])], ID).map((x) => x.title)).toEqual(['Bucket orders-exports opened to everyone by its policy: mallory']);
    expect(findings([bucketPolicy([read({ AWS: '*' }, { IpAddress: { 'aws:SourceIp': '203.0.113.0/24' } })])], ID)).toHaveLength(1);
    expect(findings([bucketPolicy([{ Effect: 'Allow', NotPrincipal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 's3:*', Resource: '*' }])], ID)).toHaveLength(1);
  });
  it("ignores '*' kept to our organization or our accounts, service principals, Deny statements and our own accounts", () => {
    expect(findings([bucketPolicy([read('*', { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } })])], ID)).toEqual([]);
    expect(findings([bucketPolicy([read({ AWS: '*' }, { StringEquals: { 'aws:PrincipalAccount': ['111122223333'] } })])], ID)).toEqual([]);
    expect(findings([bucketPolicy([read({ Service: 'cloudtrail.amazonaws.com' })])], ID)).toEqual([]);
    expect(findings([bucketPolicy([{ ...read('*'), Effect: 'Deny' }])], ID)).toEqual([]);
    expect(findings([backdoorBucketPolicy()], ID, { trustedAccounts: [OUTSIDER] })).toEqual([]);
    expect(findings([backdoorBucketPolicy('111122223333')], ID)).toEqual([]);
  });
  it("does not take a negated condition or one naming an outside account as keeping '*' to us", () => {
    expect(findings([bucketPolicy([read('*', { StringNotEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } })])], ID)).toHaveLength(1);
    expect(findings([bucketPolicy([read('*', { StringEquals: { 'aws:PrincipalAccount': ['111122223333', OUTSIDER] } })])], ID)).toHaveLength(1);
  });
  it('is reported once: s3-bucket-policy-change leaves the event to it', () => {
    const all = findings([backdoorBucketPolicy()]);
    expect(all.map((x) => x.flow)).toEqual([ID]);
    const ours = findings([backdoorBucketPolicy('111122223333')]);
    expect(ours.map((x) => x.flow)).toEqual(['s3-bucket-policy-change']);
  });
});
