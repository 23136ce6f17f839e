import type { RawRecord } from '../../events/model.ts';
import { eventTimeMs } from '../../time.ts';
import { allowMaskOf, type CompiledFlow, type CompiledFlows } from '../compile.ts';
import type { FlowEnv } from '../define.ts';
import { dimensionReader } from './first-seen.ts';
import { byTime } from './order.ts';
import { valuesOf } from './threshold.ts';
import type { EngineEvent, Match, Matched, FoldChangesNothing } from './types.ts';

/** The dimensions of every match that is not first-seen (never written to). */
const NO_DIMS: string[] = [];

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
  quiet?: FoldChangesNothing,
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
 * misses overlap, where in the matching loop each would stall it in turn (worth some 10% of the
 * evaluation on bench:flows). The sum of the lengths goes unused: a length is read only once the value
 * is checked to be a string, and that check is what reaches the string's memory.
 */
function warm(items: readonly EngineEvent[]): number {
  let n = 0;
  for (let k = 0; k < items.length; k++) {
    const e = items[k]!.event;
    n += (e.time?.length ?? 0) + (e.action?.length ?? 0) + (e.service?.length ?? 0) + (e.account?.length ?? 0);
    n += (e.actorKey?.length ?? 0) + (e.actor.type?.length ?? 0) + (e.eventType?.length ?? 0);
  }
  return n;
}

function matchPass(
  c: CompiledFlows,
  items: readonly EngineEvent[],
  env: FlowEnv,
  quiet: FoldChangesNothing | undefined,
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
  const dimensionsOf = dimensionReader();
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
    // `raw` last: reading it may parse the record (ingest.ts ReadRecord).
    if (flows !== undefined && capture !== undefined && requestActions.has(action!) && item.raw) {
      if (captured !== null) {
        if (captured.has(e.eventId)) dup = true;
        else captured.add(e.eventId);
      }
      capture.set(e.eventId, item.raw);
    }
    const t = e.time ? eventTimeMs(e.time) : Number.NaN;
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
        if (quiet?.(f, e, t)) continue;
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
  return { matches: inOrder ? out : byTime(out), timed, latest };
}

/** Another flow the event matched (and is not allow-listed for) is one `i` yields to. */
function yieldsHere(yields: ReadonlySet<CompiledFlow>, matched: readonly CompiledFlow[], exempt: readonly boolean[], n: number, i: number): boolean {
  for (let j = 0; j < n; j++) if (j !== i && !exempt[j] && yields.has(matched[j]!)) return true;
  return false;
}
