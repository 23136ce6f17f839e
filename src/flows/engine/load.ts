import { groupOf, SEP } from './state.ts';
import type { LoadRequest, Match } from './types.ts';

/** Step 2 (the store's state only): what to load for these matches. */
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
