import { consoleChangeSql } from '../flows/housekeeping.ts';
import type { Db } from './db.ts';
import { isoText, queryParams } from './sql.ts';

/**
 * The dashboard's own questions of the store (src/http/dashboard.ts): the ClickOps counts, the
 * findings' counts and list, pending approvals. Events go through `search` (src/store/queries.ts).
 */

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
  /** The window: `days` whole days (UTC) up to `until`, ISO. */
  since: string;
  until: string;
}

const DAY = 86_400_000;
const TOP = 10;

/**
 * The ClickOps numbers for the `days` days ending at `until` (ms), and this month against the previous one.
 *
 * What counts is one definition for the `clickops` flow, the monthly ClickOps report and these charts:
 * a change made by hand in the console that went through (isConsoleChange / consoleChangeSql in
 * src/flows/housekeeping.ts: via console, not read-only, succeeded, sign-in and console housekeeping calls
 * and read-style names left out). A denied or failed attempt changed nothing, so there is nothing to
 * capture in code; the page links to those attempts on the Events page instead of counting them.
 *
 * One pass: the window's console changes are read once along the partial index events_console_changes
 * (migration 020/021, whose predicate the definition implies) and grouped five ways.
 */
export async function clickOps(db: Db, until: number, days = 30): Promise<ClickOps> {
  const end = new Date(until);
  const start = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), end.getUTCDate()) - (days - 1) * DAY);
  const monthStart = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), 1));
  const prevStart = new Date(Date.UTC(end.getUTCFullYear(), end.getUTCMonth() - 1, 1));
  const from = new Date(Math.min(start.getTime(), prevStart.getTime()));
  const { params, param } = queryParams([from.toISOString(), end.toISOString(), start.toISOString(), monthStart.toISOString()]);
  const change = consoleChangeSql('e', param);
  const top = (k: string, col: string) =>
    `(SELECT '${k}', ${col}, count(*)::bigint FROM c WHERE time >= $3 AND ${col} IS NOT NULL GROUP BY 2 ORDER BY 3 DESC, 2 LIMIT ${TOP})`;
  const r = await db.query<{ k: string; label: string | null; n: string }>(
    `WITH c AS MATERIALIZED (
       SELECT e.time, coalesce(e.email, e.actor_name, e.actor_key) AS person, e.primary_type AS type, coalesce(e.primary_id, e.primary_arn) AS resource
       FROM events e WHERE e.time >= $1::timestamptz AND e.time <= $2::timestamptz AND ${change}
     )
     SELECT 'd' AS k, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS label, count(*)::bigint AS n FROM c WHERE time >= $3 GROUP BY 2
     UNION ALL ${top('p', 'person')}
     UNION ALL ${top('t', 'type')}
     UNION ALL ${top('r', 'resource')}
     UNION ALL SELECT 'this', NULL, (count(*) FILTER (WHERE time >= $4))::bigint FROM c
     UNION ALL SELECT 'previous', NULL, (count(*) FILTER (WHERE time < $4))::bigint FROM c`,
    params,
  );
  const of = (k: string): Count[] => r.rows.filter((x) => x.k === k).map((x) => ({ label: x.label ?? '', n: Number(x.n) }));
  const byDay = new Map(of('d').map((x) => [x.label, x.n]));
  const perDay: Count[] = [];
  for (let t = start.getTime(); t <= end.getTime(); t += DAY) {
    const d = new Date(t).toISOString().slice(0, 10);
    perDay.push({ label: d, n: byDay.get(d) ?? 0 });
  }
  const n = (k: string): number => Number(r.rows.find((x) => x.k === k)?.n ?? 0);
  return {
    perDay,
    byPerson: of('p'),
    byResourceType: of('t'),
    topResources: of('r'),
    thisMonth: { label: monthStart.toISOString().slice(0, 7), n: n('this') },
    previousMonth: { label: prevStart.toISOString().slice(0, 7), n: n('previous') },
    total: perDay.reduce((a, b) => a + b.n, 0),
    since: start.toISOString(),
    until: end.toISOString(),
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
