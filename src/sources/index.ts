import type { Config } from '../config/index.ts';
import { type AwsCredentials, createAws, type Aws } from '../integrations/aws/index.ts';
import { openLimiter, type RateLimiter } from '../integrations/aws/limiter.ts';
import type { JobContext, PollResult } from '../runtime/pipeline.ts';
import type { Store, TimeSpan } from '../store/index.ts';
import { findSource, type LookupSource, parseSources, type SourceSpec } from './config.ts';
import { type PollReport, quietLog, type SourceContext, type SourceLog } from './context.ts';
import { pollFolder, watchFolder } from './folder.ts';
import { type LiveLookupOptions, type LiveLookupResult, liveLookup } from './live.ts';
import { pollLookup } from './lookup.ts';
import { pollS3 } from './s3.ts';
import { storeSink } from './sink.ts';
import { pollSqs } from './sqs.ts';
import { workerId } from './state.ts';
import { durationMs } from '../time.ts';

export type { PollReport, SourceContext } from './context.ts';
export type { LiveLookupOptions, LiveLookupResult, LiveQuery } from './live.ts';
export { describePartial, liveLookup } from './live.ts';
export type { SourceSpec } from './config.ts';
export { parseSources } from './config.ts';
export { sourcesStatus } from './status.ts';

/**
 * Sources, from one place: LookupEvents (lookup.ts), S3 trail files (s3.ts), SQS notifications
 * (sqs.ts), a watched folder (folder.ts), and the live lookup for /trail (live.ts).
 *
 *   const sources = createSources({ config });
 *   pipeline.pollSource = sources.pollSource;     // the runtime's poll-source job
 *   await sources.close();                        // on shutdown (closes the limiter's Redis connection)
 */

export interface PollOptions {
  /** Stop starting new work after this time (Date.now() ms); default now + the source's maxRun. */
  deadline?: number;
  /** S3 only: read these days (YYYY-MM-DD) instead of following the cursor. */
  from?: string | undefined;
  to?: string | undefined;
  /** Lookup only: read these account-regions (`account/region`). */
  parts?: string[] | undefined;
  /** SQS only: keep receiving until the deadline, even from an empty queue. */
  follow?: boolean;
  waitSeconds?: number;
}

/** Reads what is new from one source: stores it, moves its cursors, and says what it did. */
export function pollOnce(ctx: SourceContext, spec: SourceSpec, opts: PollOptions = {}): Promise<PollReport> {
  switch (spec.kind) {
    case 'lookup':
      return pollLookup(ctx, spec, opts);
    case 's3':
      return pollS3(ctx, spec, opts);
    case 'sqs':
      return pollSqs(ctx, spec, opts);
    case 'folder':
      return pollFolder(ctx, spec, opts);
  }
}

export interface SourcesOptions {
  config: Pick<Config, 'sources' | 'accounts' | 'configFile' | 'aws' | 'redisUrl'>;
  log?: SourceLog | undefined;
  /** Base AWS credentials (tests); the SDK's default chain otherwise. */
  credentials?: AwsCredentials | undefined;
  /** Region for STS (default us-east-1). */
  region?: string | undefined;
  /** Key prefix of the Redis limiter (tests use a unique one; default `trailbot:`). */
  limiterPrefix?: string | undefined;
  /** A limiter to use instead of the one the configuration implies. */
  limiter?: RateLimiter | undefined;
  /** How long a part's lease lasts without renewal (default 15 s). */
  leaseMs?: number | undefined;
  /** In pollSource: enqueue `evaluate-flows` for new events (default true; false while flows are not wired). */
  fanOut?: boolean | undefined;
}

export interface Sources {
  readonly specs: SourceSpec[];
  readonly owner: string;
  /** The AWS clients and the limiter, once a store is known (the limiter may live in it). */
  aws(store: Store): Aws;
  context(store: Store, extra?: Partial<SourceContext> & { onFresh?: (ids: string[], span: TimeSpan | null) => Promise<void> }): SourceContext;
  poll(store: Store, id: string, opts?: PollOptions & Partial<Pick<SourceContext, 'onProgress' | 'signal'>>): Promise<PollReport>;
  /** For /trail (and the Slack work to come): one person across every lookup account-region at once. */
  live(store: Store, opts: LiveLookupOptions & { storeFound?: boolean }): Promise<LiveLookupResult>;
  /** The runtime's `poll-source` processor stage (Pipeline.pollSource). */
  pollSource(ctx: JobContext, p: { source: string }): Promise<PollResult>;
  close(): Promise<void>;
}

export const DEFAULT_LEASE_MS = 15_000;

