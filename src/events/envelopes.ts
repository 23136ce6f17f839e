import type { RawRecord } from './model.ts';
import { cut, preview } from './preview.ts';

/** Where a record came from, for error messages: `file.json.gz: Records[12]`, `events.ndjson:34`. */
export interface Origin {
  file: string;
  line?: number;
  /** A path inside the document, e.g. `Records[12]`, `[3]`, `Events[0].CloudTrailEvent`. */
  at?: string;
}

export function describeOrigin(o: Origin): string {
  let s = o.file;
  if (o.line !== undefined) s += `:${o.line}`;
  if (o.at) s += `${o.line !== undefined ? ' ' : ': '}${o.at}`;
  return s;
}

export type Unwrapped =
  | { kind: 'record'; raw: RawRecord; origin: Origin }
  | { kind: 'rejected'; origin: Origin; reason: string }
  | { kind: 'skipped'; origin: Origin; reason: string };

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A CloudTrail digest file: no `Records`, but digest fields. Never holds events. */
export function isDigest(v: Record<string, unknown>): boolean {
  return v.Records === undefined && (v.digestStartTime !== undefined || v.digestS3Object !== undefined || v.logFiles !== undefined);
}

/** Arrays of arrays of … deeper than this are refused (the supported shapes nest one array in another at most). */
const MAX_ARRAY_NESTING = 8;

/**
 * Turns any supported JSON value into CloudTrail records:
 * - a log file `{"Records": [...]}`
 * - a LookupEvents response `{"Events": [{..., "CloudTrailEvent": "<json>"}]}` or one such Event
 * - an EventBridge event `{"detail-type": "... via CloudTrail", "detail": {...}}`
 * - a JSON array of any of these
 * - a bare record
 * Digest files are skipped. Anything else is rejected with the reason and where it was.
 */
export function* unwrap(value: unknown, origin: Origin, arrays = 0): Generator<Unwrapped> {
  const at = (p: string): Origin => ({ ...origin, at: origin.at ? `${origin.at}${p.startsWith('[') ? '' : '.'}${p}` : p });
  if (Array.isArray(value)) {
    if (arrays >= MAX_ARRAY_NESTING) {
      yield { kind: 'rejected', origin, reason: `arrays nested more than ${MAX_ARRAY_NESTING} deep` };
      return;
    }
    for (let i = 0; i < value.length; i++) yield* unwrap(value[i], at(`[${i}]`), arrays + 1);
    return;
  }
  if (!isObj(value)) {
    yield { kind: 'rejected', origin, reason: `expected a JSON object, got ${value === null ? 'null' : typeof value}` };
    return;
  }
  if (Array.isArray(value.Records)) {
    const recs = value.Records;
    for (let i = 0; i < recs.length; i++) {
      const r = recs[i];
      if (isObj(r)) yield { kind: 'record', raw: r, origin: at(`Records[${i}]`) };
      else yield { kind: 'rejected', origin: at(`Records[${i}]`), reason: `expected a record object, got ${r === null ? 'null' : Array.isArray(r) ? 'an array' : typeof r}` };
    }
    return;
  }
  if (value.Records !== undefined) {
    yield { kind: 'rejected', origin, reason: '"Records" is not an array' };
    return;
  }
  if (isDigest(value)) {
    yield { kind: 'skipped', origin, reason: 'CloudTrail digest file' };
    return;
  }
  if (Array.isArray(value.Events)) {
    const evs = value.Events;
    for (let i = 0; i < evs.length; i++) yield* lookupEvent(evs[i], at(`Events[${i}]`));
    return;
  }
  if (typeof value.CloudTrailEvent === 'string') {
    yield* lookupEvent(value, origin);
    return;
  }
  if (value['detail-type'] !== undefined || (value.detail !== undefined && value.source !== undefined)) {
    const d = value.detail;
    if (isObj(d) && typeof d.eventName === 'string') {
      yield { kind: 'record', raw: d, origin: at('detail') };
    } else {
      yield { kind: 'rejected', origin, reason: `EventBridge event is not a CloudTrail event (detail-type ${preview(value['detail-type'] ?? '')})` };
    }
    return;
  }
  yield { kind: 'record', raw: value, origin };
}

function* lookupEvent(ev: unknown, origin: Origin): Generator<Unwrapped> {
  if (!isObj(ev) || typeof ev.CloudTrailEvent !== 'string') {
    yield { kind: 'rejected', origin, reason: 'LookupEvents event has no CloudTrailEvent string' };
    return;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(ev.CloudTrailEvent);
  } catch (e) {
    yield { kind: 'rejected', origin: { ...origin, at: `${origin.at ?? ''}.CloudTrailEvent` }, reason: `CloudTrailEvent is not valid JSON: ${cut((e as Error).message)}` };
    return;
  }
  if (isObj(parsed)) yield { kind: 'record', raw: parsed, origin };
  else yield { kind: 'rejected', origin, reason: 'CloudTrailEvent is not a JSON object' };
}
