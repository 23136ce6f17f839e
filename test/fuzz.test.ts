import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrailbotError } from '../src/errors.ts';
import { type Unwrapped, unwrap } from '../src/events/envelopes.ts';
import type { RawRecord } from '../src/events/model.ts';
import { normalize } from '../src/events/normalize.ts';
import { createAws } from '../src/integrations/aws/index.ts';
import { BASE_CLIENT_CREDENTIALS } from '../src/integrations/aws/standins/testing.ts';
import { type S3Standin, startS3Standin } from '../src/integrations/aws/standins/s3.ts';
import type { S3Port } from '../src/integrations/aws/s3.ts';
import { readInputs } from '../src/sources/files.ts';
import { parseMessage } from '../src/sources/messages.ts';
import { readTrailFile } from '../src/sources/s3.ts';
import { FIXTURES, records } from './helpers/fixtures.ts';

/**
 * Property-based fuzzing of everything that reads untrusted CloudTrail data: `normalize`, the envelope
 * unwrap, the file reader, the S3 trail-file reader and the SQS message parser. Inputs are mutations of
 * the real records in test/fixtures/records: types swapped, fields dropped, values nested 10,000 deep,
 * strings of megabytes, `__proto__`/`constructor`/`toString` keys, nulls everywhere, invalid UTF-8,
 * truncated gzip. Nothing may throw out of a reader; every record is normalized or rejected with a
 * TrailbotError saying why; nothing is polluted.
 *
 * The seed is fixed, so the suite is deterministic. Explore with `FUZZ_SEED=random` (and more cases with
 * `FUZZ_RUNS=2000`); replay a failure with the seed fast-check prints: `FUZZ_SEED=<seed> npx vitest run test/fuzz.test.ts`.
 */
const SEED = process.env.FUZZ_SEED === 'random' ? undefined : Number(process.env.FUZZ_SEED ?? 20240801);
const RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : undefined;
const params = (numRuns: number): fc.Parameters<unknown> => ({ numRuns: RUNS ?? numRuns, ...(SEED === undefined ? {} : { seed: SEED }) });
/** A case that takes longer than this is a hang (they take milliseconds). */
const CASE_LIMIT_MS = 5_000;

// ---------------------------------------------------------------------------------------------------
// Inputs: real records, mutated.

const REAL: RawRecord[] = readdirSync(join(FIXTURES, 'records'))
  .filter((f) => /\.(json|ndjson)$/.test(f) && !f.includes('digest'))
  .sort()
  .flatMap((f) => records(f));

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Path = (string | number)[];

/** Sets an own property even when the key is `__proto__` (as JSON.parse does). */
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** Every path in a value, shallow ones first (depth-limited: the records are small). */
function pathsOf(v: unknown, path: Path = [], out: Path[] = [], depth = 0): Path[] {
  out.push(path);
  if (depth > 12 || v === null || typeof v !== 'object') return out;
  if (Array.isArray(v)) for (const [i, x] of v.entries()) pathsOf(x, [...path, i], out, depth + 1);
  else for (const k of Object.keys(v)) pathsOf((v as Record<string, unknown>)[k], [...path, k], out, depth + 1);
  return out;
}

function getAt(root: unknown, path: Path): unknown {
  let v = root;
  for (const p of path) v = (v as Record<string | number, unknown>)[p];
  return v;
}

/** Replaces (or with `undefined`, removes) the value at `path`; the root itself is replaced by returning it. */
function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const parent = getAt(root, path.slice(0, -1)) as Record<string | number, unknown>;
  const last = path.at(-1)!;
  if (value === undefined) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else if (Array.isArray(parent)) parent[last as number] = value;
  else setOwn(parent, String(last), value);
  return root;
}

/** `depth` levels of objects or arrays around `inner`, built without recursion. */
function deep(depth: number, inner: unknown, arrays: boolean): unknown {
  let v = inner;
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v };
  return v;
}

const KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'eventName', 'eventSource', 'eventTime', 'Records', 'userIdentity', 'type', 'arn', 'detail', 'detail-type', 's3', 'key', 'name'];
const key = fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 }));

