/**
 * Synthetic-but-realistic CloudTrail generator for benchmarks.
 *
 * Every record is one of ~60 real CloudTrail records (bench/shapes/records.json, origins and
 * licences in bench/shapes/SOURCES.md) with fresh values substituted consistently: ids, times,
 * accounts, regions, principals (a Zipf-weighted pool of ~300 identities across the org),
 * access keys (AKIA for users, ASIA stable per session), source IPs, user agents and resource
 * names. Output is deterministic for a seed (own PRNG, no dependency).
 *
 * How it is fast: each shape is compiled once into a string template (literal parts + slots), so
 * a record is built by concatenation; `generateRecords` parses that JSON, `generateRecordJson`
 * hands out the text as is. Files are gzipped on the libuv thread pool while the main thread
 * builds the next file.
 *
 * gzip level: 4 by default (`gzipLevel`). Measured on 200,000 events (330 MB of JSON): level 1
 * gives 47 MB, level 4 42 MB, level 6 (zlib's default) 39 MB but takes ~30% longer than 4. Level 4
 * keeps the compressed size close to level 6 while staying well inside the 30 s budget on 2 cores.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzip } from 'node:zlib';

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

export interface GenerateTrailOptions {
  /** Output folder; files go under `<dir>/AWSLogs/<o-orgid>/<account>/CloudTrail/...`. */
  dir: string;
  /** Number of records (events) to write. */
  events: number;
  /** Number of member accounts in the organization (default 20). */
  accounts?: number;
  /** Regions of the trail (default DEFAULT_REGIONS). Global services are logged in us-east-1. */
  regions?: string[];
  /** Organization id, with or without the `o-` prefix (default derived from the seed). */
  orgId?: string;
  /** Length of the period in days (default 7, fractions allowed). */
  days?: number;
  /** Start of the period (default DEFAULT_START). */
  start?: Date;
  /** Seed of the PRNG (default 1). */
  seed?: number;
  /** Mean number of records per log file (default 80; actual sizes vary, log-normal). */
  recordsPerFile?: number;
  /** Also write CloudTrail-Digest files (no `Records` key) that an ingester must skip. */
  digests?: boolean;
  /** zlib gzip level 1-9 (default 4). */
  gzipLevel?: number;
}

export interface GenerateTrailResult {
  /** Log files written (digest files not included). */
  files: number;
  /** Records written. */
  events: number;
  /** Compressed bytes of the log files (digest files not included). */
  bytes: number;
  /** The output folder. */
  dir: string;
  /** Digest files written (0 unless `digests`). */
  digests: number;
}

export interface GenerateRecordsOptions {
  count: number;
  seed?: number;
  accounts?: number;
  regions?: string[];
  start?: Date;
  days?: number;
  /** Must match the generateTrail option for both to yield the same records (default 80). */
  recordsPerFile?: number;
}

export const DEFAULT_REGIONS: readonly string[] = [
  'us-east-1',
  'us-west-2',
  'eu-west-1',
  'eu-central-1',
  'ap-southeast-2',
  'ap-northeast-1',
];
export const DEFAULT_START = new Date('2025-03-03T00:00:00Z');

/**
 * Write a synthetic organization trail as gzipped CloudTrail log files in the real S3 layout.
 * The records are exactly those `generateRecords` yields for the same options, in the same order.
 */
export async function generateTrail(opts: GenerateTrailOptions): Promise<GenerateTrailResult> {
  const cfg = normalize({ ...opts, count: opts.events });
  const world = buildWorld(cfg);
  const plan = makePlan(world);
  const level = clampInt(opts.gzipLevel ?? 4, 1, 9);
  const root = join(opts.dir, 'AWSLogs', world.orgId);
  const dirs = new Map<string, Promise<unknown>>();
  const ensureDir = (d: string): Promise<unknown> => {
    let p = dirs.get(d);
    if (!p) {
      p = mkdir(d, { recursive: true });
      dirs.set(d, p);
    }
    return p;
  };
  const delivered: Delivered[] = [];
  const inflight = new Set<Promise<void>>();
  const maxInflight = 6;
  let bytes = 0;
  let events = 0;
  const recs: string[] = [];
  for (const fp of plan) {
    recs.length = 0;
    renderFile(world, fp, recs);
    events += recs.length;
    const body = `{"Records":[${recs.join(',')}]}`;
    const acct = world.accounts[fp.acct].id;
    const region = world.regions[fp.region];
    const ymd = isoTime(fp.delivered);
    const folder = `${acct}/CloudTrail/${region}/${ymd.slice(0, 4)}/${ymd.slice(5, 7)}/${ymd.slice(8, 10)}`;
    const name = `${acct}_CloudTrail_${region}_${compactTime(fp.delivered, false)}_${fp.suffix}.json.gz`;
    if (cfg.digests) {
      delivered.push({
        acct: fp.acct,
        region: fp.region,
        at: fp.delivered,
        key: `AWSLogs/${world.orgId}/${folder}/${name}`,
        sha256: createHash('sha256').update(body).digest('hex'),
        oldest: fp.oldest,
        newest: fp.newest,
      });
    }
    const dirPath = join(root, folder);
    const job = gzipAsync(body, level)
      .then(async (buf) => {
        await ensureDir(dirPath);
        await writeFile(join(dirPath, name), buf);
        bytes += buf.length;
      })
      .finally(() => inflight.delete(job));
    inflight.add(job);
    if (inflight.size >= maxInflight) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  let digestCount = 0;
  if (cfg.digests) digestCount = await writeDigests(world, root, delivered, level, ensureDir);
  return { files: plan.length, events, bytes, dir: opts.dir, digests: digestCount };
}

/** The trail's records as objects (parsed from the same JSON text the files would hold). */
export function* generateRecords(opts: GenerateRecordsOptions): Generator<Record<string, unknown>> {
  for (const line of generateRecordJson(opts)) yield JSON.parse(line) as Record<string, unknown>;
}

/** The trail's records as compact JSON text, one string per record (fastest path for bulk loads). */
export function* generateRecordJson(opts: GenerateRecordsOptions): Generator<string> {
  const world = buildWorld(normalize(opts));
  const plan = makePlan(world);
  const recs: string[] = [];
  for (const fp of plan) {
    recs.length = 0;
    renderFile(world, fp, recs);
    yield* recs;
  }
}

// ---------------------------------------------------------------------------------------------
// PRNG and small helpers
// ---------------------------------------------------------------------------------------------

/** sfc32: small, fast, good enough statistical quality for test data. */
class Rng {
  a: number;
  b: number;
  c: number;
  d: number;
  constructor(seed: number, stream = 0) {
    this.a = (seed ^ 0x9e3779b9) >>> 0;
    this.b = (stream ^ 0x243f6a88) >>> 0;
    this.c = 0xb7e15162;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** Uniform in [0, 1). */
  f(): number {
    return this.u32() / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.f() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.f() * xs.length)];
  }
  normal(): number {
    const u = this.f() || 1e-12;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.f());
  }
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hash(a: number, b = 0, c = 0, d = 0): number {
  let h = fmix((a ^ 0x2545f491) >>> 0);
  h = fmix((h ^ Math.imul(b + 0x9e3779b9, 0x85ebca6b)) >>> 0);
  h = fmix((h ^ Math.imul(c + 0x7f4a7c15, 0xc2b2ae35)) >>> 0);
  h = fmix((h ^ Math.imul(d + 0x165667b1, 0x27d4eb2f)) >>> 0);
  return h;
}

function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function uuid(r: Rng): string {
  const a = r.u32();
  const b = r.u32();
  const c = r.u32();
  const d = r.u32();
  return (
    HEX[a >>> 24] + HEX[(a >>> 16) & 255] + HEX[(a >>> 8) & 255] + HEX[a & 255] + '-' +
    HEX[b >>> 24] + HEX[(b >>> 16) & 255] + '-' +
    HEX[((b >>> 8) & 0x0f) | 0x40] + HEX[b & 255] + '-' +
    HEX[((c >>> 24) & 0x3f) | 0x80] + HEX[(c >>> 16) & 255] + '-' +
    HEX[(c >>> 8) & 255] + HEX[c & 255] + HEX[d >>> 24] + HEX[(d >>> 16) & 255] + HEX[(d >>> 8) & 255] + HEX[d & 255]
  );
}

function hexFrom(r: Rng, n: number): string {
  let s = '';
  while (s.length < n) {
    const x = r.u32();
    s += HEX[x >>> 24] + HEX[(x >>> 16) & 255] + HEX[(x >>> 8) & 255] + HEX[x & 255];
  }
  return s.slice(0, n);
}

/** n hex chars derived from a hash (for stable resource ids). */
function hexFromHash(h: number, n: number): string {
  let s = '';
  let x = h;
  while (s.length < n) {
    x = fmix((x + 0x6d2b79f5) >>> 0);
    s += HEX[x >>> 24] + HEX[(x >>> 16) & 255] + HEX[(x >>> 8) & 255] + HEX[x & 255];
  }
  return s.slice(0, n);
}

function charsFrom(r: Rng, alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[r.u32() % alphabet.length];
  return s;
}

function charsFromHash(h: number, alphabet: string, n: number): string {
  let s = '';
  let x = h;
  for (let i = 0; i < n; i++) {
    x = fmix((x + 0x6d2b79f5 + i) >>> 0);
    s += alphabet[x % alphabet.length];
  }
  return s;
}

function clampInt(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, Math.round(x)));
}

interface Picker<T> {
  items: T[];
  cum: Float64Array;
  total: number;
}

function makePicker<T>(items: T[], weight: (x: T) => number): Picker<T> {
  const cum = new Float64Array(items.length);
  let total = 0;
  for (let i = 0; i < items.length; i++) {
    total += Math.max(0, weight(items[i]));
    cum[i] = total;
  }
  return { items, cum, total };
}

function pickFrom<T>(p: Picker<T>, u: number): T {
  const x = u * p.total;
  const cum = p.cum;
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return p.items[lo];
}

// ---------------------------------------------------------------------------------------------
// Time formatting
// ---------------------------------------------------------------------------------------------

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let lastIsoSec = NaN;
let lastIso = '';

/** `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds. */
function isoTime(sec: number): string {
  if (sec === lastIsoSec) return lastIso;
  lastIsoSec = sec;
  lastIso = `${new Date(sec * 1000).toISOString().slice(0, 19)}Z`;
  return lastIso;
}

/** `YYYYMMDDTHHmmZ` (log file names) or `YYYYMMDDTHHmmssZ` (digest names). */
function compactTime(sec: number, seconds: boolean): string {
  const s = isoTime(sec);
  return (
    s.slice(0, 4) + s.slice(5, 7) + s.slice(8, 10) + 'T' + s.slice(11, 13) + s.slice(14, 16) +
    (seconds ? s.slice(17, 19) : '') + 'Z'
  );
}

/** Java-style dates found in IAM/STS/SSM responses: `Aug 1, 2024 1:33:28 PM` (comma=false). */
function javaDate(sec: number, comma: boolean): string {
  const d = new Date(sec * 1000);
  const h = d.getUTCHours();
  const h12 = h % 12 === 0 ? 12 : h % 12;
  return (
    `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()}${comma ? ',' : ''} ${h12}:` +
    `${String(d.getUTCMinutes()).padStart(2, '0')}:${String(d.getUTCSeconds()).padStart(2, '0')} ${h < 12 ? 'AM' : 'PM'}`
  );
}

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

