import type { TrailEvent } from '../events/model.ts';
import { EVENT_COLUMNS, rowToEvent, type StoredRow } from '../store/events.ts';
import type { Store } from '../store/index.ts';

/**
 * Stored events by id, in time order (what an `evaluate-flows` job reads). Written here rather than as
 * a Store method so the runtime does not reach into the store's files; a `store.events(ids)` would
 * be the natural home.
 */
export async function loadEvents(store: Store, ids: readonly string[]): Promise<TrailEvent[]> {
  if (ids.length === 0) return [];
  const r = await store.db.query<StoredRow>(`SELECT ${EVENT_COLUMNS} FROM events WHERE event_id = ANY($1::text[]) ORDER BY time, event_id`, [ids]);
  return r.rows.map(rowToEvent);
}
