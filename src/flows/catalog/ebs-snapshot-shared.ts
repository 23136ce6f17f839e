import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { type Exposure, exposed, exposureOfPrincipal, mergeExposures } from '../policy.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['ModifySnapshotAttribute']);

/**
 * Who `createVolumePermission.add` lets create volumes from the snapshot: `group: all` is everyone,
 * a `userId` another account. (CloudTrail writes the list as `{ items: [...] }`.)
 */
export function snapshotExposure(e: TrailEvent, env: FlowEnv): Exposure {
  const req = env.request(e);
  const adds = req.list('createVolumePermission', 'add');
  return mergeExposures(
    adds.map((x) => {
      const item = x !== null && typeof x === 'object' ? (x as Record<string, unknown>) : {};
      if (item.group === 'all') return { public: true, accounts: [] };
      return exposureOfPrincipal(typeof item.userId === 'string' ? item.userId : null, e, env);
    }),
  );
}

/** Stratus `aws.exfiltration.ec2-share-ebs-snapshot`; Sigma `aws_snapshot_backup_exfiltration`. */
export const ebsSnapshotShared = defineFlow({
  id: 'ebs-snapshot-shared',
  kind: 'single',
  severity: 'high',
  description: 'An EBS snapshot was shared publicly or with an AWS account that is not one of ours.',
  runbook: 'Remove the permission (aws ec2 modify-snapshot-attribute --operation-type remove), find out who the account belongs to, and treat the disk\'s data as copied.',
  falsePositives: ['Sharing with a partner or a new account of ours not yet listed under accounts: or flows.trustedAccounts.'],
  references: ['stratus: aws.exfiltration.ec2-share-ebs-snapshot', 'sigma: aws_snapshot_backup_exfiltration.yml'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && isCall(e, 'ec2', ACTIONS) && exposed(snapshotExposure(e, env)),
  key: (e, _p, env) => `${byActor(e)}|${env.request(e).str('snapshotId') ?? ''}`,
  context: (e, _p, env) => {
    const x = snapshotExposure(e, env);
    return { snapshot: env.request(e).str('snapshotId'), public: x.public, accounts: x.accounts };
  },
});
