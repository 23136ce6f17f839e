import { defineFlow } from '../define.ts';
import { byActor, isCall } from '../match.ts';

const ACTIONS = new Set(['LeaveOrganization']);

/** Stratus `aws.defense-evasion.organizations-leave`; Sigma `aws_org_leave_organization` (success only there). */
export const organizationLeaveAttempt = defineFlow({
  id: 'organization-leave-attempt',
  kind: 'single',
  severity: 'high',
  description: 'An account tried to leave the AWS organization (any outcome: a denied attempt counts; critical when it left).',
  runbook: "Find out who called LeaveOrganization from inside the account and why; an account that leaves sheds every service control policy and the organization's trail. Treat the caller's credentials as compromised until explained.",
  falsePositives: ['A planned move of the account to another organization (rare, and announced).'],
  references: ['stratus: aws.defense-evasion.organizations-leave', 'sigma: aws_org_leave_organization.yml'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...ACTIONS],
  // Any outcome: the attempt is the signal, and most attempts are denied by the organization's SCPs.
  match: (e) => isCall(e, 'organizations', ACTIONS),
  key: byActor,
  // The attempt is high; an account that did leave is critical.
  severityOf: (e) => (e.outcome === 'success' ? 'critical' : null),
  context: (e) => ({ left: e.outcome === 'success' }),
});
