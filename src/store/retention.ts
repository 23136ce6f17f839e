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
  /**
   * Work left for the next run, and why: a phase whose locks did not come within the short wait (a
   * long reader such as pg_dump, a migration), or a rebuild of the default partitions' indexes that did
   * not finish. Nothing is lost: the next run (hourly) does it.
   */
  skipped: { step: MaintenanceStep; reason: string }[];
  /** Whether the default partitions' indexes were rebuilt (after rows left them). */
  rebuilt: boolean;
}

/** The job's steps that lock or rebuild (see maintainStore). */
export type MaintenanceStep = 'ahead' | 'move' | 'drop' | 'rebuild';

export interface MaintenanceOptions {
  now?: number;
  /** Days of partitions made ahead of today (default 3). */
  aheadDays?: number;
  /** At most this many days moved out of events_default per run (default 120). */
  maxSplitDays?: number;
  /**
   * Runs at the end of each locking phase, in its transaction, before the commit (its locks held):
   * for tests that make another session meet the phase at that moment, or count its locks.
   */
  beforeCommit?: (step: Exclude<MaintenanceStep, 'rebuild'>, tx: Db) => Promise<void>;
}

const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
/** A UTC day's first instant, as PostgreSQL reads it whatever the session's time zone (a bare date would be midnight there). */
const startOf = (day: string): string => `${day}T00:00:00Z`;
const PARTITION = /^(?:events|raw_chunks)_(\d{4})(\d{2})(\d{2})$/;

/**
 * Partitions dropped per transaction, and days moved out of the default partitions per transaction:
 * each partition made or dropped holds a lock on itself, its TOAST table and each of its indexes (~20 a
 * day for events and raw_chunks) until the commit, and PostgreSQL's lock table holds
 * max_locks_per_transaction (64) × connections in all, shared by every session.
 */
const DROP_BATCH = 40;
const MOVE_BATCH = 10;

/**
 * How long a phase waits for a lock (`locked`): long enough for the store's own short transactions
 * (an ingest batch, a query), short enough that the queries queued behind the phase's request while it
 * waits are held up no longer than that.
 */
const LOCK_TIMEOUT = '2s';
/** How long the rebuild of the default partitions' indexes waits for a lock or an older transaction (it blocks no reader or writer). */
const REBUILD_LOCK_TIMEOUT = '10s';

/** Tries of a phase's locks without waiting, a little apart, before the one that waits. */
const NOWAIT_TRIES = 20;

const LOCK_NOT_AVAILABLE = '55P03';
const DEADLOCK = '40P01';
const codeOf = (e: unknown): string | undefined => (e as { code?: string } | null)?.code;

/**
 * The `store-maintenance` job's work. Each phase is its own transaction under the transaction-level
 * advisory lock (two workers never do it at once), so a crash or a failure between phases leaves
 * what was committed done and the next run does the rest; and no phase holds more locks than
 * PostgreSQL's lock table takes, however many days a store holds:
 * 1. `ahead`: day partitions of `events` from yesterday to `aheadDays` ahead (events_day_partition,
 *    migration 021), first and alone: a later phase that fails cannot keep them from being made;
 * 2. `move`: rows that went to events_default (a backfill of old trail files, or an upgrade's older
 *    days) and are within the retention get their day's partition (moved out of the default one),
 *    MOVE_BATCH days to a transaction, at most `maxSplitDays` days a run; rows dated past the
 *    partitions made ahead (a clock far off) stay in events_default until the retention deletes them;
 * 3. `drop`: day partitions wholly older than `now - retention` are dropped, oldest first, DROP_BATCH
 *    to a transaction (DROP TABLE: no row-by-row delete, no dead rows, the disk space comes back at
 *    once), with their raw records' chunks (raw_chunks_YYYYMMDD, migration 022);
 * 4. stragglers in events_default and raw_chunks_default past the cutoff, flow hits, source rejects
 *    and kept reports past their own retention are deleted; this runs whatever became of 1–3;
 * 5. `rebuild`: once rows have left the default partitions, their indexes are rebuilt (see below).
 * A phase that makes or drops partitions first locks what it changes under others (`locked`): the
 * default partitions, or the parents. A phase whose locks do not come is left for the next run
 * (`skipped`), so a long reader such as pg_dump holds up the store's queries for at most LOCK_TIMEOUT,
 * not the job's whole wait, and the job still does the rest. Days are UTC days whatever the session's
 * time zone. Findings, tickets, approvals and the audit log are not touched.
 */
