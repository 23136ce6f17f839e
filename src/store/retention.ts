import type { Db } from './db.ts';
import { ADVISORY_LOCKS } from './sql.ts';

const DAY = 86_400_000;

/** How long the store keeps each kind of row, in ms; null keeps it forever (src/config: store.*). */
export interface RetentionSettings {
  /** `store.retention`: events, by whole UTC day partitions. */
  events: number;
  /** `store.flowHitsRetention`: threshold-flow hits. */
  flowHits: number | null;
  /** `store.rejectsRetention`: what sources could not use. */
  rejects: number | null;
  /** `store.reportsRetention`: kept reports (their Slack deliveries go with them). */
  reports: number | null;
}

export const DEFAULT_RETENTION: RetentionSettings = { events: 90 * DAY, flowHits: 90 * DAY, rejects: 90 * DAY, reports: 365 * DAY };

export interface MaintenanceResult {
  /** Day partitions made (ahead of time, or out of events_default). */
  made: string[];
  /** Day partitions dropped, whole, for being older than the retention. */
  dropped: string[];
  /** Rows deleted one by one: events_default's stragglers and the small tables. */
  deleted: { events: number; rawChunks: number; flowHits: number; rejects: number; reports: number };
}

export interface MaintenanceOptions {
  now?: number;
  /** Days of partitions made ahead of today (default 3). */
  aheadDays?: number;
  /** At most this many days moved out of events_default per run (default 120). */
  maxSplitDays?: number;
}

const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
/** A UTC day's first instant, as PostgreSQL reads it whatever the session's time zone (a bare date would be midnight there). */
const startOf = (day: string): string => `${day}T00:00:00Z`;
const PARTITION = /^(?:events|raw_chunks)_(\d{4})(\d{2})(\d{2})$/;

/** Partitions dropped per transaction: each drop locks the partition and its indexes until the commit (PostgreSQL's lock table is ~64 locks a connection). */
const DROP_BATCH = 40;

/** How long the last try of a phase waits for the tables it locks (see `locked`). */
const LOCK_TIMEOUT = '30s';

/** Tries of a phase's locks without waiting, a little apart, before one that waits. */
const NOWAIT_TRIES = 20;

const LOCK_NOT_AVAILABLE = '55P03';
const DEADLOCK = '40P01';

/**
 * The `store-maintenance` job's work. Each phase is its own transaction under the transaction-level
 * advisory lock (two workers never do it at once), so a crash or a failure between phases leaves
 * what was committed done and the next run does the rest; and no phase holds more locks than
 * PostgreSQL's lock table takes, however many days a store holds:
 * 1. day partitions of `events` from yesterday to `aheadDays` ahead (events_day_partition, migration
 *    021), first and alone: a later phase that fails cannot keep them from being made;
 * 2. rows that went to events_default (a backfill of old trail files, or an upgrade's older days) and
 *    are within the retention get their day's partition (moved out of the default one), at most
 *    `maxSplitDays` days a run; rows dated past the partitions made ahead (a clock far off) stay in
 *    events_default until the retention deletes them;
 * 3. day partitions wholly older than `now - retention` are dropped, oldest first, DROP_BATCH to a
 *    transaction (DROP TABLE: no row-by-row delete, no dead rows, the disk space comes back at once),
 *    with their raw records' chunks (raw_chunks_YYYYMMDD, migration 022);
 * 4. stragglers in events_default and raw_chunks_default past the cutoff, flow hits, source rejects
 *    and kept reports past their own retention are deleted.
 * A phase that makes or drops partitions first locks what it changes under others (the default
 * partitions; the parents), all at once and without waiting (`locked`): a writer with rows in flight
 * for the default partition finishes before the move (whose check would fail on them), and since the
 * phase holds nothing while it waits, it never deadlocks with a reader or a writer that takes the same
 * tables in another order. Days are UTC days whatever the session's time zone. Findings, tickets,
 * approvals and the audit log are not touched.
 */
