import type { Db } from './db.ts';
import { utcDay as dayOf } from '../time.ts';
import { ADVISORY_LOCKS, pgCode as codeOf, PG_CODES } from './sql.ts';

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

/** What a run that then failed had committed: on its error, as `maintenance`. */
export type MaintenanceDone = Pick<MaintenanceResult, 'made' | 'dropped'> & { deleted: MaintenanceResult['deleted'] | null };

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
/** In the waiting try, tries of the other tables once the first is held, SECOND_GAP_MS apart. */
const SECOND_TRIES = 10;
const SECOND_GAP_MS = 20;

const LOCK_NOT_AVAILABLE = PG_CODES.lockNotAvailable;
const DEADLOCK = PG_CODES.deadlock;

/**
 * The `store-maintenance` job's work. Each phase is its own transaction under the transaction-level
 * advisory lock (two workers never do it at once), so a crash or a failure between phases leaves
 * what was committed done and the next run does the rest; and no phase holds more locks than
 * PostgreSQL's lock table takes, however many days a store holds:
 * 1. `ahead`: day partitions of `events` from yesterday to `aheadDays` ahead (events_day_partition,
 *    migration 021), first and alone: a later phase that fails cannot keep them from being made;
 * 2. `move`: rows that went to events_default (a backfill of old trail files, or an upgrade's older
 *    days) and are within the retention get their day's partition (moved out of the default one),
 *    MOVE_BATCH days to a transaction, at most `maxSplitDays` days a run, each batch copied first
 *    without the lock (migration 026); rows dated past the partitions made ahead (a clock far off)
 *    stay in events_default until the retention deletes them;
 * 3. `drop`: day partitions wholly older than `now - retention` are dropped, oldest first, DROP_BATCH
 *    to a transaction (DROP TABLE: no row-by-row delete, no dead rows, the disk space comes back at
 *    once), with their raw records' chunks (raw_chunks_YYYYMMDD, migration 022);
 * 4. stragglers in events_default and raw_chunks_default past the cutoff, flow hits, source rejects
 *    and kept reports past their own retention are deleted; this runs whatever became of 1–3;
 * 5. `rebuild`: once enough rows have left the default partitions, their indexes are rebuilt (see below).
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
   * partition finishes before a move, whose check would fail on them). NOWAIT_TRIES tries take them all
   * at once or give up at once, a little apart. Then one try per table waits up to LOCK_TIMEOUT for
   * that table, holding none of the others, and takes the others without waiting (SECOND_TRIES tries,
   * a few ms apart): first in the order ingest takes them (a batch's chunks, then its events: the
   * writers that held the first have committed by then, and new ones queue behind it), then the other
   * way round (a query that read events and goes on to read the chunks has finished by then). A
   * session that holds one of them and waits for another therefore never waits for this phase while it
   * waits for that session: no deadlock, and nobody waits for the phase longer than LOCK_TIMEOUT at a
   * time. Every lock the phase then takes (an ATTACH's on the parent) waits at most as long. Undefined
   * when no try got its locks: the step is noted in `skipped`, with who held them, and the next run
   * does it.
   */
  const locked = async <T>(step: Exclude<MaintenanceStep, 'rebuild'>, tables: string[], fn: (tx: Db) => Promise<T>): Promise<T | undefined> => {
    const orders = [tables, ...tables.slice(1).map((t) => [t, ...tables.filter((o) => o !== t)])];
    const missed: string[] = [];
    for (let attempt = 1; attempt <= NOWAIT_TRIES + orders.length; attempt++) {
      /** The order of a waiting try; undefined for the tries of all at once. */
      const order = attempt > NOWAIT_TRIES ? orders[attempt - NOWAIT_TRIES - 1]! : undefined;
      /** In a waiting try, what did not come: its first table within LOCK_TIMEOUT, or the others after it. */
      let stuck = 'first' as 'first' | 'rest' | 'step';
      try {
        return await phase(async (tx) => {
          await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [LOCK_TIMEOUT]);
          if (order) {
            await tx.query(`LOCK TABLE ${order[0]} IN ACCESS EXCLUSIVE MODE`);
            stuck = 'rest';
            if (order.length > 1) await lockRest(tx, order.slice(1));
          } else {
            await tx.query(`LOCK TABLE ${tables.join(', ')} IN ACCESS EXCLUSIVE MODE NOWAIT`);
          }
          stuck = 'step';
          const out = await fn(tx);
          await opts.beforeCommit?.(step, tx);
          return out;
        });
      } catch (e) {
        const code = codeOf(e);
        if (code !== LOCK_NOT_AVAILABLE && code !== DEADLOCK) throw e;
        if (order) {
          if (stuck === 'step') {
            missed.push(`${order.join(', ')} came, but a lock the step then takes did not (${(e as Error).message})`);
            continue;
          }
          const holders = await lockHolders(db, stuck === 'first' ? order.slice(0, 1) : order.slice(1));
          missed.push(
            stuck === 'first'
              ? `${order[0]} did not come within ${LOCK_TIMEOUT}, held by ${holders}`
              : `${order[0]} came but ${order.slice(1).join(', ')} stayed busy through ${SECOND_TRIES} tries, held by ${holders}`,
          );
          continue;
        }
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100 * Math.min(attempt, 5)));
      }
    }
    skipped.push({
      step,
      reason: `no lock on ${tables.join(', ')} through ${NOWAIT_TRIES} tries of all at once: ${missed.join('; ')}. Sessions keep transactions open on them (a long query, a dump, a migration, or writers that never pause); the next run does it`,
    });
    return undefined;
  };
  // In the order ingest writes them (a batch's chunks, then its events).
  const DEFAULTS = ['raw_chunks_default', 'events_default'];
  const made: string[] = [];
  const exists = async (tx: Db, name: string): Promise<boolean> =>
    (await tx.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [name])).rows[0]!.r !== null;
  /**
   * The days' partitions (those missing), their rows moved out of the defaults (migration 026), in the
   * caller's transaction: the partitions made and the events moved (counted in `made` once committed).
   */
  const make = async (tx: Db, days: string[]): Promise<{ parts: string[]; moved: number }> => {
    const r = (await tx.query<{ parts: string[]; moved: number | string }>('SELECT parts, moved FROM events_day_partitions($1::date[])', [days])).rows[0]!;
    return { parts: r.parts, moved: Number(r.moved) };
  };
  /** `rows` left the default partitions in this transaction: their indexes may be due a rebuild (migrations 025, 026). */
  const leftDefaults = (tx: Db, rows: number) => tx.query('UPDATE store_maintenance SET moves = moves + 1, left_rows = left_rows + $1', [rows]);

  const dropped: string[] = [];
  // Phases 1–3; what fails there is thrown once phase 4 has run.
  let failure: { error: unknown } | undefined;
  try {
    // 0. Copies no move took (its lock did not come, a crash, a run that failed), dropped first: a move
    // uses only a copy its run made. Dropping waits at most LOCK_TIMEOUT for a reader of one (a dump):
    // then it is left for the next run.
    await phase(async (tx) => {
      await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [LOCK_TIMEOUT]);
      const copies = await tx.query<{ name: string }>(
        `SELECT relname AS name FROM pg_class WHERE relkind = 'r' AND relnamespace = current_schema()::regnamespace AND relname ~ '^move_(events|raw_chunks)_[0-9]{8}$'`,
      );
      for (const { name } of copies.rows) {
        await tx.query('SAVEPOINT maintenance_copy');
        try {
          await tx.query(`DROP TABLE IF EXISTS ${name}`);
          await tx.query('RELEASE SAVEPOINT maintenance_copy');
        } catch (e) {
          if (codeOf(e) !== LOCK_NOT_AVAILABLE) throw e;
          await tx.query('ROLLBACK TO SAVEPOINT maintenance_copy');
        }
      }
    });

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
    if (missing.length > 0) {
      const r = await locked('ahead', DEFAULTS, async (tx) => {
        // Today's events went to events_default while its partition was missing: they move with it.
        const m = await make(tx, missing);
        if (m.moved > 0) await leftDefaults(tx, m.moved);
        return m;
      });
      if (r) made.push(...r.parts);
    }

    // 2. Days out of the default partitions, MOVE_BATCH at a time: their rows copied first, without
    // the lock (events_day_stage, migration 026), then under it brought up to date (a writer that had
    // rows in flight has committed them by then), the days deleted from the defaults and the copies
    // attached. Days whose only rows were in flight when listed are the next run's.
    const strayDays = async (tx: Db, limit: number): Promise<string[]> =>
      (
        await tx.query<{ d: string }>(
          `SELECT DISTINCT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d FROM events_default WHERE time >= $1::timestamptz AND time < $2::timestamptz ORDER BY 1 LIMIT $3`,
          [startOf(cutoffDay), startOf(dayOf(now + (ahead + 1) * DAY)), limit],
        )
      ).rows.map((r) => r.d);
    let left = opts.maxSplitDays ?? 120;
    while (left > 0) {
      const batch = Math.min(MOVE_BATCH, left);
      const stray = await phase((tx) => strayDays(tx, batch));
      if (stray.length === 0) break;
      // A copy that cannot drop an earlier one within LOCK_TIMEOUT (a dump reads it): the move goes without copies.
      await phase(async (tx) => {
        await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [LOCK_TIMEOUT]);
        await tx.query('SELECT events_day_stage($1::date[])', [stray]);
      }).catch((e: unknown) => {
        if (codeOf(e) !== LOCK_NOT_AVAILABLE) throw e;
      });
      const r = await locked('move', DEFAULTS, async (tx) => {
        const m = await make(tx, stray);
        if (m.moved > 0) await leftDefaults(tx, m.moved);
        return m;
      });
      if (r === undefined) break;
      made.push(...r.parts);
      if (stray.length < batch) break;
      left -= stray.length;
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
      // The parents (ONLY: not every partition; every query and write goes through them, and a drop
      // locks its parent anyway) and the defaults, first: a drop of a partition locks its default too
      // (its bounds change), and a reader by id or a search takes the defaults before the parents
      // (queries.ts: besideMoves, readSnapshot); taken the other way round, the two deadlocked.
      const done = await locked('drop', ['raw_chunks_default', 'events_default', 'ONLY raw_chunks', 'ONLY events'], async (tx) => {
        const out: string[] = [];
        for (const { name } of batch) {
          // Gone already (another run between the listing and here): nothing to do.
          if (!(await exists(tx, name))) continue;
          await tx.query(`DROP TABLE ${name}`);
          // The result names the days' events partitions; their chunks' partitions go with them.
          if (name.startsWith('events_')) out.push(name);
        }
        return out;
      });
      if (!done) break; // the parents are busy: the next batches would wait as long for nothing
      dropped.push(...done); // committed
    }
    dropped.sort();
  } catch (e) {
    failure = { error: e };
  }

  // 4. Rows one by one: the default partitions' stragglers and the small tables.
  let deleted: MaintenanceResult['deleted'];
  try {
    deleted = await phase(async (tx) => {
      const del = async (sql: string, keep: number | null): Promise<number> =>
        keep === null ? 0 : (await tx.query(sql, [new Date(now - keep).toISOString()])).rowCount;
      const out = {
        events: (await tx.query('DELETE FROM events_default WHERE time < $1::timestamptz', [startOf(cutoffDay)])).rowCount,
        rawChunks: (await tx.query('DELETE FROM raw_chunks_default WHERE time < $1::timestamptz', [startOf(cutoffDay)])).rowCount,
        flowHits: await del('DELETE FROM flow_hits WHERE time < $1', settings.flowHits),
        rejects: await del('DELETE FROM source_rejects WHERE at < $1', settings.rejects),
        reports: await del('DELETE FROM reports WHERE created_at < $1', settings.reports),
      };
      if (out.events + out.rawChunks > 0) await leftDefaults(tx, out.events);
      return out;
    });
  } catch (e) {
    // Said too: what phases 1–3 committed (deleted: none), and the error they met, if any.
    if (e !== null && typeof e === 'object') Object.assign(e, { maintenance: { made, dropped, deleted: null } satisfies MaintenanceDone }, failure ? { cause: failure.error } : {});
    throw e;
  }
  if (failure) {
    // What was committed before the failure, for the job to say (the next run does the rest).
    if (failure.error !== null && typeof failure.error === 'object') Object.assign(failure.error, { maintenance: { made, dropped, deleted } satisfies MaintenanceDone });
    throw failure.error;
  }

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
 * `tables` locked without waiting, in the caller's transaction, which already holds another lock of
 * the phase: SECOND_TRIES tries, each under a savepoint (a refused lock would abort the transaction
 * and give the held one back).
 */
