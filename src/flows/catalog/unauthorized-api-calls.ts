import { defineFlow } from '../define.ts';
import { byActor, isHumanOrProgram } from '../match.ts';

/** CIS AWS Foundations 4.1 (unauthorized API calls), counted per principal. */
export const unauthorizedApiCalls = defineFlow({
  id: 'unauthorized-api-calls',
  kind: 'threshold',
  severity: 'medium',
  description: 'Many calls by one principal were denied (AccessDenied, UnauthorizedOperation) in a short time.',
  runbook: 'Find out what the principal was trying to do: a missing permission in a new deployment, or someone probing with stolen credentials.',
  falsePositives: ['A new deployment missing a permission; security scanners checking what they may read.'],
  references: ['CIS AWS Foundations 4.1', 'panther: AWS.CloudTrail.UnauthorizedAPICall'],
  params: { moreThan: 9, window: '1h' },
  dedupPeriod: '24h',
  allow: ['automation'],
  // Calls denied by a service control policy are the organization's guardrails working: scp-denied reports them.
  // A denied try at a high or critical change, at leaving the organization or at Bedrock model access is
  // reported on its own, at once.
  yieldsTo: ['scp-denied', 'critical-action-denied', 'organization-leave-attempt', 'bedrock-model-access-enabled'],
  match: (e) => e.outcome === 'denied' && isHumanOrProgram(e),
  key: byActor,
});
