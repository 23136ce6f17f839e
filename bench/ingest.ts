/**
 * npm run bench:ingest — the ingestion benchmark of issue 2 (a benchmark, not a test).
 *
 * 1. Generates a realistic trail (≥ 200,000 events from real record shapes, fresh ids and times, many
 *    accounts and regions, gzipped files in the CloudTrail S3 layout, digest files beside them).
 * 2. Floor: gunzip + JSON.parse of every file, nothing else.
 * 3. Normalize: the same plus normalize() of every record (and, separately, with summaries).
 * 4. Ingest into PostgreSQL: the real `ingestPaths` pipeline (read, gunzip, parse, normalize, insert).
 * 5. Fills the store to ≥ 1,000,000 events and measures `trail` latency (median, p95) for people
 *    found by e-mail prefix, user name, session name and access key.
 *
 * Options: --events N (default 200000) --total N (default 1000000) --queries N (default 500)
 *   --passes N (CPU passes, best of; default 3) --runs N (ingest runs, median of; default 3) --keep
 * Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres): the server
 * on which a throwaway database is created and dropped.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { normalize } from '../src/events/normalize.ts';
import type { RawRecord } from '../src/events/model.ts';
import { summarize } from '../src/events/summary.ts';
import { ingestPaths } from '../src/ingest.ts';
import { expandPaths } from '../src/sources/files.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { maintainStore } from '../src/store/retention.ts';
import { generateRecords, generateTrail } from './lib/generate/index.ts';
import { fillStore } from './lib/fill.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const EVENTS = arg('events', 200_000);
const TOTAL = arg('total', 1_000_000);
const QUERIES = arg('queries', 500);
const PASSES = arg('passes', 3);
const RUNS = arg('runs', 3);
const KEEP = process.argv.includes('--keep');
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DIR = join(import.meta.dirname, '../.bench/trail');
const SEED = 20261122;

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const rows: [string, string, string, string][] = [];
function report(what: string, value: string, target: string, ok: boolean | null): void {
  rows.push([what, value, target, ok === null ? '' : ok ? 'met' : 'NOT MET']);
  console.log(`  ${what}: ${value}${target ? `   (target ${target}: ${ok ? 'met' : 'NOT met'})` : ''}`);
}

const partitionCount = async (store: Store): Promise<number> =>
  (await store.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'events'::regclass`)).rows[0]!.n;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Where an event's bytes go: the events table (heap, its TOAST, every partition), the chunks of raw
 * records (raw_chunks, migration 022: heap and TOAST, every partition) and each index, by
 * pg_relation_size over the tables and their partitions, divided by the stored events. Target ≤ 1.2 KB
 * per event, indexes included (issue 14).
 */
async function reportSize(store: Store, when: string): Promise<void> {
  await store.db.query('VACUUM ANALYZE events');
  await store.db.query('VACUUM ANALYZE raw_chunks');
  const n = await store.count();
  const rels = await store.db.query<{ kind: string; name: string; heap: number; toast: number }>(
    `WITH RECURSIVE parts(oid, root) AS (SELECT 'events'::regclass::oid, 'events' UNION ALL SELECT 'raw_chunks'::regclass::oid, 'raw_chunks'
                                         UNION ALL SELECT i.inhrelid, p.root FROM pg_inherits i JOIN parts p ON i.inhparent = p.oid)
     SELECT 'table' AS kind, parts.root AS name, sum(pg_relation_size(c.oid))::bigint AS heap,
            sum(coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0))::bigint AS toast
       FROM parts JOIN pg_class c ON c.oid = parts.oid GROUP BY parts.root
     UNION ALL
     SELECT 'index', coalesce(pi.relname, ci.relname), sum(pg_relation_size(ci.oid))::bigint, 0
       FROM parts JOIN pg_index x ON x.indrelid = parts.oid JOIN pg_class ci ON ci.oid = x.indexrelid
       LEFT JOIN pg_inherits ih ON ih.inhrelid = ci.oid LEFT JOIN pg_class pi ON pi.oid = ih.inhparent
      GROUP BY 2`,
  );
  const per = (b: number): string => `${fmt(b / n)} B`;
  const table = rels.rows.filter((r) => r.kind === 'table').reduce((a, r) => a + Number(r.heap) + Number(r.toast), 0);
  const toast = rels.rows.filter((r) => r.kind === 'table').reduce((a, r) => a + Number(r.toast), 0);
  const indexes = rels.rows.filter((r) => r.kind === 'index');
  const ixTotal = indexes.reduce((a, r) => a + Number(r.heap), 0);
  console.log(`\nbytes per event ${when} (${fmt(n)} events, pg_relation_size after VACUUM):`);
  report(`tables per event (${when})`, `${per(table)} (of which TOAST ${per(toast)})`, '', null);
  for (const r of rels.rows.filter((x) => x.kind === 'table')) console.log(`    table ${r.name}: ${per(Number(r.heap) + Number(r.toast))} (TOAST ${per(Number(r.toast))})`);
  for (const r of indexes.sort((a, b) => Number(b.heap) - Number(a.heap))) console.log(`    index ${r.name}: ${per(Number(r.heap))}`);
  report(`indexes per event (${when})`, per(ixTotal), '', null);
  const total = (table + ixTotal) / n;
  report(`total per event (${when})`, `${fmt(total)} B (${((table + ixTotal) / 1e6).toFixed(0)} MB)`, '≤ 1,200 B', total <= 1200);
}

