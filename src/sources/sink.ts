import type { Unwrapped } from '../events/envelopes.ts';
import type { Ingestible } from '../events/model.ts';
import { normalizeItems, type Rejection } from '../ingest.ts';
import type { Store } from '../store/index.ts';

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
  /** Ids of events stored for the first time by this put (after they are committed). */
  onFresh?: ((eventIds: string[]) => Promise<void>) | undefined;
}

export function storeSink(store: Store, opts: SinkOptions = {}): Sink {
  return {
    async put(items) {
      const rejections: Rejection[] = [];
      const events: Ingestible[] = normalizeItems(items, (r) => rejections.push(r));
      let newest: string | null = null;
      for (const e of events) if (e.event.time && (!newest || e.event.time > newest)) newest = e.event.time;
      if (events.length === 0) return { events: 0, inserted: 0, duplicates: 0, rejections, newest };
      let t0: string | undefined;
      if (opts.onFresh) t0 = (await store.db.query<{ t: string }>('SELECT clock_timestamp()::text AS t')).rows[0]!.t;
      const r = await store.ingest(events);
      if (opts.onFresh && r.inserted > 0) {
        // "New" = stored by this put: ingested at or after it started (as the runtime's own jobs decide it).
        const ids = events.map((e) => e.event.eventId);
        const fresh = await store.db.query<{ event_id: string }>('SELECT event_id FROM events WHERE event_id = ANY($1::text[]) AND ingested_at >= $2::timestamptz', [ids, t0]);
        if (fresh.rows.length > 0) await opts.onFresh(fresh.rows.map((x) => x.event_id));
      }
      return { events: events.length, inserted: r.inserted, duplicates: r.duplicates, rejections, newest };
    },
  };
}
