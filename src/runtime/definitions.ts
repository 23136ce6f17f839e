import { setTimeout as sleep } from 'node:timers/promises';
import { UnrecoverableError } from 'bullmq';
import type { z } from 'zod';
import type { Config } from '../config/index.ts';
import { asTrailbotError, describeError, type ErrorCode, TrailbotError } from '../errors.ts';
import { unwrap } from '../events/envelopes.ts';
import type { Ingestible, RawRecord } from '../events/model.ts';
import { ingestPaths, normalizeItems, type Rejection, storeEvents } from '../ingest.ts';
import type { Store, TimeSpan } from '../store/index.ts';
import { greatest } from '../store/sql.ts';
import { DEFAULT_RETENTION, type MaintenanceDone, type MaintenanceResult, maintainStore } from '../store/retention.ts';
import { enqueue } from './enqueue.ts';
import { describeIssues, type JobKind, type JobPayload, jobPayloads } from './jobs.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { JobContext, Pipeline } from './pipeline.ts';
import { type JobQueue, type Processor, rateLimitedDelay, retryAfterOf, type RunningJob } from './queue.ts';

/**
 * What each job kind does. A definition is a value (like inngest's createFunction): its payload
 * schema and a `run` function. `makeProcessor` turns a registry of them into the one processor every
 * backend runs, which checks the payload, sorts errors into "retry" and "give up", and records metrics.
 */
export interface JobDefinition<P = unknown, R = unknown> {
  payload: z.ZodType<P>;
  run: (ctx: JobContext, payload: P) => Promise<R>;
}

