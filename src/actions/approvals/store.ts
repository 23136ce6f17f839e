import { randomBytes } from 'node:crypto';
import type { Db } from '../../store/index.ts';

/**
 * Approvals and the audit log in the store (migration 017_approvals.sql). A proposal row is made once
 * per finding and principal; a decision (enough approvals, or a dismissal) moves it out of
 * `proposed` in one transaction under a row lock, which is what makes every link of it work once.
 * The audit log is written in the same transactions and never updated or deleted.
 */

export type ApprovalKind = 'deactivate' | 'reactivate';
export type ApprovalState = 'proposed' | 'approved' | 'done' | 'partial' | 'failed' | 'dismissed';

export interface ApprovalMark {
  email: string;
  at: string;
  ip: string | null;
}

export interface Approval {
  id: string;
  findingId: string;
  kind: ApprovalKind;
  /** reactivate: the deactivation it undoes. */
  reverses: string | null;
  /** The target as the plan work describes it (src/actions/approvals/plan.ts). */
  target: unknown;
  /** The target principal's ARN: what the links are bound to. */
  principal: string;
  state: ApprovalState;
  required: number;
  approvedBy: ApprovalMark[];
  /** The plan as last read from the live account (the page's dry run), when, and why the last read failed. */
  planRead: unknown;
  planReadAt: string | null;
  planError: string | null;
  planErrorAt: string | null;
  /** The plan approved (set by the first approval), and the options ticked then. */
  plan: unknown;
  options: { revokeOlderSessions?: boolean };
  decidedBy: string | null;
  decidedAt: string | null;
  finishedAt: string | null;
  expiresAt: string;
  createdAt: string;
}

const ISO = (col: string): string => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const COLS = `id, finding_id, kind, reverses, target, principal, state, required, approved_by, plan_read, ${ISO('plan_read_at')} AS plan_read_at, plan_error, ${ISO('plan_error_at')} AS plan_error_at,
  plan, options, decided_by, ${ISO('decided_at')} AS decided_at, ${ISO('finished_at')} AS finished_at, ${ISO('expires_at')} AS expires_at, ${ISO('created_at')} AS created_at`;

interface Row {
  id: string;
  finding_id: string;
  kind: ApprovalKind;
  reverses: string | null;
  target: unknown;
  principal: string;
  state: ApprovalState;
  required: number;
  approved_by: ApprovalMark[] | string;
  plan_read: unknown;
  plan_read_at: string | null;
  plan_error: string | null;
  plan_error_at: string | null;
  plan: unknown;
  options: Approval['options'] | string;
  decided_by: string | null;
  decided_at: string | null;
  finished_at: string | null;
  expires_at: string;
  created_at: string;
}

/** jsonb comes back parsed from pg and PGlite alike; a string only if someone stored one. */
const json = <T>(v: T | string): T => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

function fromRow(r: Row): Approval {
  return {
    id: r.id,
    findingId: r.finding_id,
    kind: r.kind,
    reverses: r.reverses,
    target: r.target,
    principal: r.principal,
    state: r.state,
    required: Number(r.required),
    approvedBy: json(r.approved_by) ?? [],
    planRead: r.plan_read,
    planReadAt: r.plan_read_at,
    planError: r.plan_error,
    planErrorAt: r.plan_error_at,
    plan: r.plan,
    options: json(r.options) ?? {},
    decidedBy: r.decided_by,
    decidedAt: r.decided_at,
    finishedAt: r.finished_at,
    expiresAt: r.expires_at,
    createdAt: r.created_at,
  };
}

// ---------------------------------------------------------------------------------------------------
// The audit log

export type AuditAction =
  | 'proposed'
  | 'viewed'
  | 'signed-in'
  | 'signed-out'
  | 'sign-in-refused'
  | 'approved'
  | 'dismissed'
  | 'refused'
  | 'executed'
  | 'told';

