import { defineFlow } from '../define.ts';
import { byActor, serviceOf, succeeded } from '../match.ts';

/** `EnableSerialConsoleAccess` turns the console on for the whole account and region; the key push opens one. */
const ENABLE = 'EnableSerialConsoleAccess';
const PUSH = 'SendSerialConsoleSSHPublicKey';

/**
 * Stratus `aws.lateral-movement.ec2-serial-console-send-ssh-public-key`. The serial console reaches
 * an instance below its network: security groups, network ACLs and the absence of a public address
 * do not stop it.
 */
export const ec2SerialConsole = defineFlow({
  id: 'ec2-serial-console',
  kind: 'single',
  severity: 'high',
  description: 'EC2 serial console access was turned on for the account, or an SSH key was pushed to reach an instance through it.',
  runbook: 'Confirm someone was repairing an instance that could not be reached otherwise; if not, turn serial console access off (DisableSerialConsoleAccess) and check the instance for changes.',
  falsePositives: ['Recovering an instance whose network or SSH configuration is broken (allow-list break-glass roles).'],
  references: ['stratus: aws.lateral-movement.ec2-serial-console-send-ssh-public-key'],
  params: {},
  dedupPeriod: '24h',
  allow: ['breakGlass'],
  actions: [ENABLE, PUSH],
  match: (e) => {
    if (!succeeded(e)) return false;
    const svc = serviceOf(e);
    return (e.action === ENABLE && svc === 'ec2') || (e.action === PUSH && svc === 'ec2-instance-connect');
  },
  key: byActor,
  context: (e) => ({ enabled: e.action === ENABLE, instance: e.action === PUSH ? (e.primaryResource?.id ?? null) : null }),
});
