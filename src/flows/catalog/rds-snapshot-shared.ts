import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { type Exposure, exposed, exposureOfPrincipal, mergeExposures } from '../policy.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['ModifyDBSnapshotAttribute', 'ModifyDBClusterSnapshotAttribute']);

/** Who the `restore` attribute's `valuesToAdd` lets restore the snapshot: `all` is everyone, else account ids. */
export function rdsSnapshotExposure(e: TrailEvent, env: FlowEnv): Exposure {
  const req = env.request(e);
  if ((req.str('attributeName') ?? 'restore').toLowerCase() !== 'restore') return { public: false, accounts: [] };
  return mergeExposures(req.strings('valuesToAdd').map((v) => exposureOfPrincipal(v, e, env)));
}

function snapshotId(e: TrailEvent, env: FlowEnv): string | null {
  const req = env.request(e);
  return req.str('dBSnapshotIdentifier') ?? req.str('dBClusterSnapshotIdentifier');
}

/** Stratus `aws.exfiltration.rds-share-snapshot`; Sigma `aws_snapshot_backup_exfiltration`. */
export const rdsSnapshotShared = defineFlow({
  id: 'rds-snapshot-shared',
  kind: 'single',
  severity: 'high',
  description: 'An RDS database or cluster snapshot was made public or shared with an AWS account that is not one of ours.',
  runbook: "Remove the account from the snapshot's restore attribute (aws rds modify-db-snapshot-attribute --values-to-remove), find out who it belongs to, and treat the database's data as copied.",
  falsePositives: ['Sharing with a partner or an account of ours not yet listed under accounts: or flows.trustedAccounts.'],
  references: ['stratus: aws.exfiltration.rds-share-snapshot', 'sigma: aws_snapshot_backup_exfiltration.yml'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && isCall(e, 'rds', ACTIONS) && exposed(rdsSnapshotExposure(e, env)),
  key: (e, _p, env) => `${byActor(e)}|${snapshotId(e, env) ?? ''}`,
  context: (e, _p, env) => {
    const x = rdsSnapshotExposure(e, env);
    return { snapshot: snapshotId(e, env), cluster: e.action === 'ModifyDBClusterSnapshotAttribute', public: x.public, accounts: x.accounts };
  },
});