/** Small JSON values with the awkward keys and numbers. */
const jsonish: fc.Arbitrary<Json> = fc.letrec<{ v: Json }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0, 1e300, -1e300, 8.64e15 + 1, 1e11, 2 ** 53)),
    fc.oneof(fc.string(), fc.constantFrom('', '2024-01-01T00:00:00Z', 'not a date', 'arn:aws:iam::1:user/x', 'AWS Internal', 'Mozilla/5.0', '%E0%A4%A', 'a.'.repeat(50), '\u0000', '\ud800')),
    fc.array(tie('v'), { maxLength: 4 }),
    fc.array(fc.tuple(key, tie('v')), { maxLength: 4 }).map((kvs) => {
      const o: Record<string, Json> = {};
      for (const [k, x] of kvs) setOwn(o, k, x);
      return o;
    }),
  ),
})).v;

/** A string of megabytes: plain, or shaped to make a careless regex backtrack. */
const huge = fc.constantFrom('x', 'a.', 'a-', 'aws-sdk-', 'arn:aws:', ':', '%', 'Mozilla/', 'console.').map((unit) => unit.repeat(Math.ceil(2_000_000 / unit.length)));

type Mutation =
  | { kind: 'swap'; at: number; value: Json }
  | { kind: 'drop'; at: number }
  | { kind: 'deep'; at: number; depth: number; arrays: boolean }
  | { kind: 'huge'; at: number; value: string }
  | { kind: 'key'; at: number; key: string; value: Json }
  | { kind: 'nulls' };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), value: jsonish }),
  fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('deep' as const), at: fc.nat(), depth: fc.constantFrom(100, 1_000, 10_000), arrays: fc.boolean() }),
  fc.record({ kind: fc.constant('huge' as const), at: fc.nat(), value: huge }),
  fc.record({ kind: fc.constant('key' as const), at: fc.nat(), key: fc.constantFrom('__proto__', 'constructor', 'prototype'), value: fc.constantFrom<Json>({ polluted: 'yes' }, { prototype: { polluted: 'yes' } }, 'polluted', null) }),
  fc.constant({ kind: 'nulls' as const }),
);

/** Every leaf null (the first 50 levels: deeper parts are another mutation's). */
function nullEverywhere(v: unknown, depth = 0): unknown {
  if (v === null || typeof v !== 'object') return null;
  if (depth > 50) return v;
  if (Array.isArray(v)) return v.map((x) => nullEverywhere(x, depth + 1));
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(v)) setOwn(o, k, nullEverywhere((v as Record<string, unknown>)[k], depth + 1));
  return o;
}

/**
 * A mutated copy of `record`. Every value put in is a copy too: the generators hand out the same
 * objects again (`constantFrom` values, in every run), and a later mutation writing inside one of
 * them would change it for every case after, until a value contained itself (a cycle no JSON text
 * can hold).
 */
function mutate(record: RawRecord, mutations: Mutation[]): unknown {
  let root: unknown = structuredClone(record);
  for (const original of mutations) {
    const m = structuredClone(original);
    if (m.kind === 'nulls') {
      root = nullEverywhere(root);
      continue;
    }
    const paths = pathsOf(root);
    const path = paths[m.at % paths.length]!;
    switch (m.kind) {
      case 'swap':
        root = setAt(root, path, m.value);
        break;
      case 'drop':
        root = path.length === 0 ? {} : setAt(root, path, undefined);
        break;
      case 'deep':
        root = setAt(root, path, deep(m.depth, getAt(root, path) ?? null, m.arrays));
        break;
      case 'huge':
        root = setAt(root, path, m.value);
        break;
      case 'key': {
        const target = getAt(root, path);
        if (target !== null && typeof target === 'object' && !Array.isArray(target)) setOwn(target as Record<string, unknown>, m.key, m.value);
        else root = setAt(root, path, { [m.key]: m.value }); // a computed key is an own property, even __proto__
        break;
      }
    }
  }
  return root;
}

