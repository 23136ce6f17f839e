import { randomBytes } from 'node:crypto';
import type { Db } from '../../store/index.ts';
import { isoText } from '../../store/sql.ts';

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
  /** A reactivation's number among those of its deactivation (1, then 2 when proposed again, …). */
  round: number;
}

const COLS = `id, finding_id, kind, reverses, target, principal, state, required, approved_by, plan_read, ${isoText('plan_read_at', 'ms')} AS plan_read_at, plan_error, ${isoText('plan_error_at', 'ms')} AS plan_error_at,
  plan, options, decided_by, ${isoText('decided_at', 'ms')} AS decided_at, ${isoText('finished_at', 'ms')} AS finished_at, ${isoText('expires_at', 'ms')} AS expires_at, ${isoText('created_at', 'ms')} AS created_at, round`;

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
  round: number;
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
    round: Number(r.round ?? 1),
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
  /** How many it stands for: 1, or for a coalesced anonymous refusal or view the count of its minute. */
  count: number;
  /** A coalesced entry: when the last one it counts came (null otherwise). */
  lastAt: string | null;
}

/** Appends one entry (inside the caller's transaction when given one). */
export async function audit(db: Db, e: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO audit_log (action, actor, ip, user_agent, approval_id, finding_id, target, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [e.action, e.actor, e.ip ?? null, e.userAgent?.slice(0, 500) ?? null, e.approvalId ?? null, e.findingId ?? null, e.target ?? null, e.outcome ?? null, e.detail === undefined ? null : JSON.stringify(e.detail)],
  );
}

/** At most this many different (action, address, reason) rows of anonymous entries a minute; more share the address '*'. */
export const ANONYMOUS_ROWS_PER_MINUTE = 200;

