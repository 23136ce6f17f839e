import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['SendSSHPublicKey']);

/**
 * Stratus `aws.lateral-movement.ec2-instance-connect`. EC2 Instance Connect pushes a one-minute SSH
 * key to an instance; one principal doing it to instance after instance is moving through the fleet.
 */
export const ec2InstanceConnectMany = defineFlow({
  id: 'ec2-instance-connect-many',
  kind: 'threshold',
  severity: 'medium',
  description: 'One principal pushed SSH keys to several EC2 instances through EC2 Instance Connect in a short time.',
  runbook: 'Ask the person what they were doing on those instances; if nobody knows, look at the instances for new users, keys and processes, and at what the principal did before.',
  falsePositives: ['An administrator working through a group of instances by hand (raise params.moreThan for such teams).'],
  references: ['stratus: aws.lateral-movement.ec2-instance-connect'],
  params: { moreThan: 2, window: '1h' },
  dedupPeriod: '24h',
  allow: ['automation'],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e) => succeeded(e) && isCall(e, 'ec2-instance-connect', ACTIONS),
  key: byActor,
  distinctBy: (e, _p, env) => env.request(e).str('instanceId'),
});
