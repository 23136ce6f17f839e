import type { Ingestible, TrailEvent } from '../events/model.ts';
import { type Db, type DbOptions, migrate, openDb } from './db.ts';
import { durableCommit } from './durable.ts';
import { type InsertOptions, type IngestResult, insertEvents } from './events.ts';
import { type DayPartitionSettings, dayPartitioner } from './partitions.ts';
import { type OutboxRow, outboxDone, pendingOutbox } from './outbox.ts';
import { countEvents, eventsById, getRaw, search, type SearchQuery, type TimeSpan, trail, type TrailQuery } from './queries.ts';

export type { Db } from './db.ts';
export { describeHolder, heldStoreLock, type LockInfo, localUrl, lockPath, readStoreLock, staleReason } from './lock.ts';
export type { InsertOptions, IngestResult } from './events.ts';
export type { OutboxRow } from './outbox.ts';
export type { Principal, SearchQuery, TrailQuery, TrailResult } from './queries.ts';
export { actorHashIs, actorIs, eventsAt, eventsById, spanOf, type TimeSpan } from './queries.ts';

/** The event store: PostgreSQL when DATABASE_URL is set, else the embedded PostgreSQL in the data dir. */
export interface Store {
  readonly db: Db;
  /** Stores events, idempotent on event id; with the flows outbox on, records the new ids in the same transaction. */
  ingest(batch: Ingestible[], opts?: InsertOptions): Promise<IngestResult>;
  /** A commit that waits for the disk, making every earlier (asynchronous) event commit durable. */
  sync(): Promise<void>;
  /** The flows outbox: events stored but not yet evaluated (outbox.ts). */
  outbox: {
    pending(opts: { minAgeMs: number; afterId?: number; limit?: number }): Promise<OutboxRow[]>;
    /** The flows ran over exactly these ids: removes their row. */
    done(eventIds: readonly string[]): Promise<number>;
  };
  /**
   * Stored events by id, in time order (then id): what an `evaluate-flows` job reads. With their
   * time span (when the caller knows it) only the day partitions of that span are read.
   */
  events(ids: readonly string[], span?: TimeSpan | null): Promise<TrailEvent[]>;
  trail(q: TrailQuery): ReturnType<typeof trail>;
  search(q: SearchQuery): ReturnType<typeof search>;
  raw(eventId: string): ReturnType<typeof getRaw>;
  count(): Promise<number>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /**
   * Write the flows outbox by default on every ingest: a worker whose flows are wired (the sources'
   * writes then get it too), and the command line's `ingest` and `sources poll/run/…`, which run no
   * flows themselves and leave the new events to the next worker's outbox drainer.
   */
  flowOutbox?: boolean;
  /**
   * Give each day within the events' retention its partition as ingest meets it (partitions.ts), so a
   * backfill never lands in the default partition. The service and the command line set it from
   * store.retention; without it, days get theirs from the store-maintenance job.
   */
  dayPartitions?: DayPartitionSettings;
}

export async function openStore(opts: DbOptions & StoreOptions): Promise<Store> {
  const db = await openDb(opts);
  try {
    await migrate(db);
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
  return storeOn(db, opts);
}

export function storeOn(db: Db, opts: StoreOptions = {}): Store {
  const partitions = opts.dayPartitions ? dayPartitioner(opts.dayPartitions) : undefined;
  return {
    db,
    ingest: (batch, o) => insertEvents(db, batch, { outbox: o?.outbox ?? opts.flowOutbox ?? false, partitions: o?.partitions ?? partitions }),
    sync: () => durableCommit(db),
    outbox: {
      pending: (o) => pendingOutbox(db, o),
      done: (ids) => outboxDone(db, ids),
    },
    events: (ids, span) => eventsById(db, ids, span),
    trail: (q) => trail(db, q),
    search: (q) => search(db, q),
    raw: (id) => getRaw(db, id),
    count: () => countEvents(db),
    close: () => db.close(),
  };
}
