import type { TrailEvent } from '../events/model.ts';
import { type Db, eventsAt } from '../store/index.ts';

/** The events of a finding that its Jira ticket and its Slack message show (finding_events, then the store). */

/** The first event of a finding (its actor and account). */
export async function firstEvent(db: Db, findingId: string): Promise<TrailEvent | undefined> {
  const r = await db.query<{ event_id: string; time: Date }>('SELECT event_id, time FROM finding_events WHERE finding_id = $1 ORDER BY time, event_id LIMIT 1', [findingId]);
  return (await eventsAt(db, refsOf(r.rows)))[0];
}

/** The finding's events newest first (after `after` when given), at most `limit`. */
export async function newestEvents(db: Db, findingId: string, limit: number, after?: string | null): Promise<TrailEvent[]> {
  const r = await db.query<{ event_id: string; time: Date }>(
    `SELECT event_id, time FROM finding_events WHERE finding_id = $1 AND ($2::timestamptz IS NULL OR time > $2)
     ORDER BY time DESC, event_id DESC LIMIT $3`,
    [findingId, after ?? null, limit],
  );
  return (await eventsAt(db, refsOf(r.rows))).reverse();
}

/** finding_events keeps each event's time: each event is read from its own day's partition (eventsAt). */
function refsOf(rows: { event_id: string; time: Date | string }[]): { eventId: string; time: string }[] {
  return rows.map((x) => ({ eventId: x.event_id, time: new Date(x.time).toISOString() }));
}
