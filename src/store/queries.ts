import type { Outcome, RawRecord, TrailEvent, Via } from '../events/model.ts';
import { lastSegment } from '../events/resources.ts';
import type { Db } from './db.ts';
import { chunkLines } from './chunks.ts';
import { arnToken, EVENT_COLUMNS, RAW_DAY, type StoredRow, toEvents, typeToken } from './events.ts';
import type { TimeSpan } from './span.ts';
import { isoWithin, newestEventTime, newestFirst, type Range, type Window, windowSql } from './windows.ts';
import { isoText, queryParams } from './sql.ts';

export { spanOf, type TimeSpan } from './span.ts';

export interface Principal {
  actorKey: string;
  type: string | null;
  name: string | null;
  arn: string | null;
  account: string | null;
  email: string | null;
  userName: string | null;
  roleName: string | null;
  sessionName: string | null;
  firstSeen: string;
  lastSeen: string;
  events: number;
}

interface PrincipalRow {
  actor_key: string;
  type: string | null;
  name: string | null;
  arn: string | null;
  account: string | null;
  email: string | null;
  user_name: string | null;
  role_name: string | null;
  session_name: string | null;
  first_seen: string;
  last_seen: string;
  events: number;
}

const PRINCIPAL_COLS = `p.actor_key, p.type, p.name, p.arn, p.account, p.email, p.user_name, p.role_name, p.session_name,
  ${isoText('p.first_seen')} AS first_seen, ${isoText('p.last_seen')} AS last_seen, p.events`;

function toPrincipal(r: PrincipalRow): Principal {
  return {
    actorKey: r.actor_key,
    type: r.type,
    name: r.name,
    arn: r.arn,
    account: r.account,
    email: r.email,
    userName: r.user_name,
    roleName: r.role_name,
    sessionName: r.session_name,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    events: Number(r.events),
  };
}

/** LIKE-escapes a user's text so `_` and `%` match themselves. */
function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * Every principal `who` can mean, case-insensitively: an e-mail or its start (`alana@corp` finds
 * `alana@corp.example`; a bare `alana` finds `alana@…`), an IAM user name, a role session name,
 * the `role/session` name, an access key id, an ARN (a role's ARN finds its sessions) or a principal id.
 */
export async function resolvePrincipals(db: Db, who: string): Promise<Principal[]> {
  const w = who.trim().toLowerCase();
  if (w === '') return [];
  const emailPattern = w.includes('@') ? `${likeEscape(w)}%` : `${likeEscape(w)}@%`;
  const roleArn = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(w);
  // One index lookup per way of naming someone (a UNION, not one OR over the table: an OR across
  // expressions makes PostgreSQL scan every principal).
  const r = await db.query<PrincipalRow>(
    `SELECT ${PRINCIPAL_COLS} FROM principals p
     WHERE p.actor_key IN (
       SELECT actor_key FROM principals WHERE lower(email) LIKE $1
       UNION SELECT actor_key FROM principals WHERE lower(user_name) = $2
       UNION SELECT actor_key FROM principals WHERE lower(session_name) = $2
       UNION SELECT actor_key FROM principals WHERE lower(arn) = $2
       UNION SELECT actor_key FROM principals WHERE lower(principal_id) = $2
       UNION SELECT actor_key FROM principals WHERE lower(name) = $2
       UNION SELECT actor_key FROM principals WHERE lower(role_name) = $4 AND type = 'AssumedRole' AND account = $3
       UNION SELECT actor_key FROM access_keys WHERE access_key_id = upper($2)
     )
     ORDER BY p.last_seen DESC
     LIMIT 500`,
    [emailPattern, w, roleArn ? roleArn[1] : null, roleArn ? roleArn[2] : null],
  );
  return r.rows.map(toPrincipal);
}

export interface TrailQuery {
  who: string;
  since?: string | undefined;
  until?: string | undefined;
  limit?: number | undefined;
  writesOnly?: boolean | undefined;
}

export interface TrailResult {
  principals: Principal[];
  events: TrailEvent[];
}

/**
 * `actor_key = <key>` as events_actor_hash_time (migration 024) serves it: the index holds a 64-bit
 * hash of the key, the row the key itself (a hash collision is checked away). For counts and sets.
 */
export function actorIs(key: string): string {
  return `${actorHashIs(key)} AND actor_key = ${key}`;
}

/**
 * The hash half of actorIs alone, for a newest-first scan with a LIMIT (a person's page): the caller
 * checks `actor_key = <key>` outside the LIMIT. With both inside, PostgreSQL multiplies the two
 * conditions' selectivities (they are the same condition), expects ~2 rows a partition, and reads all of
 * the person's rows in every partition to sort them (bench:dashboard's store: 1,653 buffers for a
 * person's 50 newest of 5,990) rather than walking each partition's index newest first (118 buffers).
 * A different key with the same 64-bit hash would only make a page shorter.
 */
export function actorHashIs(key: string): string {
  return `hashtextextended(actor_key, 0) = hashtextextended(${key}, 0)`;
}

/**
 * What a person did, newest first: a search by user (one index scan per matching principal along
 * events_actor_hash_time, each stopping after `limit` rows, then merged; the newest days first,
 * windows.ts), writes only when asked.
 */
export async function trail(db: Db, q: TrailQuery): Promise<TrailResult> {
  return search(db, { user: q.who, since: q.since, until: q.until, limit: q.limit, readOnly: q.writesOnly ? false : undefined });
}

/** The default partitions locked against a move committing under a read (readSnapshot, besideMoves). */
const DEFAULTS_SHARED = 'LOCK TABLE raw_chunks_default, events_default IN ACCESS SHARE MODE';

/**
 * fn in one read-only REPEATABLE READ transaction: the principals, every window of a page and the
 * chunks it reads see one snapshot, as one query did (a batch committed between two windows would
 * otherwise be half in the page, and a keyset page after it could skip the other half for good).
 */
export function readSnapshot<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    // Before the snapshot (LOCK takes none): the store-maintenance job attaches a day copied before its
    // move (migration 026) and deletes it from the default in one commit; a snapshot taken between the
    // copy's commit and the move's, reading after it, saw the day in both. With these locks the move
    // waits for this transaction, or this one for the move.
    await tx.query(DEFAULTS_SHARED);
    return fn(tx);
  });
}

