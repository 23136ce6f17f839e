// CloudTrail stand-in: LookupEvents over awsJson1_1 (POST /, X-Amz-Target: CloudTrail_20131101.LookupEvents).
import { createHmac, randomBytes } from 'node:crypto';
import { createCredentialStore } from './credentials.ts';
import type { CredentialStore } from './credentials.ts';
import { GLOBAL_EVENT_SOURCES, accountOf, eventTimeMs, isRecord, lookupCategoryOf, lookupRegionOf, toLookupEvent } from './records.ts';
import type { CloudTrailRecord, LookupEvent } from './records.ts';
import { AwsError, jsonErrorResponse, logRequest, operationOf, refusal } from './protocol.ts';
import { jsonResponse, listen, readBody } from './shared.ts';
import type { FetchHandler, ListenOptions, Listener, RequestRecord } from './shared.ts';

export const CLOUDTRAIL_TARGET_PREFIX = 'CloudTrail_20131101.';
const JSON_11 = 'application/x-amz-json-1.1';
const DAY_MS = 86_400_000;

export const LOOKUP_ATTRIBUTE_KEYS = ['EventId', 'EventName', 'ReadOnly', 'Username', 'ResourceType', 'ResourceName', 'EventSource', 'AccessKeyId'] as const;
export const INSIGHT_ATTRIBUTE_KEYS = ['EventId', 'EventName', 'EventSource'] as const;
type AttributeKey = (typeof LOOKUP_ATTRIBUTE_KEYS)[number];

export interface ThrottleOptions {
  /** accepted requests per window per account-region (default 2) */
  limit?: number;
  /** sliding window length in ms (default 1000) */
  windowMs?: number;
}

export type ClockInput = Date | number | (() => Date | number);

export interface CloudTrailServiceOptions {
  /** shared with the STS stand-in so that the keys it issues work here */
  credentials?: CredentialStore;
  records?: readonly CloudTrailRecord[];
  /** the stand-in's "now" for the 90-day window and for open-ended EndTime (default: the real clock) */
  now?: ClockInput;
  /** per account-region request limit; `false` turns it off (default 2 per 1000 ms sliding window) */
  throttle?: ThrottleOptions | false;
  /** recompute SigV4 signatures (default true) */
  verifySignatures?: boolean;
  /** how far back LookupEvents reaches (default 90) */
  lookbackDays?: number;
  /** event sources shown only in us-east-1 (default GLOBAL_EVENT_SOURCES) */
  globalEventSources?: ReadonlySet<string>;
  /** request log to append to (default: a new array) */
  requests?: RequestRecord[];
}

export interface CloudTrailService {
  readonly service: 'cloudtrail';
  readonly handle: FetchHandler;
  readonly credentials: CredentialStore;
  /** every request, in arrival order */
  readonly requests: RequestRecord[];
  /** adds raw records (duplicates by account, region and eventID are ignored); returns how many were new */
  addRecords(records: readonly CloudTrailRecord[]): number;
  clearRecords(): void;
  setNow(now: ClockInput): void;
  now(): number;
  setThrottle(throttle: ThrottleOptions | false): void;
  /** what LookupEvents can return for an account-region, newest first, ignoring the time window */
  eventsFor(accountId: string, region: string, category?: 'management' | 'insight'): LookupEvent[];
}

export interface CloudTrailStandin extends CloudTrailService, Listener {}

interface StoredEvent {
  timeMs: number;
  id: string;
  category: 'management' | 'insight';
  event: LookupEvent;
}

interface Partition {
  items: StoredEvent[];
  ids: Set<string>;
  sorted: boolean;
}

const toMs = (c: Date | number): number => (typeof c === 'number' ? c : c.getTime());
const toClock = (c: ClockInput | undefined): (() => number) => {
  if (c === undefined) return () => Date.now();
  if (typeof c === 'function') return () => toMs(c());
  const fixed = toMs(c);
  return () => fixed;
};

