/**
 * npm run bench:dashboard — the dashboard's latency (issue 15): every filter of the Events page, the
 * next page, ClickOps, Findings and Approvals, answered by the web role's Hono app (the same handler a
 * browser reaches, HTML rendering included, without the network) over a store of ≥ 1,000,000 events.
 * Target: p95 ≤ 200 ms for each. The store is laid out as a running service keeps it: after the fill,
 * the store-maintenance job's work (as of the newest event) gives each day its partition of `events`
 * (and of the raw records' chunks), and 40 findings of 500 to 5,000 events each are recorded (as the
 * flows record them: findings and finding_events) for the Events page of a finding (`?finding=`).
 *
 * Options: --total N (events stored, default 1000000) --queries N (requests per filter, default 40) --keep
 * (keep the database; BENCH_DASHBOARD_DB=<name> reuses one kept before, skipping the fill).
 * Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createApp } from '../src/http/app.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { createMetrics } from '../src/runtime/metrics.ts';
import { openInlineQueue } from '../src/runtime/inline.ts';
import { openStore } from '../src/store/index.ts';
import { maintainStore } from '../src/store/retention.ts';
import { generateRecords } from './lib/generate/index.ts';
import { fillStore } from './lib/fill.ts';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}
const TOTAL = arg('total', 1_000_000);
const QUERIES = arg('queries', 40);
const KEEP = process.argv.includes('--keep');
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SEED = 20261203;
const START = new Date('2025-03-03T00:00:00Z');
const DAYS = 28;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const reuse = process.env.BENCH_DASHBOARD_DB;
  const name = reuse ?? `trailbot_bench_dashboard_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  if (!reuse) await admin.query(`CREATE DATABASE ${name}`);
  const u = new URL(ADMIN_URL);
  u.pathname = `/${name}`;
  const store = await openStore({ databaseUrl: u.toString(), dataDir: '/nonexistent' });
  let failed = false;
  try {
    let stored = await store.count();
    if (stored < TOTAL) {
      const t = performance.now();
      await fillStore(store, generateRecords({ count: TOTAL - stored, seed: SEED, start: START, days: DAYS }));
      stored = await store.count();
      console.log(`filled the store to ${fmt(stored)} events in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    // Day partitions, as the hourly store-maintenance job makes them (as of the newest event: the
    // generated month lies in the past), unless a reused database has them already.
    const newest = Date.parse((await store.db.query<{ t: string }>(`SELECT to_char(max(time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS t FROM events`)).rows[0]!.t);
    const inDefault = Number((await store.db.query<{ n: string }>('SELECT count(*) AS n FROM events_default')).rows[0]!.n);
    if (inDefault > 0) {
      const t = performance.now();
      const m = await maintainStore(store.db, { events: 90 * 86_400_000, flowHits: null, rejects: null, reports: null }, { now: newest + 3_600_000 });
      console.log(`day partitions: ${m.made.length} made by the store's maintenance in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    // Findings as the flows record them, each on one person's events (500 to 5,000 of them).
    if (Number((await store.db.query<{ n: string }>('SELECT count(*) AS n FROM findings')).rows[0]!.n) === 0) {
      await store.db.query(
        `WITH people AS (
           SELECT actor_key, row_number() OVER (ORDER BY actor_key) AS i FROM principals WHERE events >= 500 ORDER BY random() LIMIT 40
         ), made AS (
           INSERT INTO findings (id, key, flow, group_key, kind, severity, anchor, first_seen, last_seen, count, title, seq)
           SELECT 'bench' || p.i, 'bench:' || p.actor_key, 'bench', p.actor_key, 'single', 'high', x.first, x.first, x.last, x.n,
                  'bench finding ' || p.i, nextval('findings_seq')
             FROM people p CROSS JOIN LATERAL (
               SELECT min(time) AS first, max(time) AS last, count(*) AS n FROM (SELECT time FROM events e WHERE e.actor_key = p.actor_key ORDER BY time DESC LIMIT 500 + (p.i * 113) % 4500) s
             ) x
           RETURNING id, group_key
         )
         INSERT INTO finding_events (flow, event_id, finding_id, time)
         SELECT 'bench', e.event_id, m.id, e.time FROM made m
           JOIN people p ON 'bench' || p.i = m.id
           CROSS JOIN LATERAL (SELECT event_id, time FROM events e WHERE e.actor_key = m.group_key ORDER BY time DESC LIMIT 500 + (p.i * 113) % 4500) e`,
      );
    }
    await store.db.query('ANALYZE');
    const parts = Number((await store.db.query<{ n: string }>(`SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'events'::regclass`)).rows[0]!.n);
    console.log(`${fmt(stored)} events stored in ${parts} partitions of events; ${QUERIES} requests per filter\n`);

    const sample = async (sql: string): Promise<string[]> => (await store.db.query<{ v: string }>(sql)).rows.map((r) => r.v).filter(Boolean);
    const people = await sample(`SELECT coalesce(email, user_name, session_name) AS v FROM principals WHERE coalesce(email, user_name, session_name) IS NOT NULL ORDER BY random() LIMIT ${QUERIES}`);
    const resources = await sample(`SELECT primary_id AS v FROM (SELECT primary_id FROM events WHERE primary_id IS NOT NULL ORDER BY random() LIMIT 2000) s GROUP BY 1 LIMIT ${QUERIES}`);
    const actions = await sample(`SELECT action AS v FROM (SELECT DISTINCT action FROM events) s ORDER BY random() LIMIT ${QUERIES}`);
    const services = await sample(`SELECT service AS v FROM (SELECT DISTINCT service FROM events) s ORDER BY random() LIMIT ${QUERIES}`);
    const accounts = await sample(`SELECT account AS v FROM (SELECT DISTINCT account FROM events) s ORDER BY random() LIMIT ${QUERIES}`);
    const regions = await sample(`SELECT region AS v FROM (SELECT DISTINCT region FROM events) s`);
    const findings = await sample(`SELECT id AS v FROM findings WHERE flow = 'bench' ORDER BY random()`);
    const end = Date.parse((await sample(`SELECT to_char(max(time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS v FROM events`))[0]!);
    const range = (i: number): string => {
      // A window of 1 to 28 days ending somewhere in the stored month.
      const until = end - (i % 7) * 86_400_000;
      const since = until - (1 + (i * 5) % 28) * 86_400_000;
      return `since=${new Date(since).toISOString().slice(0, 19)}&until=${new Date(until).toISOString().slice(0, 19)}`;
    };
    const month = `since=${new Date(end - 28 * 86_400_000).toISOString().slice(0, 10)}&until=${new Date(end).toISOString().slice(0, 19)}`;
    const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;
    const enc = encodeURIComponent;

    const queue = openInlineQueue(store.db, 'bench-dashboard');
    const app = createApp({ store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'web' });
    const get = async (path: string): Promise<{ ms: number; html: string }> => {
      const t = performance.now();
      const r = await app.request(`http://localhost${path}`, { headers: { accept: 'text/html' } });
      const html = await r.text();
      const ms = performance.now() - t;
      if (r.status !== 200) throw new Error(`${path}: ${r.status} ${html.slice(0, 400)}`);
      return { ms, html };
    };
    // A cursor from a real first page, for "next page".
    const nextOf = async (path: string): Promise<string> => /href="\/(\?[^"]*cursor=[^"]*)"/.exec((await get(path)).html)?.[1]?.replaceAll('&amp;', '&') ?? path.slice(1);

    const filters: [string, (i: number) => Promise<string> | string][] = [
      ['no filter (last 7 days)', () => `/?since=7d&until=${new Date(end).toISOString().slice(0, 19)}`],
      ['person', (i) => `/?person=${enc(pick(people, i))}&${month}`],
      ['resource', (i) => `/?resource=${enc(pick(resources, i))}&${month}`],
      ['action', (i) => `/?action=${enc(pick(actions, i))}&${month}`],
      ['service', (i) => `/?service=${enc(pick(services, i))}&${range(i)}`],
      ['account', (i) => `/?account=${enc(pick(accounts, i))}&${range(i)}`],
      ['region', (i) => `/?region=${enc(pick(regions, i))}&${range(i)}`],
      ['outcome', (i) => `/?outcome=${pick(['denied', 'failed', 'success'], i)}&${range(i)}`],
      ['via', (i) => `/?via=${pick(['console', 'iac', 'cli', 'sdk', 'service', 'unknown'], i)}&${range(i)}`],
      ['time range', (i) => `/?${range(i)}`],
      ['changes only (writes)', (i) => `/?writes=1&${range(i)}`],
      ["a finding's events (500 to 5,000)", (i) => `/?finding=${enc(pick(findings, i))}`],
      ['combined (account, region, via, outcome)', (i) => `/?account=${enc(pick(accounts, i))}&region=${enc(pick(regions, i))}&via=console&outcome=${pick(['success', 'denied'], i)}&${range(i)}`],
      ['next page (cursor)', async (i) => `/${await nextOf(`/?via=${pick(['console', 'iac', 'cli', 'sdk', 'service'], i)}&${range(i)}`)}`],
      ['ClickOps charts', (i) => `/clickops?until=${new Date(end - (i % 10) * 86_400_000).toISOString().slice(0, 10)}`],
      ['findings', (i) => `/findings?state=${i % 2 ? 'open' : 'closed'}`],
      ['approvals', () => '/audit'],
    ];
    console.log('| filter | median ms | p95 ms | max ms | target p95 ≤ 200 ms |');
    console.log('|---|---|---|---|---|');
    for (const [what, path] of filters) {
      const paths: string[] = [];
      for (let i = 0; i < QUERIES; i++) paths.push(await path(i));
      await get(paths[0]!); // warm
      const ms: number[] = [];
      for (const p of paths) ms.push((await get(p)).ms);
      ms.sort((a, b) => a - b);
      const p95 = ms[Math.min(ms.length - 1, Math.floor(0.95 * ms.length))]!;
      if (p95 > 200) failed = true;
      console.log(`| ${what} | ${ms[Math.floor(ms.length / 2)]!.toFixed(1)} | ${p95.toFixed(1)} | ${ms[ms.length - 1]!.toFixed(1)} | ${p95 <= 200 ? 'met' : 'NOT MET'} |`);
    }
  } finally {
    await store.close();
    if (!KEEP && !reuse) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    else console.log(`\nkept the database ${name} (BENCH_DASHBOARD_DB=${name} reuses it)`);
    await admin.end();
  }
  process.exitCode = failed ? 1 : 0;
}

await main();