/**
 * fn in one transaction that first takes a share lock on the two default partitions, as readSnapshot
 * does, for the reads by id (the flows', a finding's events, a raw record). A query planned while a
 * day's partition is made (by ingest, src/store/partitions.ts, or the store-maintenance job) and its
 * rows moved out of the default keeps the partitions it saw when planned: it waited for the default,
 * found the rows gone from it and never read the new partition, so an event that was there before and
 * after was not found (and a flows job marks the ids it was given evaluated). With the lock first the
 * move waits for the read, or the read is planned after the move.
 */
export function besideMoves<T>(db: Db, fn: (tx: Db) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await tx.query(DEFAULTS_SHARED);
    return fn(tx);
  });
}

const DAY_MS = 86_400_000;

/**
 * A person's events lie between their principals' first and last seen (kept with every insert, in its
 * transaction: events.ts fold): the windows of a newest-first read start at the last one, not at the
 * store's newest event (a person last seen a month ago is found in the first window, not the fifth),
 * stop at the first, and the first is as deep as their rate says a page needs.
 */
function seenWithin(principals: readonly Principal[], q: Range): Range {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  let events = 0;
  for (const p of principals) {
    first = Math.min(first, Date.parse(p.firstSeen));
    last = Math.max(last, Date.parse(p.lastSeen));
    events += p.events;
  }
  // Unparsable (never, from isoText): the query's own range alone.
  if (!Number.isFinite(first) || !Number.isFinite(last)) return q;
  const until = q.until !== undefined && Date.parse(q.until) < last ? q.until : new Date(last).toISOString();
  const since = q.since !== undefined && Date.parse(q.since) > first ? q.since : new Date(first).toISOString();
  // Their rate over the days they were seen (events counts every event stored, some maybe gone with
  // the retention since: a rate too high only makes the first window too shallow, nextDepth goes on).
  const perDay = events / Math.max(1, (last - first) / DAY_MS);
  // lastSeen is to the second (isoText): every event of theirs is before the next second (none past 9999).
  return { since, until, before: q.before, ceiling: isoWithin(last + 1000), perDay };
}

