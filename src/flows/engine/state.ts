import { createHash } from 'node:crypto';
import type { TrailEvent } from '../../events/model.ts';
import type { CompiledFlow } from '../compile.ts';
import type { Dimension } from '../define.ts';
import type { Changes, FindingHead, Snapshot } from './types.ts';

/** The state's findings as every kind of flow opens and joins them. */

export const SEP = '\u0000';

export function emptySnapshot(): Snapshot {
  return { done: new Map(), open: new Map(), hits: new Map(), subjects: new Map() };
}

export function emptyChanges(): Changes {
  return { newFindings: [], joins: [], hits: [], subjects: [], values: [], touched: new Set() };
}

/** The inner map of `outer` under `k`, made when missing. */
export function inner<K, V>(outer: Map<string, Map<K, V>>, k: string): Map<K, V> {
  let m = outer.get(k);
  if (m === undefined) outer.set(k, (m = new Map()));
  return m;
}

/** The event is already part of one of the flow's findings. */
export function isDone(s: Snapshot, flow: string, eventId: string): boolean {
  return s.done.get(flow)?.has(eventId) === true;
}

export function findingId(flow: string, group: string, anchor: number): string {
  return createHash('sha256').update(`${flow}${SEP}${group}${SEP}${anchor}`).digest('hex').slice(0, 24);
}

/** The group of a first-seen flow's findings about one dimension. */
export function groupOf(scope: string, subject: string, value: string): string {
  return `${scope}:${subject}:${value}`;
}

/** The finding of the flow's group that an event at `t` joins: anchored within the dedup period. */
export function openFinding(s: Snapshot, flow: string, group: string, t: number, dedupMs: number): FindingHead | null {
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

export function openNew(s: Snapshot, ch: Changes, flow: CompiledFlow, group: string, anchor: number, dim: Dimension | null, keepEvents: boolean): FindingHead {
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

/** The event joins the finding, once: `flow` remembers it (the flow's id, or `flow/scope` for first-seen flows). */
export function join(s: Snapshot, ch: Changes, f: FindingHead, flow: string, eventId: string, t: number, e: TrailEvent | undefined): void {
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