async function main(): Promise<void> {
  console.log(`trailbot ingest benchmark — ${EVENTS.toLocaleString('en-US')} events in files, ${TOTAL.toLocaleString('en-US')} stored for queries`);
  const os = await import('node:os');
  console.log(`node ${process.version}, ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} (other work on the machine lowers every figure)\n`);

  // 1. The trail.
  const marker = join(DIR, `.generated-${EVENTS}-${SEED}`);
  if (!existsSync(marker)) {
    await rm(DIR, { recursive: true, force: true });
    const t = performance.now();
    const g = await generateTrail({ dir: DIR, events: EVENTS, seed: SEED, digests: true });
    await (await import('node:fs/promises')).writeFile(marker, JSON.stringify(g));
    console.log(`generated ${fmt(g.events)} events in ${fmt(g.files)} files (${(g.bytes / 1e6).toFixed(1)} MB gz) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  } else {
    console.log(`reusing the trail in ${DIR}`);
  }
  const { files } = await expandPaths([DIR]);
  const blobs = await Promise.all(files.map((f) => readFile(f)));
  console.log(`${fmt(files.length)} log files (digests excluded by the reader)\n`);

  // 2 + 3. Floor vs normalize, same loop, files already in memory (measures CPU, not the disk).
  const pass = (work: (r: RawRecord) => void): { n: number; ms: number } => {
    const t = performance.now();
    let n = 0;
    for (const b of blobs) {
      const doc = JSON.parse(gunzipSync(b).toString('utf8')) as { Records: RawRecord[] };
      for (const r of doc.Records) {
        work(r);
        n++;
      }
    }
    return { n, ms: performance.now() - t };
  };
  let sink = 0;
  pass(() => undefined); // warm-up
  pass((r) => (sink += normalize(r).resources.length));
  // Floor and normalize passes interleaved, best of PASSES each: a pass that another process on the
  // machine interrupted says nothing about either.
  const best = (a: { n: number; ms: number } | undefined, b: { n: number; ms: number }) => (a && a.ms <= b.ms ? a : b);
  let floor: { n: number; ms: number } | undefined;
  let norm: { n: number; ms: number } | undefined;
  for (let i = 0; i < PASSES; i++) {
    floor = best(floor, pass(() => undefined));
    norm = best(norm, pass((r) => (sink += normalize(r).resources.length)));
  }
  const withSummary = pass((r) => (sink += summarize(normalize(r)).length));
  const floorRate = (floor!.n / floor!.ms) * 1000;
  const normRate = (norm!.n / norm!.ms) * 1000;
  blobs.length = 0; // the ingest below reads the files itself
  console.log(`CPU, one core (gunzip + JSON.parse is the floor; best of ${PASSES} interleaved passes each):`);
  report('floor: gunzip + JSON.parse', `${fmt(floorRate)} events/s`, '', null);
  report('normalize', `${fmt(normRate)} events/s = ${((normRate / floorRate) * 100).toFixed(0)}% of the floor`, '≥ 75% of the floor', normRate >= 0.75 * floorRate);
  report('normalize + summary sentence', `${fmt((withSummary.n / withSummary.ms) * 1000)} events/s`, '', null);

  // 4. Ingest into PostgreSQL through the real pipeline, RUNS times, each into a fresh database after
  //    a CHECKPOINT (so no run pays for writing out the previous one's pages). The last database is kept
  //    for the re-ingest and the queries.
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const storeUrl = (dbName: string): string => {
    const url = new URL(ADMIN_URL);
    url.pathname = `/${dbName}`;
    return url.toString();
  };
  const fresh = async (): Promise<{ dbName: string; store: Store }> => {
    const dbName = `trailbot_bench_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${dbName}`);
    // Day partitions as the service makes them (store.retention), over a window that holds the generator's dates.
    return { dbName, store: await openStore({ databaseUrl: storeUrl(dbName), dataDir: '/nonexistent', poolSize: 4, dayPartitions: { retentionMs: 3650 * 86_400_000 } }) };
  };
  console.log(`\nPostgreSQL (real pipeline: read files, gunzip, parse, normalize, insert with indexes; ${RUNS} runs, each into a fresh database):`);
  const rates: number[] = [];
  let current = await fresh();
  for (let i = 0; i < RUNS; i++) {
    if (i > 0) {
      await current.store.close();
      await admin.query(`DROP DATABASE IF EXISTS ${current.dbName} WITH (FORCE)`);
      current = await fresh();
    }
    await admin.query('CHECKPOINT');
    const s = await ingestPaths(current.store, [DIR]);
    rates.push((s.inserted / s.ms) * 1000);
    console.log(`  run ${i + 1}: ${fmt(rates[i]!)} events/s (${fmt(s.inserted)} events in ${(s.ms / 1000).toFixed(1)} s)`);
  }
  const { dbName, store } = current;
  try {
    const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]!;
    report('ingest (median of runs)', `${fmt(median)} events/s (runs: ${rates.map(fmt).join(', ')})`, '≥ 20,000 events/s', median >= 20_000);
    await reportSize(store, 'after ingest');
    const again = await ingestPaths(store, [DIR]);
    report('re-ingest of the same files', `${fmt(again.inserted)} new, ${fmt(again.duplicates)} duplicate, ${fmt((again.events / again.ms) * 1000)} events/s`, '0 new', again.inserted === 0);

    // 5. Fill to TOTAL events straight from the generator, over 90 days (the default retention, so the
    //    queries below span 90 daily partitions): a backfill. Ingest gives each day its partition as it
    //    meets it (src/store/partitions.ts, as the service does within store.retention), then the
    //    store-maintenance job runs as of the newest event. Meanwhile a reader asks for one person's
    //    newest events over and over (every partition, the default one too): the longest it waited is
    //    how long making the days' partitions and the job stop the store's queries.
    let stored = await store.count();
    if (stored < TOTAL) {
      const someone = (await store.db.query<{ k: string }>('SELECT actor_key AS k FROM events WHERE actor_key IS NOT NULL LIMIT 1')).rows[0]?.k ?? '';
      const partsBefore = await partitionCount(store);
      const reader = new pg.Client({ connectionString: storeUrl(dbName) });
      await reader.connect();
      let going = true;
      const waits: number[] = [];
      const probing = (async () => {
        while (going) {
          const t = performance.now();
          await reader.query('SELECT event_id FROM events WHERE actor_key = $1 ORDER BY time DESC LIMIT 50', [someone]);
          waits.push(performance.now() - t);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const t = performance.now();
      await fillStore(store, generateRecords({ count: TOTAL - stored, seed: SEED + 1, days: 90 }));
      const filled = (performance.now() - t) / 1000;
      const madeByIngest = (await partitionCount(store)) - partsBefore;
      const inDefault = Number((await store.db.query<{ n: number }>('SELECT count(*) AS n FROM events_default')).rows[0]!.n);
      const t2 = performance.now();
      const newest = (await store.db.query<{ t: string }>('SELECT max(time)::text AS t FROM events')).rows[0]!.t;
      const m = await maintainStore(store.db, { events: 3650 * 86_400_000, flowHits: null, rejects: null, reports: null }, { now: new Date(newest).getTime(), maxSplitDays: 1000 });
      const took = (performance.now() - t2) / 1000;
      going = false;
      await probing;
      await reader.end();
      stored = await store.count();
      console.log(`\nfilled the store to ${fmt(stored)} events in ${filled.toFixed(1)} s: ingest made ${madeByIngest} day partitions as it met the days, left ${fmt(inDefault)} events in events_default; then the maintenance job made ${m.made.length} partitions (${m.rebuilt ? 'rebuilt the defaults\' indexes' : 'no rebuild'}) in ${took.toFixed(1)} s; ${await partitionCount(store)} partitions of events in all (default included)`);
      waits.sort((a, b) => a - b);
      // The third review (2026-12-05) measured 1–4 s a batch while the job moved 0.5–1M rows out of
      // events_default; with the copy before the lock, 2.3 s. Days made as ingest meets them leave it nothing to move.
      report('longest query wait during the backfill and the maintenance', `${fmt(waits.at(-1) ?? 0)} ms (p95 ${percentile(waits, 95).toFixed(0)} ms, ${fmt(waits.length)} queries)`, '≤ 1,000 ms (was 1,000–4,000 while the job moved a backfill)', (waits.at(-1) ?? 0) <= 1000);
      if (m.skipped.length > 0) console.log(`  skipped: ${m.skipped.map((x) => `${x.step}: ${x.reason}`).join('; ')}`);
    }
    await store.db.query('ANALYZE');
    await reportSize(store, `at ${fmt(stored)} events`);

    const who = await store.db.query<{ w: string }>(
      `(SELECT split_part(email, '@', 1) || '@' || left(split_part(email, '@', 2), 3) AS w FROM principals WHERE email IS NOT NULL ORDER BY random() LIMIT 200)
       UNION ALL (SELECT user_name FROM principals WHERE type = 'IAMUser' ORDER BY random() LIMIT 100)
       UNION ALL (SELECT session_name FROM principals WHERE type = 'AssumedRole' AND email IS NULL ORDER BY random() LIMIT 100)
       UNION ALL (SELECT access_key_id FROM access_keys ORDER BY random() LIMIT 100)`,
    );
    const names = who.rows.map((r) => r.w).filter(Boolean);
    const latest = (await store.db.query<{ t: string }>('SELECT max(time)::text AS t FROM events')).rows[0]!.t;
    const since = new Date(new Date(latest).getTime() - 90 * 86_400_000).toISOString();
    for (let i = 0; i < 50; i++) await store.trail({ who: names[i % names.length]!, since, limit: 50 });
    const times: number[] = [];
    let returned = 0;
    for (let i = 0; i < QUERIES; i++) {
      const t = performance.now();
      const r = await store.trail({ who: names[i % names.length]!, since, limit: 50 });
      times.push(performance.now() - t);
      returned += r.events.length;
    }
    times.sort((a, b) => a - b);
    console.log(`\ntrail over ${fmt(stored)} stored events (${QUERIES} queries by e-mail prefix, user name, session name and access key; 50 newest of 90 days; ${fmt(returned / QUERIES)} events per answer on average):`);
    report('trail median', `${percentile(times, 50).toFixed(1)} ms`, '', null);
    report('trail p95', `${percentile(times, 95).toFixed(1)} ms`, '≤ 50 ms', percentile(times, 95) <= 50);
    report('stored events', fmt(stored), '≥ 1,000,000', stored >= 1_000_000);

    // Search (the API's /api/events) over the same 90 days: by event name (events_action_time in each
    // partition), by resource name (GIN), and the newest events with no filter (events_time).
    const actions = (await store.db.query<{ a: string }>('SELECT action AS a FROM events TABLESAMPLE SYSTEM (1) WHERE action IS NOT NULL LIMIT 100')).rows.map((r) => r.a);
    const resourcesSample = (await store.db.query<{ k: string }>('SELECT resource_keys[1] AS k FROM events TABLESAMPLE SYSTEM (1) WHERE cardinality(resource_keys) > 0 LIMIT 100')).rows.map((r) => r.k);
    const searches: [string, () => Promise<unknown>][] = [
      ['event name', () => store.search({ eventName: actions[Math.floor(Math.random() * actions.length)]!, since, limit: 50 })],
      ['resource name', () => store.search({ resourceName: resourcesSample[Math.floor(Math.random() * resourcesSample.length)]!, since, limit: 50 })],
      ['newest, no filter', () => store.search({ since, limit: 50 })],
    ];
    for (const [what, run] of searches) {
      for (let i = 0; i < 20; i++) await run();
      const st: number[] = [];
      for (let i = 0; i < Math.min(QUERIES, 200); i++) {
        const t = performance.now();
        await run();
        st.push(performance.now() - t);
      }
      st.sort((a, b) => a - b);
      report(`search by ${what} p95 (90 days)`, `${percentile(st, 95).toFixed(1)} ms (median ${percentile(st, 50).toFixed(1)} ms)`, '≤ 50 ms', percentile(st, 95) <= 50);
    }
  } finally {
    await store.close();
    if (!KEEP) await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    else console.log(`kept database ${dbName}`);
    await admin.end();
  }

  console.log('\n| measure | result | target | |\n|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  if (sink < 0) console.log(sink);
}

await main();
