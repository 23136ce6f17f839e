import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';
import { grantsEverything } from './admin-policy-attached.ts';

const ACTIONS = new Set(['GetFederationToken']);
const ADMIN_POLICY = /^arn:aws[a-z-]*:iam::aws:policy\/AdministratorAccess$/;

/** The session policy lets the federated user do everything its IAM user can (an inline `*` on `*`, or AdministratorAccess). */
function grantsAll(e: TrailEvent, env: FlowEnv): boolean {
  const req = env.request(e);
  if (grantsEverything(req.doc('policy'))) return true;
  return req.list('policyArns').some((p) => ADMIN_POLICY.test(typeof p === 'string' ? p : String((p as { arn?: unknown } | null)?.arn ?? '')));
}

/**
 * Stratus `aws.persistence.sts-federation-token`. GetFederationToken turns an IAM user's access key
 * into console-capable session credentials that live up to 36 hours and survive the key's
 * deactivation: an attacker's way to keep access once the key is found.
 */
export const federationTokenIssued = defineFlow({
  id: 'federation-token-issued',
  kind: 'single',
  severity: 'medium',
  description: 'An IAM user turned its access key into federated session credentials (GetFederationToken); high when the session may do everything.',
  runbook: "Ask the key's owner why; if nobody expected it, deactivate the key and revoke the federated sessions (a Deny on aws:TokenIssueTime for the user), since deactivating the key alone leaves them working.",
  falsePositives: ['Older identity brokers and proxies that hand out federated sessions (allow-list them under automationRoles by user name).'],
  references: ['stratus: aws.persistence.sts-federation-token', 'panther: AWS.STS.GetFederationToken-style rules'],
  params: {},
  dedupPeriod: '24h',
  allow: ['automation'],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e) => succeeded(e) && isCall(e, 'sts', ACTIONS),
  severityOf: (e, _p, env) => (grantsAll(e, env) ? 'high' : null),
  key: byActor,
  context: (e, _p, env) => ({ name: env.request(e).str('name'), everything: grantsAll(e, env) }),
});