const realRecord = fc.nat({ max: REAL.length - 1 }).map((i) => REAL[i]!);
const mutatedRecord = fc.tuple(realRecord, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([r, ms]) => mutate(r, ms));

// ---------------------------------------------------------------------------------------------------
// What every reader must do with what it is given.

const ISO = /^[+-]?\d{4,6}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

/** Normalized into a valid event, or rejected with a TrailbotError that says why; never anything else. */
function normalizedOrRejected(record: unknown): 'event' | 'rejected' {
  let event: ReturnType<typeof normalize>;
  try {
    event = normalize(record as RawRecord);
  } catch (e) {
    if (!(e instanceof TrailbotError)) throw new Error(`normalize crashed with ${(e as Error)?.name}: ${(e as Error)?.message}`, { cause: e });
    expect(e.code).toBe('E_RECORD_INVALID');
    expect(e.message.length).toBeGreaterThan(0);
    expect(e.message.length).toBeLessThan(2_000);
    return 'rejected';
  }
  expect(typeof event.eventId).toBe('string');
  expect(event.eventId.length).toBeGreaterThan(0);
  expect(event.time).toMatch(ISO);
  expect(['success', 'denied', 'failed']).toContain(event.outcome);
  expect(['console', 'cli', 'sdk', 'iac', 'service', 'unknown']).toContain(event.via);
  expect(Array.isArray(event.resources)).toBe(true);
  for (const r of event.resources) {
    expect(typeof r.type).toBe('string');
    expect(typeof r.id).toBe('string');
  }
  // Accepted records are stored verbatim, so they must survive JSON.
  expect(() => JSON.stringify(record)).not.toThrow();
  expect(() => JSON.stringify(event)).not.toThrow();
  return 'event';
}

function checkItems(items: Unwrapped[]): void {
  for (const u of items) {
    expect(typeof u.origin.file).toBe('string');
    if (u.kind === 'record') normalizedOrRejected(u.raw);
    else {
      expect(['rejected', 'skipped']).toContain(u.kind);
      expect(typeof u.reason).toBe('string');
      expect(u.reason.length).toBeGreaterThan(0);
      expect(u.reason.length).toBeLessThan(2_000);
    }
  }
}

function notPolluted(): void {
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
}

function timed<T>(f: () => T): T {
  const t0 = performance.now();
  const r = f();
  expect(performance.now() - t0).toBeLessThan(CASE_LIMIT_MS);
  return r;
}

// ---------------------------------------------------------------------------------------------------
// Documents: how a batch of records is written to a file, an S3 object or a message.

const TEXT_LIMIT = 256 * 1024 * 1024;

