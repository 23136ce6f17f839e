import { createHash } from 'node:crypto';
import type { Db } from './db.ts';

/**
 * The flows outbox (table flow_outbox, migration 009): the ids of events stored but not yet evaluated
 * by the flows, one row per ingest transaction, written in that transaction. The runtime enqueues
 * `evaluate-flows` for a row after the commit, the job deletes the row once the flows ran, and the
 * drainer enqueues rows that are still there later (their worker died in between).
 */

export interface OutboxRow {
  id: number;
  eventIds: string[];
  createdAt: string;
}

/** The row's key: a digest of the sorted ids, so whoever holds the same ids finds the same row. */
export function outboxKey(eventIds: readonly string[]): string {
  const h = createHash('sha256');
  for (const id of [...eventIds].sort()) h.update(id).update('\n');
  return h.digest('hex').slice(0, 32);
}

/** Records newly stored ids; called inside the transaction that inserted them. */
export async function addToOutbox(tx: Db, eventIds: string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await tx.query('INSERT INTO flow_outbox (key, event_ids) VALUES ($1, $2::text[]) ON CONFLICT (key) DO NOTHING', [outboxKey(eventIds), eventIds]);
}

/** The flows have run over these ids: their row (if any) is done. */
export async function outboxDone(db: Db, eventIds: readonly string[]): Promise<number> {
  return (await db.query('DELETE FROM flow_outbox WHERE key = $1', [outboxKey(eventIds)])).rowCount;
}

/** Rows at least `minAgeMs` old, oldest first, after row `afterId` (for paging). */
export async function pendingOutbox(db: Db, opts: { minAgeMs: number; afterId?: number; limit?: number }): Promise<OutboxRow[]> {
  const r = await db.query<{ id: number; event_ids: string[]; created_at: string }>(
    `SELECT id, event_ids, created_at::text AS created_at FROM flow_outbox
     WHERE id > $1 AND created_at <= now() - $2::float8 * interval '1 millisecond'
     ORDER BY id LIMIT $3`,
    [opts.afterId ?? 0, opts.minAgeMs, opts.limit ?? 100],
  );
  return r.rows.map((x) => ({ id: Number(x.id), eventIds: x.event_ids, createdAt: x.created_at }));
}
