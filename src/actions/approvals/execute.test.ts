import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { IamPort } from '../../integrations/aws/iam.ts';
import type { Standins } from '../../integrations/aws/standins/index.ts';
import type { Store } from '../../store/index.ts';
import { BASE, openApprovalsTestbed, userTarget } from './approvals.fixtures.ts';
import { executePlan, getExecution, recordPlan } from './execute.ts';
import { applyAction, DENY_ALL_ARN, type Plan, proposePlan, REVOKE_OLDER_SESSIONS, reversePlan, type RoleSessionTarget } from './plan.ts';

let aws: Standins;
let iam: IamPort;
let store: Store;
let close: (() => Promise<void>) | undefined;
let n = 0;

beforeAll(async () => {
  ({ aws, iam, store, close } = await openApprovalsTestbed('trailbot_execute'));
});
afterAll(() => close?.());
beforeEach(() => aws.iam.faults.clear());

/** Writes to this user or role made since `from` (the request log), by action. */
function writesSince(from: number, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of aws.iam.writes().slice(from)) {
    const p = r.params as Record<string, string>;
    if (p.UserName !== name && p.RoleName !== name) continue;
    out[r.operation] = (out[r.operation] ?? 0) + 1;
  }
  return out;
}
/** A fresh user with two Active keys, a console password and nothing attached; the plan to deactivate it. */
async function seededUser(): Promise<{ name: string; keys: string[]; plan: Plan; approvalId: string }> {
  const name = `user-${++n}`;
  const u = aws.iam.createUser(BASE, name, { keys: 2, loginProfile: true });
  return { name, keys: u.accessKeys.map((k) => k.accessKeyId), plan: await proposePlan(iam, userTarget(name)), approvalId: `appr-${n}` };
}

