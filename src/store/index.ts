import type { Ingestible } from '../events/model.ts';
import { type Db, type DbOptions, migrate, openDb } from './db.ts';
import { type IngestResult, insertEvents } from './events.ts';
import { countEvents, getRaw, search, type SearchQuery, trail, type TrailQuery } from './queries.ts';

export type { Db } from './db.ts';
export { describeHolder, heldStoreLock, type LockInfo, localUrl, lockPath, readStoreLock, staleReason } from './lock.ts';
export type { IngestResult } from './events.ts';
export type { Principal, SearchQuery, TrailQuery, TrailResult } from './queries.ts';

/** The event store: PostgreSQL when DATABASE_URL is set, else the embedded PostgreSQL in the data dir. */
export interface Store {
  readonly db: Db;
  ingest(batch: Ingestible[]): Promise<IngestResult>;
  trail(q: TrailQuery): ReturnType<typeof trail>;
  search(q: SearchQuery): ReturnType<typeof search>;
  raw(eventId: string): ReturnType<typeof getRaw>;
  count(): Promise<number>;
  close(): Promise<void>;
}

export async function openStore(opts: DbOptions): Promise<Store> {
  const db = await openDb(opts);
  try {
    await migrate(db);
  } catch (e) {
    await db.close().catch(() => undefined);
    throw e;
  }
  return storeOn(db);
}

export function storeOn(db: Db): Store {
  return {
    db,
    ingest: (batch) => insertEvents(db, batch),
    trail: (q) => trail(db, q),
    search: (q) => search(db, q),
    raw: (id) => getRaw(db, id),
    count: () => countEvents(db),
    close: () => db.close(),
  };
}
