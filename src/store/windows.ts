import type { Db } from './db.ts';

const DAY = 86_400_000;

/** The first window of a newest-first read, in days below its top. */
export const FIRST_WINDOW_DAYS = 1;

/** Past this many days below the top, the next window is the rest of the range. */
export const LAST_WINDOW_DAYS = 64;

/** The first window's depth: a day, or twice a page at the rate the caller expects; null: all in one query. */
export function firstDepth(limit: number, perDay?: number): number | null {
  if (perDay === undefined || !(perDay > 0)) return FIRST_WINDOW_DAYS;
  const depth = Math.max(FIRST_WINDOW_DAYS, (2 * limit) / perDay);
  return depth >= LAST_WINDOW_DAYS ? null : depth;
}

/**
 * How deep (days below the top) the next window reaches, given `found` rows of `limit` within the
 * first `depth` days: deep enough for twice the rows still wanted at the rate seen so far, and at least
 * twice as deep as now; four times as deep while nothing was found (the rate says nothing yet). Null:
 * the rest of the range, in one query, once the next window would reach past LAST_WINDOW_DAYS.
 */
export function nextDepth(depth: number, found: number, limit: number): number | null {
  const next = found === 0 ? 4 * depth : depth + Math.max(depth, (2 * (limit - found) * depth) / found);
  return next >= LAST_WINDOW_DAYS ? null : next;
}

/** How long the newest event's time is reused (per Db) before the partitions are probed again. */
const NEWEST_FRESH_MS = 5_000;

/** Day partitions probed per statement while looking for the newest event. */
const PROBE_BATCH = 8;

/** A slice of time: `time >= from` and `time < below`, each only when given. */
export interface Window {
  from?: string | undefined;
  below?: string | undefined;
}

/** What a newest-first read is bounded by: the query's own range, and a keyset page's last event. */
export interface Range {
  since?: string | undefined;
  until?: string | undefined;
  before?: { time: string } | undefined;
  /**
   * A time every row asked for is known to be below (exclusive): the first window stops there. Without
   * it the first window is open above (the newest event's time may be a few seconds old), which has
   * the query planned over every partition newer than the window, days made ahead included.
   */
  ceiling?: string | undefined;
  /**
   * How many rows a day the range holds, as far as the caller knows (a person's event count over the
   * days they were seen): the first window is sized for twice a page at that rate rather than a day.
   */
  perDay?: number | undefined;
}

/** A partition's name as regclass prints it: bare when the search path finds it (a name qualified by its schema is left out, never quoted into SQL). */
const EVENTS_PARTITION = /^events_(?:\d{8}|default)$/;
const cache = new WeakMap<Db, { at: number; newest: number | null }>();

/**
 * The newest stored event's time (ms), or null when `events` has no partitions or no rows. Probes the
 * partitions, events_default and then the days newest first, a few to a statement (each `max(time)`
 * one index probe in one small table), until a day holds rows: `SELECT max(time) FROM events` would be
 * planned over every partition (~10 ms at 99 partitions), more than the query it serves. Reused for a
 * few seconds: a value a little old only widens the first window (newestFirst never leaves a gap).
 * A partition dropped between the listing and its probe (the store-maintenance job) has the listing
 * read again, once; then the answer is null (one query over the range), not an error.
 */
export async function newestEventTime(db: Db, now = Date.now()): Promise<number | null> {
  const hit = cache.get(db);
  if (hit && now - hit.at < NEWEST_FRESH_MS) return hit.newest;
  for (let attempt = 1; ; attempt++) {
    try {
      const newest = await probeNewest(db);
      cache.set(db, { at: now, newest });
      return newest;
    } catch (e) {
      if ((e as { code?: string }).code !== UNDEFINED_TABLE) throw e;
      if (attempt === 2) return null;
    }
  }
}

/** PostgreSQL's SQLSTATE for a table that does not exist (any more). */
const UNDEFINED_TABLE = '42P01';