export async function maintainStore(db: Db, settings: RetentionSettings, opts: MaintenanceOptions = {}): Promise<MaintenanceResult> {
  const now = opts.now ?? Date.now();
  const ahead = opts.aheadDays ?? 3;
  const cutoff = now - settings.events;
  const cutoffDay = dayOf(cutoff);
  const skipped: MaintenanceResult['skipped'] = [];
  const phase = <T>(fn: (tx: Db) => Promise<T>): Promise<T> =>
    db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.storeMaintenance]);
      return fn(tx);
    });
  /**
   * A phase that first locks `tables` (ACCESS EXCLUSIVE; a writer with rows in flight for a default
   * partition finishes before a move, whose check would fail on them). NOWAIT_TRIES tries take them
   * all at once or give up at once, a little apart; then one try waits up to LOCK_TIMEOUT for the first
   * table, holding none of the others, and takes the others without waiting. A session that holds
   * one of them and waits for another (an ingest takes raw_chunks then events, a query events then
   * raw_chunks) therefore never waits for this phase while it waits for that session: no deadlock, and
   * nobody waits for the phase longer than LOCK_TIMEOUT. Every lock the phase then takes (an ATTACH's
   * on the parent) waits at most as long. Undefined when no try got its locks: the step is noted in
   * `skipped`, and the next run does it.
   */
  const locked = async <T>(step: Exclude<MaintenanceStep, 'rebuild'>, tables: string[], fn: (tx: Db) => Promise<T>): Promise<T | undefined> => {
    for (let attempt = 1; attempt <= NOWAIT_TRIES + 1; attempt++) {
      const wait = attempt > NOWAIT_TRIES;
      try {
        return await phase(async (tx) => {
          await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [LOCK_TIMEOUT]);
          if (wait) {
            await tx.query(`LOCK TABLE ${tables[0]} IN ACCESS EXCLUSIVE MODE`);
            if (tables.length > 1) await tx.query(`LOCK TABLE ${tables.slice(1).join(', ')} IN ACCESS EXCLUSIVE MODE NOWAIT`);
          } else {
            await tx.query(`LOCK TABLE ${tables.join(', ')} IN ACCESS EXCLUSIVE MODE NOWAIT`);
          }
          const out = await fn(tx);
          await opts.beforeCommit?.(step, tx);
          return out;
        });
      } catch (e) {
        const code = codeOf(e);
        if (code !== LOCK_NOT_AVAILABLE && code !== DEADLOCK) throw e;
        if (wait) {
          skipped.push({
            step,
            reason: `${tables.join(', ')}: ${(e as Error).message}; another session held a lock on them through ${NOWAIT_TRIES} tries and a wait of ${LOCK_TIMEOUT} (a long query or dump, a migration); the next run does it`,
          });
          return undefined;
        }
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100 * Math.min(attempt, 5)));
      }
    }
    return undefined;
  };
  // In the order the store's queries take them (events, then its records' chunks).
  const DEFAULTS = ['events_default', 'raw_chunks_default'];
  const made: string[] = [];
  const exists = async (tx: Db, name: string): Promise<boolean> =>
    (await tx.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [name])).rows[0]!.r !== null;
  const make = async (tx: Db, day: string): Promise<void> => {
    if (await exists(tx, `events_${day.replaceAll('-', '')}`)) return;
    made.push((await tx.query<{ p: string }>('SELECT events_day_partition($1::date) AS p', [day])).rows[0]!.p);
  };
  /** Rows left the default partitions in this transaction: their indexes are due a rebuild (migration 025). */
  const leftDefaults = (tx: Db) => tx.query('UPDATE store_maintenance SET moves = moves + 1');

  const dropped: string[] = [];
  // Phases 1–3; what fails there is thrown once phase 4 has run.
  let failure: { error: unknown } | undefined;
  try {
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
    if (missing.length > 0) await locked('ahead', DEFAULTS, async (tx) => { for (const day of missing) await make(tx, day); });

    // 2. Days out of the default partitions: whether there are any, then (under the lock) which, read
    // again, as a writer that had rows in flight has committed them by then; MOVE_BATCH at a time.
    const strayDays = async (tx: Db, limit: number): Promise<string[]> =>
      (
        await tx.query<{ d: string }>(
          `SELECT DISTINCT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d FROM events_default WHERE time >= $1::timestamptz AND time < $2::timestamptz ORDER BY 1 LIMIT $3`,
          [startOf(cutoffDay), startOf(dayOf(now + (ahead + 1) * DAY)), limit],
        )
      ).rows.map((r) => r.d);
    let left = opts.maxSplitDays ?? 120;
    if ((await phase((tx) => strayDays(tx, 1))).length > 0) {
      while (left > 0) {
        const batch = Math.min(MOVE_BATCH, left);
        const n = await locked('move', DEFAULTS, async (tx) => {
          const stray = await strayDays(tx, batch);
          for (const d of stray) await make(tx, d);
          if (stray.length > 0) await leftDefaults(tx);
          return stray.length;
        });
        if (n === undefined || n < batch) break;
        left -= n;
      }
    }

    // 3. Whole days past the retention. A day's events and the chunks of their raw records (migration 022) go together.
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
      const done = await locked('drop', ['ONLY events', 'ONLY raw_chunks'], async (tx) => {
        for (const { name } of batch) {
          // Gone already (another run between the listing and here): nothing to do.
          if (!(await exists(tx, name))) continue;
          await tx.query(`DROP TABLE ${name}`);
          // The result names the days' events partitions; their chunks' partitions go with them.
          if (name.startsWith('events_')) dropped.push(name);
        }
        return true;
      });
      if (!done) break; // the parents are busy: the next batches would wait as long for nothing
    }
    dropped.sort();
  } catch (e) {
    failure = { error: e };
  }

  // 4. Rows one by one: the default partitions' stragglers and the small tables.
  const deleted = await phase(async (tx) => {
    const del = async (sql: string, keep: number | null): Promise<number> =>
      keep === null ? 0 : (await tx.query(sql, [new Date(now - keep).toISOString()])).rowCount;
    const out = {
      events: (await tx.query('DELETE FROM events_default WHERE time < $1::timestamptz', [startOf(cutoffDay)])).rowCount,
      rawChunks: (await tx.query('DELETE FROM raw_chunks_default WHERE time < $1::timestamptz', [startOf(cutoffDay)])).rowCount,
      flowHits: await del('DELETE FROM flow_hits WHERE time < $1', settings.flowHits),
      rejects: await del('DELETE FROM source_rejects WHERE at < $1', settings.rejects),
      reports: await del('DELETE FROM reports WHERE created_at < $1', settings.reports),
    };
    if (out.events + out.rawChunks > 0) await leftDefaults(tx);
    return out;
  });
  if (failure) throw failure.error;

  // 5. Rows moved out of the default partitions leave their indexes as large as before, and every
  // query whose range the partitions cannot prune at plan time still walks them (bench:dashboard: 599
  // pages and ~6 ms per query to find nothing in an emptied events_default after a 1,000,000-event
  // backfill). Rebuilt once the move is committed (in its own transaction the moved rows still count),
  // they are as small as what is left (bench:ingest: 547 → 363 B an event of indexes after a
  // 200,000-event backfill).
  const rebuilt = await rebuildDefaults(db, skipped);
  return { made, dropped, deleted, skipped, rebuilt };
}

