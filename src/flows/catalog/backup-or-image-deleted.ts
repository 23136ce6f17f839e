import type { TrailEvent } from '../../events/model.ts';
import { defineFlow } from '../define.ts';
import { byActor, madeByAws, serviceOf, succeeded } from '../match.ts';

/** `service:action` → what was deleted, in the templates' words. */
const DELETES: Readonly<Record<string, string>> = {
  'ec2:DeregisterImage': 'machine image (AMI)',
  'rds:DeleteDBSnapshot': 'database snapshot',
  'rds:DeleteDBClusterSnapshot': 'database cluster snapshot',
  'rds:DeleteDBInstanceAutomatedBackup': 'database automated backups',
  'rds:DeleteDBClusterAutomatedBackup': 'database cluster automated backups',
  'backup:DeleteRecoveryPoint': 'AWS Backup recovery point',
  'backup:DeleteBackupVault': 'AWS Backup vault',
};

function deleted(e: TrailEvent): string | undefined {
  return DELETES[`${serviceOf(e)}:${e.action ?? ''}`];
}

/** Sigma `aws_rds_dbcluster_actions` (in part); AWS "anatomy of a ransomware event" (backups deleted before the data). */
export const backupOrImageDeleted = defineFlow({
  id: 'backup-or-image-deleted',
  kind: 'single',
  severity: 'high',
  description: 'A way back was deleted: a machine image (AMI) deregistered, a database snapshot or its automated backups deleted, or an AWS Backup recovery point or vault deleted.',
  runbook: 'Confirm the deletion was planned; if not, check what other backups remain (and copy them to a locked vault or another account) before anything else is lost, then find out who did it.',
  falsePositives: ['Image pipelines retiring old AMIs; planned clean-up of snapshots (put such pipelines on the automation allow-list).'],
  references: ['AWS Security Blog: The anatomy of a ransomware event targeting data residing in Amazon S3', 'MITRE ATT&CK T1490'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...new Set(Object.keys(DELETES).map((k) => k.slice(k.indexOf(':') + 1)))],
  // Not AWS removing what its schedules made (AWS Backup expiry, Data Lifecycle Manager, RDS retention).
  match: (e) => succeeded(e) && deleted(e) !== undefined && !madeByAws(e),
  key: byActor,
  context: (e) => ({ deleted: deleted(e) ?? null }),
});
