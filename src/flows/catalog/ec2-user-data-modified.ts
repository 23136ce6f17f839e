import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['ModifyInstanceAttribute']);

/** The request sets the instance's user data (`--user-data`, or `--attribute userData --value …`). */
function setsUserData(e: TrailEvent, env: FlowEnv): boolean {
  const req = env.request(e);
  return req.has('userData') || req.str('attribute') === 'userData';
}

function instanceOf(e: TrailEvent, env: FlowEnv): string | null {
  return env.request(e).str('instanceId') ?? e.primaryResource?.id ?? null;
}

/**
 * Sigma `aws_ec2_startup_script_change` (Pacu `ec2__startup_shell_script`); Stratus `aws.execution.ec2-user-data`.
 * User data runs as root (or SYSTEM) when the instance next starts: replacing it runs the attacker's
 * code on the instance, with its role's credentials.
 */
export const ec2UserDataModified = defineFlow({
  id: 'ec2-user-data-modified',
  kind: 'single',
  severity: 'high',
  description: "An EC2 instance's user data (its start-up script) was replaced.",
  runbook: "Read the new user data (`aws ec2 describe-instance-attribute --attribute userData`) before the instance starts again; restore the previous script and check what the instance's role may do.",
  falsePositives: ['Rebuilding an instance by hand while debugging its start-up; tooling that patches user data (allow-list its role).'],
  references: ['sigma: aws_ec2_startup_script_change.yml', 'stratus: aws.execution.ec2-user-data'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && isCall(e, 'ec2', ACTIONS) && setsUserData(e, env),
  key: (e, _p, env) => `${e.account ?? 'unknown'}|${instanceOf(e, env) ?? 'unknown'}`,
  context: (e, _p, env) => ({ instance: instanceOf(e, env) }),
});