interface Config {
  seed: number;
  count: number;
  accounts: number;
  regions: string[];
  orgId: string;
  startSec: number;
  endSec: number; // exclusive
  recordsPerFile: number;
  digests: boolean;
}

function normalize(o: {
  count: number;
  seed?: number;
  accounts?: number;
  regions?: string[];
  orgId?: string;
  start?: Date;
  days?: number;
  recordsPerFile?: number;
  digests?: boolean;
}): Config {
  const seed = (o.seed ?? 1) >>> 0;
  const count = Math.max(0, Math.floor(o.count));
  const accounts = clampInt(o.accounts ?? 20, 1, 10000);
  const regions = [...new Set(o.regions && o.regions.length > 0 ? o.regions : DEFAULT_REGIONS)];
  const startMs = (o.start ?? DEFAULT_START).getTime();
  const days = o.days ?? 7;
  if (!Number.isFinite(startMs)) throw new Error('generate: invalid start date');
  if (!(days > 0)) throw new Error('generate: days must be > 0');
  const startSec = Math.ceil(startMs / 1000);
  const endSec = Math.max(startSec + 1, Math.ceil((startMs + days * 86400000) / 1000));
  let orgId = o.orgId ?? `o-${charsFromHash(hash(seed, 77), 'abcdefghijklmnopqrstuvwxyz0123456789', 10)}`;
  if (!orgId.startsWith('o-')) orgId = `o-${orgId}`;
  return {
    seed,
    count,
    accounts,
    regions,
    orgId,
    startSec,
    endSec,
    recordsPerFile: Math.max(1, o.recordsPerFile ?? 80),
    digests: o.digests ?? false,
  };
}

// ---------------------------------------------------------------------------------------------
// Shapes: real records compiled into string templates
// ---------------------------------------------------------------------------------------------

/**
 * Actor letters (who may perform a shape):
 *   h human IAM user (console or CLI)     u IAM user used by a program (long-term AKIA key)
 *   s SSO session (AWSReservedSSO_...)    c CI/automation role (Terraform, GitHub Actions, Jenkins)
 *   e EC2 instance-profile session        l Lambda execution-role session
 *   k ECS task-role session               g service-linked role session (AWS Config, Security Hub)
 *   r root                                 v AWS service (AWSService, invokedBy)
 *   i AWS Internal (service events)
 */
interface ShapeSpec {
  id: string;
  w: number;
  actors: string;
  /** identity variant: API call (default), console sign-in, sign-in record without `arn`. */
  ident?: 'signin' | 'signinNoArn';
  /**
   * [literal, replacement]: replace the literal in every string of the record. The replacement is a
   * slot name, or text with `{slot}` marks; a literal starting with `=` must match the whole string.
   */
  sub?: Array<[string, string]>;
  /** 12-digit ids that are another account, not the recipient. */
  peer?: string[];
  /** Force global (logged in us-east-1) even if the event source is regional. */
  global?: boolean;
  /** Set values at dotted paths before substitution (`@slot` strings become raw JSON). */
  set?: Record<string, unknown>;
}

const GLOBAL_SOURCES = new Set([
  'iam.amazonaws.com',
  'signin.amazonaws.com',
  'organizations.amazonaws.com',
  'cloudfront.amazonaws.com',
  'route53.amazonaws.com',
]);

const T_ENC_PREFIX = 'Encoded authorization failure message: ';

