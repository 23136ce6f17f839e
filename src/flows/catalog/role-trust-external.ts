import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';
import { type Exposure, exposed, exposureOf } from '../policy.ts';

const ACTIONS = new Set(['CreateRole', 'UpdateAssumeRolePolicy']);

/** Who the role's trust policy lets assume it that is not us: `*`, or accounts that are not ours. */
export function trustExposure(e: TrailEvent, env: FlowEnv): Exposure {
  const req = env.request(e);
  return exposureOf(e.action === 'CreateRole' ? req.get('assumeRolePolicyDocument') : req.get('policyDocument'), e, env);
}

/**
 * Stratus `aws.persistence.iam-backdoor-role` and `aws.persistence.iam-create-backdoor-role`: a role
 * anyone, or an account that is not ours, may assume. (An `sts:ExternalId` condition does not make
 * the account ours: SaaS vendors' accounts belong under `flows.trustedAccounts`.)
 */
export const roleTrustExternal = defineFlow({
  id: 'role-trust-external',
  kind: 'single',
  severity: 'high',
  description: "A role was created or its trust policy changed so that everyone ('*') or an AWS account that is not ours may assume it.",
  runbook: "Remove the outside principal from the role's trust policy (aws iam update-assume-role-policy) unless the account is a known vendor (then list it under flows.trustedAccounts), and look for AssumeRole calls from that account.",
  falsePositives: ['Integrations with SaaS vendors (monitoring, security scanners, backups) whose accounts are not listed under flows.trustedAccounts.'],
  references: ['stratus: aws.persistence.iam-backdoor-role', 'stratus: aws.persistence.iam-create-backdoor-role', 'panther: AWS.IAM.BackdoorRole'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && isCall(e, 'iam', ACTIONS) && exposed(trustExposure(e, env)),
  key: (e, _p, env) => `${byActor(e)}|${env.request(e).str('roleName') ?? ''}`,
  context: (e, _p, env) => {
    const x = trustExposure(e, env);
    return { role: env.request(e).str('roleName'), created: e.action === 'CreateRole', public: x.public, accounts: x.accounts };
  },
});