async function lockRest(tx: Db, tables: string[]): Promise<void> {
  for (let i = 1; ; i++) {
    await tx.query('SAVEPOINT maintenance_lock');
    try {
      await tx.query(`LOCK TABLE ${tables.join(', ')} IN ACCESS EXCLUSIVE MODE NOWAIT`);
      await tx.query('RELEASE SAVEPOINT maintenance_lock');
      return;
    } catch (e) {
      if (codeOf(e) !== LOCK_NOT_AVAILABLE || i >= SECOND_TRIES) throw e;
      await tx.query('ROLLBACK TO SAVEPOINT maintenance_lock');
      await new Promise((r) => setTimeout(r, SECOND_GAP_MS));
    }
  }
}

/**
 * Who holds a lock on `tables`, for the operator: process id, application (or kind of backend), state,
 * the lock and how old its transaction is; never the query's text (it may hold values or secrets).
 */
async function lockHolders(db: Db, tables: string[]): Promise<string> {
  try {
    const r = await db.query<{ pid: number; app: string; state: string | null; mode: string; secs: number | null; rel: string }>(
      `SELECT l.pid, coalesce(nullif(a.application_name, ''), a.backend_type, 'unknown') AS app, a.state, l.mode,
              extract(epoch FROM now() - a.xact_start)::int AS secs, l.relation::regclass::text AS rel
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.granted AND l.locktype = 'relation' AND l.relation = ANY ($1::regclass[]) AND l.pid <> pg_backend_pid()
        ORDER BY a.xact_start NULLS LAST LIMIT 5`,
      [tables.map((t) => t.replace(/^ONLY /, ''))],
    );
    if (r.rows.length === 0) return 'sessions gone by now';
    return r.rows
      .map((h) => `pid ${h.pid} (${h.app}${h.state ? `, ${h.state}` : ''}, ${h.mode} on ${h.rel}${h.secs === null ? '' : `, transaction ${h.secs} s old`})`)
      .join(', ');
  } catch {
    return 'sessions that could not be listed';
  }
}

