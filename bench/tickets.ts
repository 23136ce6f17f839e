/**
 * npm run bench:tickets — the Jira tickets benchmark of issue 9 (a benchmark, not a test).
 *
 * A trailbot service in this process (`startService` with the pipeline of src/main.ts: real flows, the
 * real jira.js client) on PostgreSQL and Redis, against the Jira stand-in answering every request
 * 50 ms late (its search lagging 1 s behind writes, as by default). 200 findings and 10,000 events
 * arrive as trail files through `ingest-file` jobs, in waves a little over a second apart: each wave
 * opens 20 new findings (one CreateAccessKey call each, a person per finding) and brings 980 more
 * calls of the people seen so far. Then it waits until Jira was told every event (the comments are
 * coalesced per finding per minute, so this takes a minute or two) and reports: tickets and comments
 * made, the time from a finding's first event stored to its ticket created in Jira (median, p95),
 * and the Jira requests per ticket.
 *
 * Options: --findings N (default 200) --events N (default 10000) --waves N (default 10)
 *   --latency MS (the stand-in's, default 50) --concurrency N (TRAILBOT_WORKER_CONCURRENCY, default 4) --keep
 * Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres): where a
 * throwaway database is made; BENCH_REDIS_URL (default redis://127.0.0.1:6379).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { findingLabel } from '../src/actions/jira/notify.ts';
import { readConfig } from '../src/config/index.ts';
import type { RawRecord } from '../src/events/model.ts';
import { startJiraStandin } from '../src/integrations/jira/standin/index.ts';
import { wirePipeline } from '../src/main.ts';
import { enqueue, ingestFileInput } from '../src/runtime/enqueue.ts';
import { startService } from '../src/runtime/service.ts';
import { createSources } from '../src/sources/index.ts';
import { arg, flag } from './lib/options.ts';
import { fmt, machineLine, percentile, targetReport } from './lib/report.ts';
import { ADMIN_URL, createDatabase, dropDatabase, dropQueueKeys, REDIS_URL } from './lib/throwaway.ts';

const FINDINGS = arg('findings', 200);
const EVENTS = arg('events', 10_000);
const WAVES = arg('waves', 10);
const LATENCY = arg('latency', 50);
const CONCURRENCY = arg('concurrency', 4);
const KEEP = flag('keep');
const TEMPLATE_FILE = join(import.meta.dirname, '../test/fixtures/records/stratus-aws.persistence.iam-create-admin-user.json');
const TEMPLATE_ID = '94faedcc-0fa4-46e6-9322-022e8e934f04';

const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const { report, print } = targetReport();

/** The waves: wave w opens findings [w·k, (w+1)·k) with one call each, plus calls of the people seen so far. */
function plan(template: RawRecord): RawRecord[][] {
  const perWave = Math.ceil(FINDINGS / WAVES);
  const waves: RawRecord[][] = [];
  let seq = 0;
  const t0 = Date.parse('2024-08-01T13:00:00Z');
  const call = (person: number): RawRecord => {
    seq++;
    const raw = structuredClone(template) as RawRecord & Record<string, unknown>;
    raw.eventID = `${randomBytes(4).toString('hex')}-0fa4-46e6-9322-${String(seq).padStart(12, '0')}`;
    raw.eventTime = new Date(t0 + seq * 100).toISOString().replace(/\.\d{3}Z$/, 'Z');
    Object.assign(raw.userIdentity as Record<string, unknown>, { userName: `bench-${person}`, arn: `arn:aws:iam::229654561268:user/bench-${person}` });
    return raw;
  };
  const rest = EVENTS - FINDINGS;
  for (let w = 0; w < WAVES; w++) {
    const from = w * perWave;
    const to = Math.min(FINDINGS, from + perWave);
    const wave: RawRecord[] = [];
    for (let p = from; p < to; p++) wave.push(call(p));
    const more = Math.floor(rest / WAVES) + (w < rest % WAVES ? 1 : 0);
    for (let i = 0; i < more; i++) wave.push(call((i * 7919) % to)); // spread over everyone seen so far
    waves.push(wave);
  }
  return waves;
}

