import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { CronExpressionParser } from 'cron-parser';
import { TrailbotError } from '../errors.ts';
import type { Db } from '../store/index.ts';
import { priorityOf } from './jobs.ts';
import { KEEP_COMPLETED_S, KEEP_FAILED_S } from './bullmq.ts';
import { backoffDelay, isUnrecoverable, JOB_STATES, rateLimitedDelay, retryAfterOf, type JobInfo, type JobQueue, type JobState, type NewJob, type Processor, type RunningJob, type Schedule, type WorkOptions } from './queue.ts';
import { isoText } from '../store/sql.ts';

/**
 * The inline backend: for the embedded default (no Redis, no DATABASE_URL) jobs live in the store's
 * own `runtime_jobs` table and are worked in the same process, by the same processors BullMQ runs.
 * It keeps BullMQ's semantics: the job id is the idempotency key, retries back off exponentially,
 * failed jobs stay visible, schedules are upserted under stable ids, and a job whose lease ran out
 * while active (its process died) is taken again. Claims use FOR UPDATE SKIP LOCKED, so on a
 * PostgreSQL store several processes could share it; on the embedded store there is only one.
 */

interface JobRow {
  id: string;
  name: string;
  data: unknown;
  state: JobState;
  attempts: number;
  attempts_made: number;
  stalled: number;
  backoff_ms: number;
  failed_reason: string | null;
  return_value: unknown;
  created_at: string | null;
  processed_at: string | null;
  finished_at: string | null;
  /** Only on a claimed row: created_at in ms. */
  created_ms?: string | number | null;
}

const MAX_STALLED = 2;
const COLS = `id, name, data, state, attempts, attempts_made, stalled, backoff_ms, failed_reason, return_value, ${isoText('created_at', 'ms')} AS created_at, ${isoText('processed_at', 'ms')} AS processed_at, ${isoText('finished_at', 'ms')} AS finished_at`;

function toInfo(r: JobRow): JobInfo {
  return {
    id: r.id,
    name: r.name,
    data: r.data,
    state: r.state,
    attemptsMade: r.attempts_made,
    attempts: r.attempts,
    failedReason: r.failed_reason ?? undefined,
    // Until the job completes, return_value holds the rate-limited tries' count (see finish).
    returnValue: r.state === 'completed' ? (r.return_value ?? undefined) : undefined,
    createdAt: r.created_at ?? undefined,
    processedAt: r.processed_at ?? undefined,
    finishedAt: r.finished_at ?? undefined,
  };
}

function nextRun(s: { every_ms: number | null; pattern: string | null; tz: string | null }, from: Date): Date {
  if (s.pattern) return CronExpressionParser.parse(s.pattern, { currentDate: from, tz: s.tz ?? 'UTC' }).next().toDate();
  return new Date(from.getTime() + Number(s.every_ms));
}

/** A claimed row's rate-limited tries so far and its creation time, for rateLimitedDelay. */
function rateLimited(row: JobRow): Pick<RunningJob, 'rateLimitedRetries' | 'createdAtMs'> {
  const n = (row.return_value as { rateLimitedRetries?: unknown } | null)?.rateLimitedRetries;
  return { rateLimitedRetries: typeof n === 'number' ? n : 0, createdAtMs: row.created_ms == null ? undefined : Number(row.created_ms) };
}

/** A schedule's job is `repeat-<schedule id>-<due ms>` (fireSchedules): when it was due, on every try. */
function scheduledAt(id: string): string | undefined {
  const m = /^repeat-.+-(\d+)$/.exec(id);
  return m ? new Date(Number(m[1])).toISOString() : undefined;
}

export interface InlineOptions {
  /** How often an idle worker looks for due jobs and schedules. */
  pollMs?: number;
}

