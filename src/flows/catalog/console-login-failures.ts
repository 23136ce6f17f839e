import { HIDDEN_USER } from '../../events/actor.ts';
import type { TrailEvent } from '../../events/model.ts';
import { defineFlow } from '../define.ts';

/** Who the failures are about: the user when AWS names them, else the address they came from. */
function target(e: TrailEvent): string {
  const user = e.actor.userName && e.actor.userName !== HIDDEN_USER ? e.actor.userName : null;
  if (user) return `user:${user}`;
  return e.sourceIp ? `ip:${e.sourceIp}` : 'unknown';
}

/** CIS AWS Foundations 4.6; Sigma `aws_cloudtrail_console_login_failed_authentication`. */
export const consoleLoginFailures = defineFlow({
  id: 'console-login-failures',
  kind: 'threshold',
  severity: 'medium',
  description: 'Repeated failed sign-ins to the AWS console for one user (or from one address when AWS hides the user name).',
  runbook: 'Check with the user; if it was not them, make sure MFA is on, consider resetting their password and block the source address.',
  falsePositives: ['A user who forgot their password or is using the wrong account alias.'],
  references: ['CIS AWS Foundations 4.6', 'sigma: aws_cloudtrail_console_login_failed_authentication.yml'],
  params: { moreThan: 4, window: '1h' },
  dedupPeriod: '24h',
  allow: [],
  actions: ['ConsoleLogin'],
  match: (e) => e.service === 'signin.amazonaws.com' && e.outcome !== 'success',
  key: (e) => `${e.account ?? 'unknown'}|${target(e)}`,
  context: (e) => ({ byAddress: target(e).startsWith('ip:') }),
});
