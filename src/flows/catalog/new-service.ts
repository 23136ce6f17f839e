import { defineFlow } from '../define.ts';
import { isHumanOrProgram, serviceOf } from '../match.ts';

export const newService = defineFlow({
  id: 'new-service',
  kind: 'first-seen',
  severity: 'low',
  description: 'An AWS service was used for the first time in an account, or by a person.',
  runbook: 'Check that the new service is wanted and configured safely (logging, encryption, access); a surprising one can mean stolen credentials.',
  falsePositives: ['New projects; console pages that call services the person did not mean to use.'],
  references: ['panther: AWS.CloudTrail.NewService (anomaly)'],
  // scopes: `account` (new to the account) and/or `person` (new to that principal).
  params: { learningPeriod: '7d', scopes: ['account', 'person'] },
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  match: (e) => e.service !== null && e.account !== null && e.outcome === 'success' && isHumanOrProgram(e),
  dimensions: (e, p, dim) => {
    const svc = serviceOf(e);
    if (p.scopes.includes('account')) dim('account-service', e.account!, svc);
    if (p.scopes.includes('person') && e.actorKey) dim('person-service', e.actorKey, svc);
  },
});
