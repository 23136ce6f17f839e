import { createHash } from 'node:crypto';
import type { RawRecord, TrailEvent } from '../events/model.ts';
import { allowMaskOf, type CompiledFlow, type CompiledFlows } from './compile.ts';
import { type Dimension, type DimensionSink, type DistinctValues, type FirstSeenFlow, type FlowEnv, MAX_DISTINCT_PER_EVENT } from './define.ts';

/**
 * The evaluation both ways in share: match a batch of events against the enabled flows (pure), then
 * fold the matches into findings against a state. The state is either in memory (`trailbot detect`:
 * baselines from the events seen earlier in the run) or the store (the worker: `evaluateFlows`).
 *
 * Idempotency rests on one rule: an event joins at most one finding per flow, and the state
 * remembers which (`finding_events` has the primary key `(flow, event_id)`). Evaluating the same
 * events again finds them done and changes nothing.
 */

export interface EngineEvent {
  event: TrailEvent;
  /** The record as received, when at hand (flows with `needsRequest` read its request parameters). */
  raw?: RawRecord | null | undefined;
}

/** A finding as the engine sees it while folding events in. */
export interface FindingHead {
  id: string;
  key: string;
  flow: string;
  group: string;
  /** Time of the event that opened it (ms); events within the flow's dedup period of it join it. */
  anchor: number;
  firstSeen: number;
  lastSeen: number;
  count: number;
  dim: Dimension | null;
  /** Memory state only: the events, in join order. */
  events?: TrailEvent[];
}

export interface Hit {
  eventId: string;
  t: number;
  findingId: string | null;
  event?: TrailEvent;
  /** Threshold flows with `distinctBy`: the event's values (null: none). */
  values?: readonly string[] | null;
}

export interface HitGroup {
  list: Hit[];
  ids: Set<string>;
  /**
   * Flows with `distinctBy`: each value's latest hit time, kept while hits arrive in time order (the
   * distinct count is then the values seen within the window, without a pass over the hits). Built
   * on first use; dropped (a full pass instead) for a hit that arrives out of order.
   */
  latest?: Map<string, number>;
}

/**
 * What the state knows, for the keys a batch touches. The memory state hands out its live maps.
 * Keyed by flow first, then group or event id: no key is built by joining strings per event.
 */
export interface Snapshot {
  /** flow → ids of events already part of one of its findings (`flow/scope` for first-seen flows). */
  done: Map<string, Set<string>>;
  /** flow → group → recent findings (newest last). */
  open: Map<string, Map<string, FindingHead[]>>;
  /** flow → group → threshold hits, sorted by time. */
  hits: Map<string, Map<string, HitGroup>>;
  /** scope → subject → when the subject was first seen and the values it has used. */
  subjects: Map<string, Map<string, SubjectState>>;
}

export interface SubjectState {
  /** When the subject was first seen (ms); NaN while only its values are known (loaded without the subject row). */
  firstSeen: number;
  values: Map<string, ValueState>;
}

export interface ValueState {
  firstSeen: number;
  firstEventId: string;
  /** A finding was opened for the value (later uses may join it while it is open). */
  reported: boolean;
  /** The value's group (`dimKey`), kept once a reported value's finding is looked up. */
  group?: string;
}

export function emptySnapshot(): Snapshot {
  return { done: new Map(), open: new Map(), hits: new Map(), subjects: new Map() };
}

/** The inner map of `outer` under `k`, made when missing. */
export function inner<K, V>(outer: Map<string, Map<K, V>>, k: string): Map<K, V> {
  let m = outer.get(k);
  if (m === undefined) outer.set(k, (m = new Map()));
  return m;
}

function isDone(s: Snapshot, flow: string, eventId: string): boolean {
  const ids = s.done.get(flow);
  return ids !== undefined && ids.has(eventId);
}