export interface AuditEntry {
  action: AuditAction;
  /** An approver's e-mail, `trailbot` for its own work, null for someone not signed in. */
  actor: string | null;
  ip?: string | null | undefined;
  userAgent?: string | null | undefined;
  approvalId?: string | null | undefined;
  findingId?: string | null | undefined;
  /** The target principal (its ARN). */
  target?: string | null | undefined;
  outcome?: string | null | undefined;
  detail?: unknown;
}

export interface AuditRecord extends Required<Omit<AuditEntry, 'detail'>> {
  seq: number;
  at: string;
  detail: unknown;
}

/** Appends one entry (inside the caller's transaction when given one). */
export async function audit(db: Db, e: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (action, actor, ip, user_agent, approval_id, finding_id, target, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [e.action, e.actor, e.ip ?? null, e.userAgent?.slice(0, 500) ?? null, e.approvalId ?? null, e.findingId ?? null, e.target ?? null, e.outcome ?? null, e.detail === undefined ? null : JSON.stringify(e.detail)],
  );
}

export interface AuditQuery {
  approvalId?: string | undefined;
  findingId?: string | undefined;
  action?: string | undefined;
  /** Entries before this sequence number (paging back). */
  before?: number | undefined;
  limit?: number | undefined;
}

/** The newest entries first. */
export async function listAudit(db: Db, q: AuditQuery = {}): Promise<AuditRecord[]> {
  const r = await db.query<{
    seq: string | number;
    at: string;
    action: AuditAction;
    actor: string | null;
    ip: string | null;
    user_agent: string | null;
    approval_id: string | null;
    finding_id: string | null;
    target: string | null;
    outcome: string | null;
    detail: unknown;
  }>(
    `SELECT seq, ${ISO('at')} AS at, action, actor, ip, user_agent, approval_id, finding_id, target, outcome, detail FROM audit_log
     WHERE ($1::text IS NULL OR approval_id = $1) AND ($2::text IS NULL OR finding_id = $2) AND ($3::text IS NULL OR action = $3) AND ($4::bigint IS NULL OR seq < $4)
     ORDER BY seq DESC LIMIT $5`,
    [q.approvalId ?? null, q.findingId ?? null, q.action ?? null, q.before ?? null, q.limit ?? 100],
  );
  return r.rows.map((x) => ({
    seq: Number(x.seq),
    at: x.at,
    action: x.action,
    actor: x.actor,
    ip: x.ip,
    userAgent: x.user_agent,
    approvalId: x.approval_id,
    findingId: x.finding_id,
    target: x.target,
    outcome: x.outcome,
    detail: x.detail,
  }));
}

// ---------------------------------------------------------------------------------------------------
// Approvals

