import { describeOrigin, type Unwrapped } from './events/envelopes.ts';
import type { Ingestible, RawRecord, TrailEvent } from './events/model.ts';
import { normalize } from './events/normalize.ts';
import { TrailbotError } from './errors.ts';
import { type FileBatch, readInputs } from './sources/files.ts';
import { INGEST_BATCH, type IngestResult } from './store/events.ts';
import type { Store, TimeSpan } from './store/index.ts';
import { greatest } from './store/sql.ts';

/** A record or file that could not be used, with where it was and why. */
export interface Rejection {
  where: string;
  reason: string;
}

export interface IngestStats {
  files: number;
  skippedFiles: number;
  failedFiles: number;
  events: number;
  inserted: number;
  duplicates: number;
  rejected: number;
  bytes: number;
  ms: number;
  /** Set when the `signal` stopped the reading before the end. */
  interrupted?: boolean;
  /** Then: how many of the input files were not read (undefined when it stopped before the first). */
  unreadFiles?: number;
}

export function emptyStats(): IngestStats {
  return { files: 0, skippedFiles: 0, failedFiles: 0, events: 0, inserted: 0, duplicates: 0, rejected: 0, bytes: 0, ms: 0 };
}

/**
 * A record as read: its event, and the record as the JSON the store keeps, in UTF-8 bytes
 * (`rawUtf8`), parsed again only when something asks for `raw` (the flows, for a few actions).
 * Stringified as soon as it is normalized, the parsed record dies young, in the first garbage
 * collection (cheap), instead of living on until its batch is written, by then in the old
 * generation; and kept as bytes (outside the JavaScript heap) rather than as the string, which every
 * young-generation collection until the batch is written copied again (bench:ingest: collections
 * took 12–14% of the ingest's main thread with the strings).
 */
class ReadRecord implements Ingestible {
  readonly event: TrailEvent;
  readonly rawUtf8: Buffer;
  #raw: RawRecord | undefined;
  constructor(event: TrailEvent, rawJson: string) {
    this.event = event;
    this.rawUtf8 = Buffer.from(rawJson, 'utf8');
  }
  get rawJson(): string {
    return this.rawUtf8.toString('utf8');
  }
  get raw(): RawRecord {
    this.#raw ??= JSON.parse(this.rawJson) as RawRecord;
    return this.#raw;
  }
}

/** Normalizes the records of one file; rejected ones are reported, never dropped silently. */
export function normalizeItems(items: Unwrapped[], onReject: (r: Rejection) => void): Ingestible[] {
  const out: Ingestible[] = [];
  for (const it of items) {
    if (it.kind === 'record') {
      try {
        out.push(new ReadRecord(normalize(it.raw), JSON.stringify(it.raw)));
      } catch (e) {
        onReject({ where: describeOrigin(it.origin), reason: e instanceof TrailbotError ? e.message : `cannot normalize: ${(e as Error).message}` });
      }
    } else if (it.kind === 'rejected') {
      onReject({ where: describeOrigin(it.origin), reason: it.reason });
    }
  }
  return out;
}

export interface StoredEvents {
  inserted: number;
  duplicates: number;
  /** The newest event time among them (ISO), for lag; null when there were none. */
  newest: string | null;
}

export interface StoreEventsOptions {
  /** Write the flows outbox row in each transaction (default: the store's setting). */
  outbox?: boolean;
  /**
   * Called with the ids each transaction stored for the first time, once it has committed, in order,
   * and their time span (which day partitions hold them: reading them back by id reads only those).
   */
  onFresh?: ((eventIds: string[], span: TimeSpan | null) => Promise<void>) | undefined;
}

/**
 * Stores normalized events (idempotent on event id) and hands the events that were new on: the store
 * says which were new, one list per transaction (each list is also that transaction's flows-outbox row
 * when the outbox is on, so a job made from it is the one the outbox drainer would make). The sources'
 * sink and the runtime's ingest jobs both store this way.
 */
export async function storeEvents(store: Store, events: Ingestible[], opts: StoreEventsOptions = {}): Promise<StoredEvents> {
  let newest: string | null = null;
  for (const e of events) newest = greatest(newest, e.event.time || null);
  if (events.length === 0) return { inserted: 0, duplicates: 0, newest };
  const r = await store.ingest(events, opts.outbox === undefined ? undefined : { outbox: opts.outbox });
  if (opts.onFresh) for (let i = 0; i < r.fresh.length; i++) await opts.onFresh(r.fresh[i]!, r.spans[i] ?? null);
  return { inserted: r.inserted, duplicates: r.duplicates, newest };
}