export interface Changes {
  newFindings: FindingHead[];
  joins: { findingId: string; flow: string; eventId: string; t: number; event: TrailEvent | undefined }[];
  hits: { flow: string; group: string; eventId: string; t: number; values: readonly string[] | null }[];
  subjects: { scope: string; subject: string; firstSeen: number }[];
  values: { scope: string; subject: string; value: string; firstSeen: number; firstEventId: string }[];
  /** Ids of findings that were opened or joined. */
  touched: Set<string>;
}

/** What a batch needs loaded from the state. */
export interface LoadRequest {
  eventIds: string[];
  /** [flow, group, from, to]: findings whose anchor lies in the range. */
  groups: [string, string, number, number][];
  /** [flow, group, from, to]: threshold hits in the range. */
  hitGroups: [string, string, number, number][];
  subjects: [string, string][];
  values: [string, string, string][];
}

export interface Match {
  flow: CompiledFlow;
  event: TrailEvent;
  t: number;
  group: string;
  /** First-seen flows: the event's dimensions, flat (scope, subject, value, scope, subject, value, ...). */
  dims: string[];
  exempt: boolean;
  /** Threshold flows with `distinctBy`: the values the event counts for (null: none, or not such a flow). */
  values: readonly string[] | null;
}

const SEP = '\u0000';
/** The dimensions of every match that is not first-seen (never written to). */
const NO_DIMS: string[] = [];

export function findingId(flow: string, group: string, anchor: number): string {
  return createHash('sha256').update(`${flow}${SEP}${group}${SEP}${anchor}`).digest('hex').slice(0, 24);
}

export function dimKey(d: Dimension): string {
  return groupOf(d.scope, d.subject, d.value);
}

/** `dimKey` of the dimension: the group of its findings. */
function groupOf(scope: string, subject: string, value: string): string {
  return `${scope}:${subject}:${value}`;
}

/**
 * `YYYY-MM-DDTHH:MM:SSZ` (the normalized form) read digit by digit; anything else through Date.parse.
 * When every position holds a digit (and the year is not one Date.UTC reads as 19xx), the time is
 * worked out here, exactly as Date.UTC does it, without the call.
 */
function timeOf(e: TrailEvent): number {
  const s = e.time;
  if (!s) return Number.NaN;
  if (s.length === 20 && s.charCodeAt(19) === 90 /* Z */ && s.charCodeAt(10) === 84 /* T */) {
    const y0 = s.charCodeAt(0) - 48;
    const y1 = s.charCodeAt(1) - 48;
    const y2 = s.charCodeAt(2) - 48;
    const y3 = s.charCodeAt(3) - 48;
    const mo0 = s.charCodeAt(5) - 48;
    const mo1 = s.charCodeAt(6) - 48;
    const d0 = s.charCodeAt(8) - 48;
    const d1 = s.charCodeAt(9) - 48;
    const h0 = s.charCodeAt(11) - 48;
    const h1 = s.charCodeAt(12) - 48;
    const mi0 = s.charCodeAt(14) - 48;
    const mi1 = s.charCodeAt(15) - 48;
    const s0 = s.charCodeAt(17) - 48;
    const s1 = s.charCodeAt(18) - 48;
    const year = y0 * 1000 + y1 * 100 + y2 * 10 + y3;
    const month = mo0 * 10 + mo1 - 1;
    const day = d0 * 10 + d1;
    const h = h0 * 10 + h1;
    const mi = mi0 * 10 + mi1;
    const sec = s0 * 10 + s1;
    // (x >>> 0) <= 9: x is a digit's value.
    if (
      year >= 100 &&
      (y0 >>> 0) <= 9 && (y1 >>> 0) <= 9 && (y2 >>> 0) <= 9 && (y3 >>> 0) <= 9 &&
      (mo0 >>> 0) <= 9 && (mo1 >>> 0) <= 9 && (d0 >>> 0) <= 9 && (d1 >>> 0) <= 9 &&
      (h0 >>> 0) <= 9 && (h1 >>> 0) <= 9 && (mi0 >>> 0) <= 9 && (mi1 >>> 0) <= 9 && (s0 >>> 0) <= 9 && (s1 >>> 0) <= 9
    ) {
      // Date.UTC lets the month run over into the year (00 is December of the year before) and the rest into each other.
      const carry = Math.floor(month / 12);
      return (daysFromCivil(year + carry, month - carry * 12 + 1) + day - 1) * 86_400_000 + h * 3_600_000 + mi * 60_000 + sec * 1000;
    }
    return Date.UTC(year, month, day, h, mi, sec);
  }
  return Date.parse(s);
}

