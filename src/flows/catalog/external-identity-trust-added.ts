import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { byActor, serviceOf, succeeded } from '../match.ts';

/** IAM Roles Anywhere: a certificate authority trusted to sign in, and the profiles mapping it to roles. */
const ROLES_ANYWHERE = new Set(['CreateTrustAnchor', 'UpdateTrustAnchor', 'EnableTrustAnchor', 'CreateProfile', 'UpdateProfile', 'EnableProfile']);
/** IAM identity providers: SAML and OpenID Connect. */
const IAM_PROVIDERS = new Set([
  'CreateSAMLProvider', 'UpdateSAMLProvider',
  'CreateOpenIDConnectProvider', 'UpdateOpenIDConnectProviderThumbprint', 'AddClientIDToOpenIDConnectProvider',
]);

type Kind = 'roles-anywhere' | 'saml' | 'oidc';

function kindOf(e: TrailEvent): Kind | null {
  const a = e.action;
  if (a === null) return null;
  const svc = serviceOf(e);
  if (svc === 'rolesanywhere' && ROLES_ANYWHERE.has(a)) return 'roles-anywhere';
  if (svc === 'iam' && IAM_PROVIDERS.has(a)) return a.includes('SAML') ? 'saml' : 'oidc';
  return null;
}

/** What was trusted, by name: the trust anchor or profile, the SAML provider, the OIDC issuer. */
function nameOf(e: TrailEvent, env: FlowEnv): string | null {
  const req = env.request(e);
  return (
    req.str('name') ?? req.str('url') ?? req.str('sAMLProviderArn') ?? req.str('openIDConnectProviderArn') ??
    env.response(e).str('trustAnchor', 'name') ?? env.response(e).str('profile', 'name') ?? e.primaryResource?.id ?? null
  );
}

/**
 * Stratus `aws.persistence.rolesanywhere-create-trust-anchor`; Panther AWS.IAM.SAMLProviderCreated-style
 * rules. Each of these lets an identity outside AWS (a certificate, a SAML or OIDC identity provider)
 * sign in to roles of the account, without any IAM user or key to find and remove.
 */
export const externalIdentityTrustAdded = defineFlow({
  id: 'external-identity-trust-added',
  kind: 'single',
  severity: 'high',
  description: 'The account began trusting an identity outside AWS: an IAM Roles Anywhere trust anchor or profile, or a SAML or OpenID Connect provider, was added or changed.',
  runbook: 'Confirm the identity provider or certificate authority is one your organisation runs and that the change was planned; if not, delete it and look for sessions it already opened (AssumeRoleWithSAML, AssumeRoleWithWebIdentity, CreateSession).',
  falsePositives: ['Setting up single sign-on, GitHub Actions or another CI provider (OIDC), or on-premises servers using Roles Anywhere.'],
  references: ['stratus: aws.persistence.rolesanywhere-create-trust-anchor', 'MITRE ATT&CK T1484.002 (trust modification)'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac'],
  actions: [...ROLES_ANYWHERE, ...IAM_PROVIDERS],
  needsRequest: true,
  match: (e) => succeeded(e) && kindOf(e) !== null,
  key: byActor,
  context: (e, _p, env) => {
    const kind = kindOf(e);
    return { rolesAnywhere: kind === 'roles-anywhere', saml: kind === 'saml', oidc: kind === 'oidc', name: nameOf(e, env) };
  },
});
