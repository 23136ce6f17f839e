import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { call } from '../../../test/fixtures/flows/build.ts';
import { identityProviders } from '../../../test/fixtures/flows/identity-records.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'external-identity-trust-added';

describe(ID, () => {
  it('raises once for a Roles Anywhere trust anchor and its profile (Stratus rolesanywhere-create-trust-anchor)', () => {
    const f = positiveFinding(ID);
    expect(f.count).toBe(2);
    expect(f.severity).toBe('high');
    expect(f.title).toMatch(/^Outside identity trusted \(IAM Roles Anywhere\) malicious-rolesanywhere-trust-anchor: christophe /);
  });

  it('raises for SAML and OpenID Connect providers, naming them', () => {
    const [saml, oidc] = identityProviders();
    expect(findings([saml!], ID)[0]!.title).toMatch(/^Outside identity trusted \(SAML provider\) okta-prod: /);
    expect(findings([oidc!], ID)[0]!.title).toMatch(/^Outside identity trusted \(OpenID Connect provider\) https:\/\/token\.actions\.githubusercontent\.com: /);
  });

  it('ignores refused calls, reads, and CloudFormation stacks when iacUserAgents is on', () => {
    const denied = structuredClone(record('records/stratus-aws.persistence.rolesanywhere-create-trust-anchor.json', 'CreateTrustAnchor'));
    denied.errorCode = 'AccessDeniedException';
    expect(findings([denied], ID)).toEqual([]);
    expect(findings([call({ source: 'iam.amazonaws.com', name: 'ListSAMLProviders' })], ID)).toEqual([]);
    const [saml] = identityProviders();
    const byStack = { ...saml!, sourceIPAddress: 'cloudformation.amazonaws.com', userAgent: 'cloudformation.amazonaws.com' };
    expect(findings([byStack], ID)).toEqual([]);
  });
});