export interface SearchQuery {
  eventId?: string | undefined;
  eventName?: string | undefined;
  user?: string | undefined;
  resourceType?: string | undefined;
  resourceName?: string | undefined;
  eventSource?: string | undefined;
  accessKey?: string | undefined;
  readOnly?: boolean | undefined;
  account?: string | undefined;
  region?: string | undefined;
  outcome?: Outcome | undefined;
  via?: Via | undefined;
  since?: string | undefined;
  until?: string | undefined;
  limit?: number | undefined;
  /** Only these events. */
  eventIds?: readonly string[] | undefined;
  /**
   * Only a finding's events (the dashboard opens a finding on them): read along finding_events, newest
   * first, each event from its own day's partition, stopping once the page is full.
   */
  findingId?: string | undefined;
  /** Keyset paging: only events after this one in the order searched (time newest first, then event id). */
  before?: { time: string; eventId: string } | undefined;
}

/**
 * The filters an index serves on its own: events_pkey, events_action_time, events_actor_hash_time
 * (user), events_resource_keys (resource name) and events_access_key_time. Any one of them bounds a
 * search. The others (service, account, region, outcome, via: events_facets; resource type: a token in
 * events_resource_keys; read-only) match too many events for an index alone when their value is
 * common, so they are read along events_time, newest first, and the HTTP API asks for a time range
 * with them alone (src/store/requests.ts).
 */
export const INDEXED_FILTERS = ['eventId', 'eventIds', 'eventName', 'user', 'accessKey', 'resourceName'] as const satisfies readonly (keyof SearchQuery)[];

/**
 * The console's lookup attributes, combinable, plus account, region, outcome, via and a time range.
 * `user` means every principal `resolvePrincipals` finds for it.
 */
export async function search(db: Db, q: SearchQuery, opts: { fenceMax?: number } = {}): Promise<{ events: TrailEvent[]; principals: Principal[] }> {
  const fenceMax = opts.fenceMax ?? FENCE_MAX;
  // By id, or along a finding's events: a few probes whatever the range. Anything else reads the
  // newest days first (windows.ts).
  const byId = q.eventId !== undefined || q.eventIds !== undefined || q.findingId !== undefined;
  const newest = byId ? null : await newestEventTime(db);
  return readSnapshot(db, async (tx) => {
    const principals = q.user !== undefined ? await resolvePrincipals(tx, q.user) : [];
    if (q.user !== undefined && principals.length === 0) return { events: [], principals };
    // A resource name: how common it is in the first window says how every window reads it. Counted
    // up to FENCE_MAX + 1 through the GIN index's bitmap (index and sequential scans off for that one
    // statement: a plan that stops early could read a whole day looking for a rare name), so the count
    // costs the name's index entries and at most FENCE_MAX + 1 rows.
    let fence: boolean | undefined;
    const page = async (w: Window, n: number): Promise<StoredRow[]> => {
      if (fence === undefined && q.resourceName !== undefined && q.user === undefined && !byId) {
        const c = buildSearch(q, principals, w, { countUpTo: fenceMax + 1 });
        await tx.query("SELECT set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true)");
        fence = (await tx.query<{ n: number }>(c.sql, c.params)).rows[0]!.n <= fenceMax;
        await tx.query("SELECT set_config('enable_seqscan', 'on', true), set_config('enable_indexscan', 'on', true)");
      }
      const s = buildSearch({ ...q, limit: n }, principals, w, { fence });
      return (await tx.query<StoredRow>(s.sql, s.params)).rows;
    };
    const rows = await newestFirst(newest, q.user !== undefined ? seenWithin(principals, q) : q, q.limit ?? 50, page);
    return { events: await toEvents(tx, rows), principals };
  });
}

/**
 * The SQL `search` runs for one window of time (no sql when nothing can match), for EXPLAIN in the
 * tests; without a window, the whole range in one query.
 */
export async function searchSql(db: Db, q: SearchQuery, w: Window = {}): Promise<{ sql: string | undefined; params: unknown[]; principals: Principal[] }> {
  const principals = q.user !== undefined ? await resolvePrincipals(db, q.user) : [];
  if (q.user !== undefined && principals.length === 0) return { sql: undefined, params: [], principals };
  return { ...buildSearch(q, principals, w), principals };
}

/** How buildSearch reads: `countUpTo` counts the matches (up to that many) instead; `fence: false` lets the planner choose for a resource name. */
interface SearchHow {
  countUpTo?: number;
  fence?: boolean;
}

/**
 * Past this many events with a resource name in the first window, the name is common: its search is
 * read along events_time (the planner's choice) rather than all its events sorted (a KMS key every
 * service decrypts with can have millions a day).
 */
const FENCE_MAX = 5_000;

