import { isDone, openFinding, openNew, join } from './state.ts';
import type { Changes, Match, Snapshot } from './types.ts';

/** A single flow: every matching event is a finding, or joins the one its group opened within the dedup period. */
export function foldSingle(s: Snapshot, ch: Changes, m: Match, keepEvents: boolean): void {
  const f = m.flow;
  const e = m.event;
  if (isDone(s, f.id, e.eventId)) return;
  const open = openFinding(s, f.id, m.group, m.t, f.dedupMs) ?? openNew(s, ch, f, m.group, m.t, null, keepEvents);
  join(s, ch, open, f.id, e.eventId, m.t, e);
}
