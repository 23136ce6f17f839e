import { defineFlow } from '../define.ts';
import { byActor, isCall, isHumanOrProgram } from '../match.ts';

/**
 * SES calls that tell whoever holds a key whether the account can send mail, how much, and as whom
 * (SES v1 and v2 both record as ses.amazonaws.com). Stratus' detonation makes the first four.
 */
const RECON = new Set([
  'GetAccountSendingEnabled', 'GetSendQuota', 'GetSendStatistics', 'ListIdentities', 'GetIdentityVerificationAttributes',
  'GetIdentityDkimAttributes', 'GetIdentityMailFromDomainAttributes', 'GetIdentityPolicies', 'ListIdentityPolicies',
  'ListVerifiedEmailAddresses', 'DescribeActiveReceiptRuleSet',
  // SES v2
  'GetAccount', 'ListEmailIdentities', 'GetEmailIdentity',
]);

/** Stratus `aws.discovery.ses-enumerate`; Datadog Security Labs, Permiso "SES-pionage". */
export const sesEnumeration = defineFlow({
  id: 'ses-enumeration',
  kind: 'threshold',
  severity: 'medium',
  description: 'One principal asked SES several different questions about sending mail (is sending enabled, the quota, the identities) in a short time (any outcome).',
  runbook: 'Ask whether this principal works with e-mail at all; stolen keys are checked for SES first to send phishing or spam. If not expected, rotate the key and look for SendEmail or new identities.',
  falsePositives: ['Someone setting up or debugging e-mail sending; a monitoring tool reading the quota (two calls stay under the limit).'],
  references: ['stratus: aws.discovery.ses-enumerate', 'Datadog Security Labs: following attackers\u2019 trail in AWS', 'Permiso: SES-pionage'],
  params: { moreThan: 2, window: '1h' },
  dedupPeriod: '24h',
  allow: ['automation'],
  actions: [...RECON],
  match: (e) => isCall(e, 'ses', RECON) && isHumanOrProgram(e),
  key: byActor,
  // Distinct questions, not calls: a tool polling the quota asks the same one all day.
  distinctBy: (e) => e.action,
});
