import type { TrailEvent } from '../../../events/model.ts';
import type { Db } from '../../../store/db.ts';
import { queryParams } from '../../../store/sql.ts';
import { actorHashIs, actorIs, eventsAt, type Principal } from '../../../store/index.ts';
import type { TrailRequest } from './grammar.ts';

/**
 * What `/trail` reads from the store for the principals `who` resolved to (resolvePrincipals, as
 * `trailbot trail` does) within the window and filters: the counts, the most frequent actions and
 * resources, one page of calls newest first (keyset paging on time, then event id, so a page is one
 * index scan per principal along events_actor_hash_time whatever page it is), and the Jira tickets of
 * findings those principals took part in.
 */

export type TrailFilters = Pick<TrailRequest, 'since' | 'until' | 'writes' | 'denied' | 'console' | 'region' | 'service' | 'account'>;

export interface TrailCounts {
  total: number;
  writes: number;
  denied: number;
  console: number;
  topActions: { action: string; service: string | null; count: number }[];
  topResources: { type: string | null; id: string; count: number }[];
}

/** Where a page ended: the last call shown (newest first, ties by event id). */
export interface PagePosition {
  time: string;
  eventId: string;
}

export const TOP = 5;

/** The filter conditions after `actor_key` (placeholders numbered from `first`). */
function where(f: TrailFilters, first: number): { sql: string; params: unknown[] } {
  const { params, param } = queryParams([f.since, f.until], first - 1);
  const parts = [`time >= $${first}::timestamptz`, `time <= $${first + 1}::timestamptz`];
  if (f.writes) parts.push('read_only IS NOT TRUE');
  if (f.denied) parts.push(`outcome = 'denied'`);
  if (f.console) parts.push(`via = 'console'`);
  if (f.region) parts.push(`region = ${param(f.region)}`);
  if (f.service) parts.push(`service = ${param(f.service)}`);
  if (f.account) parts.push(`account = ${param(f.account)}`);
  return { sql: parts.join(' AND '), params };
}

/**
 * Counts and tops in one pass over the window's rows: per principal, its rows along
 * events_actor_hash_time (a scan per principal: `hash = ANY(array)` over the day partitions is planned
 * as a sequential scan of every partition, ~300 ms over 1,000,000 events in bench:slack).
 */
export async function trailCounts(db: Db, principals: readonly Principal[], f: TrailFilters): Promise<TrailCounts> {
  if (principals.length === 0) return { total: 0, writes: 0, denied: 0, console: 0, topActions: [], topResources: [] };
  const filters = where(f, 2);
  const r = await db.query<{ k: string; a: string | null; b: string | null; n: number; writes: number; denied: number; console: number }>(
    `WITH w AS MATERIALIZED (
       SELECT x.* FROM unnest($1::text[]) AS k(actor_key)
       CROSS JOIN LATERAL (
         SELECT action, service, read_only, outcome, via, primary_type, coalesce(primary_id, primary_arn) AS primary_id FROM events
         WHERE ${actorIs('k.actor_key')} AND ${filters.sql}
       ) x
     )
     SELECT 'n' AS k, NULL::text AS a, NULL::text AS b, count(*)::bigint AS n,
       (count(*) FILTER (WHERE read_only IS NOT TRUE))::bigint AS writes,
       (count(*) FILTER (WHERE outcome = 'denied'))::bigint AS denied,
       (count(*) FILTER (WHERE via = 'console'))::bigint AS console
     FROM w
     UNION ALL (SELECT 'a', action, service, count(*)::bigint, 0, 0, 0 FROM w GROUP BY action, service ORDER BY 4 DESC, 2, 3 LIMIT ${TOP})
     UNION ALL (SELECT 'r', primary_type, primary_id, count(*)::bigint, 0, 0, 0 FROM w WHERE primary_id IS NOT NULL GROUP BY primary_type, primary_id ORDER BY 4 DESC, 2, 3 LIMIT ${TOP})`,
    [principals.map((p) => p.actorKey), ...filters.params],
  );
  const n = r.rows.find((x) => x.k === 'n');
  return {
    total: Number(n?.n ?? 0),
    writes: Number(n?.writes ?? 0),
    denied: Number(n?.denied ?? 0),
    console: Number(n?.console ?? 0),
    topActions: r.rows.filter((x) => x.k === 'a').map((x) => ({ action: x.a ?? '(unnamed call)', service: x.b, count: Number(x.n) })),
    topResources: r.rows.filter((x) => x.k === 'r').map((x) => ({ type: x.a, id: x.b!, count: Number(x.n) })),
  };
}

