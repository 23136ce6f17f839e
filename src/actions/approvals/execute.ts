import { isDeepStrictEqual } from 'node:util';
import { asTrailbotError, type ErrorCode, TrailbotError } from '../../errors.ts';
import type { IamPort } from '../../integrations/aws/iam.ts';
import type { IamAccess } from '../../integrations/aws/iam-access.ts';
import type { JobContext } from '../../runtime/pipeline.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { Db } from '../../store/index.ts';
import { applyAction, checkAction, type Plan, type PlanStep, type StepAction, type StepOutcome, type Target, say } from './plan.ts';

/**
 * Carrying out an approved plan in AWS, step by step, idempotently (migration 016):
 *
 * - `recordPlan` keeps the plan exactly as it was approved (one per approval; a different plan for the
 *   same approval is refused), with one `pending` row per step.
 * - `executePlan` walks the steps in order. A `done` step is never touched again. Any other step is
 *   marked `running` (committed) and then checked against the live account: already so → `done`
 *   without a write; otherwise `sent_at` is committed, the IAM write is sent, and the step is `done`.
 *   A worker that dies anywhere in between leaves the step `running`; the next run checks the account
 *   again before acting, so each change is made once and no unfinished step is skipped.
 * - A step AWS refuses for good (denied, gone, unmodifiable) is `failed` with the coded error and the
 *   walk goes on: the result says exactly what was and was not done. A step that failed for a passing
 *   reason (throttled, 5xx) makes the job retry, unless it is the job's last try.
 */

export type StepState = 'pending' | 'running' | 'done' | 'failed';
export type ExecutionState = 'queued' | 'running' | 'done' | 'partial' | 'failed';

export interface StepResult extends StepOutcome {
  description: string;
  action: StepAction;
  reversible: boolean;
  error: { code: string; message: string; hint: string | null } | null;
  attempts: number;
  startedAt: string | null;
  /** What the step settled on when it started (a revoke's `tokenIssueTime`). */
  params: Record<string, unknown>;
  /** One plain-language line: done, already so, or NOT done and why. */
  line: string;
}

export interface Execution {
  approvalId: string;
  kind: Plan['kind'];
  account: string;
  target: Target;
  state: ExecutionState;
  /** How many times the job ran it. */
  runs: number;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  steps: StepResult[];
  /** Lines of the steps done (changed or already so). */
  done: string[];
  /** Lines of the steps not done, with why. */
  notDone: string[];
  /** What the account holds that the plan did not cover (a key created after the plan was made). */
  warnings: string[];
}

interface RemediationRow {
  approval_id: string;
  kind: Plan['kind'];
  account: string;
  target: Target;
  plan: Plan;
  state: ExecutionState;
  runs: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  warnings: string[];
}

interface StepRow {
  step_id: string;
  seq: number;
  action: StepAction;
  state: StepState;
  outcome: 'changed' | 'already' | null;
  params: Record<string, unknown>;
  result: Record<string, unknown> | null;
  error: string | null;
  error_code: string | null;
  attempts: number;
  sent_at: string | null;
  started_at: string | null;
  finished_at: string | null;
}

