import type { RawRecord } from '../events/model.ts';
import { type CompiledFlows, compileFlows, severityFor } from './compile.ts';
import type { FlowsConfig } from './config.ts';
import { emptySnapshot, type EngineEvent, type FindingHead, fold, matchEvents, foldChangesNothingIn, type Snapshot } from './engine/index.ts';
import type { Finding } from './finding.ts';
import { breakdownOf, renderFinding } from './render.ts';

/**
 * Flows over a stream of events without a store (`trailbot detect`, the benchmark). State lives
 * in memory: first-seen baselines come from the events seen earlier in the same run, so feed the
 * events oldest first (files are read in order; each batch is sorted by time).
 */
export class Detector {
  readonly compiled: CompiledFlows;
  private readonly state: Snapshot = emptySnapshot();
  private readonly all: FindingHead[] = [];
  private readonly raws = new Map<string, RawRecord>();
  private latest = Number.NEGATIVE_INFINITY;
  private sincePrune = 0;
  private readonly maxWindow: number;
  private readonly maxDedup: number;
  private readonly quiet: ReturnType<typeof foldChangesNothingIn>;

  constructor(config: FlowsConfig, compiled?: CompiledFlows) {
    this.compiled = compiled ?? compileFlows(config);
    this.maxWindow = Math.max(0, ...this.compiled.enabled.map((f) => f.windowMs));
    this.maxDedup = Math.max(0, ...this.compiled.enabled.map((f) => f.dedupMs));
    this.quiet = foldChangesNothingIn(this.state);
  }

  /** Evaluates a batch of events (any order within the batch). */
  push(items: readonly EngineEvent[]): void {
    if (items.length === 0) return;
    const req = this.compiled.requestActions;
    const env = this.compiled.env(this.raws);
    const m = matchEvents(this.compiled, items, env, this.quiet, req.size > 0 ? this.raws : undefined);
    if (m.timed === 0) return;
    const ch = fold(m.matches, this.state, env, { keepEvents: true });
    for (const f of ch.newFindings) this.all.push(f);
    this.latest = Math.max(this.latest, m.latest);
    this.sincePrune += items.length;
    if (this.sincePrune > 50_000) this.prune();
  }

  /** Drops state no later event can reach (hits older than the longest window, closed findings). */
  private prune(): void {
    this.sincePrune = 0;
    const hitCut = this.latest - 2 * this.maxWindow;
    for (const [flow, groups] of this.state.hits) {
      for (const [k, g] of groups) {
        let n = 0;
        while (n < g.list.length && g.list[n]!.t < hitCut) n++;
        if (n === 0) continue;
        for (const h of g.list.splice(0, n)) g.ids.delete(h.eventId);
        if (g.list.length === 0) groups.delete(k);
      }
      if (groups.size === 0) this.state.hits.delete(flow);
    }
    const openCut = this.latest - 2 * this.maxDedup;
    for (const [flow, groups] of this.state.open) {
      for (const [k, list] of groups) {
        const keep = list.filter((f) => f.anchor >= openCut);
        if (keep.length === 0) groups.delete(k);
        else if (keep.length !== list.length) groups.set(k, keep);
      }
      if (groups.size === 0) this.state.open.delete(flow);
    }
  }

  /** Every finding so far, rendered, oldest first. */
  findings(): Finding[] {
    const env = this.compiled.env(this.raws);
    return [...this.all]
      .sort((a, b) => a.firstSeen - b.firstSeen || (a.id < b.id ? -1 : 1))
      .map((h) => {
        const flow = this.compiled.byId.get(h.flow)!;
        const events = [...(h.events ?? [])].sort((a, b) => (a.time ?? '').localeCompare(b.time ?? ''));
        const r = renderFinding({
          flow,
          count: h.count,
          firstSeen: h.firstSeen,
          lastSeen: h.lastSeen,
          dim: h.dim,
          first: events[0]!,
          last: events[events.length - 1]!,
          eventIds: events.map((e) => e.eventId),
          breakdown: breakdownOf(events),
          env,
        });
        return {
          id: h.id,
          key: h.key,
          flow: h.flow,
          kind: flow.def.kind,
          severity: severityFor(flow, events[0]!, env),
          status: 'open',
          count: h.count,
          firstSeen: iso(h.firstSeen),
          lastSeen: iso(h.lastSeen),
          eventIds: events.map((e) => e.eventId),
          ...r,
        };
      });
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Convenience: all findings for a list of events. */
export function detect(items: readonly EngineEvent[], config: FlowsConfig): Finding[] {
  const d = new Detector(config);
  d.push(items);
  return d.findings();
}
