import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { call } from '../../../test/fixtures/flows/build.ts';
import { bucketCalls, resourcePolicy, statement } from '../../../test/fixtures/flows/exposure-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'resource-made-public';
const titles = (raws: Parameters<typeof findings>[0]) => findings(raws, ID).map((f) => f.title);

describe(ID, () => {
  it('raises on a bucket access list granting AllUsers', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toBe('Opened to everyone (bucket access list opened to everyone): mallory changed the access list of the S3 bucket orders-data');
  });
  it('raises on public canned ACLs and on removed or weakened public access blocks', () => {
    expect(titles([bucketCalls.cannedPublic()])).toHaveLength(1);
    expect(titles([bucketCalls.deletePublicAccessBlock()])[0]).toMatch(/^Opened to everyone \(bucket's public access block removed\)/);
    expect(titles([bucketCalls.weakenPublicAccessBlock(true)])[0]).toMatch(/^Opened to everyone \(bucket's public access block turned off\)/);
  });
  it("raises on '*' resource policies on KMS, SQS, SNS, Secrets Manager and ECR", () => {
    for (const kind of ['kms', 'sqs', 'sns', 'secrets', 'ecr'] as const) {
      expect(titles([resourcePolicy(kind, statement('*', 'x:*'))]), kind).toHaveLength(1);
    }
  });
  it('raises on a CodeBuild project made public and on EC2 block public access turned off', () => {
    expect(titles([call({ source: 'codebuild.amazonaws.com', name: 'UpdateProjectVisibility', request: { projectArn: 'arn:aws:codebuild:eu-west-1:111122223333:project/orders', projectVisibility: 'PUBLIC_READ' } })])).toHaveLength(1);
    expect(titles([call({ source: 'ec2.amazonaws.com', name: 'DisableSnapshotBlockPublicAccess', request: {} })])).toHaveLength(1);
  });
  it("ignores private ACLs, full public access blocks, and '*' kept to our accounts (KMS's kms:CallerAccount pattern)", () => {
    expect(titles([bucketCalls.cannedPrivate()])).toEqual([]);
    expect(titles([bucketCalls.weakenPublicAccessBlock(false)])).toEqual([]);
    expect(titles([resourcePolicy('kms', statement({ AWS: '*' }, 'kms:Decrypt', { StringEquals: { 'kms:CallerAccount': '111122223333', 'kms:ViaService': 'ec2.eu-west-1.amazonaws.com' } }))])).toEqual([]);
    expect(titles([resourcePolicy('sqs', statement({ Service: 'sns.amazonaws.com' }, 'sqs:SendMessage'))])).toEqual([]);
    expect(titles([call({ source: 'codebuild.amazonaws.com', name: 'UpdateProjectVisibility', request: { projectArn: 'x', projectVisibility: 'PRIVATE' } })])).toEqual([]);
  });
  it('is reported once: s3-bucket-policy-change leaves the event to it', () => {
    expect(findings([bucketCalls.publicAcl()]).map((x) => x.flow)).toEqual([ID]);
    expect(findings([bucketCalls.cannedPrivate()]).map((x) => x.flow)).toEqual(['s3-bucket-policy-change']);
  });
});
