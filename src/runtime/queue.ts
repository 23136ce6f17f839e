import type { QueueBackendName } from '../config/index.ts';

/**
 * One queue interface over three backends: BullMQ on Redis (production default), BullMQ's
 * PostgreSQL backend (a deployment on PostgreSQL alone) and the inline backend (the embedded
 * default: jobs in the store's own tables, worked in the same process). The same processors run on
 * all three; the semantics (job id = idempotency key, retries with exponential backoff, failed jobs
 * kept, recurring work under stable ids, stalled jobs taken again) are the same.
 */

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';
export const JOB_STATES: readonly JobState[] = ['waiting', 'delayed', 'active', 'completed', 'failed'];

export interface NewJob {
  name: string;
  data: unknown;
  /** The idempotency key: a second job with the same id is ignored while the first is kept. */
  id: string;
  attempts: number;
  backoffMs: number;
  delayMs?: number;
  /** Taken before jobs with a higher number: 0 (the default) first (jobs.ts priorityOf). */
  priority?: number;
}

export interface JobInfo {
  id: string;
  name: string;
  data: unknown;
  state: JobState | 'unknown';
  attemptsMade: number;
  attempts: number;
  failedReason: string | undefined;
  returnValue: unknown;
  createdAt: string | undefined;
  processedAt: string | undefined;
  finishedAt: string | undefined;
}

/** A job handed to a processor. */
export interface RunningJob {
  id: string;
  name: string;
  data: unknown;
  /** Tries already made before this one (0 on the first). */
  attemptsMade: number;
  attempts: number;
  /** For a job a schedule made: the time it was due (ISO), the same on every try. */
  scheduledAt?: string | undefined;
  /** Tries put off by a rate limit so far (they do not count in attemptsMade; see rateLimitedDelay). */
  rateLimitedRetries?: number | undefined;
  /** When the job was made (ms since the epoch), for the rate-limited retries' time cap. */
  createdAtMs?: number | undefined;
}

export type Processor = (job: RunningJob) => Promise<unknown>;

export interface Schedule {
  /** Stable id: upserting the same id again replaces the schedule, never adds a second. */
  id: string;
  /** Either a period in ms or a cron pattern. */
  every?: number;
  pattern?: string;
  tz?: string;
  name: string;
  data: unknown;
  attempts: number;
  backoffMs: number;
}

export interface ScheduleInfo {
  id: string;
  name: string;
  every: number | undefined;
  pattern: string | undefined;
  next: string | undefined;
}

export interface WorkOptions {
  concurrency: number;
  /** How long a job's lock lasts before another worker may take it (renewed while the job runs). */
  lockDurationMs?: number;
  /** How often stalled jobs (lock expired: their worker died) are looked for. */
  stalledIntervalMs?: number;
  /** Called on every finished try, for logs and metrics. */
  onEvent?: (e: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'completed'; job: RunningJob }
  | { type: 'failed'; job: RunningJob; reason: string; willRetry: boolean; /** a rate-limited try: retried after this, no attempt used */ retryInMs?: number }
  | { type: 'stalled'; jobId: string }
  | { type: 'error'; error: Error };

export interface WorkerHandle {
  /** Stops taking jobs and waits for the ones in hand to finish. */
  close(): Promise<void>;
}

export interface JobQueue {
  readonly backend: QueueBackendName;
  readonly name: string;
  /** Adds a job unless one with the same id is kept; `duplicate` says which happened. */
  add(job: NewJob): Promise<{ id: string; duplicate: boolean }>;
  /** Adds many jobs in one go (no duplicate report). */
  addMany(jobs: NewJob[]): Promise<void>;
  get(id: string): Promise<JobInfo | undefined>;
  /** Jobs in a state, newest first. */
  list(state: JobState, limit: number): Promise<JobInfo[]>;
  /** Sends a failed job back to the queue for another round of tries. */
  retry(id: string): Promise<void>;
  counts(): Promise<Record<JobState, number>>;
  schedule(s: Schedule): Promise<void>;
  unschedule(id: string): Promise<boolean>;
  schedules(): Promise<ScheduleInfo[]>;
  /** Resolves when the backend answers; rejects otherwise. */
  ping(): Promise<void>;
  work(processor: Processor, opts: WorkOptions): Promise<WorkerHandle>;
  close(): Promise<void>;
}

/** Rejects after `ms` with the given message (for readiness probes on a backend that may hang). */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** BullMQ's exponential backoff: the n-th retry (n ≥ 1) waits 2^(n-1)·delay. */
export function backoffDelay(backoffMs: number, attemptsMade: number): number {
  return Math.round(2 ** Math.max(0, attemptsMade - 1) * backoffMs);
}

/** Whether an error means "do not retry" (BullMQ's UnrecoverableError, by name across module copies). */
export function isUnrecoverable(e: unknown): boolean {
  return e instanceof Error && e.name === 'UnrecoverableError';
}

/**
 * "Retry after N ms" (a 429's Retry-After, carried as `retryAfterMs` by a TrailbotError and by the
 * error the processor rethrows): every backend retries such a job no earlier than that. A
 * rate-limited try does not use up one of the job's attempts (a 429 storm delays work but loses
 * none), up to RATE_LIMITED_MAX_RETRIES such tries or RATE_LIMITED_MAX_AGE_MS since the job was
 * made; past either, it counts as an ordinary failed try (still waiting at least the delay asked).
 */
export const RATE_LIMITED_MAX_RETRIES = 50;
export const RATE_LIMITED_MAX_AGE_MS = 24 * 3600_000;

/** The delay an error asks for before the next try, if it asks for one. */
export function retryAfterOf(e: unknown): number | undefined {
  const ms = (e as { retryAfterMs?: unknown } | null | undefined)?.retryAfterMs;
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** For a try that failed with `e`: the delay of a retry that uses no attempt, or undefined (an ordinary failure). */
export function rateLimitedDelay(e: unknown, job: Pick<RunningJob, 'rateLimitedRetries' | 'createdAtMs'>, now: number = Date.now()): number | undefined {
  const ms = retryAfterOf(e);
  if (ms === undefined || isUnrecoverable(e)) return undefined;
  if ((job.rateLimitedRetries ?? 0) >= RATE_LIMITED_MAX_RETRIES) return undefined;
  if (job.createdAtMs !== undefined && now - job.createdAtMs > RATE_LIMITED_MAX_AGE_MS) return undefined;
  return ms;
}
