import type { RawRecord, TrailEvent } from '../../events/model.ts';
import type { CompiledFlow } from '../compile.ts';
import type { Dimension } from '../define.ts';

/** The engine's data: what goes in, what it matches, the state it folds into and what it changes. */

export interface EngineEvent {
  event: TrailEvent;
  /** The record as received, when at hand (flows with `needsRequest` read its request parameters). */
  raw?: RawRecord | null | undefined;
}

/** An event that a flow matched (step 1, match.ts), ready to fold. */
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

export interface Matched {
  /** In event time order (stable: events with the same time keep their order in the batch). */
  matches: Match[];
  /** Events with a usable time (the others are dropped). */
  timed: number;
  /** The latest event time (-Infinity when none). */
  latest: number;
}

/** For the memory state: true when `fold` would leave the first-seen flow's dimensions of the event unchanged (or it has none). */
export type FoldChangesNothing = (flow: CompiledFlow, e: TrailEvent, t: number) => boolean;

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
  /** The value's group (`groupOf`), kept once a reported value's finding is looked up. */
  group?: string;
}

/** What a fold changed, for the store to write (the memory state has already changed). */
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
