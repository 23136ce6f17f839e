import type { TrailEvent } from '../events/model.ts';
import { durationMs as parseDurationMs } from '../time.ts';
import type { Fields } from './fields.ts';

export type { Fields } from './fields.ts';

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

/**
 * What a flow may ask about the deployment and the record, resolved from configuration. Pure
 * lookups, no I/O. The record's parts are read only through `request`, `response` and
 * `additional` (typed reads, see src/flows/fields.ts), and only by flows that declare
 * `needsRequest` (and list their `actions`): for the others every read answers empty.
 */
export interface FlowEnv {
  /** The record's `requestParameters`: `env.request(e).str('bucketName')`. */
  request(e: TrailEvent): Fields;
  /** The record's `responseElements` (what the call returned): `env.response(e).bool('publiclyAccessible')`. */
  response(e: TrailEvent): Fields;
  /** The record's `additionalEventData` (S3 data events' bytes, sign-in details ...). */
  additional(e: TrailEvent): Fields;
  /** Whether a resource the event touched is marked production (by ARN pattern or the tagged-resource list). */
  touchesProduction(e: TrailEvent): boolean;
  /** The production resources the event touched, by id. */
  productionResources(e: TrailEvent): string[];
  /** Whether the region is listed as expected for the account. */
  regionExpected(account: string | null, region: string | null): boolean;
  /**
   * Whether an AWS account id is one of ours: the event's own account, one under `accounts:` or one
   * in `flows.trustedAccounts`. What "an unknown account" means for sharing and trust flows.
   */
  knownAccount(e: TrailEvent, accountId: string): boolean;
  /** The buckets trailbot reads trails from (the s3 sources' `bucket`, the sqs sources' `buckets`). */
  readonly trailBuckets: ReadonlySet<string>;
  /** Whether `flows.expected.egressCidrs` lists any range (flows about egress stay off until it does). */
  readonly egressConfigured: boolean;
  /** Whether an IP address lies within `flows.expected.egressCidrs` (false when none are set or `ip` is not an address). */
  insideEgress(ip: string | null): boolean;
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
  /**
   * The flow reads the record (`env.request(e)`, `env.response(e)`, `env.additional(e)`) in `match`,
   * `key`, `distinctBy` or `context`: the engine then keeps the record at hand for its `actions`
   * (which it must list).
   */
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
  /**
   * The finding's severity when the event that opens it calls for another than `severity` (e.g.
   * high when a federated session may do everything, or for AssumeRoot); null keeps `severity`.
   * A severity set in configuration wins over both.
   */
  severityOf?(e: TrailEvent, params: P, env: FlowEnv): Severity | null;
}

/** Single and threshold flows group repeats by a key. */
interface KeyedFlow<P extends Params> extends FlowBase<P> {
  /**
   * How repeats are grouped: events with the same key join one finding (single flows) or are counted
   * together (threshold flows). May read the record through `env` (with `needsRequest`), e.g. to
   * group by bucket: `(e, _p, env) => `${e.account}|${env.request(e).str('bucketName')}``.
   */
  key(e: TrailEvent, params: P, env: FlowEnv): string;
}

export interface SingleFlow<P extends Params = Params> extends KeyedFlow<P> {
  kind: 'single';
}

/**
 * What `distinctBy` returns for an event: one value, several (a call that reads five secrets at
 * once), or null (the event names none: it still joins an open finding, but counts for nothing).
 */
export type DistinctValues = string | readonly string[] | null;

/** At most this many values of one event count (a call naming more is still far over any threshold). */
export const MAX_DISTINCT_PER_EVENT = 100;

/**
 * More than `params.moreThan` matching events with the same key within `params.window` (both
 * params are required). With `distinctBy`, what is counted is the number of distinct values among
 * those events instead (Panther's and Elastic's "new terms"/cardinality thresholds): secrets read,
 * instances reached, actions tried.
 *
 * ```ts
 * defineFlow({
 *   id: 'secrets-bulk-read', kind: 'threshold', params: { moreThan: 9, window: '10m' },
 *   actions: ['GetSecretValue'], needsRequest: true,
 *   match: (e) => serviceOf(e) === 'secretsmanager',
 *   key: byActor,
 *   distinctBy: (e, _p, env) => env.request(e).str('secretId'),
 *   ...
 * });
 * ```
 */
export interface ThresholdFlow<P extends Params = Params> extends KeyedFlow<P> {
  kind: 'threshold';
  /** Count distinct values (e.g. secret ids, instance ids, event names) rather than events. */
  distinctBy?(e: TrailEvent, params: P, env: FlowEnv): DistinctValues;
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

/**
 * Any flow, whatever its parameters (the registry's element type). A flow with its own parameters is
 * one because its functions are declared as methods (`match(e, params: P, env)`), whose parameters
 * TypeScript compares both ways; the engine hands each flow its own `params`.
 */
export type AnyFlow = FlowDef<Params>;

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
