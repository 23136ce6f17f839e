import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['CreateUser', 'DeleteUser']);

/** panther: AWS.IAM.CreateUser; sigma: aws_iam_s3browser_user_or_accesskey_creation.yml. */
export const iamUserCreatedOrDeleted = defineFlow({
  id: 'iam-user-created-or-deleted',
  kind: 'single',
  severity: 'medium',
  description: 'An IAM user was created or deleted.',
  runbook: 'Confirm the user is wanted and has an owner; people should sign in through the identity provider rather than as IAM users.',
  falsePositives: ['Service users created by an onboarding process.'],
  references: ['panther: AWS.IAM.CreateUser', 'sigma: aws_iam_s3browser_user_or_accesskey_creation.yml'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  // A user made by an instance's or a function's session is reported by iam-change-from-workload.
  yieldsTo: ['iam-change-from-workload'],
  actions: [...ACTIONS],
  match: (e) => succeeded(e) && isCall(e, 'iam', ACTIONS),
  key: byActor,
});