/**
 * The default partitions' indexes rebuilt, once the rows that left them since the last rebuild that
 * finished (store_maintenance.left_rows, migration 026: due until one finishes, whatever stopped the
 * others) are at least a quarter of the rows events_default still holds: a straggler deleted from a
 * default holding a million rows does not rebuild them every hour. On a server CONCURRENTLY: readers
 * and writers go on beside it, and it waits at most REBUILD_LOCK_TIMEOUT for a lock or for older
 * transactions to end. One that does not finish leaves invalid copies of indexes (`…_ccnew`), kept up
 * by every write until removed: the next run removes them first, due or not.
 */
async function rebuildDefaults(db: Db, skipped: MaintenanceResult['skipped']): Promise<boolean> {
  const state = (await db.query<{ moves: number | string; left_rows: number | string }>('SELECT moves, left_rows FROM store_maintenance')).rows[0];
  const left = Number(state?.left_rows ?? 0);
  const leftovers = async (s: Pick<Db, 'query'>) =>
    (
      await s.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
          WHERE i.indrelid IN ('events_default'::regclass, 'raw_chunks_default'::regclass) AND NOT i.indisvalid AND c.relname ~ '_cc(new|old)[0-9]*$'`,
      )
    ).rows.map((r) => r.name);
  if (left <= 0 && (await leftovers(db)).length === 0) return false;
  try {
    return await db.session(async (s) => {
      const server = s.kind === 'postgres';
      if (server) await s.query(`SET lock_timeout = '${REBUILD_LOCK_TIMEOUT}'`);
      for (const name of await leftovers(s)) await s.query(`DROP INDEX ${server ? 'CONCURRENTLY ' : ''}IF EXISTS "${name.replaceAll('"', '""')}"`);
      if (left <= 0) return false;
      // Counted up to what decides it: 4 × left + 1 rows at most.
      const held = Number((await s.query<{ n: number | string }>('SELECT count(*) AS n FROM (SELECT 1 FROM events_default LIMIT $1) x', [4 * left + 1])).rows[0]!.n);
      if (4 * left < held) return false;
      for (const t of ['events_default', 'raw_chunks_default']) {
        await s.query(`VACUUM ${t}`);
        await s.query(`REINDEX TABLE ${server ? 'CONCURRENTLY ' : ''}${t}`);
      }
      await s.query('UPDATE store_maintenance SET rebuilt = greatest(rebuilt, $1), left_rows = greatest(0, left_rows - $2)', [Number(state!.moves), left]);
      return true;
    });
  } catch (e) {
    const code = codeOf(e);
    skipped.push({
      step: 'rebuild',
      reason:
        code === LOCK_NOT_AVAILABLE || code === DEADLOCK
          ? `events_default, raw_chunks_default: ${(e as Error).message}; a lock, or a transaction older than the rebuild, was held over ${REBUILD_LOCK_TIMEOUT}; the next run rebuilds them`
          : `events_default, raw_chunks_default: the rebuild of their indexes failed${code ? ` (${code})` : ''}: ${(e as Error).message}; the next run removes what it left and rebuilds them`,
    });
    return false;
  }
}
