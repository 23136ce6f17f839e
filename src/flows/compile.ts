import type { RawRecord, TrailEvent } from '../events/model.ts';
import { type FlowsConfig, overrideOf } from './config.ts';
import { type AllowListName, type AnyFlow, type DimensionSink, durationMs, type FlowEnv, type FlowKind, type Params, type Severity } from './define.ts';
import { actorNames, anyMatch, globToRegExp } from './match.ts';
import { FLOWS } from './registry.ts';

/** A flow with its configuration applied: what the engine runs. */
export interface CompiledFlow {
  def: AnyFlow;
  id: string;
  /**
   * `def`'s kind and functions, at hand on one object shape for every flow (the engine reads them per
   * event; through `def`, whose shape differs from flow to flow, those reads are slow). Called
   * without `def` as `this`: flows are made of plain functions.
   */
  kind: FlowKind;
  match: (e: TrailEvent, params: Params, env: FlowEnv) => boolean;
  /** Single and threshold flows. */
  key: ((e: TrailEvent, params: Params) => string) | null;
  /** First-seen flows. */
  dimensions: ((e: TrailEvent, params: Params, dim: DimensionSink) => void) | null;
  enabled: boolean;
  severity: Severity;
  params: Params;
  dedupMs: number;
  allow: ReadonlySet<AllowListName>;
  /** Threshold flows: fire when more than this many events fall within `windowMs`. */
  moreThan: number;
  windowMs: number;
  /** First-seen flows: a subject must have this much history before its new values are reported. */
  learningMs: number;
  /** `allow` as bits of `ALLOW_BIT` (compared with `allowMaskOf`). */
  allowMask: number;
  /** The enabled flows named in `def.yieldsTo` (null when it names none). */
  yieldsTo: ReadonlySet<CompiledFlow> | null;
}

export interface CompiledFlows {
  flows: CompiledFlow[];
  enabled: CompiledFlow[];
  byId: Map<string, CompiledFlow>;
  /** Enabled flows by event name (flows with an `actions` list) and those that look at every event. */
  byAction: Map<string, CompiledFlow[]>;
  anyAction: CompiledFlow[];
  /** Event names for which some enabled flow needs the record's request parameters. */
  requestActions: ReadonlySet<string>;
  lists: AllowMatchers;
  env: (raws: ReadonlyMap<string, RawRecord>) => FlowEnv;
}

interface AllowMatchers {
  breakGlass: RegExp[];
  automation: RegExp[];
  iac: RegExp[];
  iacUserAgents: boolean;
  /** `allowMaskOf`'s answers by actor key, for events made through an infrastructure-as-code tool and for the others. */
  iacMasks: Map<string, number>;
  masks: Map<string, number>;
}

/** One bit per allow-list (`allowMaskOf`, `CompiledFlow.allowMask`). */
const ALLOW_BIT: Readonly<Record<AllowListName, number>> = { breakGlass: 1, automation: 2, iac: 4 };

function maskOf(lists: ReadonlySet<AllowListName>): number {
  let m = 0;
  for (const l of lists) m |= ALLOW_BIT[l];
  return m;
}

/**
 * Which allow-lists the event's actor is on, as bits of `ALLOW_BIT` (a flow is allow-listed for the
 * event when this and its `allowMask` share a bit). Cached per principal: the same few hundred act all day.
 */
export function allowMaskOf(lists: AllowMatchers, e: TrailEvent): number {
  if (lists.breakGlass.length === 0 && lists.automation.length === 0 && lists.iac.length === 0) {
    return lists.iacUserAgents && e.via === 'iac' ? ALLOW_BIT.iac : 0;
  }
  const key = e.actorKey;
  if (key === null) return computeMask(lists, e);
  const cache = e.via === 'iac' ? lists.iacMasks : lists.masks;
  let m = cache.get(key);
  if (m === undefined) {
    m = computeMask(lists, e);
    if (cache.size > 100_000) cache.clear();
    cache.set(key, m);
  }
  return m;
}

function computeMask(lists: AllowMatchers, e: TrailEvent): number {
  const iacAgent = lists.iacUserAgents && e.via === 'iac';
  const names = actorNames(e.actor);
  if (names.length === 0 && !iacAgent) return 0;
  let m = 0;
  if (anyMatch(lists.breakGlass, names)) m |= ALLOW_BIT.breakGlass;
  if (anyMatch(lists.automation, names)) m |= ALLOW_BIT.automation;
  if (anyMatch(lists.iac, names) || iacAgent) m |= ALLOW_BIT.iac;
  return m;
}

