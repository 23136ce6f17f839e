import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { byActor, serviceOf, succeeded } from '../match.ts';

/** What left the service, where to, and the destination's account when the call names it. */
export interface Export {
  what: string;
  source: string | null;
  destination: string | null;
  /** The destination bucket's owner when the request says (DynamoDB, S3 replication), else null. */
  account: string | null;
}

type Read = (e: TrailEvent, env: FlowEnv) => Export | Export[] | null;

const READS: Readonly<Record<string, Read>> = {
  'rds:StartExportTask': (e, env) => {
    const r = env.request(e);
    return { what: 'RDS snapshot exported to S3', source: r.str('sourceArn'), destination: r.str('s3BucketName'), account: null };
  },
  'ec2:CreateInstanceExportTask': (e, env) => {
    const r = env.request(e);
    return { what: 'EC2 instance exported to S3', source: r.str('instanceId'), destination: r.str('exportToS3', 's3Bucket') ?? r.str('exportToS3Task', 's3Bucket'), account: null };
  },
  'ec2:ExportImage': (e, env) => {
    const r = env.request(e);
    return { what: 'AMI exported to S3', source: r.str('imageId'), destination: r.str('s3ExportLocation', 's3Bucket'), account: null };
  },
  'dynamodb:ExportTableToPointInTime': (e, env) => {
    const r = env.request(e);
    return { what: 'DynamoDB table exported to S3', source: r.str('tableArn'), destination: r.str('s3Bucket'), account: r.str('s3BucketOwner') };
  },
  // Replication to another account's bucket: only when the rule names the account (a bucket ARN does not).
  's3:PutBucketReplication': (e, env) => {
    const r = env.request(e);
    const rules = r.list('ReplicationConfiguration', 'Rule');
    const out: Export[] = [];
    for (const rule of rules) {
      const dest = rule !== null && typeof rule === 'object' ? (rule as Record<string, unknown>).Destination : null;
      if (dest === null || typeof dest !== 'object') continue;
      const d = dest as Record<string, unknown>;
      const account = typeof d.Account === 'string' ? d.Account : null;
      if (account === null || env.knownAccount(e, account)) continue;
      out.push({ what: "bucket replicated to another account's bucket", source: r.str('bucketName'), destination: typeof d.Bucket === 'string' ? d.Bucket : null, account });
    }
    return out.length > 0 ? out : null;
  },
};

/** The exports the event starts (several for a replication configuration), none when it is not one. */
export function exportsOf(e: TrailEvent, env: FlowEnv): Export[] {
  const read = READS[`${serviceOf(e)}:${e.action ?? ''}`];
  if (!read) return [];
  const x = read(e, env);
  return x === null ? [] : Array.isArray(x) ? x : [x];
}

/** Exports whose destination belongs to an account that is not ours. */
function toUnknownAccount(e: TrailEvent, env: FlowEnv): boolean {
  return exportsOf(e, env).some((x) => x.account !== null && !env.knownAccount(e, x.account));
}

/** Stratus-adjacent exfiltration paths; Sigma `aws_ec2_vm_export_failure`, `aws_snapshot_backup_exfiltration`. */
export const dataExported = defineFlow({
  id: 'data-exported',
  kind: 'single',
  severity: 'medium',
  description: "Data was exported out of its service: an RDS snapshot export, an EC2 instance or image export, a DynamoDB export, or S3 replication to another account's bucket; high when the destination belongs to an account that is not ours.",
  runbook: 'Confirm the export was planned and where it landed; if not, stop it (aws rds cancel-export-task, aws ec2 cancel-export-task), remove the replication rule, and check who can read the destination.',
  falsePositives: ['Analytics pipelines and backups that export on a schedule (list their roles under automationRoles).'],
  references: ['sigma: aws_ec2_vm_export_failure.yml', 'sigma: aws_snapshot_backup_exfiltration.yml'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...new Set(Object.keys(READS).map((k) => k.split(':')[1]!))],
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && exportsOf(e, env).length > 0,
  severityOf: (e, _p, env) => (toUnknownAccount(e, env) ? 'high' : null),
  // One finding per person and day (its events list what was exported); one to an unknown account opens its own, high one.
  key: (e, _p, env) => (toUnknownAccount(e, env) ? `${byActor(e)}|outside` : byActor(e)),
  context: (e, _p, env) => {
    const xs = exportsOf(e, env);
    return { what: xs[0]?.what ?? null, source: xs[0]?.source ?? null, destination: xs[0]?.destination ?? null, accounts: [...new Set(xs.map((x) => x.account).filter((a): a is string => a !== null && !env.knownAccount(e, a)))] };
  },
});
