import { createPostgresBackend, DelayedError, type Job, type JobsOptions, Queue, type QueueOptions, Worker, type WorkerOptions } from 'bullmq';
import { priorityOf } from './jobs.ts';
import { Redis } from 'ioredis';
import { TrailbotError } from '../errors.ts';
import { maskUrl } from '../config/index.ts';
import { backoffDelay, JOB_STATES, type JobInfo, type JobQueue, type JobState, type NewJob, type Processor, rateLimitedDelay, retryAfterOf, type RunningJob, type Schedule, type WorkOptions, withTimeout } from './queue.ts';

/**
 * BullMQ behind the JobQueue interface, on Redis or on BullMQ's PostgreSQL backend. Both take the
 * same options; only the connection and the backend factory differ.
 */

/** Completed jobs are kept this long: within it a second enqueue with the same key is ignored. */
export const KEEP_COMPLETED_S = 14 * 24 * 3600;
/** Failed jobs stay visible (`trailbot jobs failed`) this long. */
export const KEEP_FAILED_S = 30 * 24 * 3600;

export type BullConnection = { kind: 'redis'; url: string } | { kind: 'postgres'; url: string; schema?: string };

/** Where BullMQ keeps its tables in PostgreSQL, apart from the store's. */
export const PG_QUEUE_SCHEMA = 'trailbot_queue';

/**
 * Retries back off exponentially (2^(n-1)·delay, as BullMQ's 'exponential'), but never sooner than
 * an error's retryAfterMs: a custom strategy, which every worker of ours registers (backoffStrategy).
 */
export const BACKOFF_TYPE = 'trailbot';
const backoffStrategy = (attemptsMade: number, _type?: string, err?: Error, job?: { opts: JobsOptions }): number => {
  const base = typeof job?.opts.backoff === 'object' ? (job.opts.backoff.delay ?? 1000) : 1000;
  return Math.max(backoffDelay(base, attemptsMade), retryAfterOf(err) ?? 0);
};

/**
 * A job's rate-limited tries so far: BullMQ counts every start (attemptsStarted) but only failed
 * and finished tries in attemptsMade; a try put off with moveToDelayed (no attempt used) is the
 * difference, less the current try (stalls count too, which only makes the cap come sooner).
 */
function rateLimited(job: Job): Pick<RunningJob, 'rateLimitedRetries' | 'createdAtMs'> {
  return { rateLimitedRetries: Math.max(0, (job.attemptsStarted ?? 0) - job.attemptsMade - 1), createdAtMs: job.timestamp || undefined };
}

function jobOptions(j: Pick<NewJob, 'attempts' | 'backoffMs' | 'delayMs' | 'priority'>): JobsOptions {
  return {
    attempts: j.attempts,
    // BullMQ takes jobs without a priority first, then priority 1, 2, …: the same as ours, 0 = none.
    ...(j.priority ? { priority: j.priority } : {}),
    backoff: { type: BACKOFF_TYPE, delay: j.backoffMs },
    delay: j.delayMs,
    removeOnComplete: { age: KEEP_COMPLETED_S },
    removeOnFail: { age: KEEP_FAILED_S },
  };
}

const iso = (ms: number | undefined): string | undefined => (ms ? new Date(ms).toISOString() : undefined);

/**
 * When a job scheduler's job was due. BullMQ names it `repeat:<scheduler id>:<due ms>`; its timestamp
 * is when the scheduler made it (as the previous run started), and a retry keeps both.
 */
function scheduledAt(job: Job): string | undefined {
  if (!job.repeatJobKey) return undefined;
  const m = /:(\d+)$/.exec(String(job.id));
  return m ? iso(Number(m[1])) : iso(job.opts.timestamp !== undefined && job.opts.delay !== undefined ? job.opts.timestamp + job.opts.delay : undefined);
}

