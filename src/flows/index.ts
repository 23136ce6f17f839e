import type { Ingestible, RawRecord, TrailEvent } from '../events/model.ts';
import type { Store } from '../store/index.ts';
import { rawsByIds, spanOf } from '../store/queries.ts';
import { type CompiledFlows, compileFlows } from './compile.ts';
import type { FlowsConfig } from './config.ts';
import { type EngineEvent, fold, loadRequest, matchEvents } from './engine/index.ts';
import type { Finding } from './finding.ts';
import { applyChanges, type FindingPage, findingsPage, getFindings, loadSnapshot, lockFindings, renderStored } from './store.ts';

export { compileFlows, type CompiledFlow, type CompiledFlows } from './compile.ts';
export { defaultFlowsConfig, deploymentOf, flowsConfigSchema, parseFlowsConfig, type Deployment, type FlowsConfig, type FlowsConfigInput } from './config.ts';
export { defineFlow, type FlowDef, type FlowKind, type Severity } from './define.ts';
export { Detector, detect } from './detector.ts';
export type { EngineEvent } from './engine/index.ts';
export { findingJson, FINDING_STATUSES, type Finding, type FindingStatus } from './finding.ts';
export { FLOWS } from './registry.ts';
export { findingEventIds, findingsPage, getFinding, getFindings, listFindings, setFindingStatus, type FindingPage, type FindingQuery } from './store.ts';

const compiledCache = new WeakMap<FlowsConfig, CompiledFlows>();

/** The configuration compiled once per configuration object. */
export function compiledFor(config: FlowsConfig): CompiledFlows {
  let c = compiledCache.get(config);
  if (!c) compiledCache.set(config, (c = compileFlows(config)));
  return c;
}

export interface EvaluateResult {
  /** Findings opened or joined by these events, rendered, as stored. */
  findings: Finding[];
  /** The ids of the findings these events opened (the rest of `findings` they joined). */
  opened: string[];
  created: number;
  updated: number;
  /** Events that matched some flow. */
  matched: number;
}

/** An Ingestible is one as it is: copying its `raw` would parse every record read (ingest.ts ReadRecord); only request-reading actions need it. */
function asEngineEvent(x: Ingestible | TrailEvent | EngineEvent): EngineEvent {
  return 'event' in x ? x : { event: x, raw: null };
}

/**
 * Evaluates all enabled flows over events already ingested into the store (the worker calls it
 * after each ingested batch). Idempotent: a retried job that evaluates the same events again finds
 * them in `finding_events` and changes nothing, so counts are never doubled. First-seen baselines and
 * threshold windows live in the store, so batches may come in any size. Findings are stamped with
 * `now` when given, else with the database's clock read under the findings lock.
 */
export async function evaluateFlows(
  store: Store,
  events: readonly (Ingestible | TrailEvent | EngineEvent)[],
  config: FlowsConfig,
  now?: Date,
): Promise<EvaluateResult> {
  const c = compiledFor(config);
  const items = events.map(asEngineEvent);
  const raws = new Map<string, RawRecord>();
  const needRaw: string[] = [];
  for (const it of items) {
    const a = it.event.action;
    if (a === null || !c.requestActions.has(a)) continue;
    if (it.raw) raws.set(it.event.eventId, it.raw);
    else needRaw.push(it.event.eventId);
  }
  if (needRaw.length) {
    const span = spanOf(items.map((it) => it.event.time));
    for (const [id, raw] of await rawsByIds(store.db, needRaw, span)) raws.set(id, raw);
  }
  const env = c.env(raws);
  const { matches } = matchEvents(c, items, env);
  if (matches.length === 0) return { findings: [], opened: [], created: 0, updated: 0, matched: 0 };
  const req = loadRequest(matches);
  const batch = new Map(items.map((it) => [it.event.eventId, it.event]));
  const touched = await store.db.transaction(async (tx) => {
    // Serializes evaluations (joining a finding must not race with opening it) and orders the feed.
    const at = await lockFindings(tx);
    const snapshot = await loadSnapshot(tx, req);
    const ch = fold(matches, snapshot, env, { keepEvents: false });
    await applyChanges(tx, c, ch, now?.toISOString() ?? at);
    await renderStored(tx, c, [...ch.touched], batch, raws);
    return { ids: [...ch.touched], created: new Set(ch.newFindings.map((f) => f.id)) };
  });
  // One query for all of them: a batch touching the findings of 200 people made 200 round trips here.
  const findings: Finding[] = await getFindings(store.db, touched.ids);
  findings.sort((a, b) => a.firstSeen.localeCompare(b.firstSeen) || a.id.localeCompare(b.id));
  const opened = findings.filter((f) => touched.created.has(f.id)).map((f) => f.id);
  const created = opened.length;
  return { findings, opened, created, updated: findings.length - created, matched: new Set(matches.map((m) => m.event.eventId)).size };
}

/**
 * What the Slack and Jira integrations poll: the findings changed after `cursor` (none: from the
 * start), oldest change first, and the `next` cursor to keep (always set). Every change comes
 * through once, whatever other workers write meanwhile.
 */
export function findingsAfter(store: Store, cursor: string | undefined, limit = 500): Promise<FindingPage> {
  return findingsPage(store.db, { after: cursor, limit });
}
