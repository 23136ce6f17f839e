import type { TrailEvent } from '../../events/model.ts';
import { defineFlow } from '../define.ts';
import { isCall, succeeded } from '../match.ts';

const PASSWORD = new Set(['CreateLoginProfile', 'UpdateLoginProfile']);
const MFA = new Set(['DeactivateMFADevice', 'DeleteVirtualMFADevice']);
const ACTIONS = new Set([...PASSWORD, ...MFA]);

/** The IAM user whose console password or MFA device changed (null: the caller's own, as the request names nobody). */
function targetUser(e: TrailEvent): string | null {
  return e.resources.find((r) => r.type === 'AWS::IAM::User')?.id ?? null;
}

/** Whether the change is to another user's console access than the caller's own. */
function forAnotherUser(e: TrailEvent): boolean {
  const user = targetUser(e);
  return user !== null && user !== e.actor.userName;
}

/**
 * Stratus `aws.persistence.iam-create-user-login-profile`, `aws.privilege-escalation.iam-update-user-login-profile`;
 * Panther AWS.IAM.UserLoginProfileCreated-style rules; Sigma `aws_iam_backdoor_users_keys` (the console variant).
 */
export const consoleCredentialsChanged = defineFlow({
  id: 'console-credentials-changed',
  kind: 'single',
  severity: 'high',
  description: "Someone gave another IAM user a console password or changed it, or an MFA device was deactivated.",
  runbook: "Ask the user whether they asked for it; if not, delete the login profile (or reset it with a password only they receive), re-enable MFA, and check the user's recent activity.",
  falsePositives: ['An administrator setting up or resetting a colleague\'s password on request; replacing a lost MFA device.'],
  references: [
    'stratus: aws.persistence.iam-create-user-login-profile',
    'stratus: aws.privilege-escalation.iam-update-user-login-profile',
    'sigma: aws_iam_backdoor_users_keys.yml',
  ],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...ACTIONS],
  // Done by an instance's or a function's session, iam-change-from-workload reports it.
  yieldsTo: ['iam-change-from-workload'],
  match: (e) => {
    if (!succeeded(e) || !isCall(e, 'iam', ACTIONS)) return false;
    // A user setting their own password is ordinary; turning MFA off is worth a look whoever does it.
    return MFA.has(e.action!) || forAnotherUser(e);
  },
  key: (e) => `${e.account ?? 'unknown'}|${targetUser(e) ?? e.actorKey ?? 'unknown'}`,
  context: (e) => ({
    user: targetUser(e) ?? e.actor.userName ?? e.actor.name,
    created: e.action === 'CreateLoginProfile',
    changed: e.action === 'UpdateLoginProfile',
    mfa: e.action !== null && MFA.has(e.action),
  }),
});
