import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['StopConfigurationRecorder', 'DeleteDeliveryChannel', 'PutDeliveryChannel', 'PutConfigurationRecorder', 'DeleteConfigurationRecorder']);

/** CIS AWS Foundations 4.9; sigma: aws_config_disable_recording.yml; panther: AWS.ConfigService.DisabledDeleted. */
export const configServiceChange = defineFlow({
  id: 'config-service-change',
  kind: 'single',
  severity: 'medium',
  description: 'AWS Config recording or delivery was changed.',
  runbook: 'Confirm the change was planned and that Config still records every resource type and delivers its snapshots.',
  falsePositives: ['Planned changes to what Config records.'],
  references: ['CIS AWS Foundations 4.9', 'sigma: aws_config_disable_recording.yml', 'panther: AWS.ConfigService.DisabledDeleted'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac'],
  actions: [...ACTIONS],
  // Turning the recorder off is reported by logging-disabled, with more urgency.
  yieldsTo: ['logging-disabled'],
  match: (e) => succeeded(e) && isCall(e, 'config', ACTIONS),
  key: byActor,
});