/** Days from 1970-01-01 to the first of the month (proleptic Gregorian calendar; month 1-12). */
function daysFromCivil(year: number, month: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5);
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** For the memory state: true when `fold` would leave the first-seen flow's dimensions of the event unchanged (or it has none). */
export type Quiet = (flow: CompiledFlow, e: TrailEvent, t: number) => boolean;

const scratch: string[] = [];
let collected = 0;
const collect: DimensionSink = (scope, subject, value) => {
  scratch[collected++] = scope;
  scratch[collected++] = subject;
  scratch[collected++] = value;
};

/** A first-seen flow's dimensions of the event, flat (scope, subject, value, scope, ...). */
export function dimensionsOf(flow: CompiledFlow, e: TrailEvent): string[] {
  collected = 0;
  flow.dimensions!(e, flow.params, collect);
  return scratch.slice(0, collected);
}

export interface Matched {
  /** In event time order (stable: events with the same time keep their order in the batch). */
  matches: Match[];
  /** Events with a usable time (the others are dropped). */
  timed: number;
  /** The latest event time (-Infinity when none). */
  latest: number;
}

/**
 * Step 1, pure: which enabled flows each event matches, after allow-lists and `yieldsTo`, in event
 * time order (events without a usable time are dropped). The result is the same as matching the
 * events sorted by time: matching reads no state that matching changes, so the events are matched in
 * batch order, in one pass, and the matches (far fewer than the events) sorted afterwards.
 * First-seen flows keep allow-listed matches (marked `exempt`): the baseline still learns from them.
 * With `capture`, the records of every item whose action is one of `c.requestActions` are kept there,
 * each before its event is matched (a flow's `match` may read it through `env.request`).
 */
export function matchEvents(
  c: CompiledFlows,
  items: readonly EngineEvent[],
  env: FlowEnv,
  /** Optional: first-seen dimensions that `fold` would leave unchanged (known values, nothing open), to skip them early. */
  quiet?: Quiet,
  capture?: Map<string, RawRecord>,
): Matched {
  let captured: Set<string> | null = null;
  if (capture !== undefined) captured = new Set();
  const r = matchPass(c, items, env, quiet, capture, captured);
  // Two items of the batch with the same event id and a request-reading action: the first was matched
  // before the second's record was kept. The pass kept every record (the last one of an id wins, as
  // when they are kept beforehand): match again without keeping any.
  if (r === null) return matchPass(c, items, env, quiet, undefined, null)!;
  return r;
}

/**
 * Reads, for the whole batch in one tight loop, the fields matching reads of nearly every event (the
 * time and the action; what the flows that look at every event test). Each is a string of its own
 * somewhere in the heap: read here one after the other, with nothing waiting on them, their cache
 * misses overlap, where in the matching loop each would stall it in turn. (Worth some 10-15% of the
 * evaluation on the benchmark.)
 */
function warm(items: readonly EngineEvent[]): void {
  let n = 0;
  for (let k = 0; k < items.length; k++) {
    const e = items[k]!.event;
    n += (e.time?.length ?? 0) + (e.action?.length ?? 0) + (e.service?.length ?? 0) + (e.account?.length ?? 0);
    n += (e.actorKey?.length ?? 0) + (e.actor.type?.length ?? 0) + (e.eventType?.length ?? 0);
  }
  warmed = n;
}
/** (Kept so the reads in `warm` are not optimized away.) */
let warmed = 0;