export function createSources(opts: SourcesOptions): Sources {
  const specs = parseSources(opts.config);
  const owner = workerId();
  const log = opts.log ?? quietLog;
  const leaseMs = opts.leaseMs ?? DEFAULT_LEASE_MS;
  let aws: Aws | undefined;
  let limiter: RateLimiter | undefined = opts.limiter;
  const awsFor = (store: Store): Aws => {
    if (!aws) {
      limiter ??= openLimiter({ redisUrl: opts.config.redisUrl, db: store.db, prefix: opts.limiterPrefix });
      aws = createAws({ endpoints: opts.config.aws.endpoints, credentials: opts.credentials, limiter, region: opts.region });
    }
    return aws;
  };
  const context: Sources['context'] = (store, extra = {}) => ({
    store,
    aws: awsFor(store),
    sink: extra.sink ?? storeSink(store, { onFresh: extra.onFresh }),
    log: extra.log ?? log,
    owner,
    leaseMs,
    now: extra.now ?? (() => Date.now()),
    signal: extra.signal,
    onProgress: extra.onProgress,
  });
  const lookupSpecs = (): LookupSource[] => specs.filter((s): s is LookupSource => s.kind === 'lookup');

  return {
    specs,
    owner,
    aws: awsFor,
    context,
    poll(store, id, o = {}) {
      return pollOnce(context(store, { onProgress: o.onProgress, signal: o.signal }), findSource(specs, id), o);
    },
    live(store, o) {
      const ctx = context(store);
      return liveLookup({ aws: ctx.aws, store, sink: o.storeFound ? ctx.sink : undefined }, lookupSpecs(), o);
    },
    async pollSource(job, p) {
      const spec = findSource(specs, p.source);
      const ctx = context(job.store, {
        log: job.log,
        // New events go on to the flows, as the runtime's own ingest jobs do.
        onFresh:
          opts.fanOut === false
            ? undefined
            : async (ids, span) => {
                await job.enqueue('evaluate-flows', { eventIds: ids, ...(span ? { span } : {}) });
              },
      });
      const r = await pollOnce(ctx, spec);
      job.metrics.eventsIngested.inc({ source: spec.id }, r.inserted);
      job.log.info({ source: spec.id, kind: spec.kind, events: r.events, inserted: r.inserted, duplicates: r.duplicates, rejected: r.rejected, more: r.more, ms: r.ms, errors: r.errors.slice(0, 5) }, 'source polled');
      // Work left over (a long backfill, a full queue): carry on at once rather than at the next tick.
      if (r.more) await job.enqueue('poll-source', { source: spec.id }, { key: `${spec.id}-more-${Date.now()}` });
      // Events are already stored (page by page, before each cursor move), so none are handed back.
      return { records: [], newestEventTime: r.newest };
    },
    async close() {
      aws?.destroy();
      await limiter?.close();
    },
  };
}

export interface RunOptions {
  ids?: string[] | undefined;
  signal: AbortSignal;
  onReport?: (r: PollReport) => void;
  onError?: (source: string, e: unknown) => void;
  onProgress?: SourceContext['onProgress'];
}

/**
 * Runs sources continuously until the signal: lookup and S3 sources every `every` (at once again
 * when a poll stopped with work left), SQS sources receiving without pause, folders when a file
 * changes (or every `every`). For `trailbot sources run` and for worker processes.
 */
export async function runSources(sources: Sources, store: Store, opts: RunOptions): Promise<void> {
  const chosen = opts.ids?.length ? opts.ids.map((id) => findSource(sources.specs, id)) : sources.specs;
  const ctx = sources.context(store, { signal: opts.signal, onProgress: opts.onProgress });
  const loops = chosen.map(async (spec) => {
    const every = durationMs(spec.every ?? '1m') ?? 60_000;
    let wake: (() => void) | undefined;
    const watcher = spec.kind === 'folder' ? watchFolder(spec.path, () => wake?.()) : undefined;
    let failures = 0;
    try {
      while (!opts.signal.aborted) {
        let more = false;
        try {
          const r = await pollOnce(ctx, spec, spec.kind === 'sqs' ? { follow: true } : {});
          opts.onReport?.(r);
          more = r.more;
          failures = 0;
        } catch (e) {
          if (opts.signal.aborted) break;
          failures++;
          opts.onError?.(spec.id, e);
        }
        if (opts.signal.aborted) break;
        const pause = failures > 0 ? Math.min(every, 1000 * 2 ** Math.min(failures, 6)) : more ? 0 : spec.kind === 'sqs' ? 0 : every;
        if (pause > 0) {
          // Ends on the timer, a folder change (wake) or the signal, whichever is first, and always
          // takes its abort listener off again: a long run pauses thousands of times on one signal.
          await new Promise<void>((resolve) => {
            const done = (): void => {
              clearTimeout(t);
              opts.signal.removeEventListener('abort', done);
              wake = undefined;
              resolve();
            };
            const t = setTimeout(done, pause);
            wake = done;
            opts.signal.addEventListener('abort', done, { once: true });
          });
        }
      }
    } finally {
      watcher?.close();
    }
  });
  await Promise.all(loops);
}