const iso = (t: string | Date | null): string | null => (t === null ? null : new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z'));
const APPROVAL_ID = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * Keeps the approved plan for `approvalId` (idempotent: the same plan again changes nothing). Call it
 * when the approval is granted, then queue `remediate` with `{ approvalId }` (or use `queueRemediation`).
 */
export async function recordPlan(db: Db, approvalId: string, plan: Plan): Promise<void> {
  if (!APPROVAL_ID.test(approvalId)) throw new TrailbotError('E_USAGE', `approval id ${JSON.stringify(approvalId)} is not usable as a job id`, { hint: 'use letters, digits, _ . - (at most 128)' });
  if (plan.version !== 1 || !Array.isArray(plan.steps)) throw new TrailbotError('E_INPUT_SHAPE', `approval ${approvalId}: not a plan made by proposePlan/reversePlan`);
  const ids = new Set(plan.steps.map((s) => s.id));
  if (ids.size !== plan.steps.length) throw new TrailbotError('E_INPUT_SHAPE', `approval ${approvalId}: the plan has two steps with the same id`);
  await db.transaction(async (tx) => {
    const inserted = await tx.query(
      `INSERT INTO remediations (approval_id, kind, account, target, plan) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (approval_id) DO NOTHING`,
      [approvalId, plan.kind, plan.account, JSON.stringify(plan.target), JSON.stringify(plan)],
    );
    if (inserted.rowCount === 0) {
      const kept = (await tx.query<{ plan: Plan }>('SELECT plan FROM remediations WHERE approval_id = $1', [approvalId])).rows[0]!.plan;
      if (!isDeepStrictEqual(kept, JSON.parse(JSON.stringify(plan)))) {
        throw new TrailbotError('E_USAGE', `approval ${approvalId} already has another plan recorded`, { hint: 'an approval is carried out as approved; a new plan needs a new approval' });
      }
      return;
    }
    for (const [seq, s] of plan.steps.entries()) {
      await tx.query('INSERT INTO remediation_steps (approval_id, step_id, seq, action) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [approvalId, s.id, seq, JSON.stringify(s.action)]);
    }
  });
}

/** Records the plan and queues its `remediate` job (one per approval, however often this is called). */
export async function queueRemediation(ctx: Pick<JobContext, 'enqueue'>, db: Db, approvalId: string, plan: Plan): Promise<{ id: string; duplicate: boolean }> {
  await recordPlan(db, approvalId, plan);
  return ctx.enqueue('remediate', { approvalId });
}

/** The plan recorded for an approval. */
export async function getPlan(db: Db, approvalId: string): Promise<Plan | undefined> {
  return (await db.query<{ plan: Plan }>('SELECT plan FROM remediations WHERE approval_id = $1', [approvalId])).rows[0]?.plan;
}

function stepLine(s: PlanStep, r: StepRow): string {
  const at = iso(r.finished_at)?.replace('T', ' ').replace('Z', ' UTC') ?? '';
  if (r.state === 'done') return say(r.outcome === 'already' ? 'results.already' : 'results.changed', { description: s.description, at });
  if (r.state === 'failed') return say('results.failed', { description: s.description, error: `${r.error_code ?? 'E_INTERNAL'}: ${r.error ?? 'unknown error'}` });
  return say(r.state === 'running' ? 'results.running' : 'results.pending', { description: s.description });
}

/** Where an approval's execution stands (for the approval page, the Jira comment and Slack). */
export async function getExecution(db: Db, approvalId: string): Promise<Execution | undefined> {
  const head = (await db.query<RemediationRow>('SELECT * FROM remediations WHERE approval_id = $1', [approvalId])).rows[0];
  if (!head) return undefined;
  const rows = (await db.query<StepRow>('SELECT * FROM remediation_steps WHERE approval_id = $1 ORDER BY seq', [approvalId])).rows;
  const byId = new Map(rows.map((r) => [r.step_id, r]));
  const steps: StepResult[] = [];
  for (const s of head.plan.steps) {
    const r = byId.get(s.id);
    if (!r) continue;
    const error = r.state === 'failed' || r.error ? { code: r.error_code ?? 'E_INTERNAL', message: r.error ?? '', hint: (r.result?.hint as string | undefined) ?? null } : null;
    steps.push({
      id: s.id,
      description: s.description,
      action: s.action,
      reversible: s.reversible,
      state: r.state,
      outcome: r.outcome,
      error,
      attempts: r.attempts,
      startedAt: iso(r.started_at),
      finishedAt: iso(r.finished_at),
      params: r.params ?? {},
      line: stepLine(s, r),
    });
  }
  return {
    approvalId,
    kind: head.kind,
    account: head.account,
    target: head.target,
    state: head.state,
    runs: head.runs,
    createdAt: iso(head.created_at)!,
    startedAt: iso(head.started_at),
    finishedAt: iso(head.finished_at),
    steps,
    done: steps.filter((s) => s.state === 'done').map((s) => s.line),
    notDone: steps.filter((s) => s.state !== 'done').map((s) => s.line),
    warnings: head.warnings ?? [],
  };
}

/** Passing failures (throttled, 5xx, network) are retried by the job; the rest are final for this run. */
const PASSING: ReadonlySet<ErrorCode> = new Set(['E_IAM_UNAVAILABLE', 'E_INTERNAL', 'E_STORE_UNAVAILABLE']);

export interface ExecuteOptions {
  approvalId: string;
  plan: Plan;
  /** The job's last try: a passing failure is recorded as the step's failure instead of retried. Default true. */
  lastTry?: boolean | undefined;
  log?: Pick<Logger, 'info' | 'warn'> | undefined;
  now?: (() => number) | undefined;
}

/**
 * Carries out the plan against `iam` (which must act on the plan's account), resuming where an earlier
 * run stopped. Returns where it stands; throws only to have the job retried (a passing failure before
 * the last try) or when the store fails.
 */
export async function executePlan(db: Db, iam: IamPort, opts: ExecuteOptions): Promise<Execution> {
  const { approvalId, plan } = opts;
  const lastTry = opts.lastTry ?? true;
  const now = opts.now ?? Date.now;
  if (iam.account !== plan.account) throw new TrailbotError('E_USAGE', `approval ${approvalId} acts on account ${plan.account}, but the IAM port given acts on ${iam.account}`);
  await recordPlan(db, approvalId, plan);
  await db.query(`UPDATE remediations SET state = 'running', runs = runs + 1, started_at = coalesce(started_at, now()), updated_at = now() WHERE approval_id = $1`, [approvalId]);
  const rows = new Map((await db.query<StepRow>('SELECT * FROM remediation_steps WHERE approval_id = $1', [approvalId])).rows.map((r) => [r.step_id, r]));

  for (const step of plan.steps) {
    const row = rows.get(step.id);
    if (!row || row.state === 'done') continue;
    const params = { ...(row.params ?? {}) };
    if (step.action.type === 'revoke-older-sessions' && typeof params.tokenIssueTime !== 'string') params.tokenIssueTime = new Date(now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const tokenIssueTime = params.tokenIssueTime as string | undefined;
    // Committed before anything is read or written: a run that finds it `running` knows it was under way.
    await db.query(
      `UPDATE remediation_steps SET state = 'running', attempts = attempts + 1, params = $3, started_at = coalesce(started_at, now()), updated_at = now() WHERE approval_id = $1 AND step_id = $2`,
      [approvalId, step.id, JSON.stringify(params)],
    );
    try {
      const check = await checkAction(iam, step.action, { tokenIssueTime });
      let outcome: 'changed' | 'already';
      let result: Record<string, unknown> = { before: check.current };
      if (check.done) {
        // Sent before (by a run that died before recording it, or whose answer was lost): that change was trailbot's.
        outcome = row.sent_at ? 'changed' : 'already';
      } else if (check.gone && step.action.type === 'update-access-key' && step.action.status === 'Inactive') {
        // A deleted key cannot be used either: nothing to do.
        outcome = 'already';
        result = { before: check.current, gone: true };
      } else if (check.gone) {
        throw new TrailbotError('E_IAM_NOT_FOUND', `access key ${(step.action as { accessKeyId: string }).accessKeyId} is no longer in account ${plan.account}`, { hint: 'a deleted access key cannot be reactivated; the user needs a new one' });
      } else {
        await db.query('UPDATE remediation_steps SET sent_at = now(), updated_at = now() WHERE approval_id = $1 AND step_id = $2', [approvalId, step.id]);
        await applyAction(iam, step.action, { tokenIssueTime });
        outcome = 'changed';
      }
      await db.query(
        `UPDATE remediation_steps SET state = 'done', outcome = $3, result = $4, error = NULL, error_code = NULL, finished_at = now(), updated_at = now() WHERE approval_id = $1 AND step_id = $2`,
        [approvalId, step.id, outcome, JSON.stringify(result)],
      );
      opts.log?.info({ approvalId, step: step.id, outcome }, `approval ${approvalId}: ${step.id} ${outcome === 'changed' ? 'done' : 'already so'}`);
    } catch (e) {
      const err = asTrailbotError(e);
      await db.query(
        `UPDATE remediation_steps SET state = 'failed', error = $3, error_code = $4, result = $5, finished_at = now(), updated_at = now() WHERE approval_id = $1 AND step_id = $2`,
        [approvalId, step.id, err.message, err.code, JSON.stringify({ hint: err.hint ?? null })],
      );
      opts.log?.warn({ approvalId, step: step.id, code: err.code }, `approval ${approvalId}: ${step.id} failed: ${err.code}: ${err.message}`);
      if (PASSING.has(err.code) && !lastTry) {
        await db.query(`UPDATE remediations SET state = 'queued', updated_at = now() WHERE approval_id = $1`, [approvalId]);
        throw err;
      }
    }
  }

  const warnings = await uncovered(iam, plan).catch(() => []);
  const states = (await db.query<{ state: StepState }>('SELECT state FROM remediation_steps WHERE approval_id = $1', [approvalId])).rows.map((r) => r.state);
  const done = states.filter((s) => s === 'done').length;
  const state: ExecutionState = done === states.length ? 'done' : done > 0 ? 'partial' : 'failed';
  await db.query(`UPDATE remediations SET state = $2, warnings = $3, finished_at = now(), updated_at = now() WHERE approval_id = $1`, [approvalId, state, JSON.stringify(warnings)]);
  return (await getExecution(db, approvalId))!;
}

/** A deactivation leaves no way in it did not plan for: Active keys the plan did not name. */
async function uncovered(iam: IamPort, plan: Plan): Promise<string[]> {
  if (plan.kind !== 'deactivate' || plan.target.kind !== 'iam-user') return [];
  const userName = plan.target.userName;
  const planned = new Set(plan.steps.flatMap((s) => (s.action.type === 'update-access-key' ? [s.action.accessKeyId] : [])));
  return (await iam.listAccessKeys(userName)).filter((k) => k.status === 'Active' && !planned.has(k.accessKeyId)).map((k) => say('results.new-key', { accessKeyId: k.accessKeyId, userName }));
}

export interface RemediatorOptions {
  /** IamPorts per account (asked on each run; make it once). */
  iam: (ctx: JobContext) => IamAccess;
  /** Told once the run ends, whatever it came to (A2: the Jira comment and transition, Slack). */
  onExecuted?: ((ctx: JobContext, execution: Execution) => Promise<void>) | undefined;
}

/** The `remediate` job's stage (Pipeline.remediate): the approval's recorded plan, carried out. */
export function createRemediator(opts: RemediatorOptions) {
  return async (ctx: JobContext, p: { approvalId: string }): Promise<Record<string, unknown>> => {
    const plan = await getPlan(ctx.store.db, p.approvalId);
    if (!plan) {
      throw new TrailbotError('E_USAGE', `no plan is recorded for approval ${p.approvalId}`, { hint: 'approvals record the approved plan (recordPlan / queueRemediation) before queuing remediate' });
    }
    const iam = await opts.iam(ctx).forAccount(plan.account);
    const e = await executePlan(ctx.store.db, iam, { approvalId: p.approvalId, plan, lastTry: ctx.job.attempt >= ctx.job.attempts, log: ctx.log });
    await opts.onExecuted?.(ctx, e);
    const summary = { approvalId: e.approvalId, kind: e.kind, account: e.account, state: e.state, done: e.done.length, notDone: e.notDone.length, steps: e.steps.map((s) => ({ id: s.id, state: s.state, outcome: s.outcome, error: s.error?.code ?? null })), warnings: e.warnings };
    if (e.state !== 'done') {
      const first = e.steps.find((s) => s.state !== 'done');
      const code = (first?.error?.code ?? 'E_IAM_UNAVAILABLE') as ErrorCode;
      throw new TrailbotError(code, `approval ${e.approvalId}: ${e.done.length} of ${e.steps.length} steps done; not done: ${e.notDone.join('; ')}`, {
        hint: `${first?.error?.hint ?? 'see the steps'}; then \`trailbot jobs retry\` this job: the steps done are not repeated`,
      });
    }
    return summary;
  };
}
