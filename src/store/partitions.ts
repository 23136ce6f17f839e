import { utcDay as dayOf } from '../time.ts';
import type { Db } from './db.ts';
import { ADVISORY_LOCKS, pgCode as codeOf, PG_CODES } from './sql.ts';

const DAY = 86_400_000;
const { lockNotAvailable: LOCK_NOT_AVAILABLE, deadlock: DEADLOCK, canceled: CANCELED } = PG_CODES;

/** Which days ingest gives their own partition as it meets them (see `dayPartitioner`). */
export interface DayPartitionSettings {
  /**
   * How far back from now a day gets its partition at ingest: the events' retention (store.retention).
   * Older rows go to the default partition, where the store-maintenance job deletes them.
   */
  retentionMs: number;
  /** How many days ahead of today (default 3, as the maintenance job): rows later than that (a clock far ahead) go to the default partition. */
  aheadDays?: number;
  /**
   * How long a make tries for the default partitions' locks (default 500 ms). It never waits in their
   * queue: queries wait only for the make itself.
   */
  lockTimeoutMs?: number;
  /**
   * How long the make itself may hold the locks (default 500 ms): it reads the whole default partition
   * to check it (an empty one in the usual case) and moves the day's rows that wait there. A default
   * grown large (an old backfill past the retention, which the job deletes hourly) makes it slower:
   * then it is cancelled and the days are left to the job's move, which copies them first.
   */
  makeTimeoutMs?: number;
  /** How long a day whose make did not get its locks is left to the default partition before ingest tries again (default 30 s). */
  retryAfterMs?: number;
  /** How long after a make cancelled for its time (default 10 min): the job's hourly move does those days meanwhile. */
  slowRetryAfterMs?: number;
  /** Days made in one transaction at most (default 4): a backfill's first batch may meet 90. */
  daysPerMake?: number;
  now?: () => number;
}

export interface DayPartitioner {
  /**
   * The day partitions of `times` (event times, ISO) that the window holds and the store lacks, made
   * before a batch is written. A make whose locks do not come within the timeout leaves its days' rows
   * to the default partition (the maintenance job moves them); it never fails the batch for that.
   */
  ensure(db: Db, times: readonly (string | null)[]): Promise<{ made: string[]; deferred: string[] }>;
}

/** The UTC day (YYYY-MM-DD) of an ISO time; undefined when it is not one. */
function dayOfTime(t: string): string | undefined {
  if (t.length >= 20 && t.endsWith('Z') && t[10] === 'T') return t.slice(0, 10);
  const ms = Date.parse(t);
  return Number.isFinite(ms) ? dayOf(ms) : undefined;
}

/**
 * Day partitions made as ingest meets days (issue 14). Without them a backfill (a trail bucket's
 * 90 days, a first LookupEvents pull) lands in events_default, and moving it out later holds the
 * default partitions' lock for as long as reading them takes (2.3 s for 1,000,000 events in
 * bench:ingest): every query waits that long. Made before the rows come, the partition costs the
 * lock only as long as an empty default takes to check.
 *
 * A make runs in its own transaction, before the batch's, holding nothing else: it takes the
 * maintenance job's advisory lock if free (the job and the makes never interleave; while the job runs
 * the days wait), the parents in the mode ATTACH needs, then both default partitions in ACCESS
 * EXCLUSIVE mode without waiting (tried again and again within `lockTimeoutMs`), then makes the days
 * through events_day_partitions (migration 026) within `makeTimeoutMs`,
 * which moves any of their rows another writer had put in the default partition meanwhile. A writer
 * whose batch was routed to the default partition before the make committed retries it
 * (events.ts, 23514). Known partitions are remembered, so a batch whose days all have theirs costs
 * no query.
 */
