import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['StartSession']);

/**
 * Stratus `aws.execution.ssm-start-session`. A Session Manager session is a shell on the instance
 * with no SSH key and no open port; one principal opening them on instance after instance is
 * moving through the fleet.
 */
export const ssmSessionManyInstances = defineFlow({
  id: 'ssm-session-many-instances',
  kind: 'threshold',
  severity: 'medium',
  description: 'One principal started Session Manager sessions on several instances in a short time.',
  runbook: 'Ask the person what they were doing on those instances; read the session logs if Session Manager keeps them, and look at the instances for changes.',
  falsePositives: ['An administrator working through a group of instances by hand (raise params.moreThan for such teams).'],
  references: ['stratus: aws.execution.ssm-start-session'],
  params: { moreThan: 2, window: '1h' },
  dedupPeriod: '24h',
  allow: ['automation'],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e) => succeeded(e) && isCall(e, 'ssm', ACTIONS),
  key: byActor,
  distinctBy: (e, _p, env) => env.request(e).str('target'),
});
