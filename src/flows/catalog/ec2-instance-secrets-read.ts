import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { byActor, serviceOf } from '../match.ts';

const ACTIONS = new Set(['DescribeInstanceAttribute', 'GetPasswordData']);

/** A read of what an instance keeps secret: its user data, or its encrypted Windows password. */
function readsSecret(e: TrailEvent, env: FlowEnv): boolean {
  if (e.action === 'GetPasswordData') return true;
  return env.request(e).str('attribute') === 'userData';
}

/**
 * Stratus `aws.credential-access.ec2-get-password-data` and `aws.discovery.ec2-download-user-data`;
 * Sigma `aws_ec2_download_userdata` (Pacu `ec2__download_userdata`). User data often holds
 * passwords and keys written there at launch; GetPasswordData hands out Windows administrator
 * passwords. Attempts count as much as successes: the attacker is trying instance after instance.
 */
export const ec2InstanceSecretsRead = defineFlow({
  id: 'ec2-instance-secrets-read',
  kind: 'threshold',
  severity: 'high',
  description: "One principal read the user data or the Windows password of many EC2 instances in a short time (whether or not it was allowed).",
  runbook: 'Find out whether the principal has a reason to read instance secrets; if not, treat any password or key in that user data as exposed and rotate it, and look at what else the principal did.',
  falsePositives: ['Inventory and asset-management tools that read every instance (allow-list their role).'],
  references: ['stratus: aws.credential-access.ec2-get-password-data', 'stratus: aws.discovery.ec2-download-user-data', 'sigma: aws_ec2_download_userdata.yml'],
  params: { moreThan: 5, window: '30m' },
  dedupPeriod: '24h',
  allow: ['automation'],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, _p, env) => serviceOf(e) === 'ec2' && readsSecret(e, env),
  key: byActor,
  distinctBy: (e, _p, env) => env.request(e).str('instanceId'),
});