export function dayPartitioner(settings: DayPartitionSettings): DayPartitioner {
  const ahead = settings.aheadDays ?? 3;
  const timeoutMs = settings.lockTimeoutMs ?? 500;
  const retryAfter = settings.retryAfterMs ?? 30_000;
  const makeTimeoutMs = settings.makeTimeoutMs ?? 500;
  const slowRetryAfter = settings.slowRetryAfterMs ?? 600_000;
  const perMake = Math.max(1, settings.daysPerMake ?? 4);
  const now = settings.now ?? Date.now;
  const known = new Set<string>();
  /** Days whose make did not get its locks: until when they are left to the default partition. */
  const waiting = new Map<string, number>();

  const list = async (db: Db): Promise<void> => {
    const r = await db.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`);
    for (const { name } of r.rows) {
      const m = /^events_(\d{4})(\d{2})(\d{2})$/.exec(name);
      if (m) known.add(`${m[1]}-${m[2]}-${m[3]}`);
    }
  };

  return {
    async ensure(db, times) {
      const t = now();
      const from = dayOf(t - settings.retentionMs);
      const to = dayOf(t + ahead * DAY);
      const want = new Set<string>();
      let last: string | undefined;
      for (const time of times) {
        if (time === null) continue;
        // Times of a batch mostly share their day: the prefix decides without parsing.
        if (last !== undefined && time.startsWith(last) && time[10] === 'T' && time.endsWith('Z')) continue;
        const day = dayOfTime(time);
        if (day === undefined) continue;
        last = day;
        if (day < from || day > to || known.has(day)) continue;
        const until = waiting.get(day);
        if (until !== undefined && until > t) continue;
        want.add(day);
      }
      if (want.size === 0) return { made: [], deferred: [] };
      // Made by another process (or the maintenance job) since: the catalog says, once per new day.
      await list(db);
      for (const d of [...want]) if (known.has(d)) want.delete(d);
      const days = [...want].sort();
      const made: string[] = [];
      const deferred: string[] = [];
      for (let i = 0; i < days.length; i += perMake) {
        const some = days.slice(i, i + perMake);
        /** Where it gave up: the locks (try again soon) or the make (leave it to the job). */
        let stage = 'locks' as 'locks' | 'make';
        try {
          const parts = await db.transaction(async (tx) => {
            // On the embedded store (one connection) nobody waits beside it: no time limits there.
            const server = db.kind === 'postgres';
            // The store-maintenance job's lock, without waiting (each of its steps takes it, some for
            // seconds): the job's drops lock the parents, then the defaults, the reverse of a make.
            // Shared: makes of other workers go on beside this one (the defaults' lock orders them).
            const free = (await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock_shared($1) AS ok', [ADVISORY_LOCKS.storeMaintenance])).rows[0]!.ok;
            if (!free) throw Object.assign(new Error('the store-maintenance job is running'), { code: LOCK_NOT_AVAILABLE });
            if (server) await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [`${timeoutMs}ms`]);
            // The parents in the mode ATTACH takes them (an ANALYZE of events holds it), first: waiting
            // for it holds no query or write up; met inside the make, it cancelled the make as slow.
            await tx.query('LOCK TABLE ONLY raw_chunks, ONLY events IN SHARE UPDATE EXCLUSIVE MODE');
            // Both defaults at once, without waiting, tried every ~20 ms within the wait: a make never
            // waits holding one of them (a writer reads events, maybe the default, before it writes the
            // chunks, so waiting for one while holding the other deadlocked with it), and nobody queues
            // behind a make that waits.
            const until = Date.now() + timeoutMs;
            for (;;) {
              await tx.query('SAVEPOINT make_locks');
              try {
                await tx.query('LOCK TABLE raw_chunks_default, events_default IN ACCESS EXCLUSIVE MODE NOWAIT');
                await tx.query('RELEASE SAVEPOINT make_locks');
                break;
              } catch (e) {
                if (codeOf(e) !== LOCK_NOT_AVAILABLE || Date.now() >= until) throw e;
                await tx.query('ROLLBACK TO SAVEPOINT make_locks');
                await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
              }
            }
            stage = 'make';
            if (server) await tx.query(`SELECT set_config('statement_timeout', $1, true)`, [`${makeTimeoutMs}ms`]);
            return (await tx.query<{ parts: string[] }>('SELECT parts FROM events_day_partitions($1::date[])', [some])).rows[0]!.parts;
          });
          for (const d of some) {
            known.add(d);
            waiting.delete(d);
          }
          made.push(...parts);
        } catch (e) {
          const code = codeOf(e);
          if (code !== LOCK_NOT_AVAILABLE && code !== DEADLOCK && code !== CANCELED) throw e;
          const slow = stage === 'make' && code === CANCELED;
          // What did not come for these days would not come for the next ones either: they all wait
          // (a batch meeting 40 new days waited 500 ms for each 4, and queries queued behind each).
          const rest = days.slice(i);
          for (const d of rest) waiting.set(d, t + (slow && some.includes(d) ? slowRetryAfter : retryAfter));
          deferred.push(...rest);
          break;
        }
      }
      return { made, deferred };
    },
  };
}
