import { defineFlow } from '../define.ts';
import { GLOBAL_SERVICES, isHumanOrProgram, serviceOf } from '../match.ts';

export const unexpectedRegion = defineFlow({
  id: 'unexpected-region',
  kind: 'first-seen',
  severity: 'high',
  description: 'A region was used in an account for the first time (and it is not among the expected regions).',
  runbook: 'Find out what was created there; attackers favour unused regions for crypto-mining and persistence. Consider an SCP denying unused regions.',
  falsePositives: ['Expansion into a new region (add it to flows.expected.regions).'],
  references: ['panther: AWS.CloudTrail.UnusedRegion', 'stratus: aws.execution.ec2-launch-unusual-instances'],
  // The account must have this much history before a new region is worth reporting.
  params: { learningPeriod: '7d' },
  dedupPeriod: '24h',
  allow: [],
  match: (e) => e.region !== null && e.account !== null && isHumanOrProgram(e) && !GLOBAL_SERVICES.has(serviceOf(e)),
  dimensions: (e, _p, dim) => dim('account-region', e.account!, e.region!),
  alert: (e, _d, _p, env) => !env.regionExpected(e.account, e.region),
});
