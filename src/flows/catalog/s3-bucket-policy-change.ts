import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['PutBucketAcl', 'PutBucketPolicy', 'PutBucketCors', 'PutBucketLifecycle', 'PutBucketReplication', 'DeleteBucketPolicy', 'DeleteBucketCors', 'DeleteBucketLifecycle', 'DeleteBucketReplication', 'PutBucketPublicAccessBlock', 'DeleteBucketPublicAccessBlock']);

/** CIS AWS Foundations 4.8; panther: AWS.S3.BucketPolicyModified. */
export const s3BucketPolicyChange = defineFlow({
  id: 's3-bucket-policy-change',
  kind: 'single',
  severity: 'medium',
  description: 'Who can reach an S3 bucket changed: its policy, access list, CORS, lifecycle, replication or public access block.',
  runbook: 'Check the new policy or access list for public or cross-account access; revert it if it was not planned.',
  falsePositives: ['Applications managing their own buckets.'],
  references: ['CIS AWS Foundations 4.8', 'panther: AWS.S3.BucketPolicyModified'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...ACTIONS],
  // Reported better by the flows that read what the change does: opened to another account or to
  // everyone, replication to another account, a trail bucket's logs set to expire.
  yieldsTo: ['s3-bucket-shared-externally', 'resource-made-public', 'data-exported', 'trail-bucket-short-lifecycle'],
  match: (e) => succeeded(e) && isCall(e, 's3', ACTIONS),
  key: byActor,
});