describe('executePlan', () => {
  it('carries out a user deactivation once: the account holds it afterwards, and a second run writes nothing', async () => {
    const { name, keys, plan, approvalId } = await seededUser();
    const from = aws.iam.writes().length;
    const e = await executePlan(store.db, iam, { approvalId, plan });
    expect(e).toMatchObject({ approvalId, kind: 'deactivate', account: BASE, state: 'done', runs: 1, warnings: [] });
    expect(e.steps.map((s) => [s.id, s.state, s.outcome, s.attempts])).toEqual([
      [`key-${keys[0]}-inactive`, 'done', 'changed', 1],
      [`key-${keys[1]}-inactive`, 'done', 'changed', 1],
      ['login-profile-delete', 'done', 'changed', 1],
      ['deny-all-attach', 'done', 'changed', 1],
    ]);
    expect(e.done[0]).toMatch(new RegExp(`^Set access key ${keys[0]} of IAM user ${name} to Inactive: done \\(\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\\)$`));
    expect(e.notDone).toEqual([]);
    const state = aws.iam.user(BASE, name)!;
    expect(state.accessKeys.map((k) => k.status)).toEqual(['Inactive', 'Inactive']);
    expect(state.loginProfile).toBeNull();
    expect(state.attachedPolicies).toEqual([DENY_ALL_ARN]);
    expect(writesSince(from, name)).toEqual({ UpdateAccessKey: 2, DeleteLoginProfile: 1, AttachUserPolicy: 1 });

    const again = await executePlan(store.db, iam, { approvalId, plan });
    expect(again.state).toBe('done');
    expect(again.runs).toBe(2);
    expect(writesSince(from, name)).toEqual({ UpdateAccessKey: 2, DeleteLoginProfile: 1, AttachUserPolicy: 1 });
    expect(await getExecution(store.db, approvalId)).toEqual(again);
  });

  it('a step AWS refuses for good is recorded and the others still run; a later run does only that step', async () => {
    const { name, keys, plan, approvalId } = await seededUser();
    const from = aws.iam.writes().length;
    aws.iam.faults.deny('iam:DeleteLoginProfile');
    const e = await executePlan(store.db, iam, { approvalId, plan, lastTry: false });
    expect(e.state).toBe('partial');
    expect(e.steps.map((s) => s.state)).toEqual(['done', 'done', 'failed', 'done']);
    const failed = e.steps[2]!;
    expect(failed.error).toMatchObject({ code: 'E_IAM_DENIED', hint: `allow iam:DeleteLoginProfile to trailbot's role in account ${BASE} (README: "IAM permissions for approvals" lists every action trailbot needs)` });
    expect(e.notDone).toEqual([`Delete the console password (login profile) of IAM user ${name}: NOT done: E_IAM_DENIED: ${failed.error!.message}`]);
    expect(e.done).toHaveLength(3);
    expect(aws.iam.user(BASE, name)!.loginProfile).not.toBeNull();

    aws.iam.faults.clear();
    const fixed = await executePlan(store.db, iam, { approvalId, plan });
    expect(fixed.state).toBe('done');
    expect(fixed.steps[2]).toMatchObject({ state: 'done', outcome: 'changed', attempts: 2, error: null });
    expect(writesSince(from, name)).toEqual({ UpdateAccessKey: 2, DeleteLoginProfile: 1, AttachUserPolicy: 1 });
    expect(aws.iam.user(BASE, name)!.accessKeys.map((k) => k.accessKeyId)).toEqual(keys);
  });

  it('a passing failure (IAM 5xx) makes the job retry, unless it is the last try; the retry resumes at that step', async () => {
    const { name, plan, approvalId } = await seededUser();
    const from = aws.iam.writes().length;
    aws.iam.faults.fail({ count: 3, match: { action: 'AttachUserPolicy' } });
    await expect(executePlan(store.db, iam, { approvalId, plan, lastTry: false })).rejects.toMatchObject({ code: 'E_IAM_UNAVAILABLE' });
    const mid = (await getExecution(store.db, approvalId))!;
    expect(mid.state).toBe('queued');
    expect(mid.steps.map((s) => s.state)).toEqual(['done', 'done', 'done', 'failed']);
    const e = await executePlan(store.db, iam, { approvalId, plan, lastTry: false });
    expect(e.state).toBe('done');
    expect(writesSince(from, name)).toEqual({ UpdateAccessKey: 2, DeleteLoginProfile: 1, AttachUserPolicy: 1 });

    // On the last try the failure is the step's result, and the run ends partial.
    const other = await seededUser();
    aws.iam.faults.fail({ count: 3, match: { action: 'DeleteLoginProfile' } });
    const last = await executePlan(store.db, iam, { approvalId: other.approvalId, plan: other.plan, lastTry: true });
    expect(last.state).toBe('partial');
    expect(last.steps[2]).toMatchObject({ state: 'failed', error: { code: 'E_IAM_UNAVAILABLE' } });
  });

  it('a step left running by a worker that died after its write: checked, found done, recorded as changed, not written again', async () => {
    const { name, keys, plan, approvalId } = await seededUser();
    await recordPlan(store.db, approvalId, plan);
    // What a worker killed while IAM answered leaves behind: the change made, the step running with sent_at.
    await store.db.query(`UPDATE remediation_steps SET state = 'running', attempts = 1, sent_at = now(), started_at = now() WHERE approval_id = $1 AND step_id = $2`, [approvalId, `key-${keys[0]}-inactive`]);
    await applyAction(iam, plan.steps[0]!.action);
    const from = aws.iam.writes().length;
    const e = await executePlan(store.db, iam, { approvalId, plan });
    expect(e.steps[0]).toMatchObject({ state: 'done', outcome: 'changed', attempts: 2 });
    expect(writesSince(from, name)).toEqual({ UpdateAccessKey: 1, DeleteLoginProfile: 1, AttachUserPolicy: 1 });

    // Left running before its write went out (no sent_at): it is written now, once.
    const b = await seededUser();
    await recordPlan(store.db, b.approvalId, b.plan);
    await store.db.query(`UPDATE remediation_steps SET state = 'running', attempts = 1, started_at = now() WHERE approval_id = $1 AND step_id = 'login-profile-delete'`, [b.approvalId]);
    const from2 = aws.iam.writes().length;
    const e2 = await executePlan(store.db, iam, { approvalId: b.approvalId, plan: b.plan });
    expect(e2.steps[2]).toMatchObject({ state: 'done', outcome: 'changed' });
    expect(writesSince(from2, b.name)).toEqual({ UpdateAccessKey: 2, DeleteLoginProfile: 1, AttachUserPolicy: 1 });
  });

  it('what the account already held is done without a write; a deleted key counts as unusable; a key the plan did not know is reported', async () => {
    const { name, keys, plan, approvalId } = await seededUser();
    await applyAction(iam, plan.steps[3]!.action); // DenyAll attached by someone else meanwhile
    const u = aws.iam.user(BASE, name)!;
    // The first key deleted and a third one created after the plan was made (IAM's two-key limit aside).
    aws.iam.createUser(BASE, name, { keys: ['Active', 'Active'], loginProfile: true, keyIds: [keys[1]!, 'AKIANEWKEY0000000001'], attachedPolicies: u.attachedPolicies });
    const from = aws.iam.writes().length;
    const e = await executePlan(store.db, iam, { approvalId, plan });
    expect(e.state).toBe('done');
    expect(e.steps.map((s) => [s.state, s.outcome])).toEqual([
      ['done', 'already'],
      ['done', 'changed'],
      ['done', 'changed'],
      ['done', 'already'],
    ]);
    expect(e.steps[3]!.line).toMatch(/: already so, nothing changed/);
    expect(writesSince(from, name)).toEqual({ UpdateAccessKey: 1, DeleteLoginProfile: 1 });
    expect(e.warnings).toEqual([`Access key AKIANEWKEY0000000001 of IAM user ${name} is Active and was not in the approved plan (created after it was made?): it was left as it is.`]);
  });

  it('reactivation restores the keys and removes the deny; the password stays gone, and the plan says so', async () => {
    const { name, keys, plan, approvalId } = await seededUser();
    const done = await executePlan(store.db, iam, { approvalId, plan });
    const back = reversePlan(plan, done.steps, { approvalId });
    expect(back.steps.map((s) => s.id)).toEqual(['deny-all-detach', `key-${keys[1]}-active`, `key-${keys[0]}-active`]);
    expect(back.notes[0]).toMatch(new RegExp(`^The console password of ${name} was deleted .* and cannot come back`));
    const r = await executePlan(store.db, iam, { approvalId: `${approvalId}-back`, plan: back });
    expect(r).toMatchObject({ kind: 'reactivate', state: 'done' });
    const state = aws.iam.user(BASE, name)!;
    expect(state.accessKeys.map((k) => k.status)).toEqual(['Active', 'Active']);
    expect(state.attachedPolicies).toEqual([]);
    expect(state.loginProfile).toBeNull();
  });

  it('a role session: the session deny and the revoke of older sessions (its time fixed when it started), then both removed', async () => {
    const role = aws.iam.createRole(BASE, 'Operator');
    const target: RoleSessionTarget = { kind: 'role-session', account: BASE, roleName: 'Operator', sessionName: 'alice@example.com', sso: false, arn: null, roleId: null, name: 'alice@example.com', email: 'alice@example.com' };
    const plan = await proposePlan(iam, target, { revokeOlderSessions: true });
    const t0 = Date.parse('2026-03-01T10:00:00Z');
    const from = aws.iam.writes().length;
    const e = await executePlan(store.db, iam, { approvalId: 'role-1', plan, now: () => t0 });
    expect(e.state).toBe('done');
    expect(e.steps[1]!.params).toEqual({ tokenIssueTime: '2026-03-01T10:00:00Z' });
    const held = aws.iam.role(BASE, 'Operator')!.inlinePolicies;
    const denyName = (plan.steps[0]!.action as { policyName: string }).policyName;
    expect(JSON.parse(held[denyName]!)).toMatchObject({ Statement: [{ Effect: 'Deny', Condition: { StringEquals: { 'aws:userid': `${role.roleId}:alice@example.com` } } }] });
    expect(JSON.parse(held[REVOKE_OLDER_SESSIONS]!)).toEqual({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': '2026-03-01T10:00:00Z' } } }] });
    // A run later (another clock) finds the revoke in place and writes nothing.
    await store.db.query(`UPDATE remediation_steps SET state = 'running' WHERE approval_id = 'role-1' AND step_id = 'revoke-older-sessions'`);
    await executePlan(store.db, iam, { approvalId: 'role-1', plan, now: () => t0 + 3_600_000 });
    expect(writesSince(from, 'Operator')).toEqual({ PutRolePolicy: 2 });

    const back = reversePlan(plan, e.steps, { approvalId: 'role-1' });
    expect(back.steps.map((s) => s.id)).toEqual(['revoke-older-sessions-remove', 'session-deny-remove']);
    expect((await executePlan(store.db, iam, { approvalId: 'role-1-back', plan: back })).state).toBe('done');
    expect(aws.iam.role(BASE, 'Operator')!.inlinePolicies).toEqual({});
  });

  it('refuses another plan for an approval already recorded, and a port on another account', async () => {
    const a = await seededUser();
    const b = await seededUser();
    await recordPlan(store.db, a.approvalId, a.plan);
    await expect(recordPlan(store.db, a.approvalId, b.plan)).rejects.toMatchObject({ code: 'E_USAGE', message: `approval ${a.approvalId} already has another plan recorded` });
    await expect(executePlan(store.db, { ...iam, account: '999999999999' }, { approvalId: a.approvalId, plan: a.plan })).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(aws.iam.user(BASE, a.name)!.accessKeys.map((k) => k.status)).toEqual(['Active', 'Active']);
  });
});
