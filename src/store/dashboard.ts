import type { Db } from './db.ts';
import { isoText } from './sql.ts';

/**
 * The dashboard's own questions of the store (src/http/dashboard.ts): the ClickOps counts, the
 * findings' counts and list, pending approvals. Events go through `search` (src/store/queries.ts).
 */

/** A change made by hand in the console: what the ClickOps charts count (index events_console_changes, migration 020). */
const CLICKOPS = `via = 'console' AND read_only IS NOT TRUE AND outcome = 'success'`;

export interface Count {
  label: string;
  n: number;
}

export interface ClickOps {
  /** Every day of the window, oldest first, days without changes included. */
  perDay: Count[];
  byPerson: Count[];
  byResourceType: Count[];
  topResources: Count[];
  /** This month to `until`, and the whole previous month. */
  thisMonth: { label: string; n: number };
  previousMonth: { label: string; n: number };
  total: number;
}

const DAY = 86_400_000;

/** The ClickOps numbers for the `days` days ending at `until` (ms), and this month against the previous one. */
export async function clickOps(db: Db, until: number, days = 30): Promise<ClickOps> {
  const end = new Date(until);
  const start = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), end.getUTCDate()) - (days - 1) * DAY);
  const monthStart = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), 1));
  const prevStart = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - 1, 1));
  const range = [start.toISOString(), end.toISOString()];
  const top = (col: string) =>
    db.query<{ label: string; n: string }>(
      `SELECT ${col} AS label, count(*) AS n FROM events WHERE ${CLICKOPS} AND time >= $1 AND time <= $2 AND ${col} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10`,
      range,
    );
  const [days_, people, types, resources, months] = await Promise.all([
    db.query<{ d: string; n: string }>(
      `SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d, count(*) AS n FROM events WHERE ${CLICKOPS} AND time >= $1 AND time <= $2 GROUP BY 1`,
      range,
    ),
    top('actor_name'),
    top('primary_type'),
    top(`coalesce(primary_id, primary_arn)`),
    db.query<{ this_month: string; previous: string }>(
      `SELECT count(*) FILTER (WHERE time >= $2) AS this_month, count(*) FILTER (WHERE time < $2) AS previous FROM events WHERE ${CLICKOPS} AND time >= $1 AND time <= $3`,
      [prevStart.toISOString(), monthStart.toISOString(), end.toISOString()],
    ),
  ]);
  const byDay = new Map(days_.rows.map((r) => [r.d, Number(r.n)]));
  const perDay: Count[] = [];
  for (let t = start.getTime(); t <= end.getTime(); t += DAY) {
    const d = new Date(t).toISOString().slice(0, 10);
    perDay.push({ label: d, n: byDay.get(d) ?? 0 });
  }
  const counts = (r: { rows: { label: string; n: string }[] }): Count[] => r.rows.map((x) => ({ label: x.label, n: Number(x.n) }));
  const m = months.rows[0]!;
  return {
    perDay,
    byPerson: counts(people),
    byResourceType: counts(types),
    topResources: counts(resources),
    thisMonth: { label: monthStart.toISOString().slice(0, 7), n: Number(m.this_month) },
    previousMonth: { label: prevStart.toISOString().slice(0, 7), n: Number(m.previous) },
    total: perDay.reduce((a, b) => a + b.n, 0),
  };
}

export interface FindingCounts {
  status: string;
  severity: string;
  n: number;
}

/** How many findings there are of each status and severity. */
export async function findingCounts(db: Db): Promise<FindingCounts[]> {
  const r = await db.query<{ status: string; severity: string; n: string }>('SELECT status, severity, count(*) AS n FROM findings GROUP BY 1, 2');
  return r.rows.map((x) => ({ status: x.status, severity: x.severity, n: Number(x.n) }));
}

/** The ids of the newest findings (by last event) of these statuses, a page of `limit` after `offset`. */
export async function findingIds(db: Db, statuses: readonly string[], limit: number, offset: number): Promise<string[]> {
  const r = await db.query<{ id: string }>('SELECT id FROM findings WHERE status = ANY($1::text[]) ORDER BY last_seen DESC, id LIMIT $2 OFFSET $3', [statuses, limit, offset]);
  return r.rows.map((x) => x.id);
}

export interface PendingApproval {
  id: string;
  findingId: string;
  kind: string;
  principal: string;
  required: number;
  approvals: number;
  createdAt: string;
  expiresAt: string;
}

/** Proposals still waiting for a decision (not expired), newest first. */
export async function pendingApprovals(db: Db, limit = 100): Promise<PendingApproval[]> {
  const r = await db.query<{ id: string; finding_id: string; kind: string; principal: string; required: number; approvals: number; created_at: string; expires_at: string }>(
    `SELECT id, finding_id, kind, principal, required, jsonb_array_length(approved_by) AS approvals, ${isoText('created_at')} AS created_at, ${isoText('expires_at')} AS expires_at
       FROM approvals WHERE state = 'proposed' AND expires_at > now() ORDER BY created_at DESC LIMIT $1`,
    [limit],
  );
  return r.rows.map((x) => ({ id: x.id, findingId: x.finding_id, kind: x.kind, principal: x.principal, required: Number(x.required), approvals: Number(x.approvals), createdAt: x.created_at, expiresAt: x.expires_at }));
}