export interface IngestOptions {
  onReject?: (r: Rejection) => void;
  onFile?: (file: FileBatch, stats: IngestStats) => void;
  /** Store writes in flight while the next batch is normalized (2 suits PostgreSQL, 1 the embedded store). */
  parallel?: number;
  batchSize?: number;
  /** Writes one batch; the default stores it (`store.ingest`). The runtime's job also hands new events to the flows. */
  write?: (batch: Ingestible[]) => Promise<Pick<IngestResult, 'inserted' | 'duplicates'>>;
  /**
   * Stops the reading (Ctrl-C in `trailbot ingest`): no further file is read, even one still loading;
   * what was read is stored and made durable as usual, and the stats say `interrupted` and how many
   * files were left unread.
   */
  signal?: AbortSignal;
}

/**
 * sources → normalize → store, for files and folders. Batches are written while the next ones are
 * read and normalized; a file's bad records are reported and the rest still go in. A failed write
 * stops the reading and rejects (E_STORE_UNAVAILABLE unless it was a TrailbotError) once the writes
 * in flight are done; success is returned after a durable commit (store.sync()). An aborted `signal`
 * stops the reading too, but what was read is still stored: the stats say `interrupted`.
 */
export async function ingestPaths(store: Store, paths: string[], opts: IngestOptions = {}): Promise<IngestStats> {
  const stats = emptyStats();
  const started = performance.now();
  const parallel = opts.parallel ?? (store.db.kind === 'pglite' ? 1 : 2);
  const batchSize = opts.batchSize ?? INGEST_BATCH;
  const write = opts.write ?? ((batch: Ingestible[]) => store.ingest(batch));
  const onReject = (r: Rejection): void => {
    stats.rejected++;
    opts.onReject?.(r);
  };
  // Every write gets its handlers the moment it starts: a failure is kept (the first one) rather than
  // left as a rejection nobody is waiting for yet, which would kill the process while the next files
  // are read. After a failure nothing more is read or written; the writes in flight are waited for.
  const inflight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let pending: Ingestible[] = [];
  const flush = async (): Promise<void> => {
    if (pending.length === 0 || failure) return;
    const batch = pending;
    pending = [];
    while (inflight.size >= parallel) await Promise.race(inflight);
    if (failure) return;
    const w: Promise<void> = write(batch).then(
      (r) => {
        stats.inserted += r.inserted;
        stats.duplicates += r.duplicates;
      },
      (e: unknown) => {
        failure ??= { error: e };
      },
    );
    inflight.add(w);
    void w.finally(() => inflight.delete(w));
  };
  // Read by hand rather than `for await`: a stop must not wait for a file that is still loading (a
  // pipe, stdin), and leaving the loop of a `for await` waits for the reader to finish its step.
  const inputs = readInputs(paths);
  const signal = opts.signal;
  const stopped = signal
    ? new Promise<'stopped'>((resolve) => {
        if (signal.aborted) resolve('stopped');
        else signal.addEventListener('abort', () => resolve('stopped'), { once: true });
      })
    : undefined;
  let total: number | undefined;
  let seen = 0;
  for (;;) {
    if (failure || signal?.aborted) break;
    const step = inputs.next();
    const next = stopped ? await Promise.race([step, stopped]) : await step;
    if (next === 'stopped') {
      step.catch(() => undefined);
      break;
    }
    if (next.done) break;
    const f = next.value;
    total = f.total;
    seen = f.index;
    stats.bytes += f.bytes;
    if (f.error) {
      stats.failedFiles++;
      onReject({ where: f.file, reason: f.error });
    } else if (f.skipped) {
      stats.skippedFiles++;
    } else {
      stats.files++;
      const events = normalizeItems(f.items, onReject);
      stats.events += events.length;
      for (const e of events) pending.push(e);
      if (pending.length >= batchSize) await flush();
    }
    opts.onFile?.(f, stats);
  }
  if (signal?.aborted) {
    stats.interrupted = true;
    stats.unreadFiles = total === undefined ? undefined : total - seen;
    // The reader may be waiting on a file (a pipe, stdin): left behind, not waited for.
    void inputs.return(undefined).catch(() => undefined);
  } else if (failure) {
    await inputs.return(undefined);
  }
  await flush();
  await Promise.all(inflight);
  if (failure) throw storeFailure(failure.error);
  // Batches commit asynchronously (store/events.ts); success is reported only once they are on disk.
  if (stats.inserted > 0) {
    try {
      await store.sync();
    } catch (e) {
      throw storeFailure(e);
    }
  }
  stats.ms = performance.now() - started;
  return stats;
}

/** A write that failed: trailbot's own errors as they are, anything else as the store being unavailable. */
function storeFailure(e: unknown): TrailbotError {
  if (e instanceof TrailbotError) return e;
  return new TrailbotError('E_STORE_UNAVAILABLE', `writing events to the store failed: ${e instanceof Error ? e.message : String(e)}`, {
    hint: 'check that the database is reachable and has room; ingesting the same files again adds only what is missing',
    cause: e,
  });
}
