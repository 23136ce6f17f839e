import { createHmac } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../config/index.ts';
import { TrailbotError } from '../../errors.ts';
import { approvalSettings, describeApprovals, isApprover, isSelf, mayApprove } from './rules.ts';
import { checkLink, derivedKey, principalDigest, samePrincipal, signLink } from './tokens.ts';

const SECRET = 'approval-secret-0123456789-0123456789-abcdef';
const claims = { approval: 'a'.repeat(32), finding: 'f00d', action: 'deactivate' as const, principal: 'arn:aws:iam::123456789012:user/ivan', expiresAt: Date.parse('2030-01-01T00:00:00Z') };

describe('link tokens', () => {
  it('checks the signature, the shape and the expiry', () => {
    const t = signLink(SECRET, claims);
    expect(t).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const now = Date.parse('2029-01-01T00:00:00Z');
    const ok = checkLink(SECRET, t, now);
    expect(ok).toEqual({ ok: true, claims: { approval: claims.approval, finding: 'f00d', action: 'deactivate', principalDigest: principalDigest(claims.principal), expiresAt: claims.expiresAt } });
    // The ARN itself is not in the token, only its digest.
    expect(Buffer.from(t.split('.')[0]!, 'base64url').toString()).not.toContain('ivan');
    expect(checkLink('another-secret-0123456789-0123456789-abc', t, now)).toEqual({ ok: false, reason: 'signature' });
    const [body, sig] = t.split('.') as [string, string];
    const other = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), a: 'reactivate' })).toString('base64url');
    expect(checkLink(SECRET, `${other}.${sig}`, now)).toEqual({ ok: false, reason: 'signature' });
    expect(checkLink(SECRET, `${body}.${sig.slice(0, -1)}`, now)).toEqual({ ok: false, reason: 'signature' });
    for (const bad of ['', body, `${body}.`, `${body}.${sig}.x`, `${body}.${sig}==`, 'a'.repeat(2000)]) expect(checkLink(SECRET, bad, now), bad.slice(0, 20)).toEqual({ ok: false, reason: 'malformed' });
    expect(checkLink(SECRET, t, claims.expiresAt)).toMatchObject({ ok: false, reason: 'expired', claims: { approval: claims.approval } });
    // A well-signed body that is not a token's claims.
    const junk = Buffer.from('{"v":2}').toString('base64url');
    const signed = createHmac('sha256', derivedKey(SECRET, 'approval link')).update(junk).digest('base64url');
    expect(checkLink(SECRET, `${junk}.${signed}`, now)).toEqual({ ok: false, reason: 'malformed' });
    expect(samePrincipal(principalDigest(claims.principal), claims.principal)).toBe(true);
    expect(samePrincipal(principalDigest(claims.principal), 'arn:aws:iam::123456789012:user/ivan2')).toBe(false);
  });
});

describe('who may approve', () => {
  const s = approvalSettings({ approvers: ['ana@corp.example'], groups: ['Security-Oncall'], groupsClaim: 'groups', required: 1, linkTtl: '72h' });

  it('takes listed e-mails and members of listed groups, case-insensitively', () => {
    expect(isApprover({ email: 'ANA@corp.example', groups: [] }, s)).toBe(true);
    expect(isApprover({ email: 'bob@corp.example', groups: ['security-oncall'] }, s)).toBe(true);
    expect(isApprover({ email: 'bob@corp.example', groups: ['developers'] }, s)).toBe(false);
  });

  it('knows the target by e-mail, user name, session name or the e-mail’s local part', () => {
    expect(isSelf('ivan@corp.example', { name: 'ivan' })).toBe(true);
    expect(isSelf('Ivan@Corp.Example', { name: 'ivan@corp.example' })).toBe(true);
    expect(isSelf('ivan@corp.example', { name: 'someone', email: 'IVAN@corp.example' })).toBe(true);
    expect(isSelf('ivan@corp.example', { name: 'ivana' })).toBe(false);
  });

  it('knows the target when the session name is their e-mail in another domain, or either side has a +tag', () => {
    // An IAM Identity Center session is named after the person's user name, often a sign-in address of another domain than their mail.
    expect(isSelf('ivan@corp.example', { name: 'ivan@corp.com' })).toBe(true);
    expect(isSelf('ivan@corp.example', { name: 'someone', email: 'Ivan@corp.io' })).toBe(true);
    expect(isSelf('ivan+admin@corp.example', { name: 'ivan' })).toBe(true);
    expect(isSelf('ivan@corp.example', { name: 'ivan+ops@corp.example' })).toBe(true);
    expect(isSelf(' ivan@corp.example ', { name: ' IVAN ' })).toBe(true);
    expect(isSelf('ivan@corp.example', { name: 'ivana@corp.com' })).toBe(false);
    expect(isSelf('ivan@corp.example', { name: '@corp.example' })).toBe(false);
  });

  it('refuses non-approvers, the target, a second approval by the same person, and everyone when nobody is configured', () => {
    expect(mayApprove({ email: 'ana@corp.example', groups: [] }, { name: 'ivan' }, [], s)).toBeUndefined();
    expect(mayApprove({ email: 'eve@corp.example', groups: [] }, { name: 'ivan' }, [], s)?.reason).toBe('not-an-approver');
    expect(mayApprove({ email: 'ana@corp.example', groups: [] }, { name: 'ana' }, [], s)?.reason).toBe('self');
    expect(mayApprove({ email: 'ana@corp.example', groups: [] }, { name: 'ivan' }, ['ANA@corp.example'], s)?.reason).toBe('already-approved');
    expect(mayApprove({ email: 'ana@corp.example', groups: [] }, { name: 'ivan' }, [], approvalSettings(undefined))?.reason).toBe('no-approvers');
  });
});

