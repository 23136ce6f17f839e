import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { records, record } from '../../../test/helpers/fixtures.ts';
import type { RawRecord } from '../../events/model.ts';
import { normalize } from '../../events/normalize.ts';
import { defaultFlowsConfig, evaluateFlows } from '../../flows/index.ts';
import type { IamPort } from '../../integrations/aws/iam.ts';
import { createIamAccess, trailbotRoleNames } from '../../integrations/aws/iam-access.ts';
import { DEFAULT_BASE_CREDENTIALS, type Standins } from '../../integrations/aws/standins/index.ts';
import type { Store } from '../../store/index.ts';
import { BASE, openApprovalsTestbed, userTarget } from './approvals.fixtures.ts';
import { DENY_ALL_ARN, type Plan, proposePlan, type RoleSessionTarget, reversePlan, sessionDenyName, type Target, targetOf, targetOfFinding, trailbotItself } from './plan.ts';

const actors = records('actors.json');
const actorOf = (eventId: string) => normalize(actors.find((r) => r.eventID === eventId)!).actor;

let aws: Standins;
let iam: IamPort;
let store: Store;
let close: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ aws, iam, store, close } = await openApprovalsTestbed('trailbot_plan'));
});
afterAll(() => close?.());

/** The writes the stand-in saw: a dry run makes none. */
const writes = () => aws.iam.writes().length;

describe('targetOf: who a finding is about, as something to deactivate', () => {
  it('an IAM user and role sessions (Identity Center ones too) are targets', () => {
    expect(targetOf(actorOf('cEXAMPLE-127e-4632-980d-505a4EXAMPLE'))).toEqual({ kind: 'iam-user', account: '444455556666', userName: 'JaneDoe', arn: 'arn:aws:iam::444455556666:user/JaneDoe', name: 'JaneDoe', email: null });
    expect(targetOf(actorOf('1917948f-3042-46ec-98e2-62865EXAMPLE'))).toMatchObject({ kind: 'role-session', account: '111111111111', roleName: 'JohnDoe', sessionName: 'JohnRole1', sso: false });
    expect(targetOf(actorOf('2a17948f-3042-46ec-98e2-62865EXAMPLE'))).toEqual({
      kind: 'role-session',
      account: '111111111111',
      roleName: 'AWSReservedSSO_SecurityAudit_8df5ccd37b',
      sessionName: 'firstname.lastname@example.com',
      sso: true,
      arn: 'arn:aws:sts::111111111111:assumed-role/AWSReservedSSO_SecurityAudit_8df5ccd37b/firstname.lastname@example.com',
      roleId: 'AROAIN5ATK5U7KEXAMPLE',
      name: 'firstname.lastname@example.com',
      email: 'firstname.lastname@example.com',
    });
  });

  it('root, AWS services, other accounts and identities trailbot cannot place are refused, with the reason', () => {
    const root = targetOf(actorOf('1'));
    expect(root).toMatchObject({ kind: 'refused', reason: 'root', account: '123456789012' });
    expect((root as { message: string }).message).toBe("123456789012's root user cannot be deactivated by trailbot: secure it by hand (its password, MFA, no access keys) and look at who holds its credentials.");
    expect(targetOf(actorOf('b3d7f1a2-6c4e-4d8b-8e21-5a9c0e7f4d33'))).toMatchObject({ kind: 'refused', reason: 'aws-service' });
    expect(targetOf(actorOf('dEXAMPLE-ac7f-466c-a608-4ac8dEXAMPLE'))).toMatchObject({ kind: 'refused' });
    expect(targetOf(actorOf('dEXAMPLE-265a-41e0-9352-4401bEXAMPLE'))).toMatchObject({ kind: 'refused', reason: 'unknown' });
    expect(targetOf(actorOf('e6e1f3df-9528-4c6d-a877-6b2b895d1f91'))).toMatchObject({ kind: 'refused', reason: 'unknown' });
    const service = { ...actorOf('1917948f-3042-46ec-98e2-62865EXAMPLE'), roleName: 'AWSServiceRoleForSupport' };
    expect(targetOf(service)).toMatchObject({ kind: 'refused', reason: 'service-role' });
    expect(targetOf({ ...actorOf('cEXAMPLE-127e-4632-980d-505a4EXAMPLE'), type: 'FederatedUser' })).toMatchObject({ kind: 'refused', reason: 'federated' });
  });

  it("a finding's target is the actor of its events", async () => {
    const raw = record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04');
    const events = [{ event: normalize(raw), raw }];
    await store.ingest(events);
    const r = await evaluateFlows(store, events, defaultFlowsConfig());
    const finding = r.findings.find((f) => f.flow === 'access-key-created')!;
    expect(await targetOfFinding(store.db, finding.id)).toMatchObject({ kind: 'iam-user', account: '229654561268', userName: 'christophe' });
    expect(await targetOfFinding(store.db, 'no-such-finding')).toBeUndefined();
  });
});