/** A piece of JSON syntax on toJsonText's stack (a class, so no value can be mistaken for one). */
class Syntax {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

/**
 * The JSON text JSON.stringify would give, for values nested however deep: built with a stack of its
 * own instead of recursion (JSON.stringify, and any recursive helper, overflows the call stack on the
 * 10,000-deep values and chains of them that the mutations make), so a failure is only ever the
 * product's. Values are what the mutations build: null, booleans, numbers, strings, arrays and plain
 * objects (own `__proto__` keys included, as JSON.stringify includes them).
 */
function toJsonText(root: unknown): string {
  const parts: string[] = [];
  let length = 0;
  const todo: unknown[] = [root];
  const scalar = (v: unknown): string | undefined => JSON.stringify(v) as string | undefined;
  const add = (t: string): void => {
    parts.push(t);
    length += t.length;
    // Bounded: what the mutations make is tens of megabytes at most; more means the test built a cycle.
    if (length > TEXT_LIMIT) throw new Error(`the fuzz test built a value of more than ${TEXT_LIMIT} characters of JSON (does it contain itself?)`);
  };
  while (todo.length > 0) {
    const x = todo.pop();
    if (x instanceof Syntax) {
      add(x.text);
    } else if (x === null || typeof x !== 'object') {
      // undefined, functions and symbols: null in an array (object members holding them are left out below).
      add(scalar(x) ?? 'null');
    } else if (Array.isArray(x)) {
      todo.push(new Syntax(']'));
      for (let i = x.length - 1; i >= 0; i--) {
        todo.push(x[i]);
        if (i > 0) todo.push(new Syntax(','));
      }
      todo.push(new Syntax('['));
    } else {
      const members = Object.keys(x).filter((k) => {
        const v = (x as Record<string, unknown>)[k];
        return v !== undefined && typeof v !== 'function' && typeof v !== 'symbol';
      });
      todo.push(new Syntax('}'));
      for (let i = members.length - 1; i >= 0; i--) {
        todo.push((x as Record<string, unknown>)[members[i]!]);
        todo.push(new Syntax(`${i > 0 ? ',' : ''}${JSON.stringify(members[i])}:`));
      }
      todo.push(new Syntax('{'));
    }
  }
  return parts.join('');
}

type Shape = 'log-file' | 'array' | 'ndjson' | 'lookup-events' | 'eventbridge' | 'bare' | 'deep-array';
const shape = fc.constantFrom<Shape>('log-file', 'array', 'ndjson', 'lookup-events', 'eventbridge', 'bare', 'deep-array');

function document(kind: Shape, recs: unknown[]): string {
  switch (kind) {
    case 'log-file':
      return `{"Records":[${recs.map(toJsonText).join(',')}]}`;
    case 'array':
      return `[${recs.map(toJsonText).join(',')}]`;
    case 'ndjson':
      return recs.map(toJsonText).join('\n');
    case 'lookup-events':
      return `{"Events":[${recs.map((r) => `{"EventId":"x","CloudTrailEvent":${JSON.stringify(toJsonText(r))}}`).join(',')}]}`;
    case 'eventbridge':
      return recs.map((r) => `{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","detail":${toJsonText(r)}}`).join('\n');
    case 'bare':
      return toJsonText(recs[0] ?? {});
    case 'deep-array':
      return `${'['.repeat(10_000)}${recs.map(toJsonText).join(',')}${']'.repeat(10_000)}`;
  }
}

type Damage = 'none' | 'gzip' | 'truncated-gzip' | 'invalid-utf8' | 'truncated' | 'empty' | 'bom' | 'garbage';
const damage = fc.constantFrom<Damage>('none', 'none', 'gzip', 'truncated-gzip', 'invalid-utf8', 'truncated', 'empty', 'bom', 'garbage');

function damaged(text: string, how: Damage, cut: number): Buffer {
  const buf = Buffer.from(text, 'utf8');
  switch (how) {
    case 'none':
      return buf;
    case 'gzip':
      return gzipSync(buf);
    case 'truncated-gzip': {
      const gz = gzipSync(buf);
      return gz.subarray(0, Math.max(2, Math.floor(gz.length * cut)));
    }
    case 'invalid-utf8': {
      const at = Math.floor(buf.length * cut);
      return Buffer.concat([buf.subarray(0, at), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0xf0, 0x9f]), buf.subarray(at)]);
    }
    case 'truncated':
      return buf.subarray(0, Math.floor(buf.length * cut));
    case 'empty':
      return Buffer.alloc(0);
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), buf]);
    case 'garbage':
      return Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 37 + Math.floor(cut * 255)) % 256));
  }
}

const batchOfRecords = fc.array(fc.oneof(mutatedRecord, realRecord), { minLength: 1, maxLength: 4 });
const fileCase = fc.record({ shape, damage, cut: fc.double({ min: 0, max: 1, noNaN: true }), recs: batchOfRecords });

const EXT: Record<Shape, string> = { 'log-file': '.json', array: '.json', ndjson: '.ndjson', 'lookup-events': '.json', eventbridge: '.ndjson', bare: '.json', 'deep-array': '.json' };

