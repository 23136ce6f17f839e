import type { TrailEvent } from '../../events/model.ts';
import type { CompiledFlow } from '../compile.ts';
import type { Dimension, DimensionSink, FirstSeenFlow, FlowEnv } from '../define.ts';
import { groupOf, isDone, join, openFinding, openNew } from './state.ts';
import type { Changes, Match, FoldChangesNothing, Snapshot, ValueState } from './types.ts';

/**
 * A first-seen flow: for each of the event's dimensions, the subject learns the value; a value new to a
 * subject with enough history (`learningMs`) opens a finding, which later uses of the value join while
 * it is open.
 */
export function foldFirstSeen(s: Snapshot, ch: Changes, m: Match, env: FlowEnv, keepEvents: boolean): void {
  const f = m.flow;
  const e = m.event;
  const t = m.t;
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
    const opened = openNew(s, ch, f, groupOf(scopeName, subjectKey, value), t, d, keepEvents);
    join(s, ch, opened, scoped, e.eventId, t, e);
  }
}

/** One event joins one finding per flow and baseline scope (a new service can be new to the account and to the person). */
function scopedFlow(f: CompiledFlow, scope: string): string {
  return `${f.id}/${scope}`;
}

/**
 * Reads first-seen flows' dimensions of events, each as a flat list (scope, subject, value, scope, ...).
 * One per matching pass: the dimensions are collected into one scratch array, and each list is a copy
 * of its part (a list built by pushing, with a closure per call, allocated twice as much on bench:flows).
 */
export function dimensionReader(): (flow: CompiledFlow, e: TrailEvent) => string[] {
  const scratch: string[] = [];
  let n = 0;
  const collect: DimensionSink = (scope, subject, value) => {
    scratch[n++] = scope;
    scratch[n++] = subject;
    scratch[n++] = value;
  };
  return (flow, e) => {
    n = 0;
    flow.dimensions!(e, flow.params, collect);
    return scratch.slice(0, n);
  };
}

/**
 * For a live snapshot (the memory state): true when folding the event's dimensions for a first-seen
 * flow would change nothing (the subject and the value are known from no later than the event, and
 * the value was never reported), or when it has none. Checks the dimensions as the flow names them,
 * without building them.
 */
export function foldChangesNothingIn(s: Snapshot): FoldChangesNothing {
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
