import { defineFlow } from '../define.ts';

/** CIS AWS Foundations 4.3 (root account usage); Sigma `aws_root_account_usage`. */
export const rootActivity = defineFlow({
  id: 'root-activity',
  kind: 'single',
  severity: 'high',
  description: 'The root user of an account was used (not by an AWS service on its behalf).',
  runbook: 'Confirm with the account owner that root was needed; if not, rotate the root password, check its MFA and review what else it did.',
  falsePositives: ['The few tasks that need root (closing an account, changing the support plan, restoring IAM access).'],
  references: ['CIS AWS Foundations 4.3', 'sigma: aws_root_account_usage.yml', 'panther: AWS.Root.Activity'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  match: (e) =>
    e.actor.type === 'Root' && e.actor.invokedBy === null && e.eventType !== 'AwsServiceEvent' && e.outcome === 'success',
  key: (e) => e.account ?? 'unknown',
});