describe('proposePlan: the exact steps, read from the live account, changing nothing', () => {

  it('an IAM user with two keys (one already Inactive) and a console password', async () => {
    const seeded = aws.iam.createUser(BASE, 'mallory', { keys: ['Active', 'Inactive'], loginProfile: true, attachedPolicies: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] });
    const [k1, k2] = seeded.accessKeys.map((k) => k.accessKeyId) as [string, string];
    const before = writes();
    const plan = await proposePlan(iam, userTarget('mallory'), { now: Date.parse('2026-03-01T10:00:00Z') });
    expect(writes()).toBe(before);
    expect(plan).toMatchObject({ version: 1, kind: 'deactivate', account: BASE, readAt: '2026-03-01T10:00:00Z', options: { revokeOlderSessions: false } });
    expect(plan.steps.map((s) => [s.id, s.alreadyDone, s.reversible])).toEqual([
      [`key-${k1}-inactive`, false, true],
      [`key-${k2}-inactive`, true, true],
      ['login-profile-delete', false, false],
      ['deny-all-attach', false, true],
    ]);
    expect(plan.steps[0]).toMatchObject({
      action: { type: 'update-access-key', userName: 'mallory', accessKeyId: k1, status: 'Inactive' },
      description: `Set access key ${k1} of IAM user mallory to Inactive`,
      reverse: { type: 'update-access-key', userName: 'mallory', accessKeyId: k1, status: 'Active' },
    });
    expect(plan.steps[0]!.current).toMatch(/^Active \(created \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)$/);
    expect(plan.steps[2]).toMatchObject({ action: { type: 'delete-login-profile', userName: 'mallory' }, reverse: null });
    expect(plan.steps[2]!.note).toContain('cannot be undone');
    expect(plan.steps[3]).toMatchObject({ action: { type: 'attach-user-policy', policyArn: DENY_ALL_ARN }, current: 'not attached', reverse: { type: 'detach-user-policy', policyArn: DENY_ALL_ARN } });
    expect(plan.notes).toEqual([
      'Deleting the console password cannot be undone: a reactivation does not bring it back. An administrator sets a new one (iam:CreateLoginProfile) if mallory needs the console again.',
      '1 of these steps already hold in the account: they are checked again when carried out and change nothing.',
    ]);
    expect(plan.live.user).toMatchObject({ userName: 'mallory', loginProfile: { createDate: expect.any(String) }, attachedPolicies: [{ policyName: 'ReadOnlyAccess' }] });
    // Plain data: what an approval row stores is what it gets back.
    expect(JSON.parse(JSON.stringify(plan))).toEqual(plan);
  });

  it('a user without keys or password: only the deny, and a note; a user not in the account: E_IAM_NOT_FOUND', async () => {
    aws.iam.createUser(BASE, 'trent', { attachedPolicies: [DENY_ALL_ARN] });
    const plan = await proposePlan(iam, userTarget('trent'));
    expect(plan.steps.map((s) => [s.id, s.alreadyDone, s.current])).toEqual([['deny-all-attach', true, 'already attached']]);
    expect(plan.notes[0]).toBe('IAM user trent has no access keys.');
    await expect(proposePlan(iam, userTarget('ghost'))).rejects.toMatchObject({ code: 'E_IAM_NOT_FOUND', message: `IAM user ghost is not in account ${BASE}` });
  });

  /** `sessions` of `role` seen in the store within the last days. */
  async function sessionsSeen(roleName: string, sessions: string[], ago = 86_400_000): Promise<void> {
    const template = actors.find((r) => r.eventID === '2a17948f-3042-46ec-98e2-62865EXAMPLE')!;
    const evs = sessions.map((s, i) => {
      const raw = structuredClone(template) as RawRecord & { userIdentity: { sessionContext: { sessionIssuer: object } } };
      raw.eventID = `${roleName}-${s}-${i}`;
      raw.eventTime = new Date(Date.now() - ago).toISOString().replace(/\.\d{3}Z$/, 'Z');
      raw.recipientAccountId = BASE;
      Object.assign(raw.userIdentity, { accountId: BASE, principalId: `AROAEXAMPLE:${s}`, arn: `arn:aws:sts::${BASE}:assumed-role/${roleName}/${s}` });
      Object.assign(raw.userIdentity.sessionContext.sessionIssuer, { userName: roleName, accountId: BASE, arn: `arn:aws:iam::${BASE}:role/${roleName}` });
      return { event: normalize(raw), raw };
    });
    await store.ingest(evs);
  }

  it('a role session: a deny for that session only, who else uses the role, and on request the revoke of older sessions', async () => {
    const role = aws.iam.createRole(BASE, 'Deployer', { inlinePolicies: { AWSRevokeOlderSessions: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': '2025-01-01T00:00:00Z' } } }] } } });
    await sessionsSeen('Deployer', ['alice', 'bob', 'ci-runner']);
    await sessionsSeen('Deployer', ['old-timer'], 40 * 86_400_000);
    const target: RoleSessionTarget = { kind: 'role-session', account: BASE, roleName: 'Deployer', sessionName: 'alice', sso: false, arn: null, roleId: null, name: 'Deployer/alice', email: null };
    const before = writes();
    const plan = await proposePlan(iam, target, { db: store.db });
    expect(writes()).toBe(before);
    expect(plan.steps).toHaveLength(1);
    const name = sessionDenyName(role.roleId, 'alice');
    expect(name).toMatch(/^trailbot-deny-[0-9a-f]{16}$/);
    expect(plan.steps[0]).toMatchObject({
      id: 'session-deny',
      alreadyDone: false,
      current: 'not there',
      action: {
        type: 'put-role-policy',
        roleName: 'Deployer',
        policyName: name,
        document: { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringEquals: { 'aws:userid': `${role.roleId}:alice` } } }] },
      },
      reverse: { type: 'delete-role-policy', roleName: 'Deployer', policyName: name },
    });
    expect(plan.steps[0]!.description).toBe(`Add the inline policy ${name} to role Deployer: deny every action to the session alice only (aws:userid = ${role.roleId}:alice)`);
    expect(plan.others).toMatchObject({ roleName: 'Deployer', days: 30, more: false });
    expect(plan.others!.sessions.map((s) => s.sessionName).sort()).toEqual(['bob', 'ci-runner']);
    expect(plan.others!.sessions[0]!.events).toBe(1);
    expect(plan.notes).toContain(`Role Deployer is also used by 2 other sessions (last 30 days): ${plan.others!.sessions.map((s) => s.sessionName).join(', ')}.`);

    const revoking = await proposePlan(iam, target, { db: store.db, revokeOlderSessions: true });
    expect(revoking.options.revokeOlderSessions).toBe(true);
    expect(revoking.steps[1]).toMatchObject({
      id: 'revoke-older-sessions',
      action: { type: 'revoke-older-sessions', roleName: 'Deployer' },
      current: 'the role already revokes sessions issued before 2025-01-01 00:00:00 UTC: the time moves to when this is carried out',
      // Undone by putting back what the role had.
      reverse: { type: 'put-role-policy', policyName: 'AWSRevokeOlderSessions', document: { Statement: [{ Condition: { DateLessThan: { 'aws:TokenIssueTime': '2025-01-01T00:00:00Z' } } }] } },
    });
    expect(revoking.notes.at(-1)).toContain('cuts EVERY session of role Deployer');
    expect(writes()).toBe(before);
  });

  it('an Identity Center session: the deny names the e-mail session, and the page is told what it does not do', async () => {
    const role = aws.iam.createRole(BASE, 'AWSReservedSSO_Admin_0123abcd', { path: '/aws-reserved/sso.amazonaws.com/' });
    const actor = { ...actorOf('2a17948f-3042-46ec-98e2-62865EXAMPLE'), accountId: BASE, roleName: 'AWSReservedSSO_Admin_0123abcd' };
    const target = targetOf(actor) as Target;
    expect(target).toMatchObject({ kind: 'role-session', sso: true, sessionName: 'firstname.lastname@example.com' });
    const plan = await proposePlan(iam, target, { db: store.db });
    expect(plan.steps[0]!.action).toMatchObject({ document: { Statement: [{ Condition: { StringEquals: { 'aws:userid': `${role.roleId}:firstname.lastname@example.com` } } }] } });
    expect(plan.notes).toContain(
      'AWSReservedSSO_Admin_0123abcd is an IAM Identity Center role: the deny stops firstname.lastname@example.com in account 123456789012 only; their Identity Center user is not disabled and can still reach other accounts.',
    );
    expect(plan.notes).toContain("Nobody else used role AWSReservedSSO_Admin_0123abcd in the last 30 days, as far as trailbot's store shows.");
  });
});

