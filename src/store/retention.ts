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
const PARTITION = /^(?:events|raw_chunks)_(\d{4})(\d{2})(\d{2})$/;

/**
 * The `store-maintenance` job's work, under one transaction-level advisory lock (two workers never
 * do it at once):
 * 1. day partitions of `events` from yesterday to `aheadDays` ahead (events_day_partition, migration 021);
 * 2. rows that went to events_default (a backfill of old trail files) and are within the retention get
 *    their day's partition (moved out of the default one); rows dated past the partitions made ahead (a
 *    clock far off) stay in events_default until the retention deletes them;
 * 3. day partitions wholly older than `now - retention` are dropped (DROP TABLE: no row-by-row delete,
 *    no dead rows, the disk space comes back at once), with their raw records' chunks (raw_chunks_YYYYMMDD,
 *    migration 022); stragglers in events_default and raw_chunks_default are deleted;
 * 4. flow hits, source rejects and kept reports past their own retention are deleted.
 * Findings, tickets, approvals and the audit log are not touched.
 */
export async function maintainStore(db: Db, settings: RetentionSettings, opts: MaintenanceOptions = {}): Promise<MaintenanceResult> {
  const now = opts.now ?? Date.now();
  const ahead = opts.aheadDays ?? 3;
  const cutoff = now - settings.events;
  const cutoffDay = dayOf(cutoff);
  let moved = false;
  const result = await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.storeMaintenance]);
    const made: string[] = [];
    const make = async (day: string): Promise<void> => {
      const exists = (await tx.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [`events_${day.replaceAll('-', '')}`])).rows[0]!.r;
      if (exists) return;
      made.push((await tx.query<{ p: string }>('SELECT events_day_partition($1::date) AS p', [day])).rows[0]!.p);
    };
    for (let d = -1; d <= ahead; d++) {
      const day = dayOf(now + d * DAY);
      if (day >= cutoffDay) await make(day);
    }
    const stray = await tx.query<{ d: string }>(
      `SELECT DISTINCT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS d FROM events_default WHERE time >= $1::date AND time < $2::date ORDER BY 1 LIMIT $3`,
      [cutoffDay, dayOf(now + (ahead + 1) * DAY), opts.maxSplitDays ?? 120],
    );
    for (const { d } of stray.rows) await make(d);
    moved = stray.rows.length > 0;

    // A day's events and the chunks of their raw records (migration 022) go together.
    const parts = await tx.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent IN ('events'::regclass, 'raw_chunks'::regclass) ORDER BY 1`,
    );
    const dropped: string[] = [];
    for (const { name } of parts.rows) {
      const m = PARTITION.exec(name);
      if (!m || `${m[1]}-${m[2]}-${m[3]}` >= cutoffDay) continue;
      await tx.query(`DROP TABLE ${name}`);
      // The result names the days' events partitions; their chunks' partitions go with them.
      if (name.startsWith('events_')) dropped.push(name);
    }
    const del = async (sql: string, keep: number | null): Promise<number> =>
      keep === null ? 0 : (await tx.query(sql, [new Date(now - keep).toISOString()])).rowCount;
    const deleted = {
      events: (await tx.query('DELETE FROM events_default WHERE time < $1::date', [cutoffDay])).rowCount,
      rawChunks: (await tx.query('DELETE FROM raw_chunks_default WHERE time < $1::date', [cutoffDay])).rowCount,
      flowHits: await del('DELETE FROM flow_hits WHERE time < $1', settings.flowHits),
      rejects: await del('DELETE FROM source_rejects WHERE at < $1', settings.rejects),
      reports: await del('DELETE FROM reports WHERE created_at < $1', settings.reports),
    };
    return { made, dropped, deleted };
  });
  // Rows moved out of the default partitions leave their indexes as large as before, and every query
  // whose range the partitions cannot prune at plan time still walks them (bench:dashboard: 599 pages
  // and ~6 ms per query to find nothing in an emptied events_default after a 1,000,000-event backfill).
  // Rebuilt once the move is committed (in its own transaction the moved rows still count), they are as
  // small as what is left (bench:ingest: 547 → 363 B an event of indexes after a 200,000-event backfill);
  // the lock is held only for that, on a small table now.
  if (moved) {
    for (const t of ['events_default', 'raw_chunks_default']) {
      await db.query(`VACUUM ${t}`);
      await db.query(`REINDEX TABLE ${t}`);
    }
  }
  return result;
}
