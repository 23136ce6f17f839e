import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const CREATE = new Set([
  'CreateDBInstance', 'CreateDBCluster', 'RestoreDBInstanceFromDBSnapshot', 'RestoreDBInstanceToPointInTime', 'RestoreDBInstanceFromS3',
  'RestoreDBClusterFromSnapshot', 'RestoreDBClusterToPointInTime', 'CreateDBInstanceReadReplica',
]);
const MODIFY = new Set(['ModifyDBInstance', 'ModifyDBCluster']);
const ACTIONS = new Set([...CREATE, ...MODIFY]);

/**
 * The call left the database reachable from the internet: `publiclyAccessible: true` asked for, or,
 * for a create or restore that did not say, answered (a restore takes the subnet group's default,
 * which is public in a default VPC: Sigma's `aws_rds_public_db_restore` reads the response).
 * A modification that changes something else on an already public database is not reported.
 */
export function madePublic(e: TrailEvent, env: FlowEnv): boolean {
  const asked = env.request(e).bool('publiclyAccessible');
  if (asked !== null) return asked;
  return CREATE.has(e.action ?? '') && env.response(e).bool('publiclyAccessible') === true;
}

function database(e: TrailEvent, env: FlowEnv): string | null {
  const req = env.request(e);
  return req.str('dBInstanceIdentifier') ?? req.str('dBClusterIdentifier') ?? req.str('targetDBInstanceIdentifier') ?? req.str('sourceDBInstanceIdentifier');
}

/** Sigma `aws_rds_public_db_restore`; panther `AWS.RDS.PubliclyAccessible`. */
export const rdsInstanceMadePublic = defineFlow({
  id: 'rds-instance-made-public',
  kind: 'single',
  severity: 'high',
  description: 'An RDS database was created, restored or modified to be publicly accessible (publiclyAccessible: true).',
  runbook: 'Turn public access off (aws rds modify-db-instance --no-publicly-accessible) unless it is meant to be reached from the internet, and check its security groups and who connected.',
  falsePositives: ['Development databases reached from home; restores into a default VPC.'],
  references: ['sigma: aws_rds_public_db_restore.yml', 'panther: AWS.RDS.PubliclyAccessible'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && isCall(e, 'rds', ACTIONS) && madePublic(e, env),
  key: (e, _p, env) => `${byActor(e)}|${database(e, env) ?? ''}`,
  context: (e, _p, env) => ({ database: database(e, env), restored: e.action?.startsWith('Restore') === true, modified: MODIFY.has(e.action ?? '') }),
});
