/**
 * npm run bench:sources — the sources benchmark of issue 4 (a benchmark, not a test).
 *
 * 1. The trail feed: a realistic trail (bench/lib/generate/, ~80 events a file, the CloudTrail S3
 *    layout) is put in the S3 stand-in with one S3 event notification per file on an SQS queue; two
 *    worker processes (`trailbot sources run`) consume it into PostgreSQL. Reference: the same files
 *    read from disk straight into an empty store by `ingestPaths` in this process (the store's own pace).
 * 2. LookupEvents: 8 account-regions (two accounts, one through AssumeRole; four Regions) backfilled at
 *    once against the stand-in's real 2-requests-per-second throttle. Reference: the ceiling of
 *    2 requests/s × 50 events = 100 events/s per account-region.
 *
 * Options: --events N (trail feed, default 100000) --parts N (account-regions, default 8, at least 8)
 *          --per-part N (events per account-region, default 1000) --keep
 * Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres): where throwaway
 * databases are made; BENCH_REDIS_URL (default redis://127.0.0.1:6379; "none" for the PostgreSQL limiter).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { stringify } from 'yaml';
import type { Config } from '../src/config/index.ts';
import { ingestPaths } from '../src/ingest.ts';
import { type CloudTrailRecord, GLOBAL_EVENT_SOURCES, isoSeconds, lookupCategoryOf, peakRequestsPerWindow, s3EventNotification, startStandins } from '../src/integrations/aws/standins/index.ts';
import { BASE_CLIENT_CREDENTIALS } from '../src/integrations/aws/standins/testing.ts';
import { createSources } from '../src/sources/index.ts';
import { expandPaths } from '../src/sources/files.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { generateRecords, generateTrail } from './lib/generate/index.ts';
import { arg, flag } from './lib/options.ts';
import { fmt, MarkdownTable, machineLine } from './lib/report.ts';
import { ADMIN_URL, createDatabase, dropDatabase, REDIS_URL as BENCH_REDIS_URL } from './lib/throwaway.ts';

const EVENTS = arg('events', 100_000);
const PARTS = Math.max(8, arg('parts', 8));
const PER_PART = arg('per-part', 1000);
const KEEP = flag('keep');
const REDIS_URL = process.env.BENCH_REDIS_URL === 'none' ? undefined : BENCH_REDIS_URL;
const DIR = join(import.meta.dirname, '../.bench/sources-trail');
const SEED = 20261123;
const BIN = join(import.meta.dirname, '../bin/trailbot.js');

const table = new MarkdownTable(['measure', 'result', 'reference', 'share']);
function report(what: string, value: string, reference: string, share: string): void {
  table.add([what, value, reference, share]);
  console.log(`  ${what}: ${value}   (reference ${reference}${share ? `; ${share}` : ''})`);
}

async function count(store: Store): Promise<number> {
  return (await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows[0]!.n;
}

/** A `trailbot sources run` process; `ready` resolves once it has opened the store and started reading, and fails if it exits first. */
function worker(env: Record<string, string>, id: string): ChildProcess & { ready: Promise<void> } {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(AWS_|DATABASE_URL|REDIS_URL|TRAILBOT_)/.test(k)) clean[k] = v;
  const child = spawn(process.execPath, [BIN, 'sources', 'run', id], { env: { ...clean, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('reading')) resolve();
      if (err.length > 10_000) err = err.slice(-5000);
    });
    child.once('exit', (code, signal) => reject(new Error(`trailbot sources run ${id} exited (${code ?? signal}) before reading: ${err}`)));
  });
  ready.catch(() => undefined); // the caller awaits it; the second of two failing workers is not left unhandled
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM') console.error(`worker exited with ${code ?? signal}: ${err}`);
  });
  return Object.assign(child, { ready });
}