function matchPass(
  c: CompiledFlows,
  items: readonly EngineEvent[],
  env: FlowEnv,
  quiet: Quiet | undefined,
  capture: Map<string, RawRecord> | undefined,
  captured: Set<string> | null,
): Matched | null {
  const out: Match[] = [];
  // Per event, reused: the flows that matched, then (compacted) the ones kept with their dimensions and exemption.
  const matched: CompiledFlow[] = [];
  const dimsOf: string[][] = [];
  const exempt: boolean[] = [];
  const byAction = c.byAction;
  const requestActions = c.requestActions;
  const anyAction = c.anyAction;
  warm(items);
  let timed = 0;
  let latest = Number.NEGATIVE_INFINITY;
  let inOrder = true;
  let dup = false;
  for (let k = 0; k < items.length; k++) {
    const item = items[k]!;
    const e = item.event;
    const action = e.action;
    // (Every request-reading action is one some flow lists: `byAction` has it.)
    const flows = action !== null ? byAction.get(action) : undefined;
    if (flows !== undefined && capture !== undefined && item.raw && requestActions.has(action!)) {
      if (captured !== null) {
        if (captured.has(e.eventId)) dup = true;
        else captured.add(e.eventId);
      }
      capture.set(e.eventId, item.raw);
    }
    const t = timeOf(e);
    if (Number.isNaN(t)) continue;
    timed++;
    if (t >= latest) latest = t;
    else inOrder = false;
    // (The arrays are reused and never shortened: `n` and `kept` say how much of them is this event's.)
    let n = 0;
    if (flows !== undefined) {
      for (let i = 0; i < flows.length; i++) {
        const f = flows[i]!;
        if (f.match(e, f.params, env)) matched[n++] = f;
      }
    }
    for (let i = 0; i < anyAction.length; i++) {
      const f = anyAction[i]!;
      if (f.match(e, f.params, env)) matched[n++] = f;
    }
    if (n === 0) continue;
    let mask = -1;
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const f = matched[i]!;
      let dims = NO_DIMS;
      if (f.kind === 'first-seen') {
        // Nothing for this flow to learn or report: drop it (it cannot make another flow yield).
        if (quiet !== undefined && quiet(f, e, t)) continue;
        dims = dimensionsOf(f, e);
        if (dims.length === 0) continue;
      }
      let ex = false;
      if (f.allowMask !== 0) {
        if (mask < 0) mask = allowMaskOf(c.lists, e);
        ex = (mask & f.allowMask) !== 0;
      }
      matched[kept] = f;
      dimsOf[kept] = dims;
      exempt[kept] = ex;
      kept++;
    }
    for (let i = 0; i < kept; i++) {
      const f = matched[i]!;
      const yields = f.yieldsTo;
      if (yields !== null && yieldsHere(yields, matched, exempt, kept, i)) continue;
      if (f.kind === 'first-seen') {
        out.push({ flow: f, event: e, t, group: '', dims: dimsOf[i]!, exempt: exempt[i]!, values: null });
      } else if (!exempt[i]) {
        const values = f.distinctBy !== null ? valuesOf(f.distinctBy(e, f.params, env)) : null;
        out.push({ flow: f, event: e, t, group: f.key!(e, f.params, env), dims: NO_DIMS, exempt: false, values });
      }
    }
  }
  if (dup) return null;
  return { matches: inOrder ? out : sortByTime(out), timed, latest };
}

/**
 * A stable sort by time: each event's matches stay together and in order, events of the same time in
 * batch order. Times are whole milliseconds (Date.UTC, Date.parse), so when the range allows,
 * (t - lo) * n + i is an exact integer key, and a typed array sorts the keys without a comparator.
 */