export function openInlineQueue(db: Db, name: string, { pollMs = 250 }: InlineOptions = {}): JobQueue {
  const wake = new EventEmitter();
  wake.setMaxListeners(100);
  const loops: { close(): Promise<void> }[] = [];

  const insertJob = async (q: Db, j: NewJob): Promise<boolean> => {
    const delay = j.delayMs ?? 0;
    const r = await q.query(
      `INSERT INTO runtime_jobs (queue, id, name, data, state, attempts, backoff_ms, run_at, priority)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, now() + $8 * interval '1 millisecond', $9)
       ON CONFLICT (queue, id) DO NOTHING`,
      [name, j.id, j.name, JSON.stringify(j.data ?? null), delay > 0 ? 'delayed' : 'waiting', j.attempts, j.backoffMs, delay, j.priority ?? 0],
    );
    return r.rowCount > 0;
  };

  const jq: JobQueue = {
    backend: 'inline',
    name,
    async add(j) {
      const added = await insertJob(db, j);
      if (added) wake.emit('job');
      return { id: j.id, duplicate: !added };
    },
    async addMany(jobs) {
      for (let i = 0; i < jobs.length; i += 1000) {
        const part = jobs.slice(i, i + 1000);
        await db.query(
          `INSERT INTO runtime_jobs (queue, id, name, data, state, attempts, backoff_ms, priority)
           SELECT $1, u.id, u.name, u.data::jsonb, 'waiting', u.attempts, u.backoff_ms, u.priority
           FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::int[]) AS u(id, name, data, attempts, backoff_ms, priority)
           ON CONFLICT (queue, id) DO NOTHING`,
          [name, part.map((j) => j.id), part.map((j) => j.name), part.map((j) => JSON.stringify(j.data ?? null)), part.map((j) => j.attempts), part.map((j) => j.backoffMs), part.map((j) => j.priority ?? 0)],
        );
      }
      wake.emit('job');
    },
    async get(id) {
      const r = await db.query<JobRow>(`SELECT ${COLS} FROM runtime_jobs WHERE queue = $1 AND id = $2`, [name, id]);
      return r.rows[0] ? toInfo(r.rows[0]) : undefined;
    },
    async list(state, limit) {
      const order = state === 'completed' || state === 'failed' ? 'finished_at DESC' : state === 'active' ? 'processed_at DESC' : 'run_at, created_at';
      const r = await db.query<JobRow>(`SELECT ${COLS} FROM runtime_jobs WHERE queue = $1 AND state = $2 ORDER BY ${order} LIMIT $3`, [name, state, limit]);
      return r.rows.map(toInfo);
    },
    async retry(id) {
      const job = await jq.get(id);
      if (!job) throw new TrailbotError('E_USAGE', `no job ${id} in queue ${name}`, { hint: 'see `trailbot jobs failed` for the ids of failed jobs' });
      if (job.state !== 'failed') throw new TrailbotError('E_USAGE', `job ${id} is ${job.state}, not failed; only failed jobs can be retried`);
      await db.query(
        `UPDATE runtime_jobs SET state = 'waiting', attempts_made = 0, stalled = 0, run_at = now(), finished_at = NULL, failed_reason = NULL, return_value = NULL
         WHERE queue = $1 AND id = $2 AND state = 'failed'`,
        [name, id],
      );
      wake.emit('job');
    },
    async counts() {
      const r = await db.query<{ state: JobState; n: number }>('SELECT state, count(*)::int AS n FROM runtime_jobs WHERE queue = $1 GROUP BY state', [name]);
      const out = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
      for (const row of r.rows) out[row.state] = Number(row.n);
      return out;
    },
    async schedule(s: Schedule) {
      const spec = { every_ms: s.every ?? null, pattern: s.pattern ?? null, tz: s.tz ?? null };
      const first = s.pattern ? nextRun(spec, new Date()) : new Date();
      // Same id, same timing: keep the next run where it is, so restarts never add a run.
      await db.query(
        `INSERT INTO runtime_schedules AS s (queue, id, every_ms, pattern, tz, name, data, opts, next_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9)
         ON CONFLICT (queue, id) DO UPDATE SET
           name = excluded.name, data = excluded.data, opts = excluded.opts, every_ms = excluded.every_ms, pattern = excluded.pattern, tz = excluded.tz,
           next_at = CASE WHEN s.every_ms IS NOT DISTINCT FROM excluded.every_ms AND s.pattern IS NOT DISTINCT FROM excluded.pattern
                            AND s.tz IS NOT DISTINCT FROM excluded.tz THEN s.next_at ELSE excluded.next_at END`,
        [name, s.id, spec.every_ms, spec.pattern, spec.tz, s.name, JSON.stringify(s.data ?? null), JSON.stringify({ attempts: s.attempts, backoffMs: s.backoffMs }), first.toISOString()],
      );
      wake.emit('job');
    },
    async unschedule(id) {
      const r = await db.query('DELETE FROM runtime_schedules WHERE queue = $1 AND id = $2', [name, id]);
      return r.rowCount > 0;
    },
    async schedules() {
      const r = await db.query<{ id: string; name: string; every_ms: number | null; pattern: string | null; next_at: string }>(
        `SELECT id, name, every_ms, pattern, ${isoText('next_at', 'ms')} AS next_at FROM runtime_schedules WHERE queue = $1 ORDER BY id`,
        [name],
      );
      return r.rows.map((s) => ({ id: s.id, name: s.name, every: s.every_ms === null ? undefined : Number(s.every_ms), pattern: s.pattern ?? undefined, next: s.next_at }));
    },
    async ping() {
      await db.query('SELECT 1 FROM runtime_jobs LIMIT 1');
    },
    async work(processor: Processor, opts: WorkOptions) {
      const loop = startLoop(db, name, processor, opts, wake, pollMs);
      loops.push(loop);
      return loop;
    },
    async close() {
      await Promise.all(loops.map((l) => l.close()));
    },
  };
  return jq;
}

