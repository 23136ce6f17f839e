import type { FlowEnv } from '../define.ts';
import { foldFirstSeen } from './first-seen.ts';
import { foldSingle } from './single.ts';
import { emptyChanges } from './state.ts';
import { foldThreshold } from './threshold.ts';
import type { Changes, Match, Snapshot } from './types.ts';

/**
 * The evaluation both ways in share: match a batch of events against the enabled flows (pure), then
 * fold the matches into findings against a state. The state is either in memory (`trailbot detect`:
 * baselines from the events seen earlier in the run) or the store (the worker: `evaluateFlows`).
 *
 * 1. `matchEvents` (match.ts): which flows each event matches, in time order.
 * 2. `loadRequest` (load.ts): what the store must load for those matches (the memory state has it all).
 * 3. `fold`: the matches into the state, one kind of flow each (single.ts, threshold.ts, first-seen.ts),
 *    sharing how findings are opened and joined (state.ts).
 *
 * Idempotency rests on one rule: an event joins at most one finding per flow, and the state
 * remembers which (`finding_events` has the primary key `(flow, event_id)`). Evaluating the same
 * events again finds them done and changes nothing.
 *
 * Nothing here keeps state between calls but the snapshot it is handed.
 */

export { foldChangesNothingIn } from './first-seen.ts';
export { loadRequest } from './load.ts';
export { matchEvents } from './match.ts';
export { emptySnapshot, inner } from './state.ts';
export type { Changes, EngineEvent, FindingHead, Hit, HitGroup, LoadRequest, Match, Matched, FoldChangesNothing, Snapshot, SubjectState, ValueState } from './types.ts';

/**
 * Step 3: folds the matches (in time order) into the snapshot, recording every change. The same
 * code runs for both states; only where the snapshot comes from and where the changes go differ.
 */
export function fold(matches: readonly Match[], s: Snapshot, env: FlowEnv, opts: { keepEvents: boolean }): Changes {
  const ch = emptyChanges();
  for (let k = 0; k < matches.length; k++) {
    const m = matches[k]!;
    const kind = m.flow.kind;
    if (kind === 'single') foldSingle(s, ch, m, opts.keepEvents);
    else if (kind === 'threshold') foldThreshold(s, ch, m, opts.keepEvents);
    else foldFirstSeen(s, ch, m, env, opts.keepEvents);
  }
  return ch;
}