describe('approvals: in trailbot.config.yaml', () => {
  const config = (yaml: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'trailbot-approvals-config-'));
    writeFileSync(join(dir, 'trailbot.config.yaml'), yaml);
    return readConfig({}, { cwd: dir });
  };
  const problems = (yaml: string): string => {
    try {
      config(yaml);
    } catch (e) {
      expect(e).toBeInstanceOf(TrailbotError);
      return (e as TrailbotError).message;
    }
    throw new Error('no error');
  };

  it('has defaults: nobody may approve, one approver, links for 72 h', () => {
    expect(config('flows: {}\n').approvals).toEqual({ approvers: [], groups: [], groupsClaim: 'groups', required: 1, linkTtlMs: 72 * 3600_000, jiraStatus: undefined });
    expect(config('approvals:\n  approvers: [Ana@Corp.Example]\n  groups: [sec]\n  groupsClaim: roles\n  required: 2\n  linkTtl: 1d\n  jiraStatus: In Progress\n').approvals).toEqual({
      approvers: ['ana@corp.example'],
      groups: ['sec'],
      groupsClaim: 'roles',
      required: 2,
      linkTtlMs: 86_400_000,
      jiraStatus: 'In Progress',
    });
  });

  it('says what is wrong, naming the key', () => {
    expect(problems('approvals:\n  approvers: [ana]\n')).toContain('approvals.approvers[0]: expected an e-mail address');
    expect(problems('approvals:\n  required: 3\n')).toContain('approvals.required: expected 1, or 2 for the two-person rule');
    expect(problems('approvals:\n  approvers: [ana@corp.example]\n  required: 2\n')).toContain('the two-person rule (required: 2) needs at least two approvers');
    expect(problems('approvals:\n  linkTtl: 90d\n')).toContain('approvals.linkTtl: linkTtl "90d" is longer than 30d');
    expect(problems('approvals:\n  aprovers: [ana@corp.example]\n')).toContain('approvals.aprovers: unknown setting under approvals');
  });

  it('config check says what approvals will do, or what is missing', () => {
    const oidc = { issuer: 'https://login.corp.example' };
    const two = approvalSettings({ approvers: ['ana@corp.example', 'bob@corp.example'], groups: [], groupsClaim: 'groups', required: 2, linkTtl: '72h', jiraStatus: 'In Progress' });
    expect(describeApprovals({ approvalSecret: undefined, oidc, approvals: two })).toContain('set APPROVAL_SECRET');
    expect(describeApprovals({ approvalSecret: SECRET, oidc: undefined, approvals: two })).toContain('approving is refused until sign-in is set: OIDC_ISSUER');
    expect(describeApprovals({ approvalSecret: SECRET, oidc, approvals: approvalSettings(undefined) })).toContain('nobody may approve yet');
    expect(describeApprovals({ approvalSecret: SECRET, oidc, approvals: two })).toBe('links work 72 h, sign-in at https://login.corp.example; 2 approvers may approve, two of them each time (two-person rule); tickets then move to In Progress');
  });
});
