import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { byActor, madeByAws, serviceOf, succeeded } from '../match.ts';

/**
 * `service:action` → what it weakens, in the templates' words. Turning logging sources off
 * (flow logs, Config, GuardDuty detectors) is logging-disabled's; trails are cloudtrail-config-change's.
 */
const TAMPER: Readonly<Record<string, string>> = {
  // GuardDuty: trusted IP lists silence findings from those addresses; threat lists and members feed it.
  'guardduty:CreateIPSet': 'GuardDuty trusted IP list',
  'guardduty:UpdateIPSet': 'GuardDuty trusted IP list',
  'guardduty:DeleteThreatIntelSet': 'GuardDuty threat list',
  'guardduty:UpdateThreatIntelSet': 'GuardDuty threat list',
  'guardduty:CreateFilter': 'GuardDuty suppression rule',
  'guardduty:UpdateFilter': 'GuardDuty suppression rule',
  'guardduty:DisassociateMembers': 'GuardDuty member accounts',
  'guardduty:DeleteMembers': 'GuardDuty member accounts',
  'guardduty:StopMonitoringMembers': 'GuardDuty member accounts',
  'guardduty:DeletePublishingDestination': 'GuardDuty findings export',
  // CloudWatch alarms and the logs they watch.
  'monitoring:DeleteAlarms': 'CloudWatch alarms',
  'monitoring:DisableAlarmActions': 'CloudWatch alarm actions',
  'logs:DeleteLogStream': 'CloudWatch log stream',
  'logs:DeleteMetricFilter': 'CloudWatch metric filter',
  'logs:DeleteSubscriptionFilter': 'CloudWatch log subscription',
  // EventBridge rules route findings and changes to whoever responds.
  'events:DeleteRule': 'EventBridge rule',
  'events:DisableRule': 'EventBridge rule',
  'events:RemoveTargets': 'EventBridge rule targets',
  // WAF web ACLs (v2, classic, classic regional).
  'wafv2:DeleteWebACL': 'WAF web ACL',
  'wafv2:DisassociateWebACL': 'WAF web ACL',
  'wafv2:DeleteLoggingConfiguration': 'WAF logging',
  'waf:DeleteWebACL': 'WAF web ACL',
  'waf:DeleteLoggingConfiguration': 'WAF logging',
  'waf-regional:DeleteWebACL': 'WAF web ACL',
  'waf-regional:DisassociateWebACL': 'WAF web ACL',
  'waf-regional:DeleteLoggingConfiguration': 'WAF logging',
  // EKS control-plane logs (only when the update turns a log type off).
  'eks:UpdateClusterConfig': 'EKS control-plane logging',
  // Bedrock: the record of model calls, and the guardrails on them.
  'bedrock:DeleteModelInvocationLoggingConfiguration': 'Bedrock model invocation logging',
  'bedrock:DeleteGuardrail': 'Bedrock guardrail',
  // Security services switched off as a whole.
  'securityhub:DisableSecurityHub': 'Security Hub',
  'securityhub:BatchDisableStandards': 'Security Hub standards',
  'macie2:DisableMacie': 'Macie',
  'inspector2:Disable': 'Inspector',
  'access-analyzer:DeleteAnalyzer': 'IAM Access Analyzer',
  'detective:DeleteGraph': 'Detective',
};

const ACTIONS = [...new Set(Object.keys(TAMPER).map((k) => k.slice(k.indexOf(':') + 1)))];

function what(e: TrailEvent): string | undefined {
  return TAMPER[`${serviceOf(e)}:${e.action ?? ''}`];
}

/** Only the calls among TAMPER that weaken something, as their request says. */
function weakens(e: TrailEvent, env: FlowEnv): boolean {
  const req = env.request(e);
  switch (e.action) {
    case 'UpdateThreatIntelSet':
      return req.bool('activate') === false;
    case 'CreateFilter':
    case 'UpdateFilter':
      return (req.str('action') ?? '').toUpperCase() === 'ARCHIVE';
    case 'UpdateClusterConfig':
      return req.list('logging', 'clusterLogging').some((l) => l !== null && typeof l === 'object' && (l as Record<string, unknown>).enabled === false);
    default:
      return true;
  }
}

/** Sigma `aws_guardduty_disruption`, `aws_cloudtrail_bedrock_guardrail_deleted`; Stratus `aws.defense-evasion.bedrock-model-invocation-logging-delete`. */
export const detectionTampered = defineFlow({
  id: 'detection-tampered',
  kind: 'single',
  severity: 'high',
  description: 'Something that watches the account was weakened: GuardDuty trusted IPs, threat lists, suppression rules or members; CloudWatch alarms, log streams or subscriptions; EventBridge rules; WAF web ACLs; EKS or Bedrock logging; Security Hub, Macie, Inspector, Access Analyzer or Detective.',
  runbook: 'Put the alarm, rule, list or logging back, then find out who removed it and what happened while it was gone: attackers blind the watchers before they act.',
  falsePositives: ['Planned clean-up of monitoring for retired systems; moving alerting to a new stack.'],
  references: [
    'sigma: aws_guardduty_disruption.yml',
    'sigma: aws_cloudtrail_bedrock_guardrail_deleted.yml',
    'stratus: aws.defense-evasion.bedrock-model-invocation-logging-delete',
    'MITRE ATT&CK T1562.001, T1562.008',
  ],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac'],
  actions: ACTIONS,
  needsRequest: true,
  // Not AWS cleaning up after itself (target tracking deleting its alarms, services removing their rules).
  match: (e, _p, env) => succeeded(e) && what(e) !== undefined && !madeByAws(e) && weakens(e, env),
  key: byActor,
  context: (e) => ({ watcher: what(e) ?? null }),
});
