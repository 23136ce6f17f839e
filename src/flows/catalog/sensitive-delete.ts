import { defineFlow } from '../define.ts';
import { byActor, serviceOf, succeeded } from '../match.ts';

/** `service:action` → what was deleted, in words the templates use. */
const DELETES: Readonly<Record<string, string>> = {
  'rds:DeleteDBInstance': 'database',
  'rds:DeleteDBCluster': 'database',
  'rds:DeleteGlobalCluster': 'database',
  'redshift:DeleteCluster': 'database',
  'dynamodb:DeleteTable': 'table',
  'dynamodb:DeleteGlobalTable': 'table',
  's3:DeleteBucket': 'bucket',
  'elasticfilesystem:DeleteFileSystem': 'file system',
  'autoscaling:DeleteAutoScalingGroup': 'auto scaling group',
  'cloudtrail:DeleteTrail': 'trail',
  'logs:DeleteLogGroup': 'log group',
  'kms:ScheduleKeyDeletion': 'key',
  'ec2:TerminateInstances': 'instance',
};

/** Sigma `aws_cloudtrail_bucket_deleted`, `aws_rds_dbcluster_actions`, `aws_efs_fileshare_modified_or_deleted`. */
export const sensitiveDelete = defineFlow({
  id: 'sensitive-delete',
  kind: 'single',
  severity: 'high',
  description: 'Something hard to bring back was deleted: a database, bucket, table, file system, auto scaling group, trail, log group or key, or instances were terminated.',
  runbook: 'Confirm the deletion was planned; if not, restore from the latest snapshot or backup now and find out how it happened.',
  falsePositives: ['Planned clean-up of test environments; auto scaling and Terraform replacing instances.'],
  references: ['sigma: aws_cloudtrail_bucket_deleted.yml', 'sigma: aws_rds_dbcluster_actions.yml', 'sigma: aws_efs_fileshare_modified_or_deleted.yml'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...new Set(Object.keys(DELETES).map((k) => k.split(':')[1]!))],
  // The trail and key deletions are reported by their own flows.
  yieldsTo: ['cloudtrail-config-change', 'kms-key-disabled-or-deleted'],
  match: (e) => succeeded(e) && DELETES[`${serviceOf(e)}:${e.action ?? ''}`] !== undefined,
  key: byActor,
  context: (e) => ({ deleted: DELETES[`${serviceOf(e)}:${e.action ?? ''}`] ?? null }),
});
