import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { asDoc, asList } from '../fields.ts';
import { byActor, get, isCall, succeeded } from '../match.ts';

const ATTACH = new Set(['AttachUserPolicy', 'AttachGroupPolicy', 'AttachRolePolicy']);
const INLINE = new Set(['PutUserPolicy', 'PutGroupPolicy', 'PutRolePolicy']);
const ADMIN_POLICY = /^arn:aws[a-z-]*:iam::aws:policy\/AdministratorAccess$/;

/** The attached managed policy's ARN, from the extracted resources or the request. */
function policyArn(e: TrailEvent, env: FlowEnv): string | null {
  const r = e.resources.find((x) => x.type === 'AWS::IAM::Policy');
  if (r?.arn) return r.arn;
  return env.request(e).str('policyArn');
}

/** Parses a policy document as CloudTrail writes it (a JSON string, sometimes URL-encoded). */
export function parsePolicy(doc: unknown): unknown {
  return asDoc(doc);
}

const list = asList;

/** An `Allow` statement for every action (`*` or `*:*`) on every resource, without conditions. */
export function grantsEverything(policy: unknown): boolean {
  for (const s of list(get(policy, 'Statement'))) {
    if (get(s, 'Effect') !== 'Allow' || get(s, 'Condition') !== undefined) continue;
    const actions = list(get(s, 'Action'));
    const resources = list(get(s, 'Resource'));
    if (actions.some((a) => a === '*' || a === '*:*') && resources.includes('*')) return true;
  }
  return false;
}

/** Panther AWS.IAM.AttachAdminUserPolicy / AttachAdminRolePolicy; Stratus `iam-create-admin-user`. */
export const adminPolicyAttached = defineFlow({
  id: 'admin-policy-attached',
  kind: 'single',
  severity: 'critical',
  description: 'Full administrator access was given to a user, group or role (AdministratorAccess or an inline policy allowing *:* on *).',
  runbook: 'Confirm who approved administrator access and for how long; remove it and grant the narrower permissions actually needed.',
  falsePositives: ['Setting up a new account or a break-glass role.'],
  references: ['panther: AWS.IAM.AttachAdminUserPolicy', 'stratus: aws.persistence.iam-create-admin-user'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...ATTACH, ...INLINE],
  needsRequest: true,
  match: (e, _p, env) => {
    if (!succeeded(e)) return false;
    if (isCall(e, 'iam', ATTACH)) return ADMIN_POLICY.test(policyArn(e, env) ?? '');
    if (isCall(e, 'iam', INLINE)) return grantsEverything(env.request(e).doc('policyDocument'));
    return false;
  },
  key: byActor,
  context: (e, _p, env) => ({
    inline: e.action !== null && INLINE.has(e.action),
    policyName: env.request(e).str('policyName'),
    grantee: e.primaryResource ? `${e.primaryResource.id}` : null,
  }),
});
