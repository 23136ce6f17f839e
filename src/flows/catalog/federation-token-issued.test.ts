import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { call, iamUser } from '../../../test/fixtures/flows/build.ts';
import { federationToken } from '../../../test/fixtures/flows/identity-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'federation-token-issued';

describe(ID, () => {
  it('raises, high, when a federated session may do everything (Stratus sts-federation-token, built from the API reference)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toMatch(/^Federated session credentials issued with every permission \(persist\): build-bot /);
  });

  it('raises at medium for a narrow session policy, and high for AdministratorAccess by ARN', () => {
    const narrow = findings([federationToken(false)], ID);
    expect(narrow).toHaveLength(1);
    expect(narrow[0]!.severity).toBe('medium');
    expect(narrow[0]!.title).not.toContain('every permission');
    const admin = call({
      source: 'sts.amazonaws.com',
      name: 'GetFederationToken',
      identity: iamUser('build-bot'),
      request: { name: 'x', policyArns: [{ arn: 'arn:aws:iam::aws:policy/AdministratorAccess' }] },
    });
    expect(findings([admin], ID)[0]!.severity).toBe('high');
  });

  it('ignores a refused call, and a user allow-listed as automation (by user name, not the session name it picks)', () => {
    const denied = call({ source: 'sts.amazonaws.com', name: 'GetFederationToken', identity: iamUser('build-bot'), request: { name: 'x' }, error: { code: 'AccessDenied' } });
    expect(findings([denied], ID)).toEqual([]);
    expect(findings([federationToken()], ID, { allow: { automationRoles: ['build-bot'] } })).toEqual([]);
    expect(findings([federationToken()], ID, { allow: { automationRoles: ['persist'] } })).toHaveLength(1);
  });
});