/** One search query over window `w`; `principals` are those `q.user` means (resolvePrincipals). */
function buildSearch(q: SearchQuery, principals: readonly Principal[], w: Window, how: SearchHow = {}): { sql: string; params: unknown[] } {
  const where: string[] = [];
  const { params, param } = queryParams();
  const actorKeys = q.user !== undefined ? param(principals.map((x) => x.actorKey)) : undefined;
  where.push(...windowSql(w, param));
  if (q.eventId !== undefined) where.push(`event_id = ${param(q.eventId)}`);
  if (q.eventName !== undefined) where.push(`action = ${param(q.eventName)}`);
  if (q.eventSource !== undefined) where.push(`service = ${param(q.eventSource)}`);
  if (q.accessKey !== undefined) where.push(`access_key_id = ${param(q.accessKey.trim().toUpperCase())}`);
  if (q.readOnly !== undefined) where.push(q.readOnly ? 'read_only IS TRUE' : 'read_only IS NOT TRUE');
  if (q.resourceName !== undefined) {
    const name = q.resourceName.trim().toLowerCase();
    if (name.startsWith('arn:')) {
      // The index holds ids and a token of each ARN (events.ts resourceKeys): both must be there.
      where.push(`resource_keys @> ARRAY[${param(lastSegment(name))}, ${param(arnToken(name))}]::text[]`);
    } else {
      where.push(`resource_keys @> ARRAY[${param(name)}::text]`);
    }
  }
  if (q.resourceType !== undefined) where.push(`resource_keys @> ARRAY[${param(typeToken(q.resourceType))}]::text[]`);
  if (q.account !== undefined) where.push(`account = ${param(q.account)}`);
  if (q.region !== undefined) where.push(`region = ${param(q.region)}`);
  if (q.outcome !== undefined) where.push(`outcome = ${param(q.outcome)}`);
  if (q.via !== undefined) where.push(`via = ${param(q.via)}`);
  if (q.since !== undefined) where.push(`time >= ${param(q.since)}::timestamptz`);
  if (q.until !== undefined) where.push(`time <= ${param(q.until)}::timestamptz`);
  if (q.eventIds !== undefined) where.push(`event_id = ANY(${param(q.eventIds)}::text[])`);
  if (q.before !== undefined) {
    const t = param(q.before.time);
    where.push(`time <= ${t}::timestamptz AND (time < ${t}::timestamptz OR event_id > ${param(q.before.eventId)})`);
  }
  if (how.countUpTo !== undefined) {
    const sql = `SELECT count(*)::int AS n FROM (SELECT 1 FROM events WHERE ${where.join(' AND ')} LIMIT ${Math.floor(how.countUpTo)}) x`;
    return { sql, params };
  }
  const limit = param(q.limit ?? 50);
  if (q.findingId !== undefined) {
    // finding_events (finding_id, time) walked newest first; each of its events probed by (id, time).
    if (actorKeys !== undefined) where.push(`actor_key = ANY(${actorKeys}::text[])`); // one row each: no index needed
    const f = param(q.findingId);
    const bounds = `${q.since !== undefined ? ` AND fe.time >= ${param(q.since)}::timestamptz` : ''}${q.until !== undefined ? ` AND fe.time <= ${param(q.until)}::timestamptz` : ''}`;
    const sql = `SELECT x.* FROM finding_events fe
      CROSS JOIN LATERAL (SELECT ${EVENT_COLUMNS} FROM events WHERE event_id = fe.event_id AND time = fe.time${where.length ? ` AND ${where.join(' AND ')}` : ''} LIMIT 1) x
      WHERE fe.finding_id = ${f}${bounds}
      ORDER BY fe.time DESC, fe.event_id LIMIT ${limit}`;
    return { sql, params };
  }
  if (actorKeys !== undefined) {
    // A person: one scan per principal along events_actor_hash_time, newest first, each stopping at the page's
    // end, then merged (as trail() does). `actor_key = ANY(…)` over the partitions instead is planned as a
    // walk of every day's events_time looking for the person's rows: 1.1 s for a CI session with 26 calls
    // in a month of 1,000,000 events (bench:dashboard), where this is a few index probes.
    const inner = [...where, actorHashIs('k.actor_key')];
    const sql = `SELECT x.* FROM unnest(${actorKeys}::text[]) AS k(actor_key)
      CROSS JOIN LATERAL (SELECT ${EVENT_COLUMNS}, time AS sort_time FROM events WHERE ${inner.join(' AND ')} ORDER BY events.time DESC, event_id LIMIT ${limit}) x
      WHERE x.actor_key = k.actor_key
      ORDER BY x.sort_time DESC, x.event_id LIMIT ${limit}`;
    return { sql, params };
  }
  if (q.resourceName !== undefined && how.fence !== false) {
    // Every event with the name in the window, from the GIN index, then the newest: OFFSET 0 keeps
    // the LIMIT out of the inner query. Without it PostgreSQL, expecting a name to be common, may walk
    // each partition's events_time newest first looking for it: 800 ms for a name on 1,480 of
    // 1,000,000 events whose newest was 1.4 days old (bench:ingest). A name that is common in the
    // newest window (search: FENCE_MAX) is left to the planner, whose walk along events_time then
    // stops after a page, where reading all of the name's events would not.
    const sql = `SELECT x.* FROM (SELECT ${EVENT_COLUMNS}, events.time AS sort_time FROM events WHERE ${where.join(' AND ')} OFFSET 0) x
      ORDER BY x.sort_time DESC, x.event_id LIMIT ${limit}`;
    return { sql, params };
  }
  const sql = `SELECT ${EVENT_COLUMNS} FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY events.time DESC, event_id LIMIT ${limit}`;
  return { sql, params };
}

