import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { call, iamUser, roleSession } from '../../../test/fixtures/flows/build.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'console-credentials-changed';
const R = 'records/';

describe(ID, () => {
  it('raises when a console password is created for another user (Stratus iam-create-user-login-profile)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toMatch(/^Console password created for another user: christophe /);
    expect(f.title).toContain('stratus-red-team-login-profile-user');
  });

  it("raises when another user's password is changed (Stratus iam-update-user-login-profile)", () => {
    const f = findings([record(`${R}stratus-aws.privilege-escalation.iam-update-user-login-profile.json`, 'UpdateLoginProfile')], ID);
    expect(f).toHaveLength(1);
    expect(f[0]!.title).toMatch(/^Console password changed for another user: christophe /);
  });

  it('raises when a role session sets a user\'s password (the caller is no IAM user)', () => {
    const r = call({ source: 'iam.amazonaws.com', name: 'CreateLoginProfile', identity: roleSession('deploy', 'ci-run-1'), request: { userName: 'bob', passwordResetRequired: false } });
    expect(findings([r], ID)).toHaveLength(1);
  });

  it('raises when an MFA device is deactivated, even by its own user', () => {
    const r = call({
      source: 'iam.amazonaws.com',
      name: 'DeactivateMFADevice',
      identity: iamUser('alice'),
      request: { userName: 'alice', serialNumber: 'arn:aws:iam::111122223333:mfa/alice' },
    });
    const f = findings([r], ID);
    expect(f).toHaveLength(1);
    expect(f[0]!.title).toMatch(/^MFA turned off for alice: /);
  });

  it('ignores a user changing their own password, and calls that did not go through', () => {
    const own = record(`${R}stratus-aws.privilege-escalation.iam-update-user-login-profile.json`, 'UpdateLoginProfile');
    (own.requestParameters as Record<string, unknown>).userName = 'christophe';
    expect(findings([own], ID)).toEqual([]);
    const noUser = call({ source: 'iam.amazonaws.com', name: 'UpdateLoginProfile', identity: iamUser('alice'), request: { passwordResetRequired: false } });
    expect(findings([noUser], ID)).toEqual([]);
    // DeleteLoginProfile refused (EntityTemporarilyUnmodifiable) in the same Stratus log.
    expect(findings([record(`${R}stratus-aws.persistence.iam-create-user-login-profile.json`, 'DeleteLoginProfile')], ID)).toEqual([]);
    const denied = call({ source: 'iam.amazonaws.com', name: 'CreateLoginProfile', request: { userName: 'bob' }, error: { code: 'AccessDenied' } });
    expect(findings([denied], ID)).toEqual([]);
  });

  it('leaves out allow-listed automation', () => {
    const r = call({ source: 'iam.amazonaws.com', name: 'CreateLoginProfile', identity: roleSession('account-vending', 'run-7'), request: { userName: 'bob' } });
    expect(findings([r], ID, { allow: { automationRoles: ['account-vending'] } })).toEqual([]);
  });
});