function sortByTime(ms: Match[]): Match[] {
  const n = ms.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const t = ms[i]!.t;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  if ((hi - lo + 1) * n > Number.MAX_SAFE_INTEGER) return ms.sort((a, b) => a.t - b.t);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = (ms[i]!.t - lo) * n + i;
  keys.sort();
  const out = new Array<Match>(n);
  for (let j = 0; j < n; j++) out[j] = ms[keys[j]! % n]!;
  return out;
}

/** `distinctBy`'s answer as a list: at most MAX_DISTINCT_PER_EVENT non-empty strings, or null. */
function valuesOf(v: DistinctValues): readonly string[] | null {
  if (v === null) return null;
  if (typeof v === 'string') return v === '' ? null : [v];
  const out: string[] = [];
  for (const x of v) {
    if (typeof x === 'string' && x !== '' && !out.includes(x)) out.push(x);
    if (out.length >= MAX_DISTINCT_PER_EVENT) break;
  }
  return out.length > 0 ? out : null;
}

/** Another flow the event matched (and is not allow-listed for) is one `i` yields to. */
function yieldsHere(yields: ReadonlySet<CompiledFlow>, matched: readonly CompiledFlow[], exempt: readonly boolean[], n: number, i: number): boolean {
  for (let j = 0; j < n; j++) if (j !== i && !exempt[j] && yields.has(matched[j]!)) return true;
  return false;
}

/** Step 2: what to load from the state for these matches. */
export function loadRequest(matches: readonly Match[]): LoadRequest {
  const eventIds = new Set<string>();
  const groups = new Map<string, [string, string, number, number]>();
  const hitGroups = new Map<string, [string, string, number, number]>();
  const subjects = new Map<string, [string, string]>();
  const values = new Map<string, [string, string, string]>();
  const widen = (m: Map<string, [string, string, number, number]>, flow: string, group: string, from: number, to: number): void => {
    const k = flow + SEP + group;
    const cur = m.get(k);
    if (!cur) m.set(k, [flow, group, from, to]);
    else {
      cur[2] = Math.min(cur[2], from);
      cur[3] = Math.max(cur[3], to);
    }
  };
  for (const m of matches) {
    eventIds.add(m.event.eventId);
    const f = m.flow;
    if (f.kind === 'first-seen') {
      const dims = m.dims;
      for (let i = 0; i < dims.length; i += 3) {
        const scope = dims[i]!;
        const subject = dims[i + 1]!;
        const value = dims[i + 2]!;
        subjects.set(scope + SEP + subject, [scope, subject]);
        values.set(scope + SEP + subject + SEP + value, [scope, subject, value]);
        widen(groups, f.id, groupOf(scope, subject, value), m.t - f.dedupMs, m.t + f.dedupMs);
      }
    } else {
      widen(groups, f.id, m.group, m.t - f.dedupMs, m.t + f.dedupMs);
      if (f.kind === 'threshold') widen(hitGroups, f.id, m.group, m.t - f.windowMs, m.t + Math.max(f.windowMs, f.dedupMs));
    }
  }
  return {
    eventIds: [...eventIds],
    groups: [...groups.values()],
    hitGroups: [...hitGroups.values()],
    subjects: [...subjects.values()],
    values: [...values.values()],
  };
}

export function emptyChanges(): Changes {
  return { newFindings: [], joins: [], hits: [], subjects: [], values: [], touched: new Set() };
}

/** The finding of the flow's group that an event at `t` joins: anchored within the dedup period. */
function openFinding(s: Snapshot, flow: string, group: string, t: number, dedupMs: number): FindingHead | null {
  const list = s.open.get(flow)?.get(group);
  if (list === undefined) return null;
  for (let i = list.length - 1; i >= 0; i--) {
    const f = list[i]!;
    if (t >= f.anchor && t < f.anchor + dedupMs) return f;
  }
  for (let i = list.length - 1; i >= 0; i--) {
    const f = list[i]!;
    if (t < f.anchor && f.anchor - t < dedupMs) return f;
  }
  return null;
}

