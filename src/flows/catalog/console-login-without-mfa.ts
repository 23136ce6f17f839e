import { defineFlow } from '../define.ts';

/** CIS AWS Foundations 4.2; Sigma `aws_cloudtrail_console_login_success_without_mfa`. */
export const consoleLoginWithoutMfa = defineFlow({
  id: 'console-login-without-mfa',
  kind: 'single',
  severity: 'high',
  description: 'An IAM user signed in to the AWS console without MFA.',
  runbook: 'Ask the user to enable MFA (or remove their console password if they do not need the console), and confirm the sign-in was theirs.',
  falsePositives: ['A new user signing in for the first time before setting up MFA.'],
  references: ['CIS AWS Foundations 4.2', 'sigma: aws_cloudtrail_console_login_success_without_mfa.yml'],
  params: {},
  dedupPeriod: '24h',
  allow: ['breakGlass'],
  actions: ['ConsoleLogin'],
  // SSO and federated sign-ins do not record MFA here (the identity provider does it); root has its own flow.
  match: (e) => e.service === 'signin.amazonaws.com' && e.actor.type === 'IAMUser' && e.outcome === 'success' && e.actor.mfa === false,
  key: (e) => `${e.account ?? 'unknown'}|${e.actorKey ?? e.actor.name ?? 'unknown'}`,
});