describe("trailbot itself is never a target: a deny on it would cut trailbot off in that account, and from undoing it", () => {
  const MEMBER = '111111111111';
  const session = (account: string, roleName: string, sessionName = 'someone'): RoleSessionTarget => ({ kind: 'role-session', account, roleName, sessionName, sso: false, arn: null, roleId: null, name: `${roleName}/${sessionName}`, email: null });
  const reads = () => aws.iam.requests.length;

  it('targetOf refuses a session of a role trailbot assumes in that account (accounts[].roleName, a source\'s roleName), with the reason', () => {
    const config = { accounts: [{ id: MEMBER, roleName: 'TrailbotResponder' }], sources: [{ kind: 'lookup', roleName: 'org/TrailbotReader' }, { kind: 's3', account: '222222222222', roleName: 'TrailbotS3' }] } as never;
    expect(trailbotRoleNames(config, MEMBER).sort()).toEqual(['TrailbotReader', 'TrailbotResponder']);
    expect(trailbotRoleNames(config, '222222222222').sort()).toEqual(['TrailbotReader', 'TrailbotS3']);
    const actor = { ...actorOf('1917948f-3042-46ec-98e2-62865EXAMPLE'), roleName: 'trailbotresponder', sessionName: 'trailbot-approvals', name: 'trailbotresponder/trailbot-approvals' };
    const refused = targetOf(actor, { trailbotRoles: (a) => trailbotRoleNames(config, a) });
    expect(refused).toMatchObject({ kind: 'refused', reason: 'trailbot', account: MEMBER });
    expect((refused as { message: string }).message).toBe(
      `trailbotresponder/trailbot-approvals is trailbot itself in account ${MEMBER} (role trailbotresponder, which trailbot assumes there): a deny on it would cut trailbot off in that account, including from undoing the deactivation. trailbot will not propose it; if its credentials were misused, rotate them and restrict its role by hand.`,
    );
    // The same role name in an account trailbot does not assume it in is someone else's.
    expect(targetOf({ ...actor, accountId: '333333333333' }, { trailbotRoles: (a) => trailbotRoleNames(config, a) })).toMatchObject({ kind: 'role-session' });
    expect(targetOf(actor)).toMatchObject({ kind: 'role-session' });
  });

  it("trailbotItself: the IAM user or the role session of its own credentials (GetCallerIdentity), in that account only", () => {
    const caller = (arn: string) => ({ roleNames: [], caller: { account: BASE, arn } });
    const user = userTarget('Trailbot');
    expect(trailbotItself(user, caller(`arn:aws:iam::${BASE}:user/ops/trailbot`))).toContain('IAM user Trailbot');
    expect(trailbotItself({ ...user, account: MEMBER }, caller(`arn:aws:iam::${BASE}:user/trailbot`))).toBeUndefined();
    expect(trailbotItself(session(BASE, 'TrailbotRunner', 'i-0abc'), caller(`arn:aws:sts::${BASE}:assumed-role/TrailbotRunner/i-0123`))).toContain('role TrailbotRunner');
    expect(trailbotItself(session(BASE, 'Deployer'), caller(`arn:aws:sts::${BASE}:assumed-role/TrailbotRunner/i-0123`))).toBeUndefined();
    expect(trailbotItself(user, caller(`arn:aws:sts::${BASE}:assumed-role/Trailbot/x`))).toBeUndefined();
  });

  it("proposePlan refuses trailbot's own IAM user (the stand-in's base credentials are user trailbot) before reading anything", async () => {
    aws.iam.createUser(BASE, 'trailbot', { keys: 1 });
    const [w, r] = [writes(), reads()];
    const user = userTarget('trailbot');
    await expect(proposePlan(iam, user)).rejects.toMatchObject({ code: 'E_APPROVAL_REFUSED', message: expect.stringContaining(`trailbot is trailbot itself in account ${BASE} (IAM user trailbot, whose keys trailbot's credentials are (arn:aws:iam::${BASE}:user/trailbot))`) });
    expect([writes(), reads()]).toEqual([w, r]);
    // Another user of the account is proposed as usual.
    aws.iam.createUser(BASE, 'trailbot-not', {});
    await expect(proposePlan(iam, { ...user, userName: 'trailbot-not' })).resolves.toMatchObject({ kind: 'deactivate' });
  });

  it('proposePlan refuses a session of the role trailbot assumed in a member account, whatever the session', async () => {
    const member = createIamAccess({
      config: { aws: { endpoints: { default: aws.url } }, accounts: [], sources: [{ kind: 'lookup', roleName: 'TrailbotReader' }] } as never,
      credentials: { accessKeyId: DEFAULT_BASE_CREDENTIALS.accessKeyId, secretAccessKey: DEFAULT_BASE_CREDENTIALS.secretAccessKey },
    });
    try {
      const port = await member.forAccount(MEMBER);
      expect(await port.trailbot()).toMatchObject({ account: MEMBER, roleNames: ['TrailbotReader'], caller: { account: MEMBER, arn: expect.stringMatching(new RegExp(`^arn:aws:sts::${MEMBER}:assumed-role/TrailbotReader/`)) } });
      const w = writes();
      for (const s of ['trailbot-approvals', 'alice']) {
        await expect(proposePlan(port, session(MEMBER, 'TrailbotReader', s))).rejects.toMatchObject({ code: 'E_APPROVAL_REFUSED', message: expect.stringContaining('role TrailbotReader, which trailbot assumes there') });
        await expect(proposePlan(port, session(MEMBER, 'TrailbotReader', s), { revokeOlderSessions: true })).rejects.toMatchObject({ code: 'E_APPROVAL_REFUSED' });
      }
      expect(writes()).toBe(w);
    } finally {
      member.destroy();
    }
  });
});

