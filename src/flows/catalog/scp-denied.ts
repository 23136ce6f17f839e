import { defineFlow } from '../define.ts';
import { byActor } from '../match.ts';

const SCP = /service control polic/i;

export const scpDenied = defineFlow({
  id: 'scp-denied',
  kind: 'single',
  severity: 'medium',
  description: 'A call was denied by a service control policy of the organization.',
  runbook: 'Tell the caller which guardrail stopped them; if the call is legitimate, ask the organization admins for an exception rather than a workaround.',
  falsePositives: ['Console pages that probe services the organization has switched off.'],
  references: ['AWS Organizations: SCP evaluation'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  // A guardrail stopping a high or critical change, or an attempt to leave the organization, is reported as that.
  yieldsTo: ['critical-action-denied', 'organization-leave-attempt'],
  match: (e) => e.outcome === 'denied' && e.errorMessage !== null && SCP.test(e.errorMessage),
  key: byActor,
});