async function feed(admin: pg.Client, cleanups: (() => Promise<void>)[]): Promise<void> {
  const marker = join(DIR, `.generated-${EVENTS}-${SEED}`);
  if (!existsSync(marker)) {
    await rm(DIR, { recursive: true, force: true });
    const g = await generateTrail({ dir: DIR, events: EVENTS, seed: SEED, days: 2 });
    await writeFile(marker, JSON.stringify(g));
  }
  const { files } = await expandPaths([DIR]);
  console.log(`\n1. Trail feed: ${fmt(EVENTS)} events in ${fmt(files.length)} log files (S3 stand-in) announced by ${fmt(files.length)} S3 event notifications on SQS`);

  // Reference: the same files from disk straight into an empty store.
  const ref = await createDatabase(admin);
  cleanups.push(() => dropDatabase(admin, ref.name));
  const refStore = await openStore({ databaseUrl: ref.url, dataDir: '/nonexistent', poolSize: 4 });
  const direct = await ingestPaths(refStore, [DIR]);
  await refStore.close();
  const directRate = (direct.inserted / direct.ms) * 1000;

  const aws = await startStandins({});
  cleanups.push(() => aws.close());
  aws.s3.createBucket('bench-trail');
  const queueUrl = aws.sqs.createQueue('bench-trail');
  const keys: { key: string; size: number; etag: string }[] = [];
  for (const f of files) {
    const key = relative(DIR, f);
    const body = await readFile(f);
    keys.push({ key, size: body.length, etag: aws.s3.putObject('bench-trail', key, body) });
  }
  const db = await createDatabase(admin);
  cleanups.push(() => (KEEP ? Promise.resolve() : dropDatabase(admin, db.name)));
  const store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent', poolSize: 2 });
  const dir = await mkdtemp(join(tmpdir(), 'trailbot-bench-'));
  const config = join(dir, 'trailbot.config.yaml');
  // An SQS source trusts only the buckets and accounts it is told about (refused by default).
  await writeFile(config, stringify({ sources: [{ id: 'feed', kind: 'sqs', queueUrl, buckets: ['bench-trail'], accounts: ['*'], waitSeconds: 1, visibilityTimeout: '5m' }] }));
  const env = { ...aws.env(), DATABASE_URL: db.url, TRAILBOT_CONFIG: config };
  const workers = [worker(env, 'feed'), worker(env, 'feed')];
  // Timed from when both workers are up and polling (process start-up is not the feed's pace).
  await Promise.all(workers.map((w) => w.ready));
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (const k of keys) aws.sqs.sendRaw('bench-trail', s3EventNotification('bench-trail', k.key, { size: k.size, eTag: k.etag }));
  let stored = 0;
  try {
    for (;;) {
      stored = await count(store);
      if (stored >= EVENTS) break;
      if (workers.every((w) => w.exitCode !== null)) throw new Error('both workers stopped');
      if (performance.now() - t0 > 600_000) throw new Error(`only ${stored} of ${EVENTS} events stored after 10 minutes`);
      await sleep(50);
    }
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => (w.exitCode !== null ? undefined : new Promise((r) => w.once('exit', r)))));
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const standinCpu = (cpu.user + cpu.system) / 1e6;
  const rate = stored / secs;
  const left = aws.sqs.counts('bench-trail');
  await store.close();
  report(
    'S3 files → SQS → store, 2 worker processes',
    `${fmt(rate)} events/s (${fmt(stored)} events in ${secs.toFixed(1)} s; ${left.visible + left.inFlight} messages left; the S3 and SQS stand-ins, in this process, used ${standinCpu.toFixed(1)} CPU-s of the ${cpus().length} cores meanwhile)`,
    `${fmt(directRate)} events/s from disk into the store in one process`,
    `${((rate / directRate) * 100).toFixed(0)}% of it`,
  );
}