/**
 * One page of calls, newest first, after `after` (exclusive). `more` says whether another page
 * follows. One index scan per principal, each stopping after `limit + 1` rows, then merged.
 */
export async function trailPage(
  db: Db,
  principals: readonly Principal[],
  f: TrailFilters,
  opts: { limit: number; after?: PagePosition | undefined },
): Promise<{ events: TrailEvent[]; more: boolean }> {
  if (principals.length === 0) return { events: [], more: false };
  const filters = where(f, 2);
  const params: unknown[] = [principals.map((p) => p.actorKey), ...filters.params];
  let keyset = '';
  if (opts.after) {
    params.push(opts.after.time, opts.after.eventId);
    const t = `$${params.length - 1}::timestamptz`;
    const id = `$${params.length}::text`;
    keyset = `AND time <= ${t} AND (time < ${t} OR event_id > ${id})`;
  }
  params.push(opts.limit + 1);
  const limit = `$${params.length}`;
  const r = await db.query<{ event_id: string; t: Date }>(
    `SELECT e.event_id, e.t FROM unnest($1::text[]) AS k(actor_key)
     CROSS JOIN LATERAL (
       SELECT event_id, time AS t, actor_key FROM events
       WHERE ${actorHashIs('k.actor_key')} AND ${filters.sql} ${keyset}
       ORDER BY events.time DESC, events.event_id
       LIMIT ${limit}
     ) e
     WHERE e.actor_key = k.actor_key -- outside the LIMIT: see actorHashIs
     ORDER BY e.t DESC, e.event_id
     LIMIT ${limit}`,
    params,
  );
  const more = r.rows.length > opts.limit;
  const page = r.rows.slice(0, opts.limit);
  // By id and time: each event is read from its own day's partition.
  const byId = new Map((await eventsAt(db, page.map((x) => ({ eventId: x.event_id, time: new Date(x.t).toISOString() })))).map((e) => [e.eventId, e]));
  return { events: page.flatMap((x) => byId.get(x.event_id) ?? []), more };
}

export interface TicketLink {
  key: string;
  url: string;
  title: string;
  status: string | null;
}

/**
 * Jira tickets (created, current generation) of findings active in the window in which these
 * principals took part, newest finding first. From the principals' events of the window (along
 * events_actor_hash_time, the rows trailCounts has just read) to their findings (finding_events by
 * event): starting from the window's findings instead probes every event of every finding (~60 ms on
 * bench:slack's store), and a plain join on actor_key is planned as a sequential scan of every partition
 * (~300 ms over 1,000,000 events).
 */
export async function relatedTickets(db: Db, principals: readonly Principal[], f: Pick<TrailFilters, 'since' | 'until'>, limit = 5): Promise<TicketLink[]> {
  if (principals.length === 0) return [];
  const r = await db.query<{ jira_key: string; url: string; title: string; status: string | null }>(
    `WITH mine AS MATERIALIZED (
       SELECT DISTINCT fe.finding_id FROM unnest($1::text[]) AS k(actor_key)
       CROSS JOIN LATERAL (
         SELECT event_id, time FROM events
         WHERE ${actorIs('k.actor_key')} AND time >= $2::timestamptz AND time <= $3::timestamptz
       ) e
       JOIN finding_events fe ON fe.event_id = e.event_id AND fe.time = e.time
     )
     SELECT t.jira_key, t.url, f.title, t.status FROM mine
     JOIN findings f ON f.id = mine.finding_id
     JOIN LATERAL (SELECT * FROM tickets WHERE finding_id = f.id ORDER BY generation DESC LIMIT 1) t ON true
     WHERE f.last_seen >= $2::timestamptz AND f.first_seen <= $3::timestamptz
       AND t.state = 'created' AND t.jira_key IS NOT NULL AND t.url IS NOT NULL
     ORDER BY f.last_seen DESC, f.id
     LIMIT $4`,
    [principals.map((p) => p.actorKey), f.since, f.until, limit],
  );
  return r.rows.map((x) => ({ key: x.jira_key, url: x.url, title: x.title, status: x.status }));
}