export async function maintainStore(db: Db, settings: RetentionSettings, opts: MaintenanceOptions = {}): Promise<MaintenanceResult> {
  const now = opts.now ?? Date.now();
  const ahead = opts.aheadDays ?? 3;
  const cutoff = now - settings.events;
  const cutoffDay = dayOf(cutoff);
  const phase = <T>(fn: (tx: Db) => Promise<T>): Promise<T> =>
    db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.storeMaintenance]);
      return fn(tx);
    });
  /**
   * A phase that first locks `tables` (ACCESS EXCLUSIVE, in one statement): NOWAIT_TRIES tries that
   * give up at once when another session holds one of them, then one that waits up to LOCK_TIMEOUT
   * (busy tables all along: should that one meet a deadlock, PostgreSQL aborts one of the two, and
   * either is retried, the job by the queue, an ingest batch by insertEvents).
   */
  const locked = async <T>(tables: string, fn: (tx: Db) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      const wait = attempt > NOWAIT_TRIES;
      try {
        return await phase(async (tx) => {
          if (wait) await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [LOCK_TIMEOUT]);
          await tx.query(`LOCK TABLE ${tables} IN ACCESS EXCLUSIVE MODE${wait ? '' : ' NOWAIT'}`);
          return fn(tx);
        });
      } catch (e) {
        const code = (e as { code?: string }).code;
        if (wait || (code !== LOCK_NOT_AVAILABLE && code !== DEADLOCK)) throw e;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100 * Math.min(attempt, 5)));
      }
    }
  };
  const DEFAULTS = 'raw_chunks_default, events_default';
  const made: string[] = [];
  const exists = async (tx: Db, name: string): Promise<boolean> =>
    (await tx.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [name])).rows[0]!.r !== null;
  const make = async (tx: Db, day: string): Promise<void> => {
    if (await exists(tx, `events_${day.replaceAll('-', '')}`)) return;
    made.push((await tx.query<{ p: string }>('SELECT events_day_partition($1::date) AS p', [day])).rows[0]!.p);
  };

  // 1. The days ahead (usually made already: then nothing is locked).
  const days: string[] = [];
  for (let d = -1; d <= ahead; d++) {
    const day = dayOf(now + d * DAY);
    if (day >= cutoffDay) days.push(day);
  }
  const missing = await phase(async (tx) => {
    const out: string[] = [];
    for (const day of days) if (!(await exists(tx, `events_${day.replaceAll('-', '')}`))) out.push(day);
    return out;
  });
  if (missing.length > 0) await locked(DEFAULTS, async (tx) => { for (const day of missing) await make(tx, day); });

  // 2. Days out of the default partitions: which ones, then (under the lock) read again, as a writer
  // that had rows in flight has committed them by then.
  const strayDays = async (tx: Db): Promise<string[]> =>
    (
      await tx.query<{ d: string }>(
        `SELECT DISTINCT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d FROM events_default WHERE time >= $1::timestamptz AND time < $2::timestamptz ORDER BY 1 LIMIT $3`,
        [startOf(cutoffDay), startOf(dayOf(now + (ahead + 1) * DAY)), opts.maxSplitDays ?? 120],
      )
    ).rows.map((r) => r.d);
  let moved = false;
  if ((await phase(strayDays)).length > 0) {
    moved = await locked(DEFAULTS, async (tx) => {
      const stray = await strayDays(tx);
      for (const d of stray) await make(tx, d);
      return stray.length > 0;
    });
  }

  // 3. Whole days past the retention. A day's events and the chunks of their raw records (migration 022) go together.
  const dropped: string[] = [];
  const parts = await db.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent IN ('events'::regclass, 'raw_chunks'::regclass)`,
  );
  const old = parts.rows
    .map((r) => ({ name: r.name, m: PARTITION.exec(r.name) }))
    .filter((p): p is { name: string; m: RegExpExecArray } => p.m !== null && `${p.m[1]}-${p.m[2]}-${p.m[3]}` < cutoffDay)
    .map((p) => ({ name: p.name, day: `${p.m[1]}${p.m[2]}${p.m[3]}` }))
    .sort((a, b) => a.day.localeCompare(b.day) || a.name.localeCompare(b.name));
  for (let i = 0; i < old.length; i += DROP_BATCH) {
    const batch = old.slice(i, i + DROP_BATCH);
    // The parents only (ONLY: not every partition): every query and write goes through them, and a
    // drop locks its parent anyway.
    await locked('ONLY raw_chunks, ONLY events', async (tx) => {
      for (const { name } of batch) {
        // Gone already (another run between the listing and here): nothing to do.
        if (!(await exists(tx, name))) continue;
        await tx.query(`DROP TABLE ${name}`);
        // The result names the days' events partitions; their chunks' partitions go with them.
        if (name.startsWith('events_')) dropped.push(name);
      }
    });
  }
  dropped.sort();

  // 4. Rows one by one: the default partitions' stragglers and the small tables.
  const deleted = await phase(async (tx) => {
    const del = async (sql: string, keep: number | null): Promise<number> =>
      keep === null ? 0 : (await tx.query(sql, [new Date(now - keep).toISOString()])).rowCount;
    return {
      events: (await tx.query('DELETE FROM events_default WHERE time < $1::timestamptz', [startOf(cutoffDay)])).rowCount,
      rawChunks: (await tx.query('DELETE FROM raw_chunks_default WHERE time < $1::timestamptz', [startOf(cutoffDay)])).rowCount,
      flowHits: await del('DELETE FROM flow_hits WHERE time < $1', settings.flowHits),
      rejects: await del('DELETE FROM source_rejects WHERE at < $1', settings.rejects),
      reports: await del('DELETE FROM reports WHERE created_at < $1', settings.reports),
    };
  });
  const result: MaintenanceResult = { made, dropped, deleted };
  // Rows moved out of the default partitions leave their indexes as large as before, and every query
  // whose range the partitions cannot prune at plan time still walks them (bench:dashboard: 599 pages
  // and ~6 ms per query to find nothing in an emptied events_default after a 1,000,000-event backfill).
  // Rebuilt once the move is committed (in its own transaction the moved rows still count), they are as
  // small as what is left (bench:ingest: 547 → 363 B an event of indexes after a 200,000-event backfill);
  // the lock is held only for that, on a small table now.
  if (moved || deleted.events > 0) {
    for (const t of ['events_default', 'raw_chunks_default']) {
      await db.query(`VACUUM ${t}`);
      await db.query(`REINDEX TABLE ${t}`);
    }
  }
  return result;
}
