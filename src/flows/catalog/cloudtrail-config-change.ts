import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['CreateTrail', 'UpdateTrail', 'DeleteTrail', 'StartLogging', 'StopLogging', 'PutEventSelectors', 'PutInsightSelectors']);
const BLINDING = new Set(['DeleteTrail', 'StopLogging', 'PutEventSelectors']);

/** CIS AWS Foundations 4.5; Sigma `aws_cloudtrail_disable_logging`; Stratus `cloudtrail-event-selectors`. */
export const cloudtrailConfigChange = defineFlow({
  id: 'cloudtrail-config-change',
  kind: 'single',
  severity: 'high',
  description: 'A CloudTrail trail was created, updated, deleted, started or stopped, or its event selectors changed.',
  runbook: 'Confirm the change was planned; if logging stopped or selectors narrowed, turn it back on at once and review what happened while the trail was blind.',
  falsePositives: ['Planned trail changes; turning a trail back on (StartLogging) after maintenance.'],
  references: ['CIS AWS Foundations 4.5', 'sigma: aws_cloudtrail_disable_logging.yml', 'stratus: aws.defense-evasion.cloudtrail-event-selectors'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...ACTIONS],
  match: (e) => succeeded(e) && isCall(e, 'cloudtrail', ACTIONS),
  key: byActor,
  context: (e) => ({ blinding: e.action !== null && BLINDING.has(e.action) }),
});