function toInfo(job: Job, state: JobState | 'unknown'): JobInfo {
  return {
    id: String(job.id),
    name: job.name,
    data: job.data,
    state,
    attemptsMade: job.attemptsMade,
    attempts: job.opts.attempts ?? 1,
    failedReason: job.failedReason || undefined,
    returnValue: job.returnvalue ?? undefined,
    createdAt: iso(job.timestamp),
    processedAt: iso(job.processedOn),
    finishedAt: iso(job.finishedOn),
  };
}

export async function openBullQueue(name: string, conn: BullConnection): Promise<JobQueue> {
  // Each Queue/Worker gets its own connection: a Worker blocks on its own, and BullMQ wants
  // maxRetriesPerRequest: null there. Queue connections fail fast so readiness probes answer.
  const redisFor = (worker: boolean): Redis =>
    new Redis(conn.url, worker ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 5000 });
  const pgConn = conn.kind === 'postgres' ? { connectionString: conn.url, schema: conn.schema ?? PG_QUEUE_SCHEMA, migrate: true, max: 4 } : undefined;
  const owned: Redis[] = [];

  const makeQueue = (): Queue => {
    if (pgConn) return new Queue(name, { connection: pgConn } as unknown as QueueOptions, createPostgresBackend as never);
    const r = redisFor(false);
    r.on('error', () => undefined); // reported through ping()/readyz, not as unhandled errors
    owned.push(r);
    return new Queue(name, { connection: r, prefix: 'trailbot' });
  };

  const queue = makeQueue();
  queue.on('error', () => undefined);
  try {
    await withTimeout(queue.waitUntilReady(), 10_000, 'timed out');
  } catch (e) {
    await queue.close().catch(() => undefined);
    for (const r of owned) r.disconnect();
    const where = conn.kind === 'redis' ? `Redis at ${maskUrl(conn.url)}` : `PostgreSQL at ${maskUrl(conn.url)}`;
    throw new TrailbotError('E_QUEUE', `cannot reach the job queue on ${where}: ${(e as Error).message}`, {
      hint: conn.kind === 'redis' ? 'check REDIS_URL and that Redis is running (or unset it to queue jobs in the store)' : 'check DATABASE_URL and that PostgreSQL 13+ is running',
      cause: e,
    });
  }
  const workers: Worker[] = [];

  const jq: JobQueue = {
    backend: conn.kind,
    name,
    async add(j) {
      const existing = await queue.getJob(j.id);
      if (existing) return { id: j.id, duplicate: true };
      await queue.add(j.name, j.data, { ...jobOptions(j), jobId: j.id });
      return { id: j.id, duplicate: false };
    },
    async addMany(jobs) {
      for (let i = 0; i < jobs.length; i += 1000) {
        await queue.addBulk(jobs.slice(i, i + 1000).map((j) => ({ name: j.name, data: j.data, opts: { ...jobOptions(j), jobId: j.id } })));
      }
    },
    async get(id) {
      // State first, then the job: read the other way round, a job finishing between the two
      // reads shows as completed with the attempt count of its previous try.
      const state = (await queue.getJobState(id)) as JobState | 'unknown';
      const job = await queue.getJob(id);
      if (!job) return undefined;
      return toInfo(job, state);
    },
    async list(state, limit) {
      const jobs = await queue.getJobs([state], 0, limit - 1, false);
      return jobs.filter(Boolean).map((j) => toInfo(j as Job, state));
    },
    async retry(id) {
      const job = await queue.getJob(id);
      if (!job) throw new TrailbotError('E_USAGE', `no job ${id} in queue ${name}`, { hint: 'see `trailbot jobs failed` for the ids of failed jobs' });
      const state = await job.getState();
      if (state !== 'failed') throw new TrailbotError('E_USAGE', `job ${id} is ${state}, not failed; only failed jobs can be retried`);
      await job.retry('failed');
    },
    async counts() {
      const c = await queue.getJobCounts(...JOB_STATES, 'prioritized', 'waiting-children');
      const out = Object.fromEntries(JOB_STATES.map((s) => [s, c[s] ?? 0])) as Record<JobState, number>;
      out.waiting += (c.prioritized ?? 0) + (c['waiting-children'] ?? 0);
      return out;
    },
    async schedule(s: Schedule) {
      await queue.upsertJobScheduler(s.id, s.pattern ? { pattern: s.pattern, tz: s.tz } : { every: s.every! }, {
        name: s.name,
        data: s.data,
        opts: { attempts: s.attempts, backoff: { type: BACKOFF_TYPE, delay: s.backoffMs }, ...(priorityOf(s.name, s.data) ? { priority: priorityOf(s.name, s.data) } : {}), removeOnComplete: { age: KEEP_COMPLETED_S }, removeOnFail: { age: KEEP_FAILED_S } },
      });
    },
    async unschedule(id) {
      return queue.removeJobScheduler(id);
    },
    async schedules() {
      const all = await queue.getJobSchedulers(0, -1, true);
      return all.map((s) => ({ id: s.key, name: s.name, every: s.every ? Number(s.every) : undefined, pattern: s.pattern ?? undefined, next: iso(s.next) }));
    },
    async ping() {
      await queue.getJobCounts('waiting');
    },
    async work(processor: Processor, opts: WorkOptions) {
      const wopts: WorkerOptions = {
        concurrency: opts.concurrency,
        lockDuration: opts.lockDurationMs ?? 30_000,
        stalledInterval: opts.stalledIntervalMs ?? 30_000,
        maxStalledCount: 2,
        settings: { backoffStrategy },
        connection: undefined as never,
      };
      let worker: Worker;
      const ev = opts.onEvent;
      const running = (job: Job) => ({ id: String(job.id), name: job.name, data: job.data, attemptsMade: job.attemptsMade, attempts: job.opts.attempts ?? 1 });
      const run = async (job: Job, token?: string) => {
        const rl = rateLimited(job);
        try {
          return await processor({ id: String(job.id), name: job.name, data: job.data, attemptsMade: job.attemptsMade, attempts: job.opts.attempts ?? 1, scheduledAt: scheduledAt(job), ...rl });
        } catch (e) {
          const delay = token ? rateLimitedDelay(e, rl) : undefined;
          if (delay === undefined) throw e;
          // Rate-limited: back to delayed for the time asked, without using an attempt (BullMQ's
          // manual delay: moveToDelayed, then DelayedError so the worker leaves the job there).
          await job.moveToDelayed(Date.now() + delay, token);
          ev?.({ type: 'failed', job: running(job), reason: e instanceof Error ? e.message : String(e), willRetry: true, retryInMs: delay });
          throw new DelayedError();
        }
      };
      if (pgConn) {
        worker = new Worker(name, run, { ...wopts, connection: pgConn } as unknown as WorkerOptions, createPostgresBackend as never);
      } else {
        const r = redisFor(true);
        r.on('error', () => undefined);
        owned.push(r);
        worker = new Worker(name, run, { ...wopts, connection: r, prefix: 'trailbot' });
      }
      worker.on('error', (error) => ev?.({ type: 'error', error }));
      worker.on('completed', (job) => ev?.({ type: 'completed', job: running(job) }));
      worker.on('failed', (job, err) => {
        if (!job) return;
        const willRetry = err.name !== 'UnrecoverableError' && job.attemptsMade < (job.opts.attempts ?? 1);
        ev?.({ type: 'failed', job: running(job), reason: err.message, willRetry });
      });
      worker.on('stalled', (jobId) => ev?.({ type: 'stalled', jobId }));
      workers.push(worker);
      await worker.waitUntilReady();
      return {
        close: async () => {
          await worker.close();
        },
      };
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await queue.close();
      for (const r of owned) r.disconnect();
    },
  };
  return jq;
}
