import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import type { Fields } from '../fields.ts';
import { byActor, serviceOf, succeeded } from '../match.ts';

/** What protection went, and on what. */
export interface Lost {
  what: string;
  resource: string | null;
}

type Check = (e: TrailEvent, req: Fields) => Lost | null;

/** `service:action` → the protection the call turns off (null when this call keeps it). */
const CHECKS: Readonly<Record<string, Check>> = {
  's3:PutBucketVersioning': (_e, req) => {
    const b = req.str('bucketName');
    if (req.str('VersioningConfiguration', 'Status') === 'Suspended') return { what: 'bucket versioning suspended', resource: b };
    if (req.str('VersioningConfiguration', 'MfaDelete') === 'Disabled') return { what: 'MFA delete turned off', resource: b };
    return null;
  },
  // An empty BucketLoggingStatus (no LoggingEnabled) turns server access logging off.
  's3:PutBucketLogging': (_e, req) => (req.has('BucketLoggingStatus', 'LoggingEnabled') ? null : { what: 'bucket access logging turned off', resource: req.str('bucketName') }),
  's3:DeleteBucketEncryption': (_e, req) => ({ what: 'bucket default encryption removed', resource: req.str('bucketName') }),
  'ec2:DisableEbsEncryptionByDefault': (e) => ({ what: 'EBS encryption by default turned off', resource: e.region }),
  'rds:ModifyDBInstance': (_e, req) => rdsLost(req, req.str('dBInstanceIdentifier')),
  'rds:ModifyDBCluster': (_e, req) => rdsLost(req, req.str('dBClusterIdentifier')),
  'dynamodb:UpdateContinuousBackups': (_e, req) =>
    req.bool('pointInTimeRecoverySpecification', 'pointInTimeRecoveryEnabled') === false ? { what: 'DynamoDB point-in-time recovery turned off', resource: req.str('tableName') } : null,
  'dynamodb:UpdateTable': (_e, req) => (req.bool('deletionProtectionEnabled') === false ? { what: 'DynamoDB deletion protection turned off', resource: req.str('tableName') } : null),
};

function rdsLost(req: Fields, db: string | null): Lost | null {
  if (req.num('backupRetentionPeriod') === 0) return { what: 'RDS automated backups turned off', resource: db };
  if (req.bool('deletionProtection') === false) return { what: 'RDS deletion protection turned off', resource: db };
  return null;
}

/** The protection the event turned off, or null. */
export function lostProtection(e: TrailEvent, env: FlowEnv): Lost | null {
  const check = CHECKS[`${serviceOf(e)}:${e.action ?? ''}`];
  return check ? check(e, env.request(e)) : null;
}

/** Sigma `aws_disable_bucket_versioning`, `aws_ec2_disable_encryption`; ransomware preparation. */
export const dataProtectionDisabled = defineFlow({
  id: 'data-protection-disabled',
  kind: 'single',
  severity: 'medium',
  description: 'A safeguard for data was turned off: S3 versioning suspended, MFA delete off, bucket access logging or default encryption removed, EBS encryption by default off, RDS backups or deletion protection off, DynamoDB point-in-time recovery or deletion protection off.',
  runbook: 'Turn the safeguard back on unless the change was planned; ransomware and data destruction often start by removing versions, backups and logs.',
  falsePositives: ['Decommissioning a bucket, database or table; cost clean-ups in test accounts.'],
  references: ['sigma: aws_disable_bucket_versioning.yml', 'sigma: aws_ec2_disable_encryption.yml', 'stratus: aws.impact.s3-ransomware-*'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac'],
  actions: [...new Set(Object.keys(CHECKS).map((k) => k.split(':')[1]!))],
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && lostProtection(e, env) !== null,
  // One finding per person and day: the events list every function, bucket or table they touched.
  key: byActor,
  context: (e, _p, env) => ({ ...(lostProtection(e, env) ?? { what: null, resource: null }) }),
});