/**
 * The default partitions' indexes rebuilt, when rows have left them since the last rebuild that
 * finished (store_maintenance, migration 025: due until one finishes, whatever stopped the others).
 * On a server CONCURRENTLY: readers and writers go on beside it, and it waits at most
 * REBUILD_LOCK_TIMEOUT for a lock or for older transactions to end. One that does not finish leaves
 * invalid copies of indexes (`…_ccnew`), removed by the next, which rebuilds again.
 */
async function rebuildDefaults(db: Db, skipped: MaintenanceResult['skipped']): Promise<boolean> {
  const due = (await db.query<{ moves: number; rebuilt: number }>('SELECT moves, rebuilt FROM store_maintenance')).rows[0];
  if (!due || due.moves <= due.rebuilt) return false;
  try {
    await db.session(async (s) => {
      const server = s.kind === 'postgres';
      if (server) await s.query(`SET lock_timeout = '${REBUILD_LOCK_TIMEOUT}'`);
      const leftovers = await s.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE i.indrelid IN ('events_default'::regclass, 'raw_chunks_default'::regclass) AND NOT i.indisvalid AND c.relname ~ '_cc(new|old)[0-9]*$'`,
      );
      for (const { name } of leftovers.rows) await s.query(`DROP INDEX ${server ? 'CONCURRENTLY ' : ''}IF EXISTS "${name.replaceAll('"', '""')}"`);
      for (const t of ['events_default', 'raw_chunks_default']) {
        await s.query(`VACUUM ${t}`);
        await s.query(`REINDEX TABLE ${server ? 'CONCURRENTLY ' : ''}${t}`);
      }
      await s.query('UPDATE store_maintenance SET rebuilt = greatest(rebuilt, $1)', [due.moves]);
    });
    return true;
  } catch (e) {
    const code = codeOf(e);
    if (code !== LOCK_NOT_AVAILABLE && code !== DEADLOCK) throw e;
    skipped.push({
      step: 'rebuild',
      reason: `events_default, raw_chunks_default: ${(e as Error).message}; a lock, or a transaction older than the rebuild, was held over ${REBUILD_LOCK_TIMEOUT}; the next run rebuilds them`,
    });
    return false;
  }
}
