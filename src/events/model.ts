/**
 * The one event model. Every source (trail files, LookupEvents, EventBridge, SQS) produces a
 * `TrailEvent`; nothing downstream reads raw CloudTrail fields except through it.
 *
 * Field names are part of trailbot's public output (`trailbot normalize` prints them as NDJSON),
 * so they are stable: add fields, never rename them. Unknown values are `null`, never `undefined`.
 */

/** How the call ended (the CLI's --outcome and the API's outcome= take these). */
export const OUTCOMES = ['success', 'denied', 'failed'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** How the call was made (the CLI's --via and the API's via= take these). `tool` names the program when the user agent tells us. */
export const VIAS = ['console', 'cli', 'sdk', 'iac', 'service', 'unknown'] as const;
export type Via = (typeof VIAS)[number];

export interface Actor {
  /** userIdentity.type exactly as AWS writes it (IAMUser, AssumedRole, Root, AWSService, ...). */
  type: string | null;
  /** The best human name: SSO e-mail, IAM user name, `role/session`, `root`, the service. */
  name: string | null;
  arn: string | null;
  accountId: string | null;
  principalId: string | null;
  accessKeyId: string | null;
  userName: string | null;
  roleName: string | null;
  sessionName: string | null;
  email: string | null;
  invokedBy: string | null;
  /** true / false when the record says, null when it does not. */
  mfa: boolean | null;
}

export interface Resource {
  /** CloudFormation-style type as CloudTrail writes it, e.g. `AWS::S3::Bucket`. */
  type: string;
  /** The name or id a person would use (bucket name, instance id, user name...). */
  id: string;
  arn: string | null;
}

export interface TrailEvent {
  eventId: string;
  /** ISO-8601 UTC, e.g. 2020-06-09T13:37:34Z. */
  time: string | null;
  account: string | null;
  region: string | null;
  /** eventSource, e.g. `rds.amazonaws.com`. */
  service: string | null;
  /** eventName, e.g. `DeleteDBInstance`. */
  action: string | null;
  readOnly: boolean | null;
  eventType: string | null;
  eventCategory: string | null;
  outcome: Outcome;
  errorCode: string | null;
  errorMessage: string | null;
  actor: Actor;
  via: Via;
  tool: string | null;
  /** Only when sourceIPAddress is an IP address. */
  sourceIp: string | null;
  /** sourceIPAddress as written (may be a service host name such as `ec2.amazonaws.com`). */
  sourceAddress: string | null;
  userAgent: string | null;
  resources: Resource[];
  primaryResource: Resource | null;
  /** False when the action does not name the primary resource's kind (e.g. RunInstances in a subnet). */
  primaryNamed: boolean;
  /** A stable key for "the same principal" across events (see actorKey()). */
  actorKey: string | null;
  /** True when trailbot derived eventId from the content because the record had none. */
  derivedId: boolean;
}

/** A normalized event with its plain-language sentence, as `trailbot normalize` prints it. */
export interface SummarizedEvent extends TrailEvent {
  summary: string;
}

/** A raw CloudTrail record, as it appears in a log file's `Records` array. */
export type RawRecord = Record<string, unknown>;

/** A normalized event paired with the record it came from (kept verbatim in the store). */
export interface Ingestible {
  event: TrailEvent;
  raw: RawRecord;
  /** `raw` as JSON, when the reader has it already (the store writes this rather than stringify `raw` again). */
  readonly rawJson?: string;
  /**
   * `raw` as JSON in UTF-8 bytes, when the reader has it so (preferred over `rawJson` by the store).
   * Bytes live outside the JavaScript heap: a batch's records, kept until it is written, are not
   * copied by every garbage collection on the way as strings are.
   */
  readonly rawUtf8?: Uint8Array;
}
