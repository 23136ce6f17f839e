import type { RawRecord, TrailEvent } from '../events/model.ts';
import { type FlowsConfig, overrideOf } from './config.ts';
import { BlockList, isIP } from 'node:net';
import { type AllowListName, type AnyFlow, type DimensionSink, type DistinctValues, durationMs, type FlowEnv, type FlowKind, type Params, type Severity } from './define.ts';
import { fieldsOf, NO_FIELDS } from './fields.ts';
import { actorNames, anyMatch, cloudFormationMade, globToRegExp } from './match.ts';
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
  key: ((e: TrailEvent, params: Params, env: FlowEnv) => string) | null;
  /** Threshold flows counting distinct values (`ThresholdFlow.distinctBy`), else null. */
  distinctBy: ((e: TrailEvent, params: Params, env: FlowEnv) => DistinctValues) | null;
  /** First-seen flows. */
  dimensions: ((e: TrailEvent, params: Params, dim: DimensionSink) => void) | null;
  enabled: boolean;
  severity: Severity;
  /** `def.severityOf`, unless configuration set the flow's severity (see `severityFor`). */
  severityOf: ((e: TrailEvent, params: Params, env: FlowEnv) => Severity | null) | null;
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
  /** `flows.allow.iacUserAgents`: calls CloudFormation made (see `cloudFormationMade`) count as IaC. */
  iacUserAgents: boolean;
  /** `allowMaskOf`'s answers by actor key, for calls CloudFormation made and for the others. */
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
 *
 * Only what the account controls is trusted (`actorNames`: role and user names and ARNs, SSO
 * permission sets; never a role session's name, which whoever assumes the role picks). A user
 * agent naming Terraform or the CDK never exempts on its own either (the caller writes it): with
 * `iacUserAgents`, what counts is a call CloudFormation itself made (`invokedBy` or
 * `sourceIPAddress` `cloudformation.amazonaws.com`, written by AWS), and otherwise only an identity
 * under `iacIdentities` is IaC, whatever its user agent.
 */
export function allowMaskOf(lists: AllowMatchers, e: TrailEvent): number {
  const cfn = lists.iacUserAgents && cloudFormationMade(e);
  if (lists.breakGlass.length === 0 && lists.automation.length === 0 && lists.iac.length === 0) {
    return cfn ? ALLOW_BIT.iac : 0;
  }
  const key = e.actorKey;
  if (key === null) return computeMask(lists, e, cfn);
  const cache = cfn ? lists.iacMasks : lists.masks;
  let m = cache.get(key);
  if (m === undefined) {
    m = computeMask(lists, e, cfn);
    if (cache.size > 100_000) cache.clear();
    cache.set(key, m);
  }
  return m;
}

function computeMask(lists: AllowMatchers, e: TrailEvent, cfn: boolean): number {
  const names = actorNames(e.actor);
  if (names.length === 0 && !cfn) return 0;
  let m = 0;
  if (anyMatch(lists.breakGlass, names)) m |= ALLOW_BIT.breakGlass;
  if (anyMatch(lists.automation, names)) m |= ALLOW_BIT.automation;
  if (cfn || anyMatch(lists.iac, names)) m |= ALLOW_BIT.iac;
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
        return want?.some((w) => w.toLowerCase() === v.toLowerCase()) === true;
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

/** The record's part as `Fields` (empty when the record is not at hand). */
function partOf(raws: ReadonlyMap<string, RawRecord>, e: TrailEvent, part: 'requestParameters' | 'responseElements' | 'additionalEventData') {
  const raw = raws.get(e.eventId);
  return raw === undefined ? NO_FIELDS : fieldsOf(raw[part]);
}

/** `flows.expected.egressCidrs` as a test of one address (null when none are set). Ranges are checked by the config schema. */
function egressMatcher(cidrs: readonly string[]): ((ip: string) => boolean) | null {
  if (cidrs.length === 0) return null;
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/') as [string, string | undefined];
    const family = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(addr, bits === undefined ? (family === 'ipv6' ? 128 : 32) : Number(bits), family);
  }
  // Answers by address: a deployment's instances call from a handful of them, and BlockList.check costs microseconds.
  const seen = new Map<string, boolean>();
  return (ip) => {
    let inside = seen.get(ip);
    if (inside === undefined) {
      const v = isIP(ip);
      inside = v !== 0 && list.check(ip, v === 6 ? 'ipv6' : 'ipv4');
      if (seen.size >= 10_000) seen.clear();
      seen.set(ip, inside);
    }
    return inside;
  };
}

/** A finding's severity: what its first event calls for (`FlowDef.severityOf`), else the flow's. */
export function severityFor(f: CompiledFlow, first: TrailEvent, env: FlowEnv): Severity {
  return (f.severityOf !== null ? f.severityOf(first, f.params, env) : null) ?? f.severity;
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
      key: def.kind === 'first-seen' ? null : (def.key as CompiledFlow['key']),
      distinctBy: def.kind === 'threshold' && def.distinctBy ? (def.distinctBy as CompiledFlow['distinctBy']) : null,
      dimensions: def.kind === 'first-seen' ? def.dimensions : null,
      enabled: o.enabled ?? true,
      severity: (o.severity as Severity | undefined) ?? def.severity,
      severityOf: o.severity === undefined && def.severityOf ? (def.severityOf as CompiledFlow['severityOf']) : null,
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
  const ours = new Set<string>([...config.trustedAccounts, ...config.ownAccounts]);
  const egress = egressMatcher(config.expected.egressCidrs);
  const trailBuckets: ReadonlySet<string> = new Set(config.trailBuckets);
  const env = (raws: ReadonlyMap<string, RawRecord>): FlowEnv => ({
    request: (e) => partOf(raws, e, 'requestParameters'),
    response: (e) => partOf(raws, e, 'responseElements'),
    additional: (e) => partOf(raws, e, 'additionalEventData'),
    touchesProduction: (e) => production(e).length > 0,
    productionResources: production,
    regionExpected(account, region) {
      if (!region) return true;
      if (globalRegions.has(region)) return true;
      return account !== null && (perAccount.get(account)?.has(region) ?? false);
    },
    knownAccount: (e, id) => id === e.account || ours.has(id),
    trailBuckets,
    egressConfigured: egress !== null,
    insideEgress: (ip) => egress !== null && ip !== null && egress(ip),
  });
  return { flows, enabled, byId: new Map(flows.map((f) => [f.id, f])), byAction, anyAction, requestActions, lists, env };
}