describe('reversePlan', () => {
  it("undoes what the deactivation changed, leaves what already held, and says the password cannot come back", async () => {
    const seeded = aws.iam.createUser(BASE, 'victor', { keys: ['Active', 'Inactive'], loginProfile: true });
    const [k1, k2] = seeded.accessKeys.map((k) => k.accessKeyId) as [string, string];
    const plan: Plan = await proposePlan(iam, { kind: 'iam-user', account: BASE, userName: 'victor', arn: null, name: 'victor', email: null });
    const at = '2026-03-01T10:05:00Z';
    const back = reversePlan(plan, [
      { id: `key-${k1}-inactive`, state: 'done', outcome: 'changed', finishedAt: at },
      { id: `key-${k2}-inactive`, state: 'done', outcome: 'already', finishedAt: at },
      { id: 'login-profile-delete', state: 'done', outcome: 'changed', finishedAt: at },
      { id: 'deny-all-attach', state: 'failed', outcome: null, finishedAt: at },
    ], { approvalId: 'appr-1' });
    expect(back).toMatchObject({ kind: 'reactivate', reverses: 'appr-1', target: plan.target, account: BASE });
    expect(back.steps.map((s) => [s.id, s.action])).toEqual([[`key-${k1}-active`, { type: 'update-access-key', userName: 'victor', accessKeyId: k1, status: 'Active' }]]);
    expect(back.steps[0]!.description).toBe(`Set access key ${k1} of IAM user victor back to Active`);
    expect(back.notes).toEqual([
      `Attach the AWS managed policy AWSDenyAll (${DENY_ALL_ARN}) to IAM user victor: it denies every action: it was not carried out, so there is nothing to reverse.`,
      'The console password of victor was deleted 2026-03-01 10:05:00 UTC and cannot come back: an administrator sets a new one (iam:CreateLoginProfile) if the user needs the console again.',
      `Set access key ${k2} of IAM user victor to Inactive: it already held before the deactivation, so the reactivation leaves it.`,
    ]);
  });
});