const SHAPES: ShapeSpec[] = [
  // Console-driven EC2 and friends (OTRF CloudGoat capture).
  { id: 'otrf-ec2-describe-instances', w: 40, actors: 'hsucekgr', sub: [['i-044b1baf4c96e1b62', 'inst']] },
  { id: 'otrf-ec2-describe-instance-types', w: 5, actors: 'hsc' },
  { id: 'otrf-ec2-describe-addresses', w: 6, actors: 'hscg', sub: [['i-044b1baf4c96e1b62', 'inst']] },
  { id: 'otrf-ec2-describe-volumes', w: 12, actors: 'hscgek' },
  { id: 'otrf-ec2-describe-snapshots', w: 6, actors: 'hscg' },
  { id: 'otrf-ec2-describe-tags', w: 10, actors: 'hsucek' },
  { id: 'otrf-ec2-describe-availability-zones', w: 8, actors: 'hsuckel' },
  { id: 'otrf-ec2-describe-instance-status', w: 10, actors: 'hscek', sub: [['i-044b1baf4c96e1b62', 'inst']] },
  { id: 'otrf-ec2-describe-volume-status', w: 4, actors: 'hsc', sub: [['vol-0fec73ea9cce65247', 'vol']] },
  { id: 'otrf-ec2-describe-security-groups', w: 12, actors: 'hscg' },
  { id: 'otrf-elb-describe-load-balancers', w: 8, actors: 'hsckg' },
  { id: 'otrf-cloudwatch-describe-alarms', w: 8, actors: 'hscg' },
  { id: 'otrf-compute-optimizer-get-enrollment-status', w: 2, actors: 'hs' },
  {
    id: 'otrf-sts-assume-role-by-ec2',
    w: 15,
    actors: 'v',
    sub: [
      ['i-044b1baf4c96e1b62', 'tgtSess'],
      ['arn:aws:iam::123456789123:role/MordorLogCollectorStack-LogCollectorRole-1JJTG88NNY4KN', 'tgtRoleArn'],
      ['Sep 14, 2020, 7:01:26 AM', 'dB+21600'],
      ['ASIA5FLZVX4OLY6BJN4L', 'tgtAsia'],
    ],
    set: { 'responseElements.credentials.sessionToken': 'tgtToken' },
  },
  // S3 data events and ListBuckets.
  {
    id: 'otrf-s3-list-objects',
    w: 25,
    actors: 'hsucekl',
    sub: [
      ['mordors3stack-s3bucket-llp2yingx64a', 'bucket'],
      ['CwG1p2GevuppO1cfaaU0oSCg6Bd6Hwc3Rf/ySaU2HejdK532VxwbHA6PUvtvWIkQmJkoyA3LCJg=', 'amzId'],
    ],
    set: { 'additionalEventData.bytesTransferredOut': '@bytesList' },
  },
  {
    id: 'otrf-s3-get-object',
    w: 45,
    actors: 'hsucekl',
    sub: [
      ['mordors3stack-s3bucket-llp2yingx64a', 'bucket'],
      ['=ring.txt', 'objKey'],
      ['/ring.txt', '/{objKey}'],
      ['gyAgfHKWBQDUmPzc6Za14YfKLUew1NZi81kJ1w95x6ibnEsBn7rpYrjnoTeUrjEGGMfXo7BgS70=', 'amzId'],
    ],
    set: { 'additionalEventData.bytesTransferredOut': '@bytesObj' },
  },
  {
    id: 'otrf-s3-list-buckets',
    w: 6,
    actors: 'hsucg',
    global: true,
    sub: [['kYiD7zKnS/MdFmNlhWneMJr7EOTZev+JvUOTM34Ho5YVRcTX4gg/C8hhd9hjHV65aB1Zw6GNB9U=', 'amzId']],
  },
  // Stratus Red Team detonations (anonymised real captures).
  {
    id: 'srt-ec2-get-password-data-denied',
    w: 1.5,
    actors: 'sce',
    sub: [
      ['arn:aws:sts::751353041310:assumed-role/stratus-red-team-ec2-get-password-data-role/aws-go-sdk-1722375070115152000', 'actorArn'],
      ['i-i2jnm5swa59p4fxg', 'inst'],
    ],
  },
  {
    id: 'srt-sts-assume-role',
    w: 20,
    actors: 'hsuc',
    sub: [
      ['arn:aws:sts::457448411975:assumed-role/stratus-red-team-ec2-get-password-data-role/aws-go-sdk-1722375070115152000', 'tgtSessArn'],
      ['arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role', 'tgtRoleArn'],
      ['AROAMLQ9F6KHQ07JKA0WY:aws-go-sdk-1722375070115152000', 'tgtAroaSess'],
      ['aws-go-sdk-1722375070115152000', 'tgtSess'],
      ['ASIA7RQR64ZW9JXKWPUO', 'tgtAsia'],
      ['Jul 30, 2024, 9:46:15 PM', 'dB+3600'],
    ],
    set: { 'responseElements.credentials.sessionToken': 'tgtToken', 'requestParameters.durationSeconds': 3600 },
  },
  {
    id: 'srt-sts-assume-role-denied',
    w: 3,
    actors: 'hsu',
    sub: [['arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role', 'tgtRoleArn']],
  },
  { id: 'srt-secretsmanager-batch-get-secret-value', w: 6, actors: 'celk', sub: [['StratusRedTeam', 'tagKey']] },
  { id: 'srt-ssm-describe-parameters', w: 5, actors: 'hsc' },
  {
    id: 'srt-ssm-get-parameters',
    w: 18,
    actors: 'celks',
    sub: [
      ['/credentials/stratus-red-team/credentials-12', 'param'],
      ['/credentials/stratus-red-team/credentials-40', 'param:1'],
    ],
  },
  { id: 'srt-cloudtrail-put-event-selectors', w: 0.2, actors: 'sc', sub: [['stratus-red-team-ctes-trail-khlvciwdor', 'trail']] },
  {
    id: 'srt-route53resolver-delete-query-log-config',
    w: 0.2,
    actors: 'sc',
    sub: [
      ['rqlc-4473f20ca554c07', 'rqlc'],
      ['2024-07-31T14:23:44.841442289Z', 'pastNano'],
      ['tf-r53-resolver-query-log-config-20240731142344425800000001', 'pastTf'],
      ['stratus-red-team-dns-delete-bucket-bxxclslsdp', 'bucket'],
      ['stratus-red-team-dns-delete-config-bxxclslsdp', 'rqlcName'],
    ],
  },
  { id: 'srt-ec2-delete-flow-logs', w: 0.3, actors: 'sc', sub: [['fl-0e17aa62a21d4bbfe', 'fl']] },
  {
    id: 'srt-ec2-run-instances-denied',
    w: 1.5,
    actors: 'sc',
    sub: [
      ['arn:aws:sts::751353041310:assumed-role/stratus-red-team-ec2lui-role-idtzskbvtd/aws-go-sdk-1722511821294449000', 'actorArn'],
      ['5dd59182-3917-421c-9b2c-7c92954b66ee', 'uuid'],
      ['p2.xlarge', 'instType'],
      ['ami-aCBbfd13bdb1d1E4b', 'ami'],
      ['subnet-0e540f0c7ffb48ae9', 'subnet'],
    ],
  },
  {
    id: 'srt-ssm-describe-instance-information',
    w: 20,
    actors: 'hsce',
    sub: [
      ['i-00456A8D163f546Ff', 'inst'],
      ['i-cfE23b1a7ceba6f86', 'inst:1'],
      ['i-9D40CCFc0aE91CFa5', 'inst:2'],
    ],
  },
  {
    id: 'srt-ssm-get-command-invocation',
    w: 4,
    actors: 'hsc',
    sub: [
      ['4e973221-443e-4a56-a0b4-1cb3c7923fc3', 'uuid'],
      ['i-9D40CCFc0aE91CFa5', 'inst'],
    ],
  },
  {
    id: 'srt-ssm-send-command',
    w: 1.5,
    actors: 'hsc',
    sub: [
      ['i-00456A8D163f546Ff', 'inst'],
      ['i-cfE23b1a7ceba6f86', 'inst:1'],
      ['i-9D40CCFc0aE91CFa5', 'inst:2'],
      ['4e973221-443e-4a56-a0b4-1cb3c7923fc3', 'uuid'],
      ['Aug 2, 2024, 11:08:56 AM', 'dB+7200'],
      ['Aug 2, 2024, 9:08:56 AM', 'dB+0'],
    ],
  },
  {
    id: 'srt-ec2-authorize-security-group-ingress',
    w: 0.8,
    actors: 'hsc',
    sub: [
      ['208.236.235.254/0', 'cidr'],
      ['sg-003dc7f1f1c686164', 'sg'],
      ['sgr-09b3e3d2ca1edf2a2', 'sgr'],
    ],
  },
  {
    id: 'srt-ec2-modify-snapshot-attribute',
    w: 0.3,
    actors: 'sc',
    peer: ['098797384747'],
    sub: [['snap-041993b54a9b3af6f', 'snap']],
  },
  { id: 'srt-bedrock-invoke-model', w: 8, actors: 'slk', sub: [['anthropic.claude-3-sonnet-20240229-v1:0', 'model']] },
  { id: 'srt-bedrock-get-foundation-model-availability', w: 2, actors: 's', sub: [['anthropic.claude-3-sonnet-20240229-v1:0', 'model']] },
  {
    id: 'srt-ec2-instance-connect-send-ssh-public-key',
    w: 1.5,
    actors: 'hs',
    sub: [
      ['i-fDb357cB7e99ad973', 'inst'],
      ['AAAAC3NzaC1lZDI1NTE5AAAAIOtAlK45MAEWZ7MUY2QEmi3M6W+peGL3VCrc0qH54xRu', 'sshKey'],
    ],
  },
  { id: 'srt-iam-update-assume-role-policy', w: 0.3, actors: 'sc', sub: [['stratus-red-team-backdoor-r-role', 'role']] },
  {
    id: 'srt-iam-attach-user-policy',
    w: 0.3,
    actors: 'hsc',
    sub: [
      ['malicious-iam-user', 'iamUser'],
      ['policy/AdministratorAccess', 'policy/{policy}'],
    ],
  },
  {
    id: 'srt-iam-create-access-key',
    w: 0.3,
    actors: 'hsc',
    sub: [
      ['malicious-iam-user', 'iamUser'],
      ['AKIAXAFZN8JEPF6L682H', 'akiaNew'],
      ['Aug 1, 2024 1:33:28 PM', 'dA'],
    ],
  },
  {
    id: 'srt-iam-create-user',
    w: 0.3,
    actors: 'hsc',
    sub: [
      ['malicious-iam-user', 'newUser'],
      ['=StratusRedTeam', 'teamKey'],
      ['=true', 'teamName'],
      ['AIDAL1XMLVWIUOK8KAF0', 'aidaNew'],
      ['Aug 1, 2024 1:33:28 PM', 'dA'],
    ],
  },
  { id: 'srt-sts-get-caller-identity', w: 15, actors: 'hsucekl' },
  {
    id: 'srt-iam-delete-login-profile-error',
    w: 0.1,
    actors: 'hs',
    sub: [['stratus-red-team-login-profile-user', 'iamUser']],
  },
  {
    id: 'srt-iam-create-login-profile',
    w: 0.2,
    actors: 'hs',
    sub: [
      ['stratus-red-team-login-profile-user', 'iamUser'],
      ['Aug 1, 2024 1:42:21 PM', 'dA'],
    ],
  },
  {
    id: 'srt-lambda-update-function-configuration',
    w: 1,
    actors: 'sc',
    sub: [
      ['stratus-red-team-lambda-layer-lambda-role', 'fnRole'],
      ['stratus-red-team-lambda-layer-my-lambda-extension', 'layer'],
      ['stratus-red-team-lambda-layer-simpleLambda', 'fn'],
      ['yoqgXJ3G1ROsFXLUfkxIKHbCiKf2eKCiIkxoktNUoNE=', 'shaB64'],
      ['2024-07-30T21:57:15.000+0000', 'lm'],
      ['7e710d48-c7d2-419c-b0bb-2f014bb742d8', 'uuid'],
      ['fa339b789ded6e524b73b2ce2d1529eb06258c05ffa71ea5c8283c8dc106fbe3', 'hex64'],
    ],
  },
  {
    id: 'srt-rolesanywhere-create-profile',
    w: 0.1,
    actors: 'sc',
    sub: [
      ['malicious-rolesanywhere-profile', 'raProfile'],
      ['stratus-red-team-trust-anchor-role', 'role'],
      ['2024-08-01T13:56:39.832628281Z', 'nano'],
      ['910042eb-8463-427d-8095-6fd60ac303d9', 'uuid'],
    ],
  },
  {
    id: 'srt-iam-update-login-profile',
    w: 0.1,
    actors: 'hsr',
    sub: [['stratus-red-team-update-login-profile-user', 'iamUser']],
  },
  // AWS CloudTrail user guide examples (MIT-0 sample code).
  { id: 'docs-signin-console-login-iam-user', w: 6, actors: 'h', ident: 'signin', sub: [['https://console.aws.amazon.com/sns', 'loginTo']] },
  {
    id: 'docs-signin-console-login-iam-user-mfa',
    w: 8,
    actors: 'h',
    ident: 'signin',
    sub: [
      ['/anaya/', '/{actorName}/'],
      ['AAAAAAAABBBBBBBBCCCCCCCCDD', 'u2f'],
    ],
  },
  { id: 'docs-signin-console-login-iam-user-failure', w: 1, actors: 'h', ident: 'signinNoArn' },
  { id: 'docs-signin-check-mfa', w: 2, actors: 'h', ident: 'signinNoArn' },
  { id: 'docs-signin-console-login-root', w: 0.5, actors: 'r', ident: 'signin' },
  { id: 'docs-signin-console-login-root-mfa', w: 1, actors: 'r', ident: 'signin' },
  { id: 'docs-signin-console-login-root-failure', w: 0.3, actors: 'r', ident: 'signin' },
  { id: 'docs-iam-enable-mfa-device-root', w: 0.1, actors: 'r' },
  { id: 'docs-signin-password-updated-root', w: 0.1, actors: 'r', ident: 'signin' },
  { id: 'docs-ec2-start-instances', w: 2, actors: 'hsc', sub: [['i-ebeaf9e2', 'inst']] },
  { id: 'docs-ec2-stop-instances', w: 2, actors: 'hsc', sub: [['i-ebeaf9e2', 'inst']] },
  {
    id: 'docs-ec2-create-key-pair',
    w: 0.4,
    actors: 'hsc',
    sub: [
      ['mykeypair', 'keyName'],
      ['30:1d:46:d0:5b:ad:7e:1b:b6:70:62:8b:ff:38:b5:e9:ab:5d:b8:21', 'fp'],
    ],
  },
  {
    id: 'docs-iam-add-user-to-group',
    w: 0.3,
    actors: 'hsc',
    sub: [
      ['=Bob', 'iamUser'],
      ['=admin', 'group'],
    ],
  },
  {
    id: 'docs-iam-create-role',
    w: 0.5,
    actors: 'sc',
    sub: [
      ['TestRole', 'newRole'],
      ['AROAIUU2EOWSWPGX2UJUO', 'aroaNew'],
      ['Mar 25, 2014 8:17:37 PM', 'dA'],
    ],
  },
  { id: 'docs-cloudtrail-update-trail-error', w: 0.2, actors: 'sc', sub: [['myTrail2', 'badTrail']] },
  { id: 'docs-kms-rotate-key-service-event', w: 1, actors: 'i', sub: [['7944f0ec-EXAMPLE', 'kmsKey']] },
  { id: 'docs-cloudtrail-create-service-linked-channel', w: 0.1, actors: 'i', sub: [['7944f0ec-EXAMPLE', 'uuid']] },
];

/** Canonical CloudTrail field order (as AWS writes it). */
const FIELD_ORDER = [
  'eventVersion', 'userIdentity', 'eventTime', 'eventSource', 'eventName', 'awsRegion', 'sourceIPAddress',
  'userAgent', 'errorCode', 'errorMessage', 'requestParameters', 'responseElements', 'additionalEventData',
  'requestID', 'eventID', 'readOnly', 'resources', 'eventType', 'apiVersion', 'managementEvent',
  'recipientAccountId', 'sharedEventID', 'serviceEventDetails', 'eventCategory', 'tlsDetails',
];

interface SlotDef {
  key: string;
  kind: string;
  n: number;
  arg: number;
}

interface Tpl {
  idx: number;
  id: string;
  w: number;
  actors: string;
  global: boolean;
  ident: 'api' | 'signin' | 'signinNoArn';
  eventSource: string;
  eventName: string;
  eventType: string;
  s3: boolean;
  /** Original user agent kept for console clients when it is a console-internal one. */
  consoleUa: string;
  signin: boolean;
  encLen: number;
  parts: string[];
  refs: number[];
  slots: SlotDef[];
}

interface ShapeFile {
  id: string;
  source: string;
  license: string;
  record: Record<string, unknown>;
}

const M = '\u0001';
const mark = (slot: string): string => M + slot + M;

function loadShapes(): Map<string, Record<string, unknown>> {
  const url = new URL('../shapes/records.json', import.meta.url);
  const list = JSON.parse(readFileSync(url, 'utf8')) as ShapeFile[];
  return new Map(list.map((x) => [x.id, x.record]));
}

let compiled: Tpl[] | null = null;

function templates(): Tpl[] {
  if (!compiled) {
    const shapes = loadShapes();
    compiled = SHAPES.map((spec, idx) => {
      const rec = shapes.get(spec.id);
      if (!rec) throw new Error(`generate: shape ${spec.id} missing from bench/shapes/records.json`);
      return compileShape(spec, rec, idx);
    });
  }
  return compiled;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    let next = o[keys[i]];
    if (next === null || typeof next !== 'object') {
      next = {};
      o[keys[i]] = next;
    }
    o = next as Record<string, unknown>;
  }
  o[keys[keys.length - 1]] = value;
}

