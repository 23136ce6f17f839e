import type { Unwrapped } from '../events/envelopes.ts';
import type { Ingestible } from '../events/model.ts';
import { normalizeItems, type Rejection, storeEvents } from '../ingest.ts';
import type { Store, TimeSpan } from '../store/index.ts';

/**
 * Where every source puts what it read: normalize, store (idempotent on event id), and hand the
 * ids of the events that were new to `onFresh` (the runtime enqueues `evaluate-flows` there).
 * A source moves its cursor, or deletes its SQS message, only after `put` has resolved.
 */
export interface Sink {
  put(items: Unwrapped[]): Promise<PutResult>;
}

export interface PutResult {
  /** Records that normalized into events. */
  events: number;
  inserted: number;
  duplicates: number;
  rejections: Rejection[];
  /** Newest event time among them (ISO), for lag. */
  newest: string | null;
}

export interface SinkOptions {
  /** Ids of events stored for the first time by this put, one call per store transaction (after it committed). */
  onFresh?: ((eventIds: string[], span: TimeSpan | null) => Promise<void>) | undefined;
}

export function storeSink(store: Store, opts: SinkOptions = {}): Sink {
  return {
    async put(items) {
      const rejections: Rejection[] = [];
      const events: Ingestible[] = normalizeItems(items, (r) => rejections.push(r));
      const r = await storeEvents(store, events, { onFresh: opts.onFresh });
      return { events: events.length, inserted: r.inserted, duplicates: r.duplicates, rejections, newest: r.newest };
    },
  };
}