function startLoop(db: Db, name: string, processor: Processor, opts: WorkOptions, wake: EventEmitter, pollMs: number): { close(): Promise<void> } {
  const lockMs = opts.lockDurationMs ?? 30_000;
  const token = randomUUID();
  const running = new Map<string, Promise<void>>();
  let stopping = false;
  let ticking = false;
  let again = false;
  let lastSweep = 0;
  const emit = opts.onEvent ?? (() => undefined);

  const fireSchedules = async (): Promise<void> => {
    await db.transaction(async (tx) => {
      const due = await tx.query<{ id: string; every_ms: number | null; pattern: string | null; tz: string | null; name: string; data: unknown; opts: { attempts: number; backoffMs: number }; next_at_ms: number }>(
        `SELECT id, every_ms, pattern, tz, name, data, opts, (extract(epoch FROM next_at) * 1000)::bigint AS next_at_ms
         FROM runtime_schedules WHERE queue = $1 AND next_at <= now() FOR UPDATE SKIP LOCKED`,
        [name],
      );
      for (const s of due.rows) {
        // One job per scheduled time: the id names the time, so two schedulers never double it.
        await tx.query(
          `INSERT INTO runtime_jobs (queue, id, name, data, state, attempts, backoff_ms, priority)
           VALUES ($1, $2, $3, $4::jsonb, 'waiting', $5, $6, $7) ON CONFLICT (queue, id) DO NOTHING`,
          [name, `repeat-${s.id}-${s.next_at_ms}`, s.name, JSON.stringify(s.data), s.opts.attempts ?? 1, s.opts.backoffMs ?? 1000, priorityOf(s.name, s.data)],
        );
        const next = nextRun(s, new Date(Math.max(Date.now(), Number(s.next_at_ms))));
        await tx.query('UPDATE runtime_schedules SET next_at = $3, iterations = iterations + 1 WHERE queue = $1 AND id = $2', [name, s.id, next.toISOString()]);
      }
    });
  };

  const sweep = async (): Promise<void> => {
    lastSweep = Date.now();
    await db.query(
      `DELETE FROM runtime_jobs WHERE queue = $1 AND ((state = 'completed' AND finished_at < now() - $2 * interval '1 second')
         OR (state = 'failed' AND finished_at < now() - $3 * interval '1 second'))`,
      [name, KEEP_COMPLETED_S, KEEP_FAILED_S],
    );
  };

  const finish = async (row: JobRow, outcome: { ok: true; value: unknown } | { ok: false; error: unknown }): Promise<void> => {
    const job: RunningJob = { id: row.id, name: row.name, data: row.data, attemptsMade: row.attempts_made, attempts: row.attempts, ...rateLimited(row) };
    if (outcome.ok) {
      await db.query(
        `UPDATE runtime_jobs SET state = 'completed', return_value = $4::jsonb, attempts_made = attempts_made + 1, finished_at = now(), locked_until = NULL
         WHERE queue = $1 AND id = $2 AND lock_token = $3 AND state = 'active'`,
        [name, row.id, token, JSON.stringify(outcome.value ?? null)],
      );
      emit({ type: 'completed', job });
      return;
    }
    const err = outcome.error;
    const reason = err instanceof Error ? err.message : String(err);
    const putOff = rateLimitedDelay(err, job);
    if (putOff !== undefined) {
      // Rate-limited: again after the delay asked, no attempt used; the count waits in return_value.
      await db.query(
        `UPDATE runtime_jobs SET state = 'delayed', failed_reason = $4, locked_until = NULL, run_at = now() + $5 * interval '1 millisecond',
           return_value = jsonb_build_object('rateLimitedRetries', $6::int)
         WHERE queue = $1 AND id = $2 AND lock_token = $3 AND state = 'active'`,
        [name, row.id, token, reason, putOff, (job.rateLimitedRetries ?? 0) + 1],
      );
      emit({ type: 'failed', job, reason, willRetry: true, retryInMs: putOff });
      return;
    }
    const made = row.attempts_made + 1;
    const willRetry = !isUnrecoverable(err) && made < row.attempts;
    if (willRetry) {
      await db.query(
        `UPDATE runtime_jobs SET state = 'delayed', attempts_made = $4, failed_reason = $5, locked_until = NULL,
           run_at = now() + $6 * interval '1 millisecond'
         WHERE queue = $1 AND id = $2 AND lock_token = $3 AND state = 'active'`,
        [name, row.id, token, made, reason, Math.max(backoffDelay(row.backoff_ms, made), retryAfterOf(err) ?? 0)],
      );
    } else {
      await db.query(
        `UPDATE runtime_jobs SET state = 'failed', attempts_made = $4, failed_reason = $5, finished_at = now(), locked_until = NULL
         WHERE queue = $1 AND id = $2 AND lock_token = $3 AND state = 'active'`,
        [name, row.id, token, made, reason],
      );
    }
    emit({ type: 'failed', job, reason, willRetry });
  };

  const runOne = async (row: JobRow): Promise<void> => {
    const renew = setInterval(() => {
      db.query(`UPDATE runtime_jobs SET locked_until = now() + $4 * interval '1 millisecond' WHERE queue = $1 AND id = $2 AND lock_token = $3`, [name, row.id, token, lockMs]).catch(
        (e: unknown) => emit({ type: 'error', error: e as Error }),
      );
    }, Math.max(50, lockMs / 2));
    let outcome: { ok: true; value: unknown } | { ok: false; error: unknown };
    try {
      const job = { id: row.id, name: row.name, data: row.data, attemptsMade: row.attempts_made, attempts: row.attempts, scheduledAt: scheduledAt(row.id), ...rateLimited(row) };
      outcome = { ok: true, value: await processor(job) };
    } catch (error) {
      outcome = { ok: false, error };
    } finally {
      clearInterval(renew);
    }
    await finish(row, outcome);
  };

  const tick = async (): Promise<void> => {
    if (ticking) {
      again = true;
      return;
    }
    ticking = true;
    try {
      do {
        again = false;
        if (stopping) return;
        if (Date.now() - lastSweep > 600_000) await sweep();
        await fireSchedules();
        const room = opts.concurrency - running.size;
        if (room <= 0) return;
        const claimed = await db.query<JobRow>(
          `UPDATE runtime_jobs j SET state = 'active', lock_token = $3, locked_until = now() + $4 * interval '1 millisecond', processed_at = now(),
             stalled = CASE WHEN j.state = 'active' THEN j.stalled + 1 ELSE j.stalled END
           FROM (SELECT queue, id FROM runtime_jobs
                 WHERE queue = $1 AND ((state IN ('waiting', 'delayed') AND run_at <= now()) OR (state = 'active' AND locked_until < now()))
                 ORDER BY priority, run_at, created_at LIMIT $2 FOR UPDATE SKIP LOCKED) c
           WHERE j.queue = c.queue AND j.id = c.id
           RETURNING j.id, j.name, j.data, j.state, j.attempts, j.attempts_made, j.stalled, j.backoff_ms, j.failed_reason, j.return_value,
             NULL AS created_at, NULL AS processed_at, NULL AS finished_at, (extract(epoch FROM j.created_at) * 1000)::bigint AS created_ms`,
          [name, room, token, lockMs],
        );
        for (const row of claimed.rows) {
          if (row.stalled > 0) emit({ type: 'stalled', jobId: row.id });
          if (row.stalled > MAX_STALLED) {
            await finish(row, { ok: false, error: Object.assign(new Error(`job stalled more than ${MAX_STALLED} times (its worker kept dying)`), { name: 'UnrecoverableError' }) });
            again = true;
            continue;
          }
          const p = runOne(row)
            .catch((e: unknown) => emit({ type: 'error', error: e as Error }))
            .finally(() => {
              running.delete(row.id);
              void tick();
            });
          running.set(row.id, p);
        }
        if (claimed.rows.length === room) again = true;
      } while (again);
    } catch (e) {
      emit({ type: 'error', error: e as Error });
    } finally {
      ticking = false;
    }
  };

  const onJob = (): void => void tick();
  wake.on('job', onJob);
  const timer = setInterval(onJob, pollMs);
  void tick();
  return {
    async close() {
      stopping = true;
      clearInterval(timer);
      wake.off('job', onJob);
      while (ticking) await new Promise((r) => setTimeout(r, 10));
      await Promise.all(running.values());
    },
  };
}
