import type { Db } from './db.ts';

/**
 * A durable commit. Event batches commit with synchronous_commit off (events.ts): the commit returns
 * before the write-ahead log reaches the disk, and a server crash within the next moments could lose
 * them. This transaction writes one row with synchronous_commit on, so its commit waits until the log
 * is flushed up to itself, and with it every commit before it, this session's or any other's. Every
 * ingest (the `ingest` command, the ingest jobs) ends with it before reporting success.
 */
export async function durableCommit(db: Db): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SET LOCAL synchronous_commit = on');
    await tx.query('INSERT INTO ingest_sync (id, synced) VALUES (true, now()) ON CONFLICT (id) DO UPDATE SET synced = excluded.synced');
  });
}