function compileShape(spec: ShapeSpec, original: Record<string, unknown>, idx: number): Tpl {
  const rec = structuredClone(original);
  const eventSource = String(rec.eventSource);
  const eventName = String(rec.eventName);
  const eventType = String(rec.eventType ?? 'AwsApiCall');
  const region0 = String(rec.awsRegion);
  const ui = (rec.userIdentity ?? {}) as Record<string, unknown>;
  const origArn = typeof ui.arn === 'string' ? ui.arn : '';
  const origUa = String(rec.userAgent ?? '');
  const origRequestId = typeof rec.requestID === 'string' ? rec.requestID : '';
  const global = spec.global === true || GLOBAL_SOURCES.has(eventSource);
  const signin = eventType === 'AwsConsoleSignIn';
  const s3 = eventSource === 's3.amazonaws.com';

  for (const [p, v] of Object.entries(spec.set ?? {})) setPath(rec, p, typeof v === 'string' ? mark(v) : v);

  // Literal substitutions: explicit first (longest literal first), then generic rules.
  const subs = [...(spec.sub ?? [])].sort((a, b) => b[0].length - a[0].length);
  const peers = new Set(spec.peer ?? []);
  let encLen = 0;
  const rewrite = (s: string): string => {
    if (s.includes(M)) return s; // already a slot
    for (const [lit, slot] of subs) {
      if (lit.startsWith('=')) {
        if (s === lit.slice(1)) return mark(slot);
        continue;
      }
      if (s.includes(lit)) s = s.split(lit).join(slot.includes('{') ? slot.replace(/\{([^}]+)\}/g, (_m, x: string) => mark(x)) : mark(slot));
    }
    if (origArn && s.includes(origArn)) s = s.split(origArn).join(mark('actorArn'));
    if (origRequestId && s === origRequestId) return mark('rid');
    const enc = s.indexOf(T_ENC_PREFIX);
    if (enc >= 0) {
      encLen = s.length - enc - T_ENC_PREFIX.length;
      s = s.slice(0, enc + T_ENC_PREFIX.length) + mark('enc');
    }
    s = s.replace(/(?<![0-9])[0-9]{12}(?![0-9])/g, (d) => mark(peers.has(d) ? 'peer' : 'acct'));
    if (region0) s = s.split(region0).join(mark('region'));
    return s;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return rewrite(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = walk(x);
      return o;
    }
    return v;
  };

  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (['userIdentity', 'eventTime', 'eventID', 'requestID', 'sourceIPAddress', 'userAgent', 'recipientAccountId', 'awsRegion', 'sharedEventID', 'sessionCredentialFromConsole'].includes(k)) continue;
    body[k] = k === 'tlsDetails' ? v : walk(v);
  }

  // Fields every current CloudTrail record carries.
  const version = String(rec.eventVersion ?? '1.08');
  body.eventVersion = Number.parseFloat(version) < 1.05 ? '1.08' : version;
  body.eventType = eventType;
  if (body.readOnly === undefined) body.readOnly = signin ? false : /^(Describe|Get|List|Head|Lookup|Check|BatchGet|Search|AssumeRole)/.test(eventName);
  if (body.managementEvent === undefined) body.managementEvent = true;
  if (body.eventCategory === undefined) body.eventCategory = body.managementEvent === false ? 'Data' : 'Management';
  const actorIsService = /^[vi]+$/.test(spec.actors);
  if (body.tlsDetails === undefined && eventType === 'AwsApiCall' && !actorIsService && !s3) {
    const prefix = eventSource.replace(/\.amazonaws\.com$/, '');
    body.tlsDetails = {
      tlsVersion: 'TLSv1.3',
      cipherSuite: 'TLS_AES_128_GCM_SHA256',
      clientProvidedHostHeader: global ? `${prefix}.amazonaws.com` : `${prefix}.${mark('region')}.amazonaws.com`,
    };
  } else if (body.tlsDetails && typeof body.tlsDetails === 'object') {
    const tls = { ...(body.tlsDetails as Record<string, unknown>) };
    if (typeof tls.clientProvidedHostHeader === 'string') tls.clientProvidedHostHeader = tls.clientProvidedHostHeader.split(region0).join(mark('region'));
    body.tlsDetails = tls;
  }

  const fixed: Record<string, unknown> = {
    userIdentity: mark('@ui'),
    eventTime: mark('time'),
    awsRegion: mark('region'),
    sourceIPAddress: mark('ip'),
    userAgent: mark('ua'),
    eventID: mark('eid'),
    recipientAccountId: mark('acct'),
  };
  if (!signin && !(eventType === 'AwsServiceEvent' && !origRequestId)) fixed.requestID = mark('rid');
  if (rec.sharedEventID !== undefined) fixed.sharedEventID = mark('uuid:9');

  const ordered: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) {
    if (k in fixed) ordered[k] = fixed[k];
    else if (body[k] !== undefined) ordered[k] = body[k];
  }
  for (const [k, v] of Object.entries(body)) if (!(k in ordered)) ordered[k] = v;

  let text = JSON.stringify(ordered);
  if (!text.endsWith('}')) throw new Error('unreachable');
  text = text.slice(0, -1); // the tail (sessionCredentialFromConsole) and `}` are appended per record
  text = text.replace(/"\\u0001@([A-Za-z0-9:+_-]+)\\u0001"/g, '\\u0001@$1\\u0001');
  const pieces = text.split(/\\u0001([@A-Za-z0-9:+_-]+)\\u0001/);
  const parts: string[] = [];
  const refs: number[] = [];
  const slots: SlotDef[] = [];
  const index = new Map<string, number>();
  for (let i = 0; i < pieces.length; i++) {
    if (i % 2 === 0) {
      parts.push(pieces[i]);
      continue;
    }
    const key = pieces[i];
    let at = index.get(key);
    if (at === undefined) {
      const m = /^(@?[A-Za-z0-9_-]+?)(?::(\d+))?(?:\+(\d+))?$/.exec(key);
      if (!m) throw new Error(`generate: bad slot ${key} in ${spec.id}`);
      at = slots.length;
      slots.push({ key, kind: m[1], n: Number(m[2] ?? 0), arg: Number(m[3] ?? 0) });
      index.set(key, at);
    }
    refs.push(at);
  }
  const consoleUa = /^(console\.|AWSConsole|signin\.)|Console(Frontend|Backend)/.test(origUa) ? origUa : '';
  return {
    idx,
    id: spec.id,
    w: spec.w,
    actors: spec.actors,
    global,
    ident: spec.ident ?? 'api',
    eventSource,
    eventName,
    eventType,
    s3,
    consoleUa,
    signin,
    encLen: encLen || 900,
    parts,
    refs,
    slots,
  };
}

// ---------------------------------------------------------------------------------------------
// The organization: accounts, principals, resources
// ---------------------------------------------------------------------------------------------

// Client codes.
const C_CONSOLE = 0;
const C_CLI = 1;
const C_BOTO = 2;
const C_TF = 3;
const C_JS = 4;
const C_JAVA = 5;
const C_GO = 6;
const C_SVC = 7;
const C_INTERNAL = 8;
// Source-IP modes.
const IP_PERSON = 0;
const IP_NAT = 1;
const IP_AWS = 2;
const IP_GH = 3;
const IP_SVC = 4;
const IP_INTERNAL = 5;
const IP_FIXED = 6;

const FIRST = [
  'alice', 'bruno', 'carla', 'deepak', 'elena', 'farid', 'grace', 'hugo', 'ines', 'jamal', 'kenji', 'lena', 'marco',
  'nadia', 'oscar', 'priya', 'quentin', 'rosa', 'samir', 'tanya', 'umar', 'vera', 'wei', 'ximena', 'yusuf', 'zoe',
  'amara', 'ben', 'chloe', 'dmitri', 'emma', 'felix', 'gabriel', 'hana', 'ivan', 'julia', 'kofi', 'laura', 'mateo',
  'nora', 'olivia', 'pablo', 'rahul', 'sofia', 'tomas', 'uma', 'viktor', 'yara', 'arjun', 'astrid', 'liam', 'mia',
  'noah', 'sven', 'tunde', 'yuki', 'leila', 'omar', 'ada', 'finn',
];
const LAST = [
  'smith', 'garcia', 'miller', 'davis', 'martinez', 'lopez', 'wilson', 'anderson', 'taylor', 'moore', 'jackson',
  'martin', 'lee', 'perez', 'thompson', 'white', 'harris', 'clark', 'lewis', 'robinson', 'walker', 'young', 'allen',
  'king', 'wright', 'scott', 'nguyen', 'hill', 'flores', 'green', 'adams', 'nelson', 'baker', 'rivera', 'campbell',
  'mitchell', 'carter', 'roberts', 'kim', 'patel', 'shah', 'singh', 'chen', 'wang', 'muller', 'schmidt', 'rossi',
  'dubois', 'silva', 'kowalski', 'novak', 'jensen', 'berg', 'tanaka', 'sato', 'okafor', 'mensah', 'ivanova', 'costa',
  'haddad',
];
/** [permission set, how often it is assigned, how busy its sessions are]. */
const PERMISSION_SETS: Array<[string, number, number]> = [
  ['ReadOnlyAccess', 5, 0.8], ['DeveloperAccess', 5, 1.3], ['PowerUserAccess', 3, 1.2], ['AdministratorAccess', 2, 0.8],
  ['DataEngineer', 2, 1], ['SecurityAudit', 1.5, 0.6], ['NetworkAdmin', 0.7, 0.5], ['BillingAdmin', 0.5, 0.15],
];
const APPS = [
  'orders', 'payments', 'checkout', 'catalog', 'search', 'auth', 'notifications', 'billing', 'reporting', 'inventory',
  'shipping', 'analytics', 'ml-pipeline', 'web', 'ingest', 'etl', 'crm', 'media', 'recommendations', 'ledger',
];
const ENV_CYCLE = ['prod', 'staging', 'dev', 'sandbox', 'prod', 'data', 'dev', 'qa'];
const BUCKET_PURPOSES = [
  'app-assets', 'data-lake-raw', 'data-lake-curated', 'backups', 'terraform-state', 'athena-results', 'exports',
  'uploads', 'ml-artifacts', 'static-site', 'access-logs', 'reports',
];
const SERVICE_USERS = [
  'ci-deploy', 'terraform', 's3-uploader', 'legacy-backup', 'grafana-cloudwatch', 'sftp-transfer', 'svc-jenkins',
  'datadog-integration', 'splunk-forwarder', 'smtp-ses', 'snowflake-loader', 'velero-backup',
];
const CI_ROLES: Array<{ name: string; sess: string; clients: number[]; ip: number }> = [
  { name: 'terraform-apply', sess: 'tf', clients: [C_TF], ip: IP_GH },
  { name: 'github-actions-deploy', sess: 'GitHubActions', clients: [C_CLI, C_CLI, C_JS], ip: IP_GH },
  { name: 'jenkins-ci', sess: 'jenkins', clients: [C_BOTO, C_CLI], ip: IP_NAT },
  { name: 'terraform-plan-readonly', sess: 'tf', clients: [C_TF], ip: IP_GH },
  { name: 'argo-workflows', sess: 'task', clients: [C_GO], ip: IP_NAT },
];
const SLR_ROLES: Array<{ role: string; host: string; sess: string }> = [
  { role: 'AWSServiceRoleForConfig', host: 'config.amazonaws.com', sess: 'AWSConfig-Describe' },
  { role: 'AWSServiceRoleForSecurityHub', host: 'securityhub.amazonaws.com', sess: 'securityhub' },
  { role: 'AWSServiceRoleForAmazonInspector2', host: 'inspector2.amazonaws.com', sess: 'inspector2' },
];
const BROWSERS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36 Edg/121.0.0.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.3; rv:123.0) Gecko/20100101 Firefox/123.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0',
];
const MODELS = [
  'anthropic.claude-3-5-sonnet-20240620-v1:0', 'anthropic.claude-3-haiku-20240307-v1:0',
  'anthropic.claude-3-sonnet-20240229-v1:0', 'amazon.titan-embed-text-v2:0', 'meta.llama3-1-70b-instruct-v1:0',
  'cohere.embed-english-v3',
];
const INSTANCE_TYPES = ['t3.micro', 't3.large', 'm6i.xlarge', 'c6g.2xlarge', 'r6i.4xlarge', 'p3.8xlarge', 'g5.12xlarge', 'p4d.24xlarge'];
const POLICIES = ['ReadOnlyAccess', 'AmazonS3ReadOnlyAccess', 'PowerUserAccess', 'AdministratorAccess', 'AmazonSSMManagedInstanceCore', 'CloudWatchAgentServerPolicy', 'IAMUserChangePassword'];
const GROUPS = ['admins', 'developers', 'readonly', 'billing', 'ops', 'data-eng'];
const TAG_KEYS = ['app', 'team', 'Environment', 'service', 'cost-center'];
const TEAMS = ['platform', 'payments', 'data', 'security', 'growth', 'sre'];
const CIDRS = ['10.0.0.0/16', '10.20.0.0/16', '0.0.0.0/0', '172.16.0.0/12', '192.168.10.0/24'];
const LOGIN_TO = [
  'https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true',
  'https://console.aws.amazon.com/ec2/home',
  'https://console.aws.amazon.com/s3/home',
  'https://console.aws.amazon.com/iam/home',
  'https://console.aws.amazon.com/cloudwatch/home',
];
/** First octets of public address space used for source IPs (no private or reserved ranges). */
const PUBLIC_A = [3, 13, 18, 24, 34, 35, 44, 50, 52, 54, 63, 64, 66, 68, 71, 73, 76, 81, 82, 86, 90, 91, 98, 104, 108, 136, 142, 151, 185, 193, 195, 203, 212, 213, 217];
const AWS_A = [3, 13, 18, 34, 35, 44, 52, 54];
const GH_A = [4, 13, 20, 40, 52];


