import type { TrailEvent } from '../events/model.ts';
import { durationMs as parseDurationMs } from '../time.ts';

/**
 * A flow is trailbot's judgment about one kind of event: a value made of small pure functions
 * (no I/O, no environment), in the spirit of Panther rules and Sigma: which events it matches,
 * how repeats are grouped, its severity, and the context its templates need. Its words (title,
 * why it matters) live in `src/templates/flows/catalog/<id>.hbs`; its metadata (description,
 * runbook line, false positives) sits here, next to the code, and its tests beside it.
 */

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/**
 * - `single`: every matching event is a finding (repeats within the dedup period join it).
 * - `threshold`: more than `params.moreThan` matching events per group within `params.window`.
 * - `first-seen`: a value (region, service) never seen before for a subject (account, person),
 *   against a baseline learned from earlier events.
 */
export type FlowKind = 'single' | 'threshold' | 'first-seen';

/** Allow-lists a flow can honour: an actor on one of them does not raise the flow. */
export type AllowListName = 'breakGlass' | 'automation' | 'iac';
export const ALLOW_LISTS: readonly AllowListName[] = ['breakGlass', 'automation', 'iac'];

/** A parameter default decides its type in `trailbot.config.yaml` (durations are strings like `24h`). */
export type ParamValue = number | string | boolean | string[];
export type Params = Record<string, ParamValue>;

/** What a flow may ask about the deployment, resolved from configuration. Pure lookups, no I/O. */
export interface FlowEnv {
  /** The record's `requestParameters` (null when the record is not at hand). Only for flows that declare `needsRequest`. */
  request(e: TrailEvent): Record<string, unknown> | null;
  /** Whether a resource the event touched is marked production (by ARN pattern or the tagged-resource list). */
  touchesProduction(e: TrailEvent): boolean;
  /** The production resources the event touched, by id. */
  productionResources(e: TrailEvent): string[];
  /** Whether the region is listed as expected for the account. */
  regionExpected(account: string | null, region: string | null): boolean;
}

/** One baseline dimension of a first-seen flow: `value` is new when `subject` has not used it before. */
export interface Dimension {
  /** e.g. `account-region`, `person-service`. */
  scope: string;
  subject: string;
  value: string;
}

interface FlowBase<P extends Params> {
  id: string;
  kind: FlowKind;
  severity: Severity;
  /** One line: what the flow detects (shown by `trailbot flows list` and used when a template says nothing more). */
  description: string;
  /** One line for the ticket: what to do about it. */
  runbook: string;
  /** Sigma-style: the benign reasons this can fire. */
  falsePositives?: string[];
  /** Where the idea comes from (CIS control, Sigma rule file, Panther rule id). */
  references?: string[];
  /** Parameter defaults; configuration may change them. */
  params: P;
  /** How long more events join an open finding instead of opening a new one. */
  dedupPeriod: string;
  /** Allow-lists whose actors this flow ignores by default (configuration may change the set). */
  allow: AllowListName[];
  /**
   * Event names that can match, when the flow only ever matches a known set: the engine then looks
   * at the flow only for those events. Leave out for flows that look at every event.
   */
  actions?: string[];
  /** The flow reads `env.request(e)` (the engine then makes sure the record is at hand). */
  needsRequest?: boolean;
  /**
   * Flows that report the same event better: when one of them (enabled) matched the event, this
   * flow leaves it alone, so one event is not reported twice.
   */
  yieldsTo?: string[];
  /** Is this event one the flow is about? */
  match(e: TrailEvent, params: P, env: FlowEnv): boolean;
  /** Data the flow's templates read, beyond the who/what/where every finding has. */
  context?(e: TrailEvent, params: P, env: FlowEnv): Record<string, unknown>;
}

export interface SingleFlow<P extends Params = Params> extends FlowBase<P> {
  kind: 'single';
  /** How repeats are grouped: events with the same key join one finding within the dedup period. */
  key(e: TrailEvent, params: P): string;
}

export interface ThresholdFlow<P extends Params = Params> extends FlowBase<P> {
  kind: 'threshold';
  key(e: TrailEvent, params: P): string;
}

/** Receives a first-seen flow's dimensions one by one (`FirstSeenFlow.dimensions`). */
export type DimensionSink = (scope: string, subject: string, value: string) => void;

export interface FirstSeenFlow<P extends Params = Params> extends FlowBase<P> {
  kind: 'first-seen';
  /**
   * The baseline dimensions the event belongs to (its value is new for each subject that never used
   * it): call `dim` once for each, in order. (A sink rather than a returned list: the engine checks
   * most events against the baseline without building the dimensions.)
   */
  dimensions(e: TrailEvent, params: P, dim: DimensionSink): void;
  /** Whether a new value is worth a finding (e.g. not when the region is expected). Default: yes. */
  alert?(e: TrailEvent, dim: Dimension, params: P, env: FlowEnv): boolean;
}

export type FlowDef<P extends Params = Params> = SingleFlow<P> | ThresholdFlow<P> | FirstSeenFlow<P>;

/** A pass-through that gives a flow its types (like inngest's `createFunction`). */
export function defineFlow<P extends Params>(def: SingleFlow<P>): SingleFlow<P>;
export function defineFlow<P extends Params>(def: ThresholdFlow<P>): ThresholdFlow<P>;
export function defineFlow<P extends Params>(def: FirstSeenFlow<P>): FirstSeenFlow<P>;
export function defineFlow<P extends Params>(def: FlowDef<P>): FlowDef<P> {
  return def;
}

/** Any flow, whatever its parameters (the registry's element type). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFlow = FlowDef<any>;

/** Whether `v` is a duration in trailbot's one time grammar (src/time.ts): `90s`, `30m`, `1h30m`, `7d`, `2w`. */
export function isDuration(v: string): boolean {
  return parseDurationMs(v) !== undefined;
}

/** A duration (src/time.ts grammar) → milliseconds. */
export function durationMs(v: string): number {
  const ms = parseDurationMs(v);
  if (ms === undefined) throw new Error(`not a duration: ${v}`);
  return ms;
}