function num(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : fallback;
}

function ms(v: unknown, fallback: string): number {
  return durationMs(typeof v === 'string' ? v : fallback);
}

function productionMatcher(cfg: FlowsConfig['production']): (e: TrailEvent) => string[] {
  const patterns = cfg.arnPatterns.map(globToRegExp);
  const tagged = new Set<string>();
  for (const r of cfg.resources) {
    if (typeof r === 'string') tagged.add(r.toLowerCase());
    else {
      const prod = Object.entries(r.tags).some(([k, v]) => {
        const want = cfg.tags[k] ?? cfg.tags[k.toLowerCase()];
        return want !== undefined && want.some((w) => w.toLowerCase() === v.toLowerCase());
      });
      if (prod) tagged.add(r.arn.toLowerCase());
    }
  }
  if (patterns.length === 0 && tagged.size === 0) return () => [];
  return (e) => {
    const hits: string[] = [];
    for (const r of e.resources) {
      const names = r.arn ? [r.arn, r.id] : [r.id];
      if (names.some((n) => tagged.has(n.toLowerCase())) || anyMatch(patterns, names)) hits.push(r.arn ?? r.id);
    }
    return hits;
  };
}

/** Applies configuration to the registry. Pure; cache the result per configuration. */
export function compileFlows(config: FlowsConfig, registry: readonly AnyFlow[] = FLOWS): CompiledFlows {
  const flows: CompiledFlow[] = registry.map((def) => {
    const o = overrideOf(config, def.id);
    const params = { ...(def.params as Params), ...((o.params ?? {}) as Params) };
    return {
      def,
      id: def.id,
      kind: def.kind,
      match: def.match,
      key: def.kind === 'first-seen' ? null : def.key,
      dimensions: def.kind === 'first-seen' ? def.dimensions : null,
      enabled: o.enabled ?? true,
      severity: (o.severity as Severity | undefined) ?? def.severity,
      params,
      dedupMs: durationMs(o.dedupPeriod ?? def.dedupPeriod),
      allow: new Set((o.allow as AllowListName[] | undefined) ?? def.allow),
      moreThan: num(params.moreThan, 0),
      windowMs: def.kind === 'threshold' ? ms(params.window, '1h') : 0,
      learningMs: def.kind === 'first-seen' ? ms(params.learningPeriod, '0s') : 0,
      allowMask: 0,
      yieldsTo: null,
    };
  });
  const enabled = flows.filter((f) => f.enabled);
  for (const f of flows) {
    f.allowMask = maskOf(f.allow);
    const yields = f.def.yieldsTo ? enabled.filter((g) => f.def.yieldsTo!.includes(g.id)) : [];
    f.yieldsTo = yields.length > 0 ? new Set(yields) : null;
  }
  const byAction = new Map<string, CompiledFlow[]>();
  const anyAction: CompiledFlow[] = [];
  const requestActions = new Set<string>();
  for (const f of enabled) {
    if (f.def.actions) {
      for (const a of f.def.actions) {
        let list = byAction.get(a);
        if (!list) byAction.set(a, (list = []));
        list.push(f);
        if (f.def.needsRequest) requestActions.add(a);
      }
    } else {
      anyAction.push(f);
    }
  }
  const lists: AllowMatchers = {
    breakGlass: config.allow.breakGlassRoles.map(globToRegExp),
    automation: config.allow.automationRoles.map(globToRegExp),
    iac: config.allow.iacIdentities.map(globToRegExp),
    iacUserAgents: config.allow.iacUserAgents,
    iacMasks: new Map(),
    masks: new Map(),
  };
  const production = productionMatcher(config.production);
  const globalRegions = new Set(config.expected.regions);
  const perAccount = new Map(Object.entries(config.expected.accounts).map(([k, v]) => [k, new Set(v)]));
  const env = (raws: ReadonlyMap<string, RawRecord>): FlowEnv => ({
    request(e) {
      const raw = raws.get(e.eventId);
      const p = raw?.requestParameters;
      return p !== null && typeof p === 'object' && !Array.isArray(p) ? (p as Record<string, unknown>) : null;
    },
    touchesProduction: (e) => production(e).length > 0,
    productionResources: production,
    regionExpected(account, region) {
      if (!region) return true;
      if (globalRegions.has(region)) return true;
      return account !== null && (perAccount.get(account)?.has(region) ?? false);
    },
  });
  return { flows, enabled, byId: new Map(flows.map((f) => [f.id, f])), byAction, anyAction, requestActions, lists, env };
}