/** Wraps generated inputs so fast-check prints a short preview (its printer overflows on 10,000-deep values). */
function boxed<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<{ v: T }> {
  return arb.map((v) => ({
    v,
    [fc.toStringMethod]: () => {
      let t: string;
      try {
        t = toJsonText(v);
      } catch {
        return '[unprintable]';
      }
      return t.length > 400 ? `${t.slice(0, 400)}… (${t.length} characters)` : t;
    },
  }));
}

// ---------------------------------------------------------------------------------------------------

describe("the fuzz test's own JSON writer", () => {
  it('writes what JSON.stringify writes', () => {
    fc.assert(
      fc.property(jsonish, (v) => {
        expect(toJsonText(v)).toBe(JSON.stringify(v));
      }),
      params(300),
    );
    const odd: Record<string, unknown> = { a: undefined, b: [undefined, () => 1, Number.NaN, -0], c: 'x' };
    setOwn(odd, '__proto__', { polluted: 'no' });
    expect(toJsonText(odd)).toBe(JSON.stringify(odd));
  });

  it('writes values nested however deep, in any shape, without overflowing the stack (exploration crashed in the helper)', () => {
    // 10,000 levels where every level has two members: no chain to walk, so nothing short-cuts it.
    let v: unknown = 'end';
    for (let i = 0; i < 10_000; i++) v = i % 2 ? { a: v, b: [1] } : [v, { c: null }];
    const text = toJsonText(v);
    expect(text.startsWith('{"a":[{"a":[')).toBe(true);
    expect(text.length).toBeGreaterThan(100_000);
  });
});

describe('the fuzz test\'s mutations', () => {
  it('never change the values the generators hand out (a shared value changed in one case grew into a cycle later)', () => {
    const shared: Json = { polluted: 'yes' };
    const key: Mutation = { kind: 'key', at: 0, key: '__proto__', value: shared };
    const once = mutate(REAL[0]!, [key]);
    const at = pathsOf(once).findIndex((p) => p.join('/') === '__proto__/polluted');
    expect(at).toBeGreaterThan(0);
    const twice = mutate(REAL[0]!, [key, { kind: 'deep', at, depth: 3, arrays: false }]);
    expect(getAt(twice, ['__proto__', 'polluted'])).toEqual({ a: { a: { a: 'yes' } } });
    expect(shared).toEqual({ polluted: 'yes' });
  });
});

describe('fuzz: normalize', () => {
  it('normalizes or rejects every mutation of a real record, with a reason, and pollutes nothing', () => {
    fc.assert(
      fc.property(boxed(mutatedRecord), ({ v: r }) => {
        timed(() => normalizedOrRejected(r));
        notPolluted();
      }),
      params(300),
    );
  });

  it('rejects any JSON value that is not a record, with a reason', () => {
    fc.assert(
      fc.property(boxed(jsonish), ({ v }) => {
        timed(() => normalizedOrRejected(v));
        notPolluted();
      }),
      params(300),
    );
  });
});

describe('fuzz: envelope unwrap', () => {
  it('turns any document shape of mutated records into records, rejections and skips, never throwing', () => {
    fc.assert(
      fc.property(boxed(fc.oneof(fc.tuple(shape, batchOfRecords).map(([s, recs]) => JSON.parse(document(s, recs).split('\n')[0]!) as unknown), jsonish)), ({ v }) => {
        timed(() => checkItems([...unwrap(v, { file: 'fuzz.json' })]));
        notPolluted();
      }),
      params(150),
    );
  });
});