export async function getApproval(db: Db, id: string): Promise<Approval | undefined> {
  if (!/^[0-9a-f]{32}$/.test(id)) return undefined;
  const r = await db.query<Row>(`SELECT ${COLS} FROM approvals WHERE id = $1`, [id]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

/** The approvals of a finding, oldest first. */
export async function approvalsOf(db: Db, findingId: string): Promise<Approval[]> {
  const r = await db.query<Row>(`SELECT ${COLS} FROM approvals WHERE finding_id = $1 ORDER BY created_at, id`, [findingId]);
  return r.rows.map(fromRow);
}

/** The reactivation proposed for a deactivation, if any. */
export async function reactivationOf(db: Db, deactivationId: string): Promise<Approval | undefined> {
  const r = await db.query<Row>(`SELECT ${COLS} FROM approvals WHERE kind = 'reactivate' AND reverses = $1`, [deactivationId]);
  return r.rows[0] ? fromRow(r.rows[0]) : undefined;
}

export interface ProposeInput {
  findingId: string;
  target: unknown;
  principal: string;
  /** approvals.required when proposed. */
  required: number;
  /** How long its links work (approvals.linkTtl). */
  ttlMs: number;
  now?: number;
}

/**
 * The deactivation proposal of a finding's target: made once (the same row for every later call, so
 * a retried ticket job puts the same links in), recorded in the audit log when made.
 */
export async function proposeDeactivation(db: Db, p: ProposeInput): Promise<Approval> {
  return db.transaction(async (tx) => {
    const id = randomBytes(16).toString('hex');
    const now = p.now ?? Date.now();
    const made = await tx.query<{ id: string }>(
      `INSERT INTO approvals (id, finding_id, kind, target, principal, required, expires_at) VALUES ($1, $2, 'deactivate', $3, $4, $5, $6)
       ON CONFLICT (finding_id, principal) WHERE kind = 'deactivate' DO NOTHING RETURNING id`,
      [id, p.findingId, JSON.stringify(p.target), p.principal, p.required, new Date(now + p.ttlMs).toISOString()],
    );
    if (made.rowCount > 0) {
      await audit(tx, { action: 'proposed', actor: 'trailbot', approvalId: id, findingId: p.findingId, target: p.principal, outcome: 'ok', detail: { kind: 'deactivate', expiresAt: new Date(now + p.ttlMs).toISOString(), required: p.required } });
    }
    const r = await tx.query<Row>(`SELECT ${COLS} FROM approvals WHERE finding_id = $1 AND principal = $2 AND kind = 'deactivate'`, [p.findingId, p.principal]);
    return fromRow(r.rows[0]!);
  });
}

/** The reactivation of a carried-out deactivation: made once, with fresh links. */
export async function proposeReactivation(db: Db, of: Approval, p: { required: number; ttlMs: number; now?: number }): Promise<Approval> {
  return db.transaction(async (tx) => {
    const id = randomBytes(16).toString('hex');
    const now = p.now ?? Date.now();
    const expires = new Date(now + p.ttlMs).toISOString();
    const made = await tx.query(
      `INSERT INTO approvals (id, finding_id, kind, reverses, target, principal, required, expires_at) VALUES ($1, $2, 'reactivate', $3, $4, $5, $6, $7)
       ON CONFLICT (reverses) WHERE kind = 'reactivate' DO NOTHING`,
      [id, of.findingId, of.id, JSON.stringify(of.target), of.principal, p.required, expires],
    );
    if (made.rowCount > 0) {
      await audit(tx, { action: 'proposed', actor: 'trailbot', approvalId: id, findingId: of.findingId, target: of.principal, outcome: 'ok', detail: { kind: 'reactivate', reverses: of.id, expiresAt: expires, required: p.required } });
    }
    const r = await tx.query<Row>(`SELECT ${COLS} FROM approvals WHERE kind = 'reactivate' AND reverses = $1`, [of.id]);
    return fromRow(r.rows[0]!);
  });
}

/** Records a dry-run read of the plan (the page shows the newest), or why it failed. */
export async function notePlanRead(db: Db, id: string, r: { plan: unknown } | { error: string }): Promise<void> {
  if ('plan' in r) await db.query(`UPDATE approvals SET plan_read = $2, plan_read_at = now(), plan_error = NULL, updated_at = now() WHERE id = $1`, [id, JSON.stringify(r.plan)]);
  else await db.query(`UPDATE approvals SET plan_error = $2, plan_error_at = now(), updated_at = now() WHERE id = $1`, [id, r.error.slice(0, 2000)]);
}

/** Why a decision could not be recorded: the links are spent (decided before), or out of time. */
export type Spent = { spent: 'decided' | 'expired'; approval: Approval };

export interface Decider {
  email: string;
  ip: string | null;
  userAgent: string | null;
}

/**
 * One approval of `id` by `who`, under a row lock: refused (nothing written) when the row is no longer
 * `proposed` or out of time; otherwise appended, and with enough approvals the row is `approved`
 * (the caller then queues the remediate job). The first approval fixes the plan and its options.
 * `check` runs under the lock with the row as it is (the approver rules); a refusal it returns is
 * handed back and nothing is written.
 */
export async function recordApproval<R extends { message: string }>(
  db: Db,
  id: string,
  who: Decider,
  input: { plan: unknown; options: Approval['options']; now?: number },
  check: (a: Approval) => R | undefined,
): Promise<{ approval: Approval; complete: boolean } | Spent | { refused: R; approval: Approval }> {
  return db.transaction(async (tx) => {
    const r = await tx.query<Row>(`SELECT ${COLS} FROM approvals WHERE id = $1 FOR UPDATE`, [id]);
    const a = fromRow(r.rows[0]!);
    const now = input.now ?? Date.now();
    if (a.state !== 'proposed') return { spent: 'decided' as const, approval: a };
    if (Date.parse(a.expiresAt) <= now) return { spent: 'expired' as const, approval: a };
    const refused = check(a);
    if (refused) return { refused, approval: a };
    const marks = [...a.approvedBy, { email: who.email, at: new Date(now).toISOString(), ip: who.ip }];
    const complete = marks.length >= a.required;
    const first = a.approvedBy.length === 0;
    await tx.query(
      `UPDATE approvals SET approved_by = $2, plan = CASE WHEN $3 THEN $4::jsonb ELSE plan END, options = CASE WHEN $3 THEN $5::jsonb ELSE options END,
         state = CASE WHEN $6 THEN 'approved' ELSE state END, decided_by = CASE WHEN $6 THEN $7 ELSE decided_by END,
         decided_at = CASE WHEN $6 THEN now() ELSE decided_at END, updated_at = now() WHERE id = $1`,
      [id, JSON.stringify(marks), first, JSON.stringify(input.plan), JSON.stringify(input.options), complete, who.email],
    );
    await audit(tx, {
      action: 'approved',
      actor: who.email,
      ip: who.ip,
      userAgent: who.userAgent,
      approvalId: id,
      findingId: a.findingId,
      target: a.principal,
      outcome: 'ok',
      detail: { kind: a.kind, approval: marks.length, of: a.required, complete, ...(first ? { plan: input.plan, options: input.options } : {}) },
    });
    const after = await tx.query<Row>(`SELECT ${COLS} FROM approvals WHERE id = $1`, [id]);
    return { approval: fromRow(after.rows[0]!), complete };
  });
}

/** Dismisses a proposal (nothing is done in AWS), under the same lock and rules as an approval. */
export async function recordDismissal<R extends { message: string }>(db: Db, id: string, who: Decider, check: (a: Approval) => R | undefined, now = Date.now()): Promise<{ approval: Approval } | Spent | { refused: R; approval: Approval }> {
  return db.transaction(async (tx) => {
    const r = await tx.query<Row>(`SELECT ${COLS} FROM approvals WHERE id = $1 FOR UPDATE`, [id]);
    const a = fromRow(r.rows[0]!);
    if (a.state !== 'proposed') return { spent: 'decided' as const, approval: a };
    if (Date.parse(a.expiresAt) <= now) return { spent: 'expired' as const, approval: a };
    const refused = check(a);
    if (refused) return { refused, approval: a };
    await tx.query(`UPDATE approvals SET state = 'dismissed', decided_by = $2, decided_at = now(), updated_at = now() WHERE id = $1`, [id, who.email]);
    await audit(tx, { action: 'dismissed', actor: who.email, ip: who.ip, userAgent: who.userAgent, approvalId: id, findingId: a.findingId, target: a.principal, outcome: 'ok', detail: { kind: a.kind } });
    const after = await tx.query<Row>(`SELECT ${COLS} FROM approvals WHERE id = $1`, [id]);
    return { approval: fromRow(after.rows[0]!) };
  });
}

/** The remediate job's outcome: done, partial or failed (once; a later call with the same outcome changes nothing). */
export async function finishApproval(db: Db, id: string, state: 'done' | 'partial' | 'failed', detail: unknown): Promise<boolean> {
  return db.transaction(async (tx) => {
    const r = await tx.query<{ finding_id: string; principal: string; state: ApprovalState; kind: ApprovalKind }>(`SELECT finding_id, principal, state, kind FROM approvals WHERE id = $1 FOR UPDATE`, [id]);
    const a = r.rows[0];
    if (!a || a.state === state) return false;
    await tx.query(`UPDATE approvals SET state = $2, finished_at = now(), updated_at = now() WHERE id = $1`, [id, state]);
    await audit(tx, { action: 'executed', actor: 'trailbot', approvalId: id, findingId: a.finding_id, target: a.principal, outcome: state, detail: { kind: a.kind, ...(detail as object) } });
    return true;
  });
}