/**
 * Stored events by id, in time order (then id); ids not stored are left out. `span` says where to look
 * first (see eventRowsByIds), not where to stop: ids not found in it are looked for as without one. An
 * evaluate-flows job's span comes from its payload (made by an older version, by hand, or wrong: from
 * after to); the job marks all its ids evaluated, so an event missed here would never meet the flows.
 */
export async function eventsById(db: Db, ids: readonly string[], span?: TimeSpan | null): Promise<TrailEvent[]> {
  if (ids.length === 0) return [];
  return besideMoves(db, (tx) => eventsByIdIn(tx, ids, span));
}

async function eventsByIdIn(db: Db, ids: readonly string[], span?: TimeSpan | null): Promise<TrailEvent[]> {
  const columns = `${EVENT_COLUMNS}, (extract(epoch FROM time) * 1000000)::bigint AS t`;
  const rows = await eventRowsByIds<StoredRow & { t: number }>(db, columns, ids, span);
  if (span) {
    const found = new Set(rows.map((r) => r.event_id));
    const rest = [...new Set(ids)].filter((id) => !found.has(id));
    if (rest.length) rows.push(...(await eventRowsByIds<StoredRow & { t: number }>(db, columns, rest)));
  }
  rows.sort((a, b) => Number(a.t) - Number(b.t) || (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0));
  return toEvents(db, rows);
}

/**
 * The LATERAL reads by (id, time) below end in LIMIT 1 (the primary key is (id, time): one row at most)
 * on purpose: it keeps PostgreSQL from pulling the subquery up into a plain join, which it plans as a
 * hash join over parallel sequential scans of every partition once there are a few thousand pairs
 * (bench:dashboard: 1.5 s for a finding of 4,600 events, 1 ms with the fence).
 */

/** An event by id and time (a stored event's time never changes; null: unknown, not read). */
export interface EventRef {
  eventId: string;
  time: string | null;
}

/**
 * Rows of events by id and time, each read from its own day's partition (run-time pruning: one
 * primary-key probe per event, however many partitions the times spread over). For events whose
 * times are known but far apart (a finding's first and last events).
 */
export async function eventRowsAt<T extends { event_id: string }>(db: Db, columns: string, all: readonly EventRef[]): Promise<T[]> {
  const refs = all.filter((r): r is { eventId: string; time: string } => Boolean(r.time));
  if (refs.length === 0) return [];
  return (
    await db.query<T>(
      `SELECT x.* FROM unnest($1::text[], $2::timestamptz[]) AS r(id, t)
       CROSS JOIN LATERAL (SELECT ${columns} FROM events WHERE event_id = r.id AND time = r.t LIMIT 1) x`,
      [refs.map((r) => r.eventId), refs.map((r) => r.time)],
    )
  ).rows;
}

/** Stored events by id and time (eventRowsAt), in time order (then id). */
export async function eventsAt(db: Db, refs: readonly EventRef[]): Promise<TrailEvent[]> {
  return besideMoves(db, async (tx) => {
    const rows = await eventRowsAt<StoredRow & { t: number }>(tx, `${EVENT_COLUMNS}, (extract(epoch FROM time) * 1000000)::bigint AS t`, refs);
    rows.sort((a, b) => Number(a.t) - Number(b.t) || (a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0));
    return toEvents(tx, rows);
  });
}