describe('fuzz: SQS messages', () => {
  const wrap = fc.constantFrom('plain', 'sns', 'sns-sns-sns-sns');
  const message = fc.oneof(
    // An S3 event notification, a CloudTrail SNS notification, an S3 EventBridge event, mutated.
    fc.tuple(
      fc.constantFrom<Json>(
        { Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'AWSLogs/111111111111/CloudTrail/eu-west-1/2024/08/01/f.json.gz' } } }] },
        { s3Bucket: 'b', s3ObjectKey: ['AWSLogs/111111111111/CloudTrail/eu-west-1/2024/08/01/f.json.gz'] },
        { version: '0', 'detail-type': 'Object Created', source: 'aws.s3', detail: { bucket: { name: 'b' }, object: { key: 'AWSLogs/111111111111/CloudTrail/eu-west-1/2024/08/01/f.json.gz' } } },
        { Type: 'Notification', Message: '{"Event":"s3:TestEvent"}' },
      ),
      fc.array(mutation, { minLength: 1, maxLength: 3 }),
    ).map(([m, ms]) => mutate(m as RawRecord, ms)),
    // A CloudTrail record delivered as an EventBridge event, or a log file's contents as the message.
    fc.tuple(fc.constantFrom<Shape>('eventbridge', 'log-file'), batchOfRecords).map(([s, recs]) => JSON.parse(document(s, recs).split('\n')[0]!) as unknown),
    jsonish,
  );
  const body = fc.oneof(
    fc.tuple(message, wrap).map(([m, w]) => {
      let text = toJsonText(m);
      for (let i = 0; i < (w === 'plain' ? 0 : w === 'sns' ? 1 : 4); i++) text = JSON.stringify({ Type: 'Notification', MessageId: 'm', Message: text });
      return text;
    }),
    fc.string(),
    fc.constantFrom('', '{', 'null', '[]', '"x"', `${'['.repeat(100_000)}${']'.repeat(100_000)}`),
  );

  it('parses any message into files to read, records, ignored parts or a reason it is malformed, never throwing', () => {
    fc.assert(
      fc.property(boxed(body), ({ v: b }) => {
        const m = timed(() => parseMessage(b, 'sqs://queue/message-1'));
        expect(Array.isArray(m.objects) && Array.isArray(m.items) && Array.isArray(m.ignored)).toBe(true);
        if (m.malformed !== undefined) {
          expect(typeof m.malformed).toBe('string');
          expect(m.malformed.length).toBeLessThan(2_000);
        }
        for (const o of m.objects) expect(typeof o.bucket === 'string' && typeof o.key === 'string').toBe(true);
        checkItems(m.items);
        notPolluted();
      }),
      params(250),
    );
  });
});

describe('fuzz: file reader', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'trailbot-fuzz-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads any file, damaged or not, into one batch of normalizable records and reasons, never throwing', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(boxed(fileCase), async ({ v: { shape: s, damage: d, cut, recs } }) => {
        const file = join(dir, `f${n++}${EXT[s]}${d === 'gzip' || d === 'truncated-gzip' ? '.gz' : ''}`);
        writeFileSync(file, damaged(document(s, recs), d, cut));
        const t0 = performance.now();
        const batches = [];
        for await (const b of readInputs([file])) batches.push(b);
        expect(performance.now() - t0).toBeLessThan(CASE_LIMIT_MS);
        expect(batches).toHaveLength(1);
        const [b] = batches;
        expect(b!.file).toBe(file);
        if (b!.error !== undefined) {
          expect(b!.items).toEqual([]);
          expect(b!.error.length).toBeLessThan(2_000);
        }
        checkItems(b!.items);
        if (d === 'none' && s !== 'deep-array') expect(b!.error).toBeUndefined();
        if (d === 'empty') expect(b!.items).toEqual([]);
        if (d === 'empty' && EXT[s] === '.json') expect(b!.error).toBe('empty file');
        rmSync(file);
        notPolluted();
      }),
      { ...params(60), timeout: CASE_LIMIT_MS },
    );
  });

  it('reads one huge line and a 10,000-deep document without throwing', async () => {
    const big = join(dir, 'huge-line.json');
    writeFileSync(big, `{"Records":[${Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ ...REAL[i % REAL.length], eventID: `id-${i}` })).join(',')}]}`);
    const deepFile = join(dir, 'deep.json');
    writeFileSync(deepFile, `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`);
    const out = [];
    for await (const b of readInputs([big, deepFile])) out.push(b);
    expect(out).toHaveLength(2);
    expect(out[0]!.items.filter((i) => i.kind === 'record')).toHaveLength(20_000);
    checkItems(out[1]!.items);
  });
});