const newestFirst = (a: StoredEvent, b: StoredEvent): number => b.timeMs - a.timeMs || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

interface TokenState {
  a: string; // account
  r: string; // region
  h: string; // parameter hash
  s: number; // effective start ms
  e: number; // effective end ms
  t: number; // cursor time ms
  i: string; // cursor event id
}

export function createCloudTrailService(opts: CloudTrailServiceOptions = {}): CloudTrailService {
  const credentials = opts.credentials ?? createCredentialStore();
  const requests = opts.requests ?? [];
  const verifySignatures = opts.verifySignatures ?? true;
  const lookbackMs = (opts.lookbackDays ?? 90) * DAY_MS;
  const globalSources = opts.globalEventSources ?? GLOBAL_EVENT_SOURCES;
  const tokenKey = randomBytes(32);
  let clock = toClock(opts.now);
  let throttle: Required<ThrottleOptions> | false = opts.throttle === false ? false : { limit: opts.throttle?.limit ?? 2, windowMs: opts.throttle?.windowMs ?? 1000 };
  const accepted = new Map<string, number[]>();
  const partitions = new Map<string, Partition>();

  const partition = (accountId: string, region: string): Partition => {
    const k = `${accountId}/${region}`;
    let p = partitions.get(k);
    if (!p) partitions.set(k, (p = { items: [], ids: new Set(), sorted: true }));
    return p;
  };
  const sortedItems = (p: Partition): StoredEvent[] => {
    if (!p.sorted) {
      p.items.sort(newestFirst);
      p.sorted = true;
    }
    return p.items;
  };

  function addRecords(records: readonly CloudTrailRecord[]): number {
    let added = 0;
    for (const r of records) {
      if (!isRecord(r)) continue;
      const category = lookupCategoryOf(r);
      const accountId = accountOf(r);
      const timeMs = eventTimeMs(r);
      if (category === 'other' || !accountId || Number.isNaN(timeMs) || typeof r.eventID !== 'string') continue;
      const p = partition(accountId, lookupRegionOf(r, globalSources));
      if (p.ids.has(r.eventID)) continue;
      p.ids.add(r.eventID);
      p.items.push({ timeMs, id: r.eventID, category, event: toLookupEvent(r) });
      p.sorted = false;
      added++;
    }
    return added;
  }

  const sign = (payload: string): string => createHmac('sha256', tokenKey).update(payload).digest('base64url').slice(0, 22);
  const encodeToken = (t: TokenState): string => {
    const payload = Buffer.from(JSON.stringify(t)).toString('base64url');
    return `${payload}.${sign(payload)}`;
  };
  const decodeToken = (token: string): TokenState | undefined => {
    const [payload, mac, extra] = token.split('.');
    if (!payload || !mac || extra !== undefined || sign(payload) !== mac) return undefined;
    try {
      return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as TokenState;
    } catch {
      return undefined;
    }
  };

  function isThrottled(key: string, at: number): boolean {
    if (!throttle) return false;
    let times = accepted.get(key);
    if (!times) accepted.set(key, (times = []));
    while (times.length > 0 && times[0] <= at - throttle.windowMs) times.shift();
    if (times.length >= throttle.limit) return true;
    times.push(at);
    return false;
  }

  function lookupEvents(accountId: string, region: string, input: Record<string, unknown>): { Events: LookupEvent[]; NextToken?: string } {
    // --- shape checks (the service answers these with SerializationException)
    const { LookupAttributes, StartTime, EndTime, EventCategory, MaxResults, NextToken } = input;
    if (LookupAttributes !== undefined && LookupAttributes !== null && !Array.isArray(LookupAttributes)) throw new AwsError('SerializationException', 'LookupAttributes must be a list');
    for (const [name, v] of [['StartTime', StartTime], ['EndTime', EndTime]] as const) {
      if (v !== undefined && v !== null && (typeof v !== 'number' || !Number.isFinite(v))) throw new AwsError('SerializationException', `${name} must be a timestamp in epoch seconds`);
    }
    if (MaxResults !== undefined && MaxResults !== null && (typeof MaxResults !== 'number' || !Number.isInteger(MaxResults))) throw new AwsError('SerializationException', 'MaxResults must be an integer');
    if (EventCategory !== undefined && EventCategory !== null && typeof EventCategory !== 'string') throw new AwsError('SerializationException', 'EventCategory must be a string');
    if (NextToken !== undefined && NextToken !== null && typeof NextToken !== 'string') throw new AwsError('SerializationException', 'NextToken must be a string');

    // --- validation, as documented in the CloudTrail model
    const insight = EventCategory === 'insight';
    if (EventCategory !== undefined && EventCategory !== null && !insight) {
      throw new AwsError('InvalidEventCategoryException', `Event category ${String(EventCategory)} is not valid. The only valid value is insight.`);
    }
    const attrs = (LookupAttributes ?? []) as unknown[];
    if (attrs.length > 1) throw new AwsError('InvalidLookupAttributesException', 'You can specify only one lookup attribute.');
    let filter: { key: AttributeKey; value: string } | undefined;
    if (attrs.length === 1) {
      const a = attrs[0] as { AttributeKey?: unknown; AttributeValue?: unknown } | null;
      const key = a?.AttributeKey;
      const value = a?.AttributeValue;
      const allowed: readonly string[] = insight ? INSIGHT_ATTRIBUTE_KEYS : LOOKUP_ATTRIBUTE_KEYS;
      if (typeof key !== 'string' || !allowed.includes(key)) {
        throw new AwsError('InvalidLookupAttributesException', `Invalid attribute key ${String(key)}. Valid keys${insight ? ' for Insights events' : ''}: ${allowed.join(', ')}.`);
      }
      if (typeof value !== 'string' || value.length < 1 || value.length > 2000) {
        throw new AwsError('InvalidLookupAttributesException', 'The attribute value must be between 1 and 2000 characters long.');
      }
      filter = { key: key as AttributeKey, value };
    }
    if (typeof StartTime === 'number' && typeof EndTime === 'number' && StartTime > EndTime) {
      throw new AwsError('InvalidTimeRangeException', 'The start time must not be after the end time.');
    }
    const maxResults = typeof MaxResults === 'number' ? MaxResults : 50;
    if (maxResults < 1 || maxResults > 50) throw new AwsError('InvalidMaxResultsException', 'MaxResults must be between 1 and 50.');

    const hash = createHmac('sha256', tokenKey)
      .update(JSON.stringify([filter?.key ?? null, filter?.value ?? null, StartTime ?? null, EndTime ?? null, EventCategory ?? null, MaxResults ?? null]))
      .digest('base64url');

    let state: TokenState;
    if (typeof NextToken === 'string') {
      const decoded = decodeToken(NextToken);
      if (!decoded || decoded.a !== accountId || decoded.r !== region || decoded.h !== hash) {
        throw new AwsError('InvalidNextTokenException', 'The NextToken is not valid. A NextToken must be used with the same parameters as the request that returned it.');
      }
      state = decoded;
    } else {
      const now = clock();
      const start = Math.max(typeof StartTime === 'number' ? StartTime * 1000 : -Infinity, now - lookbackMs);
      const end = Math.min(typeof EndTime === 'number' ? EndTime * 1000 : Infinity, now);
      state = { a: accountId, r: region, h: hash, s: start, e: end, t: Infinity, i: '' };
    }

    const category = insight ? 'insight' : 'management';
    const matches = (s: StoredEvent): boolean => {
      if (s.category !== category || s.timeMs < state.s || s.timeMs > state.e) return false;
      if (s.timeMs > state.t || (s.timeMs === state.t && s.id >= state.i)) return false; // at or before the cursor
      if (!filter) return true;
      const ev = s.event;
      switch (filter.key) {
        case 'ResourceType':
          return ev.Resources.some((r) => r.ResourceType === filter.value);
        case 'ResourceName':
          return ev.Resources.some((r) => r.ResourceName === filter.value);
        default:
          return ev[filter.key] === filter.value;
      }
    };

    const events: LookupEvent[] = [];
    let last: StoredEvent | undefined;
    let more = false;
    for (const s of sortedItems(partition(accountId, region))) {
      if (!matches(s)) continue;
      if (events.length === maxResults) {
        more = true;
        break;
      }
      events.push(s.event);
      last = s;
    }
    const out: { Events: LookupEvent[]; NextToken?: string } = { Events: events };
    if (more && last) out.NextToken = encodeToken({ ...state, t: last.timeMs, i: last.id });
    return out;
  }

  /** The operations, by the name after the target prefix; each takes the caller's account and region and the JSON input. */
  const operations: Record<string, (accountId: string, region: string, input: Record<string, unknown>) => unknown> = {
    LookupEvents: lookupEvents,
  };

  const handle: FetchHandler = async (req) => {
    const log = logRequest('cloudtrail', requests, credentials);
    const { record } = log;
    const fail = (e: AwsError) => log.finish(jsonErrorResponse(e, JSON_11), e.code);
    const body = await readBody(req);
    const target = req.headers.get('x-amz-target') ?? '';
    if (target.startsWith(CLOUDTRAIL_TARGET_PREFIX)) record.operation = target.slice(CLOUDTRAIL_TARGET_PREFIX.length);

    const auth = log.authenticate(req, body, verifySignatures);
    if (!auth.ok) return fail(refusal('cloudtrail', auth));
    const operation = req.method === 'POST' ? operationOf(operations, record.operation) : undefined;
    if (!operation) {
      return fail(new AwsError('UnknownOperationException', `The stand-in implements only ${Object.keys(operations).map((op) => CLOUDTRAIL_TARGET_PREFIX + op).join(', ')} (got '${target}').`));
    }
    let input: unknown;
    let parsed = true;
    try {
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
      record.params = input; // logged for throttled requests too: the log says which call was refused
    } catch {
      parsed = false;
    }
    if (isThrottled(`${auth.principal.accountId}/${auth.region}`, record.timeMs)) return fail(new AwsError('ThrottlingException', 'Rate exceeded'));
    if (!parsed) return fail(new AwsError('SerializationException', 'The request body is not valid JSON.'));
    if (!input || typeof input !== 'object' || Array.isArray(input)) return fail(new AwsError('SerializationException', 'The request body must be a JSON object.'));
    try {
      return log.finish(jsonResponse(200, operation(auth.principal.accountId, auth.region, input as Record<string, unknown>)));
    } catch (e) {
      if (e instanceof AwsError) return fail(e);
      throw e;
    }
  };

  addRecords(opts.records ?? []);
  return {
    service: 'cloudtrail',
    handle,
    credentials,
    requests,
    addRecords,
    clearRecords: () => partitions.clear(),
    setNow(now) {
      clock = toClock(now);
    },
    now: () => clock(),
    setThrottle(t) {
      throttle = t === false ? false : { limit: t.limit ?? 2, windowMs: t.windowMs ?? 1000 };
      accepted.clear();
    },
    eventsFor(accountId, region, category = 'management') {
      const p = partitions.get(`${accountId}/${region}`);
      return p ? sortedItems(p).filter((s) => s.category === category).map((s) => s.event) : [];
    },
  };
}

export type CloudTrailStandinOptions = CloudTrailServiceOptions & ListenOptions;

export async function startCloudTrailStandin(opts: CloudTrailStandinOptions = {}): Promise<CloudTrailStandin> {
  const svc = createCloudTrailService(opts);
  const listener = await listen(svc.handle, opts);
  return Object.assign(svc, listener);
}