/** Where an event's raw record is: in the row (stored before migration 022) or in a chunk. */
interface RawRefRow {
  event_id: string;
  raw: string | null;
  raw_chunk: string | null;
  raw_at: number | null;
  raw_day: string;
}
const RAW_REF_COLUMNS = `event_id, raw::text AS raw, raw_chunk::text AS raw_chunk, raw_at, ${RAW_DAY}`;

/** The records of some events, each chunk read once however many of them it holds. */
async function rawOfRows(db: Db, rows: RawRefRow[]): Promise<Map<string, RawRecord>> {
  const out = new Map<string, RawRecord>();
  const chunked = rows.filter((r) => r.raw === null && r.raw_chunk !== null && r.raw_at !== null);
  const lines = await chunkLines(db, chunked.map((r) => ({ chunk: r.raw_chunk!, at: r.raw_at!, day: r.raw_day })), 'raw');
  for (const r of rows) if (r.raw !== null) out.set(r.event_id, JSON.parse(r.raw) as RawRecord);
  chunked.forEach((r, i) => {
    if (lines[i] !== undefined) out.set(r.event_id, JSON.parse(lines[i]) as RawRecord);
  });
  return out;
}

/** Raw records by event id (see eventRowsByIds for `span`); ids not stored are left out. */
export async function rawsByIds(db: Db, ids: readonly string[], span?: TimeSpan | null): Promise<Map<string, RawRecord>> {
  return besideMoves(db, async (tx) => rawOfRows(tx, await eventRowsByIds<RawRefRow>(tx, RAW_REF_COLUMNS, ids, span)));
}

/** Raw records by event id and time (see eventRowsAt). */
export async function rawsAt(db: Db, refs: readonly EventRef[]): Promise<Map<string, RawRecord>> {
  return besideMoves(db, async (tx) => rawOfRows(tx, await eventRowsAt<RawRefRow>(tx, RAW_REF_COLUMNS, refs)));
}

export async function getRaw(db: Db, eventId: string): Promise<Record<string, unknown> | null> {
  return besideMoves(db, async (tx) => {
    const r = await tx.query<RawRefRow>(`SELECT ${RAW_REF_COLUMNS} FROM events WHERE event_id = $1 LIMIT 1`, [eventId]);
    return (await rawOfRows(tx, r.rows)).get(eventId) ?? null;
  });
}

export async function countEvents(db: Db): Promise<number> {
  return besideMoves(db, async (tx) => Number((await tx.query<{ n: number }>('SELECT count(*)::bigint AS n FROM events')).rows[0]!.n));
}

/**
 * Rows of events by id (`columns` a select list). `events` is partitioned by day (migration 021) and
 * an id alone says nothing of its day, so `event_id = ANY(…)` probes every partition's primary key:
 * ~1.3 s for 1,000 ids over 99 partitions on the loaded 2-core machine. Callers that know the events'
 * times (a flows batch, a finding's events, a page of a person's calls) pass their span, and only the
 * partitions of those days are read (pruned when the query is planned). Without one, the last two
 * days are looked in first (the events asked for by id are nearly always new) and only ids not found
 * there are looked for in all.
 */
export async function eventRowsByIds<T extends { event_id: string }>(db: Db, columns: string, ids: readonly string[], span?: TimeSpan | null): Promise<T[]> {
  if (ids.length === 0) return [];
  if (span) {
    return (await db.query<T>(`SELECT ${columns} FROM events WHERE event_id = ANY($1::text[]) AND time >= $2::timestamptz AND time <= $3::timestamptz`, [ids, span.from, span.to])).rows;
  }
  const recent = await db.query<T>(`SELECT ${columns} FROM events WHERE event_id = ANY($1::text[]) AND time >= now() - interval '2 days'`, [ids]);
  if (recent.rows.length >= new Set(ids).size) return recent.rows;
  const found = new Set(recent.rows.map((r) => r.event_id));
  const rest = ids.filter((id) => !found.has(id));
  const older = await db.query<T>(`SELECT ${columns} FROM events WHERE event_id = ANY($1::text[]) AND time < now() - interval '2 days'`, [rest]);
  return [...recent.rows, ...older.rows];
}