interface Account {
  i: number;
  id: string;
  env: string;
  h: number;
  nat: string[];
  principals: Principal[];
  activity: number;
  /** principals that can act in [us-east-1, other regions]. */
  pick: Array<Picker<Principal> | null>;
  ciRoles: Picker<Principal> | null;
  autos: Picker<Principal> | null;
  bySub: Map<string, Picker<Principal>>;
  iamUsers: string[];
}

interface Principal {
  idx: number;
  L: string;
  acct: Account;
  w: number;
  /** user name (h, u), session name (fixed sessions), service host (g, v). */
  name: string;
  roleName: string;
  rolePath: string;
  roleId: string;
  userId: string;
  akia: string;
  email: string;
  sessMode: string;
  sub: string;
  clients: number[];
  ipMode: number;
  ips: string[];
  sessLen: number;
  sessOff: number;
  invokedBy: string;
  uaVar: number;
  browser: number;
  /** activity multiplier (SSO permission set). */
  busy: number;
}

interface Session {
  p: Principal;
  sIdx: number;
  created: number;
  name: string;
  arn: string;
  akid: string;
  ip: string;
  client: number;
  console: boolean;
  ui: string;
  uiSignin: string;
  uiNoArn: string;
  token: string;
}

interface World {
  cfg: Config;
  seed: number;
  orgId: string;
  regions: string[];
  regionClass: number[];
  accounts: Account[];
  principals: Principal[];
  tpls: Tpl[];
  /** per actor letter, per region class (0: us-east-1, 1: other). */
  tplPick: Map<string, Array<Picker<Tpl> | null>>;
  pool: string;
  office: string[];
  sessions: Map<number, Session>;
  ua: Map<number, string>;
}

function publicIp(h: number, firsts: readonly number[]): string {
  const a = firsts[h % firsts.length];
  const x = fmix(h + 0x1234567);
  return `${a}.${(x >>> 24) & 255}.${(x >>> 16) & 255}.${1 + ((x >>> 8) % 253)}`;
}

function keyId(prefix: string, h: number): string {
  return prefix + charsFromHash(h, B32, 16);
}

function principalId(prefix: string, h: number): string {
  return prefix + charsFromHash(h, `${B32}0123456789`, 17);
}

function buildWorld(cfg: Config): World {
  const rng = new Rng(cfg.seed, 1);
  const seed = cfg.seed;
  const regions = cfg.regions;
  const hasUsEast1 = regions.includes('us-east-1');
  const regionClass = regions.map((r) => (r === 'us-east-1' ? 0 : 1));

  // Accounts: unique 12-digit ids, an environment each, two NAT egress IPs.
  const ids = new Set<string>();
  const accounts: Account[] = [];
  const specialEnvs = ['mgmt', 'security', 'log-archive', 'shared-services', 'network'];
  for (let i = 0; i < cfg.accounts; i++) {
    let id = '';
    do id = String(1 + rng.int(9)) + String(rng.int(1e11)).padStart(11, '0');
    while (ids.has(id));
    ids.add(id);
    const env = cfg.accounts === 1 ? 'prod' : i < specialEnvs.length && cfg.accounts > 6 ? specialEnvs[i] : ENV_CYCLE[i % ENV_CYCLE.length];
    const h = hash(seed, 101, i);
    accounts.push({
      i, id, env, h,
      nat: [publicIp(hash(h, 1), AWS_A), publicIp(hash(h, 2), AWS_A)],
      principals: [], activity: 0, pick: [null, null], ciRoles: null, autos: null, bySub: new Map(), iamUsers: [],
    });
  }
  // Busy accounts get more principals and more traffic (Zipf over a shuffled order).
  const order = accounts.map((a) => a.i).sort((x, y) => hash(seed, 5, x) - hash(seed, 5, y));
  const acctWeight = new Float64Array(accounts.length);
  for (const [rank, ai] of order.entries()) acctWeight[ai] = 1 / (rank + 1) ** 0.8;
  const acctPicker = makePicker(accounts, (a) => acctWeight[a.i]);
  const office = [publicIp(hash(seed, 11), PUBLIC_A), publicIp(hash(seed, 12), PUBLIC_A), publicIp(hash(seed, 13), PUBLIC_A)];

  const principals: Principal[] = [];
  const add = (a: Account, L: string, x: Partial<Principal>): Principal => {
    const idx = principals.length;
    const h = hash(seed, 202, idx);
    const p: Principal = {
      idx, L, acct: a, w: 0, name: '', roleName: '', rolePath: '/', roleId: principalId('AROA', hash(h, 3)),
      userId: principalId('AIDA', hash(h, 4)), akia: keyId('AKIA', hash(h, 5)), email: '', sessMode: 'fixed', sub: '',
      clients: [C_CLI], ipMode: IP_NAT, ips: [], sessLen: 3600, sessOff: h % 3600, invokedBy: '',
      uaVar: hash(h, 6) % 4, browser: hash(h, 7) % BROWSERS.length, busy: 1, ...x,
    };
    p.sessOff = h % p.sessLen;
    principals.push(p);
    a.principals.push(p);
    return p;
  };

  // People: SSO sessions in 1-3 accounts each, some still have IAM users for the console.
  const humans = Math.round(60 + 1.5 * cfg.accounts);
  const usedEmails = new Set<string>();
  const setPicker = makePicker(PERMISSION_SETS, (x) => x[1]);
  for (let i = 0; i < humans; i++) {
    let first = '';
    let last = '';
    let email = '';
    for (let tries = 0; tries < 50; tries++) {
      first = rng.pick(FIRST);
      last = rng.pick(LAST);
      email = `${first}.${last}@corp.example`;
      if (!usedEmails.has(email)) break;
      email = `${first}.${last}${2 + rng.int(90)}@corp.example`;
      if (!usedEmails.has(email)) break;
    }
    usedEmails.add(email);
    const home = publicIp(hash(seed, 303, i), PUBLIC_A);
    const ips = [office[i % office.length], office[(i + 1) % office.length], home];
    const nAccess = 1 + Math.floor(rng.f() * rng.f() * 3.2);
    const seen = new Set<string>();
    for (let k = 0; k < nAccess; k++) {
      const a = pickFrom(acctPicker, rng.f());
      const [set, , busy] = pickFrom(setPicker, rng.f());
      if (seen.has(a.id + set)) continue;
      seen.add(a.id + set);
      const roleName = `AWSReservedSSO_${set}_${hexFromHash(hash(seed, a.h, strHash(set)), 16)}`;
      add(a, 's', {
        name: email, email, roleName, rolePath: '/aws-reserved/sso.amazonaws.com/',
        roleId: principalId('AROA', hash(a.h, strHash(roleName))), clients: [C_CONSOLE, C_CONSOLE, C_CLI],
        ipMode: IP_PERSON, ips, sessLen: 3600 * [1, 4, 8, 12][k % 4], busy,
      });
    }
    if (rng.f() < 0.14) {
      const a = pickFrom(acctPicker, rng.f());
      const userName = rng.f() < 0.5 ? `${first}.${last}` : `${first[0]}${last}`;
      if (!a.principals.some((p) => p.name === userName)) {
        add(a, 'h', { name: userName, clients: [C_CONSOLE, C_CONSOLE, C_CLI], ipMode: IP_PERSON, ips, sessLen: 28800 });
      }
    }
  }
  // Programmatic IAM users.
  const nService = Math.round(10 + 0.5 * cfg.accounts);
  for (let i = 0; i < nService; i++) {
    const a = pickFrom(acctPicker, rng.f());
    let name = SERVICE_USERS[i % SERVICE_USERS.length];
    if (a.principals.some((p) => p.name === name)) name = `${name}-${i}`;
    add(a, 'u', {
      name, clients: [[C_CLI, C_BOTO, C_TF, C_JAVA][i % 4]], ipMode: IP_FIXED,
      ips: [i % 3 === 0 ? publicIp(hash(seed, 404, i), PUBLIC_A) : a.nat[i % 2]], sessLen: 86400,
    });
  }
  // Per account: CI roles, workload roles, a service-linked role, root, AWS services, AWS Internal.
  for (const a of accounts) {
    const r = new Rng(seed, a.h);
    const nCi = 1 + (acctWeight[a.i] > 0.3 ? 2 : r.int(2));
    for (let k = 0; k < nCi; k++) {
      const ci = CI_ROLES[(k + a.i) % CI_ROLES.length];
      add(a, 'c', {
        roleName: ci.name, name: ci.sess === 'GitHubActions' ? 'GitHubActions' : '', sessMode: ci.sess === 'GitHubActions' ? 'fixed' : ci.sess,
        sub: 'ci', clients: ci.clients, ipMode: ci.ip, sessLen: 3600,
      });
    }
    const nWork = 1 + Math.round(acctWeight[a.i] * 3);
    for (let k = 0; k < nWork; k++) {
      const app = APPS[(a.i * 3 + k) % APPS.length];
      const inst = `i-0${hexFromHash(hash(a.h, 17, k), 16)}`;
      add(a, 'e', { roleName: `${app}-ec2-role`, name: inst, sub: 'ec2', clients: [[C_BOTO, C_JAVA, C_GO][k % 3]], ipMode: IP_NAT, sessLen: 21600 });
      const fn = `${app}-${['handler', 'worker', 'sync', 'api'][k % 4]}-${a.env}`;
      add(a, 'l', { roleName: `${fn}-role`, name: fn, sub: 'lambda', clients: [[C_JS, C_BOTO][k % 2]], ipMode: IP_AWS, sessLen: 14400 });
      if (k % 2 === 0) {
        add(a, 'k', { roleName: `${app}-task-role`, sessMode: 'task', sub: 'ecs', clients: [[C_JAVA, C_GO, C_JS][k % 3]], ipMode: IP_NAT, sessLen: 21600 });
      }
    }
    const slr = SLR_ROLES[a.i % SLR_ROLES.length];
    add(a, 'g', {
      roleName: slr.role, rolePath: `/aws-service-role/${slr.host}/`, name: slr.sess, sub: 'slr', invokedBy: slr.host,
      clients: [C_SVC], ipMode: IP_SVC, sessLen: 3600,
    });
    add(a, 'r', { name: 'root', clients: [C_CONSOLE], ipMode: IP_PERSON, ips: [office[0], publicIp(hash(a.h, 99), PUBLIC_A)], sessLen: 3600 });
    for (const [host, sub] of [['ec2.amazonaws.com', 'ec2'], ['lambda.amazonaws.com', 'lambda'], ['ecs-tasks.amazonaws.com', 'ecs']]) {
      add(a, 'v', { name: host, invokedBy: host, sub, clients: [C_SVC], ipMode: IP_SVC });
    }
    add(a, 'i', { name: 'AWS Internal', clients: [C_INTERNAL], ipMode: IP_INTERNAL });
  }

  // Activity: Zipf over a shuffled order of the acting principals, scaled by kind.
  const kindFactor: Record<string, number> = { h: 0.8, u: 1.5, s: 1, c: 3, e: 2, l: 2, k: 2, g: 1 };
  const actors = principals.filter((p) => p.L in kindFactor);
  actors.sort((x, y) => hash(seed, 9, x.idx) - hash(seed, 9, y.idx));
  for (const [rank, p] of actors.entries()) p.w = ((kindFactor[p.L] * p.busy) / (rank + 1) ** 1.05) * (0.5 + acctWeight[p.acct.i]);
  const mean = actors.reduce((s, p) => s + p.w, 0) / Math.max(1, actors.length);
  for (const p of principals) {
    if (p.L === 'r') p.w = mean * 0.01;
    else if (p.L === 'i') p.w = mean * 0.05;
    else if (p.L === 'v') {
      const targets = p.acct.principals.filter((q) => q.sub === p.sub && q.L !== 'v');
      p.w = targets.length === 0 ? 0 : 0.15 * targets.reduce((s, q) => s + q.w, 0);
    }
  }

  // Templates by actor letter and region class.
  const tpls = templates();
  const tplPick = new Map<string, Array<Picker<Tpl> | null>>();
  for (const L of 'husceklgrvi') {
    const byClass: Array<Picker<Tpl> | null> = [];
    for (const rc of [0, 1]) {
      const ok = tpls.filter((t) => t.actors.includes(L) && (!t.global || (rc === 0 && hasUsEast1)));
      byClass.push(ok.length > 0 ? makePicker(ok, (t) => t.w) : null);
    }
    tplPick.set(L, byClass);
  }
  for (const a of accounts) {
    for (const rc of [0, 1]) {
      const able = a.principals.filter((p) => p.w > 0 && tplPick.get(p.L)![rc] !== null);
      a.pick[rc] = able.length > 0 ? makePicker(able, (p) => p.w) : null;
    }
    const ci = a.principals.filter((p) => p.L === 'c');
    a.ciRoles = ci.length > 0 ? makePicker(ci, (p) => p.w) : null;
    const autos = a.principals.filter((p) => 'cekl'.includes(p.L));
    a.autos = autos.length > 0 ? makePicker(autos, (p) => p.w) : null;
    for (const sub of ['ec2', 'lambda', 'ecs']) {
      const xs = a.principals.filter((p) => p.sub === sub && p.L !== 'v');
      if (xs.length > 0) a.bySub.set(sub, makePicker(xs, (p) => p.w));
    }
    a.iamUsers = a.principals.filter((p) => p.L === 'h' || p.L === 'u').map((p) => p.name);
    a.activity = a.principals.reduce((s, p) => s + p.w, 0);
  }

  // A pool of random base64 used for session tokens, x-amz-id-2 and encoded messages.
  const pr = new Rng(seed, 0xb64);
  const pool = charsFrom(pr, B64, 65536);

  return {
    cfg, seed, orgId: cfg.orgId, regions, regionClass, accounts, principals, tpls, tplPick, pool, office,
    sessions: new Map(), ua: new Map(),
  };
}