async function main(): Promise<void> {
  console.log(`trailbot tickets benchmark — ${fmt(FINDINGS)} findings, ${fmt(EVENTS)} events in ${WAVES} waves, the Jira stand-in answering in ${LATENCY} ms, worker concurrency ${CONCURRENCY}`);
  console.log(`${machineLine()}\n`);
  const template = (JSON.parse(await readFile(TEMPLATE_FILE, 'utf8')) as RawRecord[]).find((r) => r.eventID === TEMPLATE_ID)!;
  const waves = plan(template);

  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const database = await createDatabase(admin);
  const queueName = `bench-tickets-${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'trailbot-bench-tickets-'));
  const jira = await startJiraStandin();
  jira.faults.latency(LATENCY);
  const config = readConfig(
    { DATABASE_URL: database.url, REDIS_URL, TRAILBOT_QUEUE_NAME: queueName, TRAILBOT_WORKER_CONCURRENCY: String(CONCURRENCY), LOG_LEVEL: 'warn', ...jira.env() },
    { cwd: dir },
  );
  const sources = createSources({ config });
  const service = await startService({ config, role: 'all', listen: false, pipeline: wirePipeline(config, sources) });
  const db = service.store.db;
  try {
    const started = performance.now();
    for (let w = 0; w < waves.length; w++) {
      const file = join(dir, `wave-${w}.json`);
      await writeFile(file, JSON.stringify({ Records: waves[w] }));
      await enqueue(service.queue, 'ingest-file', await ingestFileInput(file));
      if (w < waves.length - 1) await sleep(1200);
    }
    console.log(`fed ${fmt(EVENTS)} events in ${secs(performance.now() - started)}; waiting for every ticket, then for Jira to be told every event (comments come at most once a minute per finding)`);

    const progress = async () =>
      (
        await db.query<{ findings: number; created: number; told: number; events: number }>(
          `SELECT count(*)::int AS findings, count(*) FILTER (WHERE t.state = 'created')::int AS created,
                  count(*) FILTER (WHERE t.reported_count >= f.count)::int AS told, coalesce(sum(f.count), 0)::int AS events
           FROM findings f LEFT JOIN tickets t ON t.finding_id = f.id AND t.generation = 1 WHERE f.flow = 'access-key-created'`,
        )
      ).rows[0]!;
    let p = await progress();
    const deadline = Date.now() + 240_000;
    while ((p.created < FINDINGS || p.told < FINDINGS || p.events < EVENTS) && Date.now() < deadline) {
      await sleep(500);
      p = await progress();
    }
    const elapsed = performance.now() - started;
    console.log(`done in ${secs(elapsed)}: ${fmt(p.findings)} findings, ${fmt(p.created)} tickets created, ${fmt(p.events)} events in findings, ${fmt(p.told)} findings with every event told\n`);

    // Time from a finding's first event stored (events.ingested_at) to its ticket created (Jira's clock: the stand-in here).
    // Its parts: stored → the finding committed by evaluate-flows → the ticket's intent row (the notify job began) → created in Jira.
    const first = await db.query<{ id: string; stored_ms: number; finding_ms: number; intent_ms: number }>(
      `SELECT fe.finding_id AS id, (extract(epoch FROM min(e.ingested_at)) * 1000)::float8 AS stored_ms,
              (extract(epoch FROM min(f.created_at)) * 1000)::float8 AS finding_ms, (extract(epoch FROM min(t.created_at)) * 1000)::float8 AS intent_ms
       FROM finding_events fe JOIN events e ON e.event_id = fe.event_id JOIN findings f ON f.id = fe.finding_id
       LEFT JOIN tickets t ON t.finding_id = f.id AND t.generation = 1
       WHERE f.flow = 'access-key-created' GROUP BY fe.finding_id`,
    );
    const issues = jira.issues();
    const byLabel = new Map(issues.flatMap((i) => i.labels.filter((l) => l.startsWith('trailbot-')).map((l) => [l, i] as const)));
    const sorted = (xs: number[]) => xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    const createdOf = (id: string) => byLabel.get(findingLabel(id))?.created ?? NaN;
    const lags = sorted(first.rows.map((r) => createdOf(r.id) - Number(r.stored_ms)));
    const parts = {
      'stored → finding': sorted(first.rows.map((r) => Number(r.finding_ms) - Number(r.stored_ms))),
      'finding → notify job began': sorted(first.rows.map((r) => Number(r.intent_ms) - Number(r.finding_ms))),
      'notify job began → created in Jira': sorted(first.rows.map((r) => createdOf(r.id) - Number(r.intent_ms))),
    };
    const comments = issues.reduce((n, i) => n + i.comments.length, 0);
    const requests = jira.requests.filter((r) => r.path.startsWith('/rest/'));
    const count = (method: string, re: RegExp) => requests.filter((r) => r.method === method && re.test(r.path)).length;
    const perTicket = requests.length / Math.max(1, issues.length);

    console.log('Jira:');
    report('tickets created', fmt(issues.length), `${fmt(FINDINGS)} (one per finding)`, issues.length === FINDINGS && p.findings === FINDINGS);
    report('comments', `${fmt(comments)} (${(comments / Math.max(1, issues.length)).toFixed(2)} per ticket)`, '≤ 1 per finding per minute', null);
    report('events told to Jira', `${fmt(p.told)} of ${fmt(FINDINGS)} findings up to date`, 'all', p.told === FINDINGS);
    report('first event stored → ticket created, median', secs(percentile(lags, 50)), '', null);
    report('first event stored → ticket created, p95', secs(percentile(lags, 95)), '≤ 2 s', percentile(lags, 95) <= 2000);
    report('first event stored → ticket created, max', secs(lags.at(-1) ?? NaN), '', null);
    for (const [what, xs] of Object.entries(parts)) report(`  of which ${what}, median / p95`, `${secs(percentile(xs, 50))} / ${secs(percentile(xs, 95))}`, '', null);
    report(
      'Jira requests per ticket',
      `${perTicket.toFixed(2)} (${fmt(requests.length)}: ${count('POST', /^\/rest\/api\/3\/issue$/)} create, ${count('POST', /\/comment$/)} comment, ${count('GET', /^\/rest\/api\/3\/issue\/[^/]+$/)} get, ${count('POST', /search\/jql$/)} search, ${requests.filter((r) => r.fault).length} faulted)`,
      '',
      null,
    );
    // Where the time goes in the queue: each kind's wait (enqueued → taken) and run (taken → finished).
    console.log('\nQueue (median / p95):');
    const done = await service.queue.list('completed', 5000);
    for (const kind of ['ingest-file', 'evaluate-flows', 'notify']) {
      const jobs = done.filter((j) => j.name === kind && (kind !== 'notify' || (j.data as { action: string }).action === 'open'));
      const ms = (a: string | undefined, b: string | undefined) => (a && b ? Date.parse(b) - Date.parse(a) : NaN);
      const wait = sorted(jobs.map((j) => ms(j.createdAt, j.processedAt)));
      const run = sorted(jobs.map((j) => ms(j.processedAt, j.finishedAt)));
      report(`${kind === 'notify' ? 'notify (open)' : kind}: ${jobs.length} jobs, wait / run`, `${secs(percentile(wait, 50))} / ${secs(percentile(run, 50))}; p95 ${secs(percentile(wait, 95))} / ${secs(percentile(run, 95))}`, '', null);
    }
    const failed = (await service.queue.counts()).failed ?? 0;
    report('failed jobs', fmt(failed), '0', failed === 0);
  } finally {
    await service.close();
    await sources.close();
    await jira.close();
    await rm(dir, { recursive: true, force: true });
    if (!KEEP) {
      await dropDatabase(admin, database.name);
      await dropQueueKeys(REDIS_URL, queueName);
    } else console.log(`kept database ${database.name} and queue ${queueName}`);
    await admin.end();
  }

  print();
}

await main();