export function defineJob<S extends z.ZodType, R>(def: { payload: S; run: (ctx: JobContext, payload: z.output<S>) => Promise<R> }): JobDefinition<z.output<S>, R> {
  return def as JobDefinition<z.output<S>, R>;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds definitions of many payload types; each checks its own.
export type AnyJobDefinition = JobDefinition<any, unknown>;
export type Registry = Record<string, AnyJobDefinition>;

/** Codes that mean the input is wrong: retrying cannot help, so the job fails at once. */
const PERMANENT: ReadonlySet<ErrorCode> = new Set(['E_INPUT_UNREADABLE', 'E_INPUT_NOT_JSON', 'E_INPUT_SHAPE', 'E_RECORD_INVALID', 'E_USAGE', 'E_CONFIG_INVALID', 'E_STORE_MIGRATION', 'E_JIRA_REJECTED', 'E_JIRA_AUTH', 'E_SLACK_REJECTED', 'E_SLACK_AUTH', 'E_IAM_DENIED', 'E_IAM_NOT_FOUND', 'E_IAM_REJECTED']);

/** Whether the queue gives up on a job that failed with `e` (no retry): an input error, or UnrecoverableError. */
export function isPermanentError(e: unknown): boolean {
  return e instanceof UnrecoverableError || (e instanceof Error && e.name === 'UnrecoverableError') || (e instanceof TrailbotError && PERMANENT.has(e.code));
}

function notWired(stage: keyof Pipeline, issue: string): never {
  throw new TrailbotError('E_USAGE', `no ${stage} handler is wired yet (${issue}); this job cannot run`, {
    hint: `wire Pipeline.${stage} in src/main.ts, then \`trailbot jobs retry\` the job`,
  });
}

/**
 * Updates the source's row in source_status (the lag metric reads it). It is the job's last write
 * and a durable commit (synchronous_commit on, whatever the server's default): the events the job
 * committed asynchronously before it are on disk once it returns.
 */
async function recordSource(store: Store, source: string, newest: string | null, events: number, error: string | null = null): Promise<void> {
  await store.db.transaction(async (tx) => {
    await tx.query('SET LOCAL synchronous_commit = on');
    await tx.query(
      `INSERT INTO source_status AS s (source, newest_event_at, last_run_at, last_events, last_error) VALUES ($1, $2, now(), $3, $4)
       ON CONFLICT (source) DO UPDATE SET newest_event_at = greatest(s.newest_event_at, excluded.newest_event_at), last_run_at = now(),
         last_events = excluded.last_events, last_error = excluded.last_error`,
      [source, newest, events, error],
    );
  });
}

export interface StoredBatch {
  inserted: number;
  duplicates: number;
  rejected: number;
  rejections: Rejection[];
  newest: string | null;
  flowJobs: string[];
}

/**
 * Writes normalized events and, when flows are wired, enqueues `evaluate-flows` for the ones that
 * were new. The store says which were new (each transaction's inserted ids) and, in the same
 * transaction, records them in the flows outbox: if this process dies before the enqueue below, the
 * outbox drainer (outbox.ts) enqueues them later. The job id comes from the ids (their sorted
 * digest), so the drainer's enqueue of the same row is the same job.
 */
async function storeAndFan(ctx: JobContext, events: Ingestible[], wired: boolean): Promise<Pick<StoredBatch, 'inserted' | 'duplicates' | 'flowJobs' | 'newest'>> {
  const flowJobs: string[] = [];
  const onFresh = async (eventIds: string[], span: TimeSpan | null): Promise<void> => {
    flowJobs.push((await ctx.enqueue('evaluate-flows', { eventIds, ...(span ? { span } : {}) })).id);
  };
  const r = await storeEvents(ctx.store, events, { outbox: wired, onFresh: wired ? onFresh : undefined });
  return { ...r, flowJobs };
}

function rejectionSample(all: Rejection[]): Rejection[] {
  return all.slice(0, 20);
}

/** Raw records (or envelopes that hold them) → normalized events; rejections kept with where and why. */
function normalizeRecords(records: RawRecord[], source: string, rejections: Rejection[]): Ingestible[] {
  const items = records.flatMap((r, i) => [...unwrap(r, { file: source, at: `records[${i}]` })]);
  return normalizeItems(items, (x) => rejections.push(x));
}

export function defaultJobs(pipeline: Pipeline): Registry {
  const flowsWired = Boolean(pipeline.evaluateFlows);
  const jobs: Record<JobKind, AnyJobDefinition> = {
    'ingest-file': defineJob({
      payload: jobPayloads['ingest-file'],
      async run(ctx, p) {
        const rejections: Rejection[] = [];
        const flowJobs: string[] = [];
        let newest: string | null = null;
        let unreadable: string | undefined;
        // The same pipeline as `trailbot ingest` (batches across files, written while the next are
        // read); each batch is stored and its new events handed to the flows.
        const s = await ingestPaths(ctx.store, [p.path], {
          onReject: (x) => rejections.push(x),
          onFile: (f) => {
            if (f.error) unreadable ??= `${f.file}: ${f.error}`;
          },
          write: async (batch) => {
            const r = await storeAndFan(ctx, batch, flowsWired);
            flowJobs.push(...r.flowJobs);
            newest = greatest(newest, r.newest);
            return r;
          },
        });
        if (s.files === 0 && s.skippedFiles === 0 && unreadable) {
          throw new TrailbotError('E_INPUT_UNREADABLE', `nothing could be read from ${p.path}: ${unreadable}`, { hint: 'check the path and the file format' });
        }
        const out = {
          files: s.files,
          skippedFiles: s.skippedFiles,
          events: s.events,
          inserted: s.inserted,
          duplicates: s.duplicates,
          rejected: rejections.length,
          rejections: rejectionSample(rejections),
          flowJobs,
        };
        ctx.metrics.eventsIngested.inc({ source: p.source ?? 'files' }, out.inserted);
        if (p.source) await recordSource(ctx.store, p.source, newest, out.inserted);
        return out;
      },
    }),
    'ingest-batch': defineJob({
      payload: jobPayloads['ingest-batch'],
      async run(ctx, p) {
        const rejections: Rejection[] = [];
        const events = normalizeRecords(p.records, p.source, rejections);
        if (events.length === 0) {
          throw new TrailbotError('E_RECORD_INVALID', `none of the ${p.records.length} records is a CloudTrail event: ${rejections[0] ? `${rejections[0].where}: ${rejections[0].reason}` : 'no records'}`);
        }
        const r = await storeAndFan(ctx, events, flowsWired);
        ctx.metrics.eventsIngested.inc({ source: p.source }, r.inserted);
        await recordSource(ctx.store, p.source, r.newest, r.inserted);
        return { events: events.length, inserted: r.inserted, duplicates: r.duplicates, rejected: rejections.length, rejections: rejectionSample(rejections), flowJobs: r.flowJobs };
      },
    }),
    'poll-source': defineJob({
      payload: jobPayloads['poll-source'],
      async run(ctx, p) {
        const poll = pipeline.pollSource ?? (() => notWired('pollSource', 'issue 4, sources'));
        let result: Awaited<ReturnType<typeof poll>>;
        try {
          result = await poll(ctx, p);
        } catch (e) {
          await recordSource(ctx.store, p.source, null, 0, describeError(e)).catch(() => undefined);
          throw e;
        }
        const rejections: Rejection[] = [];
        const events = normalizeRecords(result.records, p.source, rejections);
        const r = await storeAndFan(ctx, events, flowsWired);
        ctx.metrics.eventsIngested.inc({ source: p.source }, r.inserted);
        await recordSource(ctx.store, p.source, result.newestEventTime ?? r.newest, r.inserted);
        return { records: result.records.length, inserted: r.inserted, duplicates: r.duplicates, rejected: rejections.length, rejections: rejectionSample(rejections), flowJobs: r.flowJobs };
      },
    }),
    'evaluate-flows': defineJob({
      payload: jobPayloads['evaluate-flows'],
      async run(ctx, p) {
        const run = pipeline.evaluateFlows ?? (() => notWired('evaluateFlows', 'issue 5, flows'));
        const r = await run(ctx, p);
        for (const [flow, n] of Object.entries(r.findings)) ctx.metrics.findings.inc({ flow }, n);
        // The flows ran over these ids: their outbox row is done. (After the findings' transaction, not
        // in it: a crash in between only evaluates them again, which changes nothing, since an event
        // already in finding_events is skipped and counts are recomputed from finding_events.)
        await ctx.store.outbox.done(p.eventIds);
        return r;
      },
    }),
    notify: defineJob({
      payload: jobPayloads.notify,
      async run(ctx, p) {
        const run = pipeline.notify ?? (() => notWired('notify', 'the Slack and Jira integrations'));
        const r = await run(ctx, p);
        if (p.target === 'jira' && r.ticket && r.ticket !== 'unchanged') ctx.metrics.tickets.inc({ action: r.ticket });
        if (p.target === 'slack' && r.message && r.message !== 'unchanged') ctx.metrics.slackMessages.inc({ action: r.message });
        return r;
      },
    }),
    'tickets-sync': defineJob({
      payload: jobPayloads['tickets-sync'],
      async run(ctx, p) {
        const run = pipeline.ticketsSync ?? (() => notWired('ticketsSync', 'the Jira integration'));
        return run(ctx, p);
      },
    }),
    'store-maintenance': defineJob({
      payload: jobPayloads['store-maintenance'],
      async run(ctx) {
        let r: MaintenanceResult;
        try {
          r = await maintainStore(ctx.store.db, ctx.config?.retention ?? DEFAULT_RETENTION);
        } catch (e) {
          // What the run committed before it failed is done: said, as a run that finished would say it.
          const done = (e as { maintenance?: MaintenanceDone } | null)?.maintenance;
          if (done) ctx.log.info({ made: done.made, dropped: done.dropped, deleted: done.deleted }, 'store maintenance (before it failed)');
          throw e;
        }
        if (r.made.length || r.dropped.length || r.rebuilt) ctx.log.info({ made: r.made, dropped: r.dropped, deleted: r.deleted, rebuilt: r.rebuilt }, 'store maintenance');
        // Left for the next run (hourly): said, so an operator sees a session that keeps the store's tables locked.
        for (const s of r.skipped) ctx.log.warn({ step: s.step }, `store maintenance: ${s.step} skipped: ${s.reason}`);
        return { made: r.made.length, dropped: r.dropped.length, deleted: r.deleted, skipped: r.skipped.map((s) => s.step), rebuilt: r.rebuilt };
      },
    }),
    remediate: defineJob({
      payload: jobPayloads.remediate,
      async run(ctx, p) {
        const run = pipeline.remediate ?? (() => notWired('remediate', 'the IAM integration'));
        return run(ctx, p);
      },
    }),
    approval: defineJob({
      payload: jobPayloads.approval,
      async run(ctx, p) {
        const run = pipeline.approval ?? (() => notWired('approval', 'approvals'));
        return run(ctx, p);
      },
    }),
    report: defineJob({
      payload: jobPayloads.report,
      async run(ctx, p) {
        const run = pipeline.report ?? (() => notWired('report', 'reports'));
        // A scheduled run reports the period ending when it was due, however late a retry runs.
        return run(ctx, { ...p, at: p.at ?? ctx.job.scheduledAt });
      },
    }),
    'slack-trail': defineJob({
      payload: jobPayloads['slack-trail'],
      async run(ctx, p) {
        const run = pipeline.slackTrail ?? (() => notWired('slackTrail', 'the Slack integration'));
        return run(ctx, p);
      },
    }),
    probe: defineJob({
      payload: jobPayloads.probe,
      async run(_ctx, p: JobPayload<'probe'>) {
        if (p.ms > 0) await sleep(p.ms);
        return { ok: true, note: p.note ?? null };
      },
    }),
  };
  return jobs;
}

export interface ProcessorDeps {
  store: Store;
  queue: JobQueue;
  log: Logger;
  metrics: Metrics;
  config: Config | undefined;
}

/**
 * The one processor every backend runs: finds the job's definition, checks the payload, runs it with
 * a context, and turns errors about the input into UnrecoverableError (no retries) while everything
 * else (a store or network hiccup) is retried with backoff.
 */
export function makeProcessor(registry: Registry, deps: ProcessorDeps): Processor {
  return async (job: RunningJob) => {
    const started = performance.now();
    const def = registry[job.name];
    const kind = def ? job.name : 'unknown';
    const done = (outcome: 'completed' | 'retry' | 'failed'): void => {
      deps.metrics.jobsProcessed.inc({ kind, outcome });
      deps.metrics.jobDuration.observe({ kind, outcome }, (performance.now() - started) / 1000);
    };
    try {
      if (!def) throw new TrailbotError('E_USAGE', `there is no job kind ${JSON.stringify(job.name)}`, { hint: `kinds: ${Object.keys(registry).join(', ')}` });
      const parsed = def.payload.safeParse(job.data);
      if (!parsed.success) throw new TrailbotError('E_INPUT_SHAPE', `bad ${job.name} job data: ${describeIssues(parsed.error.issues)}`);
      let log: Logger | undefined;
      const ctx: JobContext = {
        store: deps.store,
        enqueue: (k, input, opts) => enqueue(deps.queue, k, input, opts),
        // A child logger costs more than a trivial job: made on first use.
        get log() {
          log ??= deps.log.child({ jobId: job.id, kind: job.name, attempt: job.attemptsMade + 1 });
          return log;
        },
        metrics: deps.metrics,
        config: deps.config,
        job: { id: job.id, kind: job.name, attempt: job.attemptsMade + 1, attempts: job.attempts, scheduledAt: job.scheduledAt },
      };
      const result = await def.run(ctx, parsed.data as never);
      done('completed');
      return result;
    } catch (e) {
      const permanent = isPermanentError(e);
      const message = e instanceof UnrecoverableError ? e.message : describeError(asTrailbotError(e));
      // A rate-limited try (E_JIRA_RATE_LIMITED's retryAfterMs) is retried after the delay asked, without using an attempt.
      const willRetry = !permanent && (rateLimitedDelay(e, job) !== undefined || job.attemptsMade + 1 < job.attempts);
      done(willRetry ? 'retry' : 'failed');
      if (permanent) throw new UnrecoverableError(message);
      const err = new Error(message, { cause: e });
      const retryAfterMs = retryAfterOf(e);
      if (retryAfterMs !== undefined) Object.assign(err, { retryAfterMs });
      throw err;
    }
  };
}