// ---------------------------------------------------------------------------------------------
// Sessions and identities
// ---------------------------------------------------------------------------------------------

function sessionAt(W: World, p: Principal, t: number): Session {
  const sIdx = Math.floor((t + p.sessOff) / p.sessLen);
  const key = p.idx * 4194304 + (sIdx & 4194303);
  const cached = W.sessions.get(key);
  if (cached && cached.p === p && cached.sIdx === sIdx) return cached;
  if (W.sessions.size > 50000) W.sessions.clear();
  const s = makeSession(W, p, sIdx);
  W.sessions.set(key, s);
  return s;
}

function makeSession(W: World, p: Principal, sIdx: number): Session {
  const r = new Rng(hash(W.seed, p.idx, sIdx), 3);
  const a = p.acct;
  const created = sIdx * p.sessLen - p.sessOff;
  const client = p.clients[r.int(p.clients.length)];
  let ip = '';
  switch (p.ipMode) {
    case IP_PERSON: ip = p.ips[r.int(p.ips.length)]; break;
    case IP_NAT: ip = a.nat[r.int(a.nat.length)]; break;
    case IP_AWS: ip = publicIp(r.u32(), AWS_A); break;
    case IP_GH: ip = publicIp(r.u32(), GH_A); break;
    case IP_SVC: ip = p.invokedBy; break;
    case IP_INTERNAL: ip = 'AWS Internal'; break;
    default: ip = p.ips[0];
  }
  let name = p.name;
  if (p.sessMode === 'tf') name = `terraform-run-${charsFrom(r, LOWER_ALNUM, 16)}`;
  else if (p.sessMode === 'jenkins') name = `jenkins-build-${1000 + (sIdx % 9000)}`;
  else if (p.sessMode === 'task') name = hexFrom(r, 32);
  const consoleSession = client === C_CONSOLE;
  const asia = keyId('ASIA', r.u32());
  const created8601 = isoTime(created);
  const acct = a.id;
  let arn = '';
  let akid = '';
  let ui = '';
  let uiSignin = '';
  let uiNoArn = '';
  const roleArn = `arn:aws:iam::${acct}:role${p.rolePath}${p.roleName}`;
  const issuer = { type: 'Role', principalId: p.roleId, arn: roleArn, accountId: acct, userName: p.roleName };
  const emptyIssuer = { sessionIssuer: {}, webIdFederationData: {} };
  switch (p.L) {
    case 'h':
    case 'u': {
      arn = `arn:aws:iam::${acct}:user/${p.name}`;
      akid = consoleSession ? asia : p.akia;
      const base = { type: 'IAMUser', principalId: p.userId, arn, accountId: acct, accessKeyId: akid, userName: p.name };
      ui = JSON.stringify(
        consoleSession ? { ...base, sessionContext: { ...emptyIssuer, attributes: { creationDate: created8601, mfaAuthenticated: 'true' } } } : base,
      );
      uiSignin = JSON.stringify({ type: 'IAMUser', principalId: p.userId, arn, accountId: acct, userName: p.name });
      uiNoArn = JSON.stringify({ type: 'IAMUser', principalId: p.userId, accountId: acct, accessKeyId: '', userName: p.name });
      break;
    }
    case 'r': {
      arn = `arn:aws:iam::${acct}:root`;
      akid = asia;
      ui = JSON.stringify({
        type: 'Root', principalId: acct, arn, accountId: acct, accessKeyId: akid,
        sessionContext: { ...emptyIssuer, attributes: { creationDate: created8601, mfaAuthenticated: 'true' } },
      });
      uiSignin = JSON.stringify({ type: 'Root', principalId: acct, arn, accountId: acct, accessKeyId: '' });
      uiNoArn = uiSignin;
      break;
    }
    case 'v': {
      arn = '';
      ui = JSON.stringify({ type: 'AWSService', invokedBy: p.invokedBy });
      uiSignin = uiNoArn = ui;
      break;
    }
    case 'i': {
      ui = JSON.stringify({ accountId: acct, invokedBy: 'AWS Internal' });
      uiSignin = uiNoArn = ui;
      break;
    }
    default: {
      // AssumedRole: SSO, CI, workloads, service-linked roles.
      arn = `arn:aws:sts::${acct}:assumed-role/${p.roleName}/${name}`;
      akid = asia;
      const ctx: Record<string, unknown> = {
        sessionIssuer: issuer,
        webIdFederationData: {},
        attributes: { creationDate: created8601, mfaAuthenticated: 'false' },
      };
      if (p.L === 'e') ctx.ec2RoleDelivery = '2.0';
      const o: Record<string, unknown> = {
        type: 'AssumedRole', principalId: `${p.roleId}:${name}`, arn, accountId: acct, accessKeyId: akid, sessionContext: ctx,
      };
      if (p.L === 'g') o.invokedBy = p.invokedBy;
      ui = JSON.stringify(o);
      uiSignin = uiNoArn = ui;
    }
  }
  const tokenOff = r.int(W.pool.length - 1000);
  const token = `IQoJb3JpZ2luX2Vj${W.pool.slice(tokenOff, tokenOff + 600 + r.int(300))}`;
  return { p, sIdx, created, name, arn, akid, ip, client, console: consoleSession, ui, uiSignin, uiNoArn, token };
}

// ---------------------------------------------------------------------------------------------
// User agents
// ---------------------------------------------------------------------------------------------

const CLI_V = [
  ['2.15.30', 'macos#23.4.0', 'arm64', '3.11.8'],
  ['2.17.18', 'linux#6.5.0-1022-aws', 'x86_64', '3.11.9'],
  ['2.13.25', 'windows#10', 'AMD64', '3.11.5'],
  ['2.22.4', 'macos#24.1.0', 'arm64', '3.12.6'],
];
const BOTO_V = [['1.34.69', '3.12.2'], ['1.28.57', '3.11.5'], ['1.35.24', '3.12.6'], ['1.33.13', '3.9.18']];
const TF_V = [['1.7.5', '5.43.0', '1.26.0'], ['1.9.2', '5.62.0', '1.30.3'], ['1.6.6', '5.31.0', '1.24.0'], ['1.8.4', '5.54.1', '1.27.2']];
const JS_V = [['3.540.0', '20.11.1'], ['3.614.0', '20.15.1'], ['3.496.0', '18.19.0'], ['3.675.0', '22.9.0']];
const JAVA_V = [['2.25.40', '17.0.11+9-LTS', '17.0.11'], ['2.20.162', '11.0.21+9-LTS', '11.0.21'], ['2.26.31', '21.0.4+7-LTS', '21.0.4'], ['1.12.661', '1.8.0_402-b08', '1.8.0_402']];
const GO_V = [['1.30.3', '1.22.5'], ['1.26.0', '1.22.1'], ['1.32.2', '1.23.2'], ['1.24.1', '1.21.6']];
const KERNELS = ['5.10.213-201.855.amzn2.x86_64', '6.1.79-99.167.amzn2023.x86_64', '5.10.223-212.873.amzn2.x86_64', '6.1.102-111.182.amzn2023.x86_64'];