/** The address anonymous entries are counted by: an IPv6 one by its /64 (one host holds them all), else as it is. */
export function addressKey(ip: string | null | undefined): string {
  if (!ip) return '-';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!ip.includes(':')) return ip;
  const bare = ip.split('%')[0]!;
  const [head, tail] = bare.includes('::') ? (bare.split('::') as [string, string]) : [bare, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/**
 * Appends an entry of someone not signed in (a refused link or sign-in, a view), coalesced: the first
 * of its (action, address, reason) in a minute is written to the log as usual; the ones after it in the
 * same minute only count up on that row (audit_repeats), which listAudit shows as `count`. So anonymous
 * requests cannot flood the log, and the log still says how many came. `reason` is what the count is
 * by: the refusal's reason (with the approval it names), or the approval viewed.
 */
export async function auditAnonymous(db: Db, e: AuditEntry & { reason: string }, now: number = Date.now()): Promise<{ count: number }> {
  const minute = new Date(Math.floor(now / 60_000) * 60_000).toISOString();
  const reason = e.reason.slice(0, 200);
  return db.transaction(async (tx) => {
    let ip = addressKey(e.ip);
    const known = await tx.query(`SELECT 1 FROM audit_repeats WHERE action = $1 AND ip = $2 AND reason = $3 AND minute = $4`, [e.action, ip, reason, minute]);
    if (known.rows.length === 0) {
      const rows = await tx.query<{ n: string | number }>(`SELECT count(*) AS n FROM audit_repeats WHERE minute = $1`, [minute]);
      if (Number(rows.rows[0]?.n ?? 0) >= ANONYMOUS_ROWS_PER_MINUTE) ip = '*';
    }
    const r = await tx.query<{ count: number }>(
      `INSERT INTO audit_repeats (action, ip, reason, minute) VALUES ($1, $2, $3, $4)
       ON CONFLICT (action, ip, reason, minute) DO UPDATE SET count = audit_repeats.count + 1, last_at = clock_timestamp() RETURNING count`,
      [e.action, ip, reason, minute],
    );
    const count = Number(r.rows[0]!.count);
    if (count === 1) {
      const detail = { ...((e.detail as object | undefined) ?? {}), coalesced: { by: ip === '*' ? 'many addresses' : ip, minute } };
      const row = await tx.query<{ seq: string | number }>(
        `INSERT INTO audit_log (action, actor, ip, user_agent, approval_id, finding_id, target, outcome, detail) VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, $8) RETURNING seq`,
        [e.action, e.ip ?? null, e.userAgent?.slice(0, 500) ?? null, e.approvalId ?? null, e.findingId ?? null, e.target ?? null, e.outcome ?? null, JSON.stringify(detail)],
      );
      await tx.query(`UPDATE audit_repeats SET seq = $5 WHERE action = $1 AND ip = $2 AND reason = $3 AND minute = $4`, [e.action, ip, reason, minute, row.rows[0]!.seq]);
    }
    return { count };
  });
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
    count: string | number | null;
    last_at: string | null;
  }>(
    `SELECT a.seq, ${isoText('a.at', 'ms')} AS at, a.action, a.actor, a.ip, a.user_agent, a.approval_id, a.finding_id, a.target, a.outcome, a.detail, r.count, ${isoText('r.last_at', 'ms')} AS last_at
       FROM audit_log a LEFT JOIN audit_repeats r ON r.seq = a.seq
     WHERE ($1::text IS NULL OR a.approval_id = $1) AND ($2::text IS NULL OR a.finding_id = $2) AND ($3::text IS NULL OR a.action = $3) AND ($4::bigint IS NULL OR a.seq < $4)
     ORDER BY a.seq DESC LIMIT $5`,
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
    count: x.count === null ? 1 : Number(x.count),
    lastAt: x.count === null ? null : x.last_at,
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

/** The reactivation proposed for a deactivation, if any: the latest, when it was proposed again. */
export async function reactivationOf(db: Db, deactivationId: string): Promise<Approval | undefined> {
  const r = await db.query<Row>(`SELECT ${COLS} FROM approvals WHERE kind = 'reactivate' AND reverses = $1 ORDER BY round DESC LIMIT 1`, [deactivationId]);
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

/** The reactivation of a carried-out deactivation: made once (its first round), with fresh links. */
export async function proposeReactivation(db: Db, of: Approval, p: { required: number; ttlMs: number; now?: number }): Promise<Approval> {
  return db.transaction(async (tx) => {
    const id = randomBytes(16).toString('hex');
    const now = p.now ?? Date.now();
    const expires = new Date(now + p.ttlMs).toISOString();
    const made = await tx.query(
      `INSERT INTO approvals (id, finding_id, kind, reverses, target, principal, required, expires_at, round) VALUES ($1, $2, 'reactivate', $3, $4, $5, $6, $7, 1)
       ON CONFLICT (reverses, round) WHERE kind = 'reactivate' DO NOTHING`,
      [id, of.findingId, of.id, JSON.stringify(of.target), of.principal, p.required, expires],
    );
    if (made.rowCount > 0) {
      await audit(tx, { action: 'proposed', actor: 'trailbot', approvalId: id, findingId: of.findingId, target: of.principal, outcome: 'ok', detail: { kind: 'reactivate', reverses: of.id, expiresAt: expires, required: p.required, round: 1 } });
    }
    const r = await tx.query<Row>(`SELECT ${COLS} FROM approvals WHERE kind = 'reactivate' AND reverses = $1 ORDER BY round DESC LIMIT 1`, [of.id]);
    return fromRow(r.rows[0]!);
  });
}

/** Why a reactivation cannot be proposed again: one is live (links working), or one was decided (approved, carried out). */
export type AgainRefusal = { reason: 'live' | 'decided' | 'not-reversible'; message: string; last: Approval | undefined };

/**
 * A reactivation proposed again by an approver (from the deactivation's page), when the last one expired
 * or was dismissed, or none was made: a new row (the next round), with fresh links, audited with who
 * asked. Under a lock of the deactivation's row, so two at once make one and there are never two live.
 * `check` runs under the lock (the approver rules); a refusal it returns is handed back, nothing written.
 */
export async function proposeReactivationAgain<R extends { message: string }>(
  db: Db,
  deactivationId: string,
  who: Decider,
  p: { required: number; ttlMs: number; now?: number },
  check: (of: Approval) => R | undefined,
): Promise<{ approval: Approval; previous: Approval | undefined } | { refused: R | AgainRefusal }> {
  return db.transaction(async (tx) => {
    const o = await tx.query<Row>(`SELECT ${COLS} FROM approvals WHERE id = $1 AND kind = 'deactivate' FOR UPDATE`, [deactivationId]);
    if (!o.rows[0]) throw new Error(`there is no deactivation ${deactivationId}`);
    const of = fromRow(o.rows[0]);
    const now = p.now ?? Date.now();
    const lastRow = await tx.query<Row>(`SELECT ${COLS} FROM approvals WHERE kind = 'reactivate' AND reverses = $1 ORDER BY round DESC LIMIT 1`, [of.id]);
    const last = lastRow.rows[0] ? fromRow(lastRow.rows[0]) : undefined;
    if (of.state !== 'done' && of.state !== 'partial') return { refused: { reason: 'not-reversible' as const, message: `the deactivation is ${of.state}: there is nothing to reactivate`, last } };
    if (last?.state === 'proposed' && Date.parse(last.expiresAt) > now) {
      return { refused: { reason: 'live' as const, message: `a reactivation is already proposed, its link valid until ${last.expiresAt.replace('T', ' ').replace(/(\.\d+)?Z$/, '')} UTC: use it`, last } };
    }
    if (last && last.state !== 'proposed' && last.state !== 'dismissed') {
      return { refused: { reason: 'decided' as const, message: `the reactivation was ${last.state === 'approved' ? 'approved and is being carried out' : `carried out (${last.state})`}`, last } };
    }
    const refused = check(of);
    if (refused) return { refused };
    const id = randomBytes(16).toString('hex');
    const round = (last?.round ?? 0) + 1;
    const expires = new Date(now + p.ttlMs).toISOString();
    await tx.query(
      `INSERT INTO approvals (id, finding_id, kind, reverses, target, principal, required, expires_at, round) VALUES ($1, $2, 'reactivate', $3, $4, $5, $6, $7, $8)`,
      [id, of.findingId, of.id, JSON.stringify(of.target), of.principal, p.required, expires, round],
    );
    const previous = last ? { id: last.id, round: last.round, state: last.state === 'dismissed' ? 'dismissed' : 'expired' } : null;
    await audit(tx, {
      action: 'proposed',
      actor: who.email,
      ip: who.ip,
      userAgent: who.userAgent,
      approvalId: id,
      findingId: of.findingId,
      target: of.principal,
      outcome: 'ok',
      detail: { kind: 'reactivate', reverses: of.id, expiresAt: expires, required: p.required, round, again: true, previous },
    });
    const r = await tx.query<Row>(`SELECT ${COLS} FROM approvals WHERE id = $1`, [id]);
    return { approval: fromRow(r.rows[0]!), previous: last };
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

// ---------------------------------------------------------------------------------------------------
// Ended sessions (sign-out)

/**
 * Records that session `sid` was signed out, until `expiresAt` (when its cookie would have stopped
 * working anyway); entries past their time are removed on the way.
 */
export async function endSession(db: Db, sid: string, expiresAt: number): Promise<void> {
  await db.query(`DELETE FROM ended_sessions WHERE expires_at < now()`);
  await db.query(`INSERT INTO ended_sessions (sid, expires_at) VALUES ($1, $2) ON CONFLICT (sid) DO NOTHING`, [sid, new Date(expiresAt).toISOString()]);
}

/** Whether session `sid` was signed out. */
export async function sessionEnded(db: Db, sid: string): Promise<boolean> {
  const r = await db.query(`SELECT 1 FROM ended_sessions WHERE sid = $1`, [sid]);
  return r.rows.length > 0;
}