async function probeNewest(db: Db): Promise<number | null> {
  const names = (
    await db.query<{ name: string }>(
      `SELECT c.oid::regclass::text AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`,
    )
  ).rows
    .map((r) => r.name)
    .filter((n) => EVENTS_PARTITION.test(n));
  // The days newest first (their names sort by day); events_default (anything outside them) in the first probe.
  const days = names.filter((n) => n !== 'events_default').sort((a, b) => b.localeCompare(a));
  const max = async (tables: string[]): Promise<number | null> =>
    tables.length === 0
      ? null
      : ((
          await db.query<{ ms: number | null }>(
            `SELECT (extract(epoch FROM max(t)) * 1000)::float8 AS ms FROM (${tables.map((p) => `SELECT max(time) AS t FROM ${p}`).join(' UNION ALL ')}) x`,
          )
        ).rows[0]?.ms ?? null);
  const inDefault = names.includes('events_default') ? await max(['events_default']) : null;
  // Days do not overlap: the first batch holding rows holds the newest day's.
  let inDays: number | null = null;
  for (let i = 0; i < days.length && inDays === null; i += PROBE_BATCH) inDays = await max(days.slice(i, i + PROBE_BATCH));
  return inDefault === null ? inDays : inDays === null ? inDefault : Math.max(inDefault, inDays);
}

const ms = (s: string | undefined): number => (s === undefined ? Number.NaN : Date.parse(s));

const FIRST_MS = Date.parse('0001-01-01T00:00:00.000Z');
const LAST_MS = Date.parse('9999-12-31T23:59:59.999Z');

/** A time as ISO text PostgreSQL reads (years 0001–9999), or undefined outside them (the store holds no event there). */
export function isoWithin(t: number): string | undefined {
  return t >= FIRST_MS && t <= LAST_MS ? new Date(t).toISOString() : undefined;
}

/**
 * Reads `limit` rows newest first through windows of time going back from the newest event: the last
 * day first, then as deep as the rate of rows found so far says the rest of the page needs (nextDepth),
 * then the rest of the range. `run(window, n)` answers one window's newest `n` rows, newest first;
 * rows of a window are all older than those of the window before it, so the pages put end to end are
 * the answer one query over the whole range gives. A query bounded to a few days is planned over its
 * few day partitions (PostgreSQL leaves the others out when it plans) and stops early: over 90 day
 * partitions, planning one query over all of them took 13–29 ms, most of a person's `trail` or of a
 * search, and a resource name with a few thousand events had all of them sorted (bench:ingest: 74–147
 * ms). Rare values, found in no recent day, cost three small queries more. `newest` is the newest
 * event's time (newestEventTime); with none (no partitions, no rows), it is one query. The caller runs
 * the windows in one snapshot (queries.ts readSnapshot): a commit between two of them would otherwise
 * show a page a mix of before and after it.
 */
export async function newestFirst<T>(newest: number | null, range: Range, limit: number, run: (w: Window, n: number) => Promise<T[]>, now = Date.now()): Promise<T[]> {
  if (newest === null || limit <= 0) return run({}, limit);
  // The top: the newest event, or the query's own upper bound when lower. A time PostgreSQL reads but
  // Date.parse does not (NaN) bounds nothing here; the query itself still applies it.
  let top = Math.min(newest, now + DAY);
  for (const t of [ms(range.until), ms(range.before?.time), ms(range.ceiling)]) if (t < top) top = t;
  const floor = ms(range.since);
  const out: T[] = [];
  let below = range.ceiling;
  let depth: number | null = firstDepth(limit, range.perDay);
  for (;;) {
    const fromMs = depth === null ? Number.NEGATIVE_INFINITY : top - depth * DAY;
    // The last window: the rest of the range, down to `since` (the query's own bound), to the year 0001,
    // or unbounded.
    const from = depth === null || fromMs <= floor ? undefined : isoWithin(fromMs);
    const last = from === undefined;
    const rows = await run({ from, below }, limit - out.length);
    for (const r of rows) if (out.length < limit) out.push(r);
    if (last || out.length >= limit) break;
    below = from;
    depth = nextDepth(depth!, out.length, limit);
  }
  return out;
}

/** A window as SQL conditions on `time`, with its values added by `param`. */
export function windowSql(w: Window, param: (v: unknown) => string): string[] {
  const out: string[] = [];
  if (w.from !== undefined) out.push(`time >= ${param(w.from)}::timestamptz`);
  if (w.below !== undefined) out.push(`time < ${param(w.below)}::timestamptz`);
  return out;
}