const CLI_SERVICE: Record<string, string> = {
  s3: 's3api', monitoring: 'cloudwatch', elasticloadbalancing: 'elb', 'compute-optimizer': 'compute-optimizer',
};
const API_SERVICE: Record<string, string> = {
  monitoring: 'cloudwatch', elasticloadbalancing: 'elasticloadbalancing', 'compute-optimizer': 'computeoptimizer',
  'ec2-instance-connect': 'ec2instanceconnect', secretsmanager: 'secretsmanager', route53resolver: 'route53resolver',
};

function kebab(s: string): string {
  return s.replace(/\d{8}v?\d*$/, '').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function userAgent(W: World, t: Tpl, s: Session): string {
  const p = s.p;
  const client = t.signin ? C_CONSOLE : s.client;
  const key = t.idx * 1024 + client * 64 + p.uaVar * 8 + p.browser;
  const hit = W.ua.get(key);
  if (hit !== undefined) return hit;
  const prefix = t.eventSource.replace(/\.amazonaws\.com$/, '');
  let svc = prefix === 'bedrock' && t.eventName === 'InvokeModel' ? 'bedrock-runtime' : prefix;
  const api = (API_SERVICE[svc] ?? svc).replace(/-/g, '');
  const lambda = p.L === 'l';
  const v = p.uaVar;
  let ua = '';
  switch (client) {
    case C_CONSOLE:
      ua = t.consoleUa && !t.signin ? t.consoleUa : BROWSERS[p.browser];
      break;
    case C_CLI: {
      const [cv, os, arch, py] = CLI_V[v];
      svc = CLI_SERVICE[svc] ?? svc;
      ua = `aws-cli/${cv} md/awscrt#0.19.19 ua/2.0 os/${os} md/arch#${arch} lang/python#${py} md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#${svc}.${kebab(t.eventName)}`;
      break;
    }
    case C_BOTO: {
      const [bv, py] = BOTO_V[v];
      ua = `Boto3/${bv} md/Botocore#${bv} ua/2.0 os/linux#${KERNELS[v]} md/arch#x86_64 lang/python#${py} md/pyimpl#CPython${lambda ? ` exec-env/AWS_Lambda_python${py.slice(0, 4)}` : ''} cfg/retry-mode#legacy Botocore/${bv}`;
      break;
    }
    case C_TF: {
      const [tf, prov, sdk] = TF_V[v];
      ua = `APN/1.0 HashiCorp/1.0 Terraform/${tf} (+https://www.terraform.io) terraform-provider-aws/${prov} (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/${sdk} ua/2.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/${api}#1.${40 + (strHash(api) % 120)}.${strHash(api) % 9}`;
      break;
    }
    case C_JS: {
      const [jv, node] = JS_V[v];
      ua = `aws-sdk-js/${jv} ua/2.1 os/linux#${KERNELS[v]} lang/js md/nodejs#${node}${lambda ? ` exec-env/AWS_Lambda_nodejs${node.split('.')[0]}.x` : ''} api/${api}#${jv}`;
      break;
    }
    case C_JAVA: {
      const [jv, vm, java] = JAVA_V[v];
      ua = `aws-sdk-java/${jv} Linux/${KERNELS[v]} OpenJDK_64-Bit_Server_VM/${vm} Java/${java} vendor/Amazon.com_Inc. md/internal io/sync http/Apache cfg/retry-mode/standard`;
      break;
    }
    case C_GO: {
      const [gv, go] = GO_V[v];
      ua = `aws-sdk-go-v2/${gv} ua/2.0 os/linux lang/go#${go} md/GOOS#linux md/GOARCH#amd64 api/${api}#1.${30 + (strHash(api) % 150)}.${strHash(api) % 7}`;
      break;
    }
    case C_SVC:
      ua = p.invokedBy;
      break;
    default:
      ua = 'AWS Internal';
  }
  W.ua.set(key, ua);
  return ua;
}

// ---------------------------------------------------------------------------------------------
// Resources (stable per account/region) and slot values
// ---------------------------------------------------------------------------------------------

const INV_SIZE: Record<string, number> = {
  inst: 30, vol: 50, snap: 20, sg: 15, subnet: 6, ami: 6, fl: 4, rqlc: 2, bucket: 10, fn: 12, param: 25, kmsKey: 8,
  keyName: 5, trail: 2, layer: 3,
};

interface Ctx {
  W: World;
  a: Account;
  ri: number;
  region: string;
  t: number;
  r: Rng;
  p: Principal;
  s: Session;
  tpl: Tpl;
  k0: Record<string, number>;
  tgt: Principal | null;
  ts: Session | null;
  past: number;
}

function inventory(c: Ctx, kind: string, n: number): string {
  const size = INV_SIZE[kind] ?? 10;
  let k0 = c.k0[kind];
  if (k0 === undefined) {
    k0 = Math.floor(size * c.r.f() ** 2.2);
    c.k0[kind] = k0;
  }
  const k = (k0 + n) % size;
  const a = c.a;
  const h = hash(a.h, c.ri + 1, strHash(kind), k);
  const app = APPS[(k + a.i) % APPS.length];
  switch (kind) {
    case 'inst': return `i-0${hexFromHash(h, 16)}`;
    case 'vol': return `vol-0${hexFromHash(h, 16)}`;
    case 'snap': return `snap-0${hexFromHash(h, 16)}`;
    case 'sg': return `sg-0${hexFromHash(h, 16)}`;
    case 'subnet': return `subnet-0${hexFromHash(h, 16)}`;
    case 'ami': return `ami-0${hexFromHash(h, 16)}`;
    case 'fl': return `fl-0${hexFromHash(h, 16)}`;
    case 'rqlc': return `rqlc-${hexFromHash(h, 15)}`;
    case 'bucket': {
      const purpose = BUCKET_PURPOSES[(k + a.i) % BUCKET_PURPOSES.length];
      return `corp-${a.env}-${purpose}-${a.id.slice(-6)}-${c.region}`;
    }
    case 'fn': return `${app}-${['handler', 'worker', 'sync', 'api', 'cron'][k % 5]}-${a.env}`;
    case 'param': return `/${a.env}/${app}/${['db-password', 'api-key', 'db-host', 'feature-flags', 'jwt-secret'][k % 5]}`;
    case 'kmsKey': return `${hexFromHash(h, 8)}-${hexFromHash(h + 1, 4)}-4${hexFromHash(h + 2, 3)}-a${hexFromHash(h + 3, 3)}-${hexFromHash(h + 4, 12)}`;
    case 'keyName': return `${a.env}-${app}-${['key', 'bastion', 'deploy'][k % 3]}`;
    case 'trail': return k === 0 ? 'org-trail' : `${a.env}-management-events`;
    case 'layer': return ['otel-collector-extension', 'datadog-extension', 'secrets-cache-layer'][k % 3];
    default: return `${kind}-${k}`;
  }
}

function target(c: Ctx): Principal {
  if (c.tgt) return c.tgt;
  let pk: Picker<Principal> | null | undefined = null;
  if (c.p.L === 'v') pk = c.a.bySub.get(c.p.sub);
  if (!pk) pk = c.a.ciRoles ?? c.a.autos;
  c.tgt = pk ? pickFrom(pk, c.r.f()) : c.p;
  return c.tgt;
}

function targetSession(c: Ctx): Session {
  if (!c.ts) c.ts = sessionAt(c.W, target(c), c.t);
  return c.ts;
}

function poolSlice(c: Ctx, n: number): string {
  const off = c.r.int(c.W.pool.length - n);
  return c.W.pool.slice(off, off + n);
}

function objectKey(c: Ctx): string {
  const r = c.r;
  const d = isoTime(c.t - r.int(30) * 86400);
  const app = APPS[r.int(APPS.length)];
  switch (r.int(6)) {
    case 0: return `${app}/${d.slice(0, 4)}/${d.slice(5, 7)}/${d.slice(8, 10)}/${uuid(r)}.json.gz`;
    case 1: return `exports/${app}/part-${String(r.int(2000)).padStart(5, '0')}.snappy.parquet`;
    case 2: return `artifacts/${app}/${hexFrom(r, 40)}.zip`;
    case 3: return `reports/${app}/daily-${d.slice(0, 10)}.csv`;
    case 4: return `uploads/${uuid(r)}.jpg`;
    default: return `models/${app}/v${1 + r.int(40)}/model.tar.gz`;
  }
}

function slotValue(c: Ctx, d: SlotDef): string {
  const r = c.r;
  switch (d.kind) {
    case 'acct': return c.a.id;
    case 'region': return c.region;
    case 'time': return isoTime(c.t);
    case 'eid': return uuid(r);
    case 'rid': return c.tpl.s3 ? hexFrom(r, 16).toUpperCase() : uuid(r);
    case 'ip': return c.s.ip;
    case 'ua': return userAgent(c.W, c.tpl, c.s);
    case '@ui': return c.tpl.ident === 'api' ? c.s.ui : c.tpl.ident === 'signin' ? c.s.uiSignin : c.s.uiNoArn;
    case 'actorArn': return c.s.arn;
    case 'actorName': return c.p.name;
    case 'uuid': return uuid(r);
    case 'peer': {
      const n = c.W.accounts.length;
      return n > 1 ? c.W.accounts[(c.a.i + 1 + r.int(n - 1)) % n].id : String(100000000000 + (hash(c.W.seed, 8) % 899999999999));
    }
    case 'inst': case 'vol': case 'snap': case 'sg': case 'subnet': case 'ami': case 'fl': case 'rqlc': case 'bucket':
    case 'fn': case 'param': case 'kmsKey': case 'keyName': case 'trail': case 'layer':
      return inventory(c, d.kind, d.n);
    case 'fnRole': return `${inventory(c, 'fn', 0)}-role`;
    case 'badTrail': return `${inventory(c, 'trail', 0)}-old`;
    case 'rqlcName': return `${c.a.env}-vpc-dns-query-logs`;
    case 'sgr': return `sgr-0${hexFrom(r, 16)}`;
    case 'objKey': return objectKey(c);
    case '@bytesObj': return String(Math.round(Math.exp(6 + r.f() * 10)));
    case '@bytesList': return String(300 + r.int(6000));
    case 'amzId': return `${poolSlice(c, 75)}=`;
    case 'enc': return poolSlice(c, c.tpl.encLen).replace(/\+/g, '-').replace(/\//g, '_');
    case 'tagKey': return r.pick(TAG_KEYS);
    case 'teamKey': return 'team';
    case 'teamName': return r.pick(TEAMS);
    case 'model': return MODELS[Math.floor(MODELS.length * r.f() ** 1.6)];
    case 'instType': return r.pick(INSTANCE_TYPES);
    case 'cidr': return r.f() < 0.3 ? `${c.W.office[r.int(c.W.office.length)]}/32` : r.pick(CIDRS);
    case 'policy': return r.pick(POLICIES);
    case 'group': return r.pick(GROUPS);
    case 'iamUser': return c.a.iamUsers.length > 0 && r.f() < 0.7 ? r.pick(c.a.iamUsers) : `${r.pick(FIRST)}.${r.pick(LAST)}`;
    case 'newUser': return r.f() < 0.6 ? `${r.pick(FIRST)}.${r.pick(LAST)}` : `svc-${r.pick(APPS)}-${1 + r.int(9)}`;
    case 'newRole': return `${r.pick(APPS)}-${r.pick(['reader', 'writer', 'deployer', 'ops', 'readonly'])}-role`;
    case 'role': {
      const pk = c.a.autos;
      return pk ? pickFrom(pk, r.f()).roleName : `${r.pick(APPS)}-role`;
    }
    case 'raProfile': return `${r.pick(APPS)}-onprem-profile`;
    case 'akiaNew': return `AKIA${charsFrom(r, B32, 16)}`;
    case 'aidaNew': return `AIDA${charsFrom(r, `${B32}0123456789`, 17)}`;
    case 'aroaNew': return `AROA${charsFrom(r, `${B32}0123456789`, 17)}`;
    case 'fp': {
      let s = HEX[r.u32() & 255];
      for (let i = 1; i < 20; i++) s += `:${HEX[r.u32() & 255]}`;
      return s;
    }
    case 'sshKey': return `AAAAC3NzaC1lZDI1NTE5AAAAI${poolSlice(c, 43)}`;
    case 'shaB64': return `${poolSlice(c, 43)}=`;
    case 'hex64': return hexFrom(r, 64);
    case 'u2f': return charsFromHash(hash(c.W.seed, c.p.idx, 55), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 26);
    case 'loginTo': return LOGIN_TO[Math.floor(LOGIN_TO.length * r.f() ** 2)];
    case 'dA': return javaDate(c.t, false);
    case 'dB': return javaDate(c.t + d.arg, true);
    case 'lm': return `${isoTime(c.t - 3).slice(0, 19)}.000+0000`;
    case 'nano': return `${isoTime(c.t).slice(0, 19)}.${String(r.int(1e9)).padStart(9, '0')}Z`;
    case 'pastNano': return `${isoTime(c.past).slice(0, 19)}.${String(hash(c.past) % 1e9).padStart(9, '0')}Z`;
    case 'pastTf': return `tf-r53-resolver-query-log-config-${compactTime(c.past, true).replace(/[TZ]/g, '')}${String(hash(c.past) % 1e4).padStart(4, '0')}00000001`;
    case 'tgtRoleArn': {
      const q = target(c);
      return `arn:aws:iam::${q.acct.id}:role${q.rolePath}${q.roleName}`;
    }
    case 'tgtSess': return targetSession(c).name;
    case 'tgtSessArn': return targetSession(c).arn || `arn:aws:sts::${c.a.id}:assumed-role/${target(c).roleName}/${targetSession(c).name}`;
    case 'tgtAroaSess': return `${target(c).roleId}:${targetSession(c).name}`;
    case 'tgtAsia': return targetSession(c).akid || `ASIA${charsFrom(r, B32, 16)}`;
    case 'tgtToken': return targetSession(c).token;
    default:
      throw new Error(`generate: unknown slot ${d.key} in ${c.tpl.id}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Files: plan (which account/region/time/size) and rendering
// ---------------------------------------------------------------------------------------------

interface FilePlan {
  seed: number;
  acct: number;
  region: number;
  t0: number;
  win: number;
  size: number;
  delivered: number;
  suffix: string;
  oldest: number;
  newest: number;
}

/** Relative activity by UTC hour (US + EU business hours) and a quieter weekend. */
const HOURLY = [0.35, 0.3, 0.25, 0.22, 0.2, 0.2, 0.25, 0.35, 0.5, 0.65, 0.75, 0.8, 0.85, 0.95, 1, 1, 1, 0.95, 0.9, 0.85, 0.75, 0.65, 0.55, 0.45];

function activityAt(sec: number): number {
  const d = new Date(sec * 1000);
  const weekend = d.getUTCDay() === 0 || d.getUTCDay() === 6;
  return HOURLY[d.getUTCHours()] * (weekend ? 0.45 : 1);
}

function makePlan(W: World): FilePlan[] {
  const cfg = W.cfg;
  const r = new Rng(cfg.seed, 2);
  const period = cfg.endSec - cfg.startSec;
  const win = Math.min(300, period);
  // Log-normal sizes with the requested mean (median ~ 0.73 x mean), 1..1500 records.
  const sigma = 0.8;
  const median = cfg.recordsPerFile / Math.exp((sigma * sigma) / 2);
  const sizes: number[] = [];
  let left = cfg.count;
  while (left > 0) {
    const n = Math.min(left, clampInt(median * Math.exp(sigma * r.normal()), 1, 1500));
    sizes.push(n);
    left -= n;
  }
  // Streams (account x region) weighted by account activity and region popularity.
  const streams: Array<{ a: number; ri: number; w: number }> = [];
  W.regions.forEach((region, ri) => {
    const rw = (region === 'us-east-1' ? 1.6 : 1) / (ri + 1) ** 0.7;
    for (const a of W.accounts) if (a.pick[W.regionClass[ri]]) streams.push({ a: a.i, ri, w: a.activity * rw });
  });
  if (streams.length === 0 && cfg.count > 0) throw new Error('generate: no account can produce events');
  const sp = makePicker(streams, (s) => s.w);
  const plan: FilePlan[] = sizes.map((size, i) => {
    const s = pickFrom(sp, r.f());
    let t0 = cfg.startSec;
    for (let tries = 0; tries < 20; tries++) {
      t0 = cfg.startSec + Math.floor(r.f() * (period - win + 1));
      if (r.f() < activityAt(t0)) break;
    }
    const delivered = t0 + win + 30 + r.int(300);
    return {
      seed: hash(cfg.seed, 0xf11e, i), acct: s.a, region: s.ri, t0, win, size, delivered,
      suffix: charsFrom(r, ALNUM, 16), oldest: 0, newest: 0,
    };
  });
  plan.sort((x, y) => x.t0 - y.t0 || x.seed - y.seed);
  return plan;
}

function renderFile(W: World, fp: FilePlan, out: string[]): void {
  const r = new Rng(fp.seed, 4);
  const times = new Float64Array(fp.size);
  for (let i = 0; i < fp.size; i++) times[i] = fp.t0 + Math.floor(r.f() * fp.win);
  times.sort();
  fp.oldest = times[0];
  fp.newest = times[fp.size - 1];
  const a = W.accounts[fp.acct];
  const rc = W.regionClass[fp.region];
  const region = W.regions[fp.region];
  const picker = a.pick[rc]!;
  let prev: Principal | null = null;
  const c: Ctx = {
    W, a, ri: fp.region, region, t: 0, r, p: picker.items[0], s: null as unknown as Session, tpl: W.tpls[0],
    k0: {}, tgt: null, ts: null, past: 0,
  };
  for (let i = 0; i < fp.size; i++) {
    const t = times[i];
    const p: Principal = prev !== null && r.f() < 0.6 ? prev : pickFrom(picker, r.f());
    prev = p;
    const tpl = pickFrom(W.tplPick.get(p.L)![rc]!, r.f());
    const s = sessionAt(W, p, t);
    c.t = t;
    c.p = p;
    c.s = s;
    c.tpl = tpl;
    c.k0 = {};
    c.tgt = null;
    c.ts = null;
    c.past = t - 3600 - r.int(90 * 86400);
    const slots = tpl.slots;
    const vals: string[] = new Array(slots.length);
    for (let k = 0; k < slots.length; k++) vals[k] = slotValue(c, slots[k]);
    const parts = tpl.parts;
    const refs = tpl.refs;
    let json = parts[0];
    for (let k = 0; k < refs.length; k++) json += vals[refs[k]] + parts[k + 1];
    if (s.console && tpl.eventType === 'AwsApiCall') json += ',"sessionCredentialFromConsole":"true"';
    out.push(`${json}}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Output: gzip and digest files
// ---------------------------------------------------------------------------------------------

function gzipAsync(body: string, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(body, { level }, (err, buf) => (err ? reject(err) : resolve(buf)));
  });
}

interface Delivered {
  acct: number;
  region: number;
  at: number;
  key: string;
  sha256: string;
  oldest: number;
  newest: number;
}

/**
 * Hourly digest files per account and region, in the documented shape (no `Records` key):
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html
 * Hashes are real SHA-256 of the uncompressed log files; signatures are random hex.
 */
async function writeDigests(
  W: World,
  root: string,
  delivered: Delivered[],
  level: number,
  ensureDir: (d: string) => Promise<unknown>,
): Promise<number> {
  const r = new Rng(W.seed, 0xd16e57);
  const bucket = `corp-org-cloudtrail-${W.accounts[0].id}`;
  const trail = 'org-trail';
  const home = W.regions.includes('us-east-1') ? 'us-east-1' : W.regions[0];
  const groups = new Map<string, Delivered[]>();
  for (const d of delivered) {
    const k = `${d.acct}/${d.region}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(d);
  }
  let count = 0;
  const jobs: Array<Promise<void>> = [];
  for (const g of groups.values()) {
    g.sort((x, y) => x.at - y.at);
    const acct = W.accounts[g[0].acct].id;
    const region = W.regions[g[0].region];
    const offset = 60 + (hash(W.seed, g[0].acct, g[0].region) % 3000);
    let prev: { key: string; sha: string; sig: string } | null = null;
    let i = 0;
    while (i < g.length) {
      const end = Math.ceil((g[i].at - offset + 1) / 3600) * 3600 + offset;
      const files: Delivered[] = [];
      while (i < g.length && g[i].at < end) files.push(g[i++]);
      const endIso = isoTime(end);
      const folder = `${acct}/CloudTrail-Digest/${region}/${endIso.slice(0, 4)}/${endIso.slice(5, 7)}/${endIso.slice(8, 10)}`;
      const name = `${acct}_CloudTrail-Digest_${region}_${trail}_${home}_${compactTime(end, true)}.json.gz`;
      const key = `AWSLogs/${W.orgId}/${folder}/${name}`;
      const digest: Record<string, unknown> = {
        awsAccountId: acct,
        digestStartTime: isoTime(end - 3600),
        digestEndTime: endIso,
        digestS3Bucket: bucket,
        digestS3Object: key,
        digestPublicKeyFingerprint: hexFrom(r, 32),
        digestSignatureAlgorithm: 'SHA256withRSA',
        newestEventTime: isoTime(Math.max(...files.map((f) => f.newest))),
        oldestEventTime: isoTime(Math.min(...files.map((f) => f.oldest))),
        previousDigestS3Bucket: prev ? bucket : null,
        previousDigestS3Object: prev ? prev.key : null,
        previousDigestHashValue: prev ? prev.sha : null,
        previousDigestHashAlgorithm: prev ? 'SHA-256' : null,
        previousDigestSignature: prev ? prev.sig : null,
        logFiles: files.map((f) => ({
          s3Bucket: bucket,
          s3Object: f.key,
          hashValue: f.sha256,
          hashAlgorithm: 'SHA-256',
          newestEventTime: isoTime(f.newest),
          oldestEventTime: isoTime(f.oldest),
        })),
      };
      const text: string = JSON.stringify(digest);
      prev = { key, sha: createHash('sha256').update(text).digest('hex'), sig: hexFrom(r, 512) };
      const dirPath = join(root, folder);
      jobs.push(
        gzipAsync(text, level).then(async (buf) => {
          await ensureDir(dirPath);
          await writeFile(join(dirPath, name), buf);
        }),
      );
      count++;
      if (jobs.length >= 64) await Promise.all(jobs.splice(0));
    }
  }
  await Promise.all(jobs);
  return count;
}
