import { defineFlow } from '../define.ts';
import { byActor, serviceOf, succeeded } from '../match.ts';

/** `service:action` → which logging it turns off. */
const OFF: Readonly<Record<string, string>> = {
  'ec2:DeleteFlowLogs': 'VPC flow logs',
  'route53resolver:DeleteResolverQueryLogConfig': 'DNS query logs',
  'route53resolver:DisassociateResolverQueryLogConfig': 'DNS query logs',
  'route53:DeleteQueryLoggingConfig': 'DNS query logs',
  'config:StopConfigurationRecorder': 'AWS Config recording',
  'config:DeleteConfigurationRecorder': 'AWS Config recording',
  'guardduty:DeleteDetector': 'GuardDuty',
  'guardduty:UpdateDetector': 'GuardDuty',
  'guardduty:DisassociateFromMasterAccount': 'GuardDuty reporting to the administrator account',
  'guardduty:DisassociateFromAdministratorAccount': 'GuardDuty reporting to the administrator account',
};

/** Sigma `aws_cloudtrail_vpc_flow_logs_deleted`, `aws_config_disable_recording`, `aws_cloudtrail_guardduty_detector_deleted_or_updated`. */
export const loggingDisabled = defineFlow({
  id: 'logging-disabled',
  kind: 'single',
  severity: 'high',
  description: 'Security logging was turned off: VPC flow logs, DNS query logs, the AWS Config recorder or a GuardDuty detector.',
  runbook: 'Turn the logging back on now, then find out who turned it off and what happened while it was off.',
  falsePositives: ['Decommissioning a VPC or an account; moving logging to a new destination.'],
  references: [
    'sigma: aws_cloudtrail_vpc_flow_logs_deleted.yml',
    'sigma: aws_config_disable_recording.yml',
    'sigma: aws_cloudtrail_guardduty_detector_deleted_or_updated.yml',
    'stratus: aws.defense-evasion.vpc-remove-flow-logs',
    'stratus: aws.defense-evasion.dns-delete-logs',
  ],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...new Set(Object.keys(OFF).map((k) => k.split(':')[1]!))],
  needsRequest: true,
  match: (e, _p, env) => {
    if (!succeeded(e)) return false;
    const key = `${serviceOf(e)}:${e.action ?? ''}`;
    if (OFF[key] === undefined) return false;
    // UpdateDetector only counts when it turns the detector off.
    if (key === 'guardduty:UpdateDetector') return env.request(e).bool('enable') === false;
    return true;
  },
  key: byActor,
  context: (e) => ({ logging: OFF[`${serviceOf(e)}:${e.action ?? ''}`] ?? null }),
});