async function lookup(admin: pg.Client, cleanups: (() => Promise<void>)[]): Promise<void> {
  const MEMBER = '111111111111';
  const BASE = '123456789012';
  const regions = ['eu-west-1', 'eu-central-1', 'us-west-2', 'ap-southeast-2', 'ap-northeast-1', 'sa-east-1', 'ca-central-1', 'eu-north-1'];
  const parts: [string, string][] = [];
  for (let i = 0; i < PARTS; i++) parts.push([i % 2 === 0 ? BASE : MEMBER, regions[Math.floor(i / 2) % regions.length]!]);
  const accounts = [...new Set(parts.map((p) => p[0]))];
  const partRegions = [...new Set(parts.map((p) => p[1]))];
  // Every account × Region of the source is a part; fill each with PER_PART regional events.
  const all: [string, string][] = accounts.flatMap((a) => partRegions.map((r): [string, string] => [a, r]));
  const now = Date.now();
  const records: CloudTrailRecord[] = [];
  let gen = generateRecords({ count: all.length * PER_PART * 2, seed: SEED + 7 });
  for (const [account, region] of all) {
    let made = 0;
    while (made < PER_PART) {
      const next = gen.next();
      if (next.done) gen = generateRecords({ count: all.length * PER_PART * 2, seed: SEED + 8 + made });
      const r = next.value as CloudTrailRecord | undefined;
      // LookupEvents serves management events of regional services in their Region.
      if (!r || GLOBAL_EVENT_SOURCES.has(String(r.eventSource).split('.')[0]!) || lookupCategoryOf(r) !== 'management') continue;
      records.push({ ...r, eventID: randomBytes(16).toString('hex'), recipientAccountId: account, awsRegion: region, eventTime: isoSeconds(now - 30 * 60_000 - made * 20_000) });
      made++;
    }
  }
  console.log(`\n2. LookupEvents: ${all.length} account-regions (${accounts.length} accounts, one through AssumeRole; ${partRegions.length} Regions) × ${fmt(PER_PART)} events, at once, against the real 2 requests/s throttle; limiter: ${REDIS_URL ? 'Redis' : 'PostgreSQL'}`);
  const aws = await startStandins({ accounts: [MEMBER], records });
  cleanups.push(() => aws.close());
  const db = await createDatabase(admin);
  cleanups.push(() => dropDatabase(admin, db.name));
  const store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  const config = {
    sources: [{ id: 'org', kind: 'lookup', regions: partRegions, skipGlobal: true, roleName: 'TrailbotReader', backfill: '1d', every: '1m' }],
    accounts: accounts.map((id) => ({ id })),
    configFile: undefined,
    aws: { endpoints: { default: aws.url } },
    redisUrl: REDIS_URL,
  } as unknown as Config;
  const sources = createSources({ config, credentials: BASE_CLIENT_CREDENTIALS, limiterPrefix: `trailbot-bench-${randomBytes(3).toString('hex')}:` });
  const t0 = performance.now();
  let r = await sources.poll(store, 'org');
  while (r.more) r = await sources.poll(store, 'org');
  const secs = (performance.now() - t0) / 1000;
  const stored = await count(store);
  await sources.close();
  await store.close();
  const ok = aws.cloudtrail.requests.filter((q) => q.status === 200).length;
  const throttled = aws.cloudtrail.requests.filter((q) => q.errorType === 'ThrottlingException').length;
  const peak = Math.max(...peakRequestsPerWindow(aws.cloudtrail.requests, { include: (q) => q.accountId !== undefined }).values());
  const perPart = stored / all.length / secs;
  report(
    `LookupEvents backfill over ${all.length} account-regions`,
    `${fmt(stored / secs)} events/s in all, ${perPart.toFixed(1)} events/s per account-region (${fmt(stored)} events, ${ok} requests in ${secs.toFixed(1)} s; ${throttled} throttled; at most ${peak} requests in any second per account-region)`,
    `2 requests/s × 50 events = 100 events/s per account-region (${fmt(100 * all.length)} events/s in all)`,
    `${perPart.toFixed(1)}% of the ceiling`,
  );
}

async function main(): Promise<void> {
  console.log('trailbot sources benchmark');
  console.log(machineLine());
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const cleanups: (() => Promise<void>)[] = [];
  try {
    await feed(admin, cleanups);
    await lookup(admin, cleanups);
  } finally {
    for (const c of cleanups.reverse()) await c().catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
    await admin.end();
  }
  table.print();
}

await main();