describe('fuzz: S3 trail file reader', () => {
  let standin: S3Standin;
  let s3: S3Port;
  let aws: ReturnType<typeof createAws>;
  beforeAll(async () => {
    standin = await startS3Standin();
    standin.createBucket('trail');
    aws = createAws({ endpoints: { s3: standin.url }, credentials: BASE_CLIENT_CREDENTIALS });
    s3 = await aws.s3({}, 'us-east-1');
  });
  afterAll(async () => {
    aws?.destroy();
    await standin?.close();
  });

  it('reads any object, damaged or not, into records and reasons, never throwing', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(boxed(fileCase), async ({ v: { shape: s, damage: d, cut, recs } }) => {
        const key = `AWSLogs/111111111111/CloudTrail/eu-west-1/2024/08/01/f${n++}${EXT[s]}${d === 'gzip' || d === 'truncated-gzip' ? '.gz' : ''}`;
        standin.putObject('trail', key, damaged(document(s, recs), d, cut));
        const r = await readTrailFile(s3, 'trail', key);
        expect(typeof r.etag).toBe('string');
        if (r.error !== undefined) expect(r.error.length).toBeLessThan(2_000);
        checkItems(r.items);
        notPolluted();
      }),
      { ...params(40), timeout: CASE_LIMIT_MS },
    );
  });
});

describe('fuzz: the crashes it found, pinned', () => {
  const base = (): RawRecord => structuredClone(REAL.find((r) => typeof r.eventID === 'string')!);

  it('rejects an eventTime number outside the dates JavaScript can hold (was a RangeError)', () => {
    expect(normalizedOrRejected({ ...base(), eventTime: 1e20 })).toBe('rejected');
  });

  it('rejects a record nested 10,000 deep, with or without an eventID (was a RangeError, or an event no one could store)', () => {
    const { eventID: _, ...noId } = base();
    expect(normalizedOrRejected({ ...noId, requestParameters: deep(10_000, 1, false) })).toBe('rejected');
    expect(normalizedOrRejected({ ...base(), requestParameters: deep(10_000, 1, true) })).toBe('rejected');
    expect(() => normalize({ ...base(), requestParameters: deep(100, 1, false) })).toThrow(/nested more than 64 levels deep/);
  });

  it('says why a huge eventTime is no date in a few words, not megabytes', () => {
    expect(() => normalize({ ...base(), eventTime: 'x'.repeat(2_000_000) })).toThrow(/^eventTime "x{100}…" is not a date$/);
  });

  it('rejects arrays nested 10,000 deep (was a RangeError out of unwrap)', () => {
    const items = [...unwrap(deep(10_000, base(), true), { file: 'deep.json' })];
    expect(items).toEqual([expect.objectContaining({ kind: 'rejected', reason: 'arrays nested more than 8 deep' })]);
  });

  it('rejects an EventBridge event whose detail-type cannot be made a string (was a TypeError)', () => {
    const items = [...unwrap(JSON.parse('{"detail-type":{"toString":1},"source":"aws.ec2","detail":{}}'), { file: 'eb.json' })];
    expect(items).toEqual([expect.objectContaining({ kind: 'rejected', reason: 'EventBridge event is not a CloudTrail event (detail-type an object)' })]);
  });

  it('reports SQS messages with odd eventName / detail-type values instead of throwing (was a TypeError)', () => {
    const s3 = parseMessage('{"Records":[{"eventSource":"aws:s3","eventName":{"toString":1},"s3":{"bucket":{"name":"b"},"object":{"key":"AWSLogs/1/CloudTrail/x.json.gz"}}}]}', 'm1');
    expect(s3.objects).toEqual([]);
    expect(s3.ignored).toEqual(['s3://b/AWSLogs/1/CloudTrail/x.json.gz: an S3 event (only ObjectCreated events bring new files)']);
    const eb = parseMessage('{"detail-type":{"valueOf":1},"source":"aws.ec2","detail":{}}', 'm2');
    expect(eb.malformed).toMatch(/^EventBridge event of type an object is not a CloudTrail event/);
  });
});