function openNew(s: Snapshot, ch: Changes, flow: CompiledFlow, group: string, anchor: number, dim: Dimension | null, keepEvents: boolean): FindingHead {
  const f: FindingHead = {
    id: findingId(flow.id, group, anchor),
    key: `${flow.id}:${group}`,
    flow: flow.id,
    group,
    anchor,
    firstSeen: anchor,
    lastSeen: anchor,
    count: 0,
    dim,
  };
  if (keepEvents) f.events = [];
  const groups = inner(s.open, flow.id);
  let list = groups.get(group);
  if (list === undefined) groups.set(group, (list = []));
  list.push(f);
  ch.newFindings.push(f);
  return f;
}

function join(s: Snapshot, ch: Changes, f: FindingHead, flow: string, eventId: string, t: number, e: TrailEvent | undefined): void {
  let ids = s.done.get(flow);
  if (ids === undefined) s.done.set(flow, (ids = new Set()));
  if (ids.has(eventId)) return;
  ids.add(eventId);
  f.count++;
  if (t < f.firstSeen) f.firstSeen = t;
  if (t > f.lastSeen) f.lastSeen = t;
  if (e) f.events?.push(e);
  ch.joins.push({ findingId: f.id, flow, eventId, t, event: e });
  ch.touched.add(f.id);
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

/** One event joins one finding per flow and baseline scope (a new service can be new to the account and to the person). */
function scopedFlow(f: CompiledFlow, scope: string): string {
  return `${f.id}/${scope}`;
}

/**
 * Step 3: folds the matches (in time order) into the snapshot, recording every change. The same
 * code runs for both states; only where the snapshot comes from and where the changes go differ.
 */
export function fold(matches: readonly Match[], s: Snapshot, env: FlowEnv, opts: { keepEvents: boolean }): Changes {
  const ch = emptyChanges();
  for (let k = 0; k < matches.length; k++) {
    const m = matches[k]!;
    const f = m.flow;
    const e = m.event;
    const t = m.t;
    const kind = f.kind;
    if (kind === 'single') {
      if (isDone(s, f.id, e.eventId)) continue;
      const open = openFinding(s, f.id, m.group, t, f.dedupMs) ?? openNew(s, ch, f, m.group, t, null, opts.keepEvents);
      join(s, ch, open, f.id, e.eventId, t, e);
    } else if (kind === 'threshold') {
      if (isDone(s, f.id, e.eventId)) continue;
      const groups = inner(s.hits, f.id);
      let hits = groups.get(m.group);
      if (hits === undefined) groups.set(m.group, (hits = { list: [], ids: new Set() }));
      if (hits.ids.has(e.eventId)) continue;
      const hit: Hit = { eventId: e.eventId, t, findingId: null, event: e, values: m.values };
      const inOrder = hits.list.length === 0 || hits.list[hits.list.length - 1]!.t <= t;
      insertHit(hits, hit);
      ch.hits.push({ flow: f.id, group: m.group, eventId: e.eventId, t, values: m.values });
      const open = openFinding(s, f.id, m.group, t, f.dedupMs);
      if (open) {
        join(s, ch, open, f.id, e.eventId, t, e);
        hit.findingId = open.id;
        continue;
      }
      const lo = upperBound(hits.list, t - f.windowMs);
      const hi = upperBound(hits.list, t);
      if (f.distinctBy !== null) {
        if (!overDistinct(hits, hit, inOrder, lo, hi, t - f.windowMs, f.moreThan)) continue;
      } else if (hi - lo <= f.moreThan) continue;
      const first = hits.list.slice(lo, hi).find((h) => h.findingId === null);
      if (!first) continue;
      const anchor = first.t;
      // Hits recorded earlier but later in time (batches arrive out of order) join too, within the dedup period.
      const unassigned = hits.list.slice(lo, upperBound(hits.list, anchor + f.dedupMs - 1)).filter((h) => h.findingId === null);
      const fresh = openNew(s, ch, f, m.group, anchor, null, opts.keepEvents);
      for (const h of unassigned) {
        join(s, ch, fresh, f.id, h.eventId, h.t, h.event);
        h.findingId = fresh.id;
      }
    } else {
      const dims = m.dims;
      for (let i = 0; i < dims.length; i += 3) {
        const scopeName = dims[i]!;
        const subjectKey = dims[i + 1]!;
        const value = dims[i + 2]!;
        let scope = s.subjects.get(scopeName);
        if (!scope) s.subjects.set(scopeName, (scope = new Map()));
        let subject = scope.get(subjectKey);
        const subjectFirst = subject && !Number.isNaN(subject.firstSeen) ? subject.firstSeen : undefined;
        if (!subject) scope.set(subjectKey, (subject = { firstSeen: t, values: new Map() }));
        if (subjectFirst === undefined || t < subjectFirst) {
          subject.firstSeen = subjectFirst === undefined ? t : Math.min(subjectFirst, t);
          ch.subjects.push({ scope: scopeName, subject: subjectKey, firstSeen: t });
        }
        const known = subject.values.get(value);
        if (known) {
          if (known.firstEventId === e.eventId) continue;
          if (t < known.firstSeen) {
            known.firstSeen = t;
            ch.values.push({ scope: scopeName, subject: subjectKey, value, firstSeen: t, firstEventId: known.firstEventId });
          }
          // Later use of the new value joins its finding while the finding is open.
          if (!known.reported || m.exempt) continue;
          const open = openFinding(s, f.id, (known.group ??= groupOf(scopeName, subjectKey, value)), t, f.dedupMs);
          if (open) join(s, ch, open, scopedFlow(f, scopeName), e.eventId, t, e);
          continue;
        }
        const fresh: ValueState = { firstSeen: t, firstEventId: e.eventId, reported: false };
        subject.values.set(value, fresh);
        ch.values.push({ scope: scopeName, subject: subjectKey, value, firstSeen: t, firstEventId: e.eventId });
        if (subjectFirst === undefined) continue; // nothing known about the subject before: no baseline
        if (t - subjectFirst < f.learningMs) continue; // still learning what is normal for the subject
        if (m.exempt) continue;
        const d: Dimension = { scope: scopeName, subject: subjectKey, value };
        const def = f.def as FirstSeenFlow;
        if (def.alert && !def.alert(e, d, f.params, env)) continue;
        const scoped = scopedFlow(f, scopeName);
        if (isDone(s, scoped, e.eventId)) continue;
        fresh.reported = true;
        const opened = openNew(s, ch, f, groupOf(scopeName, subjectKey, value), t, d, opts.keepEvents);
        join(s, ch, opened, scoped, e.eventId, t, e);
      }
    }
  }
  return ch;
}

/**
 * For a live snapshot (the memory state): true when folding the event's dimensions for a first-seen
 * flow would change nothing (the subject and the value are known from no later than the event, and
 * the value was never reported), or when it has none. Checks the dimensions as the flow names them,
 * without building them.
 */
export function quietIn(s: Snapshot): Quiet {
  let at = 0;
  let quiet = true;
  const check: DimensionSink = (scope, subject, value) => {
    if (!quiet) return;
    const st = s.subjects.get(scope)?.get(subject);
    if (st === undefined || !(st.firstSeen <= at)) {
      quiet = false;
      return;
    }
    const v = st.values.get(value);
    if (v === undefined || v.reported || at < v.firstSeen) quiet = false;
  };
  return (flow, e, t) => {
    at = t;
    quiet = true;
    flow.dimensions!(e, flow.params, check);
    return quiet;
  };
}
