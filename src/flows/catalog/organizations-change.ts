import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['AcceptHandshake', 'AttachPolicy', 'CreateAccount', 'CreateOrganizationalUnit', 'CreatePolicy', 'DeclineHandshake', 'DeleteOrganization', 'DeleteOrganizationalUnit', 'DeletePolicy', 'DetachPolicy', 'DisablePolicyType', 'EnablePolicyType', 'InviteAccountToOrganization', 'LeaveOrganization', 'MoveAccount', 'RemoveAccountFromOrganization', 'UpdatePolicy', 'UpdateOrganizationalUnit']);

/** CIS AWS Foundations 4.15. */
export const organizationsChange = defineFlow({
  id: 'organizations-change',
  kind: 'single',
  severity: 'high',
  description: 'The AWS organization was changed: accounts, organizational units, policies or invitations.',
  runbook: 'Confirm the change with the organization admins; an account leaving or a policy detached can remove guardrails from many accounts at once.',
  falsePositives: ['Account vending and planned organization work.'],
  references: ['CIS AWS Foundations 4.15'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac'],
  actions: [...ACTIONS],
  // An account leaving (or trying to) is reported by organization-leave-attempt.
  yieldsTo: ['organization-leave-attempt'],
  match: (e) => succeeded(e) && isCall(e, 'organizations', ACTIONS),
  key: byActor,
});
