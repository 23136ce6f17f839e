import { type DistinctValues, MAX_DISTINCT_PER_EVENT } from '../define.ts';
import { inner, isDone, join, openFinding, openNew } from './state.ts';
import type { Changes, Hit, HitGroup, Match, Snapshot } from './types.ts';

/**
 * A threshold flow: every matching event is a hit of its group; more than `moreThan` hits (or distinct
 * values, with `distinctBy`) within the window open a finding, which the window's unassigned hits join,
 * and later hits too while it is open.
 */
export function foldThreshold(s: Snapshot, ch: Changes, m: Match, keepEvents: boolean): void {
  const f = m.flow;
  const e = m.event;
  const t = m.t;
  if (isDone(s, f.id, e.eventId)) return;
  const groups = inner(s.hits, f.id);
  let hits = groups.get(m.group);
  if (hits === undefined) groups.set(m.group, (hits = { list: [], ids: new Set() }));
  if (hits.ids.has(e.eventId)) return;
  const hit: Hit = { eventId: e.eventId, t, findingId: null, event: e, values: m.values };
  const inOrder = hits.list.length === 0 || hits.list[hits.list.length - 1]!.t <= t;
  insertHit(hits, hit);
  ch.hits.push({ flow: f.id, group: m.group, eventId: e.eventId, t, values: m.values });
  const open = openFinding(s, f.id, m.group, t, f.dedupMs);
  if (open) {
    join(s, ch, open, f.id, e.eventId, t, e);
    hit.findingId = open.id;
    return;
  }
  const lo = upperBound(hits.list, t - f.windowMs);
  const hi = upperBound(hits.list, t);
  if (f.distinctBy !== null) {
    if (!overDistinct(hits, hit, inOrder, lo, hi, t - f.windowMs, f.moreThan)) return;
  } else if (hi - lo <= f.moreThan) return;
  const first = hits.list.slice(lo, hi).find((h) => h.findingId === null);
  if (!first) return;
  const anchor = first.t;
  // Hits recorded earlier but later in time (batches arrive out of order) join too, within the dedup period.
  const unassigned = hits.list.slice(lo, upperBound(hits.list, anchor + f.dedupMs - 1)).filter((h) => h.findingId === null);
  const fresh = openNew(s, ch, f, m.group, anchor, null, keepEvents);
  for (const h of unassigned) {
    join(s, ch, fresh, f.id, h.eventId, h.t, h.event);
    h.findingId = fresh.id;
  }
}

/** `distinctBy`'s answer as a list: at most MAX_DISTINCT_PER_EVENT non-empty strings, or null. */
export function valuesOf(v: DistinctValues): readonly string[] | null {
  if (v === null) return null;
  if (typeof v === 'string') return v === '' ? null : [v];
  const out: string[] = [];
  for (const x of v) {
    if (typeof x === 'string' && x !== '' && !out.includes(x)) out.push(x);
    if (out.length >= MAX_DISTINCT_PER_EVENT) break;
  }
  return out.length > 0 ? out : null;
}

function insertHit(g: HitGroup, h: Hit): void {
  const list = g.list;
  let i = list.length;
  while (i > 0 && list[i - 1]!.t > h.t) i--;
  list.splice(i, 0, h);
  g.ids.add(h.eventId);
}

/**
 * Whether the hits of (from, hits[hi-1].t] name more than `moreThan` distinct values, once `hit`
 * (just inserted) is counted. In time order, from each value's latest time (`g.latest`, kept up to
 * date here); otherwise one pass over the window's hits.
 */
function overDistinct(g: HitGroup, hit: Hit, inOrder: boolean, lo: number, hi: number, from: number, moreThan: number): boolean {
  if (inOrder && g.latest !== undefined) {
    if (hit.values) for (const v of hit.values) g.latest.set(v, hit.t);
    let n = 0;
    for (const [v, t] of g.latest) {
      if (t <= from) g.latest.delete(v); // out of the window for this and every later hit in order
      else if (++n > moreThan) return true;
    }
    return false;
  }
  // Out of order, or the first look at the group: count the window, and keep each value's latest time.
  const latest = new Map<string, number>();
  for (const h of g.list) {
    if (!h.values) continue;
    for (const v of h.values) {
      const cur = latest.get(v);
      if (cur === undefined || h.t > cur) latest.set(v, h.t);
    }
  }
  g.latest = latest;
  const seen = new Set<string>();
  for (let i = lo; i < hi; i++) {
    const vs = g.list[i]!.values;
    if (!vs) continue;
    for (const v of vs) {
      seen.add(v);
      if (seen.size > moreThan) return true;
    }
  }
  return false;
}

/** Index of the first hit with time > t (hits sorted by time). */
function upperBound(list: readonly Hit[], t: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]!.t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
