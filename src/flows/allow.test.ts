import { describe, expect, it } from 'vitest';
import type { RawRecord } from '../events/model.ts';
import { normalize } from '../events/normalize.ts';
import { findings, record } from '../../test/fixtures/flows/load.ts';
import { actorNames, permissionSetOf } from './match.ts';

/**
 * The allow-lists trust only what the account controls (README "What each allow-list trusts").
 * Both bypasses of the issue are replayed on Stratus's record of a user creating an access key for
 * another user (aws.persistence.iam-create-admin-user: christophe → malicious-iam-user).
 */

const ID = 'access-key-created';
const TERRAFORM_UA = 'APN/1.0 HashiCorp/1.0 Terraform/1.5.7 (+https://www.terraform.io) terraform-provider-aws/5.31.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go/1.49.13 (go1.21.5; linux; amd64)';

function keyForOtherUser(): RawRecord {
  return record('records/stratus-aws.persistence.iam-create-admin-user.json', 'CreateAccessKey');
}

/** The same call made from a role session the caller named (`AssumeRole --role-session-name <session>`). */
function asSession(raw: RawRecord, role: string, session: string): RawRecord {
  const acct = '229654561268';
  raw.userIdentity = {
    type: 'AssumedRole',
    principalId: `AROAEXAMPLEROLEID0001:${session}`,
    arn: `arn:aws:sts::${acct}:assumed-role/${role}/${session}`,
    accountId: acct,
    accessKeyId: 'ASIAEXAMPLESESSION01',
    sessionContext: {
      sessionIssuer: { type: 'Role', principalId: 'AROAEXAMPLEROLEID0001', arn: `arn:aws:iam::${acct}:role/${role}`, accountId: acct, userName: role },
      attributes: { creationDate: '2024-08-01T13:00:00Z', mfaAuthenticated: 'false' },
    },
  };
  return raw;
}

describe('iacUserAgents: a user agent alone never silences a flow', () => {
  it('reports a stolen key that writes Terraform into its user agent to create an access key for another user', () => {
    const raw = keyForOtherUser();
    raw.userAgent = TERRAFORM_UA;
    expect(normalize(raw).via).toBe('iac'); // the event still says how it was made
    const f = findings([raw], ID);
    expect(f).toHaveLength(1);
    expect(f[0]!.severity).toBe('medium');
    // Either setting: the user agent is the caller's word.
    expect(findings([raw], ID, { allow: { iacUserAgents: true } })).toHaveLength(1);
    expect(findings([raw], ID, { allow: { iacUserAgents: false } })).toHaveLength(1);
  });

  it('exempts the same call by an identity listed under iacIdentities, whatever its user agent', () => {
    const raw = keyForOtherUser();
    raw.userAgent = TERRAFORM_UA;
    expect(findings([raw], ID, { allow: { iacIdentities: ['christophe'] } })).toEqual([]);
    const plain = keyForOtherUser();
    expect(findings([plain], ID, { allow: { iacIdentities: ['arn:aws:iam::*:user/christophe'] } })).toEqual([]);
    expect(findings([plain], ID, { allow: { iacIdentities: ['terraform-*'] } })).toHaveLength(1);
  });

  it('exempts a call CloudFormation made (invokedBy or sourceIPAddress written by AWS), unless iacUserAgents is off', () => {
    const byCfn = keyForOtherUser();
    (byCfn.userIdentity as Record<string, unknown>).invokedBy = 'cloudformation.amazonaws.com';
    byCfn.sourceIPAddress = 'cloudformation.amazonaws.com';
    byCfn.userAgent = 'cloudformation.amazonaws.com';
    expect(findings([byCfn], ID)).toEqual([]);
    expect(findings([byCfn], ID, { allow: { iacUserAgents: false } })).toHaveLength(1);
    const sourceOnly = keyForOtherUser();
    sourceOnly.sourceIPAddress = 'cloudformation.amazonaws.com';
    expect(findings([sourceOnly], ID)).toEqual([]);
    // The caller can write CloudFormation's name into its user agent, not into sourceIPAddress.
    const agentOnly = keyForOtherUser();
    agentOnly.userAgent = 'cloudformation.amazonaws.com';
    expect(findings([agentOnly], ID)).toHaveLength(1);
  });
});

describe('break-glass, automation and IaC lists match what the account controls, never session names', () => {
  const config = (allow: Record<string, string[]>) => ({ allow, [ID]: { allow: ['breakGlass' as const, 'automation' as const, 'iac' as const] } });

  it('does not exempt a session the caller named BreakGlass-x (AssumeRole --role-session-name)', () => {
    const raw = asSession(keyForOtherUser(), 'ci-runner', 'BreakGlass-x');
    expect(findings([raw], ID, config({ breakGlassRoles: ['BreakGlass*'] }))).toHaveLength(1);
    expect(findings([raw], ID, config({ breakGlassRoles: ['*BreakGlass*'] }))).toHaveLength(1);
    expect(findings([raw], ID, config({ automationRoles: ['BreakGlass*'] }))).toHaveLength(1);
    expect(findings([raw], ID, config({ iacIdentities: ['*/BreakGlass-x'] }))).toHaveLength(1);
  });

  it('exempts the role itself, by name or ARN, whatever its session is called', () => {
    const raw = asSession(keyForOtherUser(), 'BreakGlass', 'oncall-2024-08-01');
    expect(findings([raw], ID, config({ breakGlassRoles: ['BreakGlass*'] }))).toEqual([]);
    expect(findings([raw], ID, config({ breakGlassRoles: ['arn:aws:iam::229654561268:role/BreakGlass'] }))).toEqual([]);
    expect(findings([raw], ID, config({ automationRoles: ['arn:aws:iam::*:role/Break*'] }))).toEqual([]);
  });

  it('does not exempt a session named after an allow-listed e-mail: the caller picks it too', () => {
    const raw = asSession(keyForOtherUser(), 'ci-runner', 'alana@example.com');
    expect(normalize(raw).actor.email).toBe('alana@example.com');
    expect(findings([raw], ID, config({ breakGlassRoles: ['alana@example.com'] }))).toHaveLength(1);
  });

  it('exempts an Identity Center permission set by its name', () => {
    const raw = asSession(keyForOtherUser(), 'AWSReservedSSO_BreakGlassAdmin_0123456789abcdef', 'alana@example.com');
    expect(findings([raw], ID, config({ breakGlassRoles: ['BreakGlassAdmin'] }))).toEqual([]);
    expect(findings([raw], ID, config({ breakGlassRoles: ['OtherSet'] }))).toHaveLength(1);
  });

  it('names only role and user names and ARNs and the permission set', () => {
    const session = normalize(asSession(keyForOtherUser(), 'AWSReservedSSO_ReadOnly_0123456789abcdef', 'BreakGlass-x')).actor;
    expect(actorNames(session)).toEqual([
      'arn:aws:iam::229654561268:role/AWSReservedSSO_ReadOnly_0123456789abcdef',
      'AWSReservedSSO_ReadOnly_0123456789abcdef',
      'ReadOnly',
    ]);
    const user = normalize(keyForOtherUser()).actor;
    expect(actorNames(user)).toEqual(['arn:aws:iam::229654561268:user/christophe', 'christophe']);
    expect(permissionSetOf('AWSReservedSSO_My_Set_0123456789abcdef')).toBe('My_Set');
    expect(permissionSetOf('AWSReservedSSO_ReadOnly')).toBeNull();
  });
});
