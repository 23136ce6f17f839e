import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { TrailbotError } from '../errors.ts';
import { actorKey, normalizeActor } from './actor.ts';
import type { Outcome, RawRecord, TrailEvent } from './model.ts';
import { preview } from './preview.ts';
import { choosePrimary, extractResources } from './resources.ts';
import { classifyVia } from './via.ts';

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

const ISO_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** ISO-8601 UTC with second precision (CloudTrail's own form), or null when unparseable. */
export function isoTime(v: unknown): string | null {
  if (typeof v === 'string') {
    // Fast paths for CloudTrail's own form and its millisecond variant.
    if (v.length === 20 && v.charCodeAt(10) === 84 /* T */ && v.charCodeAt(19) === 90 /* Z */ && ISO_SECONDS.test(v)) return v;
    if (v.length === 24 && v.endsWith('.000Z') && v.charCodeAt(10) === 84) {
      const t = `${v.slice(0, 19)}Z`;
      if (ISO_SECONDS.test(t)) return t;
    }
    const ms = Date.parse(v);
    return Number.isNaN(ms) ? null : new Date(ms).toISOString().replace('.000Z', 'Z');
  }
  if (typeof v === 'number' && Number.isFinite(v)) {
    // LookupEvents sends epoch seconds.
    const d = new Date(v < 1e11 ? v * 1000 : v);
    return Number.isNaN(d.getTime()) ? null : d.toISOString().replace('.000Z', 'Z');
  }
  return null;
}

/** Whether an isoTime's year is one PostgreSQL reads: four digits, not 0000 (toISOString signs the others). */
function storableYear(iso: string): boolean {
  const c = iso.charCodeAt(0);
  return c >= 48 && c <= 57 && !iso.startsWith('0000');
}

const DENIED_CODE = /AccessDenied|UnauthorizedOperation|Forbidden|Unauthorized/i;
const DENIED_MESSAGE = /service control policy|permissions boundary|explicit deny|not authorized to perform/i;

export function classifyOutcome(record: RawRecord): Outcome {
  const code = str(record.errorCode);
  // Some services write the HTTP status of a successful call as errorCode ("200").
  if (code && !/^2\d\d$/.test(code)) {
    if (DENIED_CODE.test(code)) return 'denied';
    const msg = str(record.errorMessage);
    if (msg && DENIED_MESSAGE.test(msg)) return 'denied';
    return 'failed';
  }
  const resp = record.responseElements;
  if (resp && typeof resp === 'object') {
    const name = record.eventName;
    const r = resp as Record<string, unknown>;
    if (typeof name === 'string' && r[name] === 'Failure') return 'failed';
    if (r.ConsoleLogin === 'Failure') return 'failed';
  }
  return 'success';
}

const READ_PREFIX = /^(Get|List|Describe|Head|Lookup|Search|Query|Scan|BatchGet|Select|View|Preview|Estimate)[A-Z]/;
const WRITE_PREFIX = /^(Create|Delete|Put|Update|Modify|Attach|Detach|Set|Add|Remove|Start|Stop|Run|Terminate|Enable|Disable|Authorize|Revoke|Associate|Disassociate|Tag|Untag|Reboot|Register|Deregister|Replace|Reset|Restore|Import|Export|Copy|Upload|Change|Schedule|Cancel|Send|Invoke|Apply|Accept|Reject|Allocate|Release|Assign|Unassign|Purge|Leave|Invite|Move)[A-Z]/;

/** `readOnly` as written, or inferred from the action's verb when the record lacks it (LookupEvents gives strings). */
export function readOnlyOf(record: RawRecord, action: string | null): boolean | null {
  const v = record.readOnly;
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  if (!action) return null;
  if (READ_PREFIX.test(action)) return true;
  if (WRITE_PREFIX.test(action)) return false;
  return null;
}

function stableStringify(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .filter((k) => o[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
    .join(',')}}`;
}

/** A stable UUID-shaped id from the record's content (key order does not matter). */
export function derivedEventId(record: RawRecord): string {
  const h = createHash('sha256').update(stableStringify(record)).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const prefixes = new Map<string, string>();
function servicePrefix(eventSource: string | null): string | null {
  if (!eventSource) return null;
  let p = prefixes.get(eventSource);
  if (p === undefined) {
    const i = eventSource.indexOf('.');
    p = i > 0 ? eventSource.slice(0, i) : eventSource;
    if (prefixes.size < 10_000 && eventSource.length <= 256) prefixes.set(eventSource, p);
  }
  return p;
}

/**
 * Records nested deeper than this are refused: CloudTrail's own are a dozen levels deep, and a deeper
 * value cannot be stored or logged (JSON.stringify and PostgreSQL's jsonb overflow their stacks).
 */
export const MAX_RECORD_DEPTH = 64;

const hasOwn = Object.prototype.hasOwnProperty;

/** Whether a value nests objects/arrays more than `left` levels deep (stops as soon as it does). */
function deeperThan(v: object, left: number): boolean {
  if (left === 0) return true;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      if (typeof x === 'object' && x !== null && deeperThan(x, left - 1)) return true;
    }
    return false;
  }
  // for…in allocates nothing (Object.values made an array for every object of every record: with the
  // garbage it left, a fifth of normalize's time). Own values only: a polluted Object.prototype must
  // not make every record look deep.
  for (const k in v) {
    const x: unknown = (v as Record<string, unknown>)[k];
    if (typeof x === 'object' && x !== null && hasOwn.call(v, k) && deeperThan(x, left - 1)) return true;
  }
  return false;
}

/**
 * The record's time. Exports through Logstash/Elastic move `eventTime` into `@timestamp`;
 * we accept that so such archives can be replayed.
 */
function eventTimeOf(r: RawRecord): unknown {
  return r.eventTime ?? r['@timestamp'];
}

/** CloudTrail Insights events name the call they are about in `insightDetails`. */
function insightOf(r: RawRecord): Record<string, unknown> | null {
  if (r.eventType !== 'AwsCloudTrailInsight') return null;
  const d = r.insightDetails;
  return d && typeof d === 'object' && !Array.isArray(d) ? (d as Record<string, unknown>) : null;
}

/**
 * The caller's IP when sourceIPAddress holds one. Behind proxies it can be a list
 * (`81.2.69.142, 192.168.10.10`): the first entry is the client. Host names (`ec2.amazonaws.com`) → null.
 */
export function ipOf(address: string | null): string | null {
  if (address === null) return null;
  if (isIP(address) !== 0) return address;
  const comma = address.indexOf(',');
  if (comma > 0) {
    const first = address.slice(0, comma).trim();
    if (isIP(first) !== 0) return first;
  }
  return null;
}

/** Why a value cannot be a CloudTrail record (null when it can), and its time when it can. */
function check(value: unknown): { problem: string | null; time: string | null } {
  const problem = (p: string): { problem: string; time: null } => ({ problem: p, time: null });
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return problem(`expected a CloudTrail record (a JSON object), got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const r = value as RawRecord;
  const missing: string[] = [];
  const what = insightOf(r) ?? r;
  if (typeof what.eventName !== 'string' || what.eventName === '') missing.push('eventName');
  if (typeof what.eventSource !== 'string' || what.eventSource === '') missing.push('eventSource');
  const t = eventTimeOf(r);
  if (t === undefined || t === null) missing.push('eventTime');
  if (missing.length > 0) return problem(`not a CloudTrail record: missing ${missing.join(', ')}`);
  const time = isoTime(t);
  if (time === null) return problem(`eventTime ${preview(t)} is not a date`);
  // A date JavaScript reads but PostgreSQL cannot hold as ISO text (year 0, a sign, a fifth digit):
  // stored, it would fail its whole batch, every time the batch is tried.
  if (!storableYear(time)) return problem(`eventTime ${preview(t)} is outside the years 0001 to 9999`);
  if (r.userIdentity !== undefined && (r.userIdentity === null || typeof r.userIdentity !== 'object')) return problem('userIdentity is not an object');
  if (deeperThan(r, MAX_RECORD_DEPTH)) return problem(`nested more than ${MAX_RECORD_DEPTH} levels deep`);
  return { problem: null, time };
}

/**
 * One raw CloudTrail record → one TrailEvent. Pure and fast (no I/O, no templates): the summary is
 * rendered separately (`summarize`) so ingestion does not pay for words it does not store.
 * Throws TrailbotError(E_RECORD_INVALID) when the value is not a CloudTrail record.
 */
export function normalize(record: RawRecord): TrailEvent {
  const { problem, time } = check(record);
  if (problem) throw new TrailbotError('E_RECORD_INVALID', problem);

  const actor = normalizeActor(record);
  const insight = insightOf(record);
  const service = str((insight ?? record).eventSource);
  const action = str((insight ?? record).eventName);
  const region = str(record.awsRegion);
  const account = str(record.recipientAccountId) ?? actor.accountId;
  const sourceAddress = str(record.sourceIPAddress);
  const userAgent = str(record.userAgent);
  const { via, tool } = classifyVia({
    userAgent,
    sourceAddress,
    invokedBy: actor.invokedBy,
    actorType: actor.type,
    eventSource: service,
    fromConsole: record.sessionCredentialFromConsole,
  });
  const resources = extractResources(record, servicePrefix(service), region, account);
  const rawId = str(record.eventID);
  const primary = choosePrimary(action, resources);

  return {
    eventId: rawId ?? derivedEventId(record),
    time,
    account,
    region,
    service,
    action,
    readOnly: readOnlyOf(record, action),
    eventType: str(record.eventType),
    eventCategory: str(record.eventCategory) ?? (insight ? 'Insight' : null),
    outcome: classifyOutcome(record),
    errorCode: str(record.errorCode),
    errorMessage: str(record.errorMessage),
    actor,
    via,
    tool,
    sourceIp: ipOf(sourceAddress),
    sourceAddress,
    userAgent,
    resources,
    primaryResource: primary.resource,
    primaryNamed: primary.matched,
    actorKey: actorKey(actor, account),
    derivedId: rawId === null,
  };
}
