/**
 * npm run bench:slack — the /trail benchmark of issue 10 (a benchmark, not a test).
 *
 * trailbot runs as it is deployed: `trailbot serve --role web` (Slack's requests, POST /slack/events)
 * and `trailbot serve --role worker` (the queued jobs) as two processes on PostgreSQL and Redis. The
 * Slack stand-in (in this process) sends them correctly signed `/trail` commands, as Slack does, and
 * records what the worker posts back to each response_url.
 *
 * 1. Acknowledgement under load: a 200,000-event trail (gzipped files in the CloudTrail layout, the
 *    last 7 days) is ingested as `ingest-file` jobs by the worker (flows included), and while it runs,
 *    bursts of 50 concurrent `/trail` commands go to the web process. Reported: the time from a
 *    command sent to trailbot's HTTP answer (median, p99; target p99 < 300 ms; Slack gives up at 3 s).
 * 2. Time to the full answer with 1,000,000 events stored: the store is filled to 1,000,000 events
 *    (the store's own ingest, binary COPY), then `/trail` commands for people found by e-mail prefix,
 *    user name, session name and access key, over 24 hours, 7 days or 30 days, one at a time.
 *    Reported: command sent → the answer received at the response_url (median, p95; target p95 < 1 s).
 *
 * Options: --events N (the ingest, default 200000) --total N (default 1000000) --bursts N (default 5)
 *   --concurrent N (default 50) --queries N (default 100) --layout split|all (default split: web and
 *   worker apart; all: one process doing both, to see what sharing a process with ingest costs)
 *   --worker-nice N (the worker's TRAILBOT_WORKER_NICE, default 10 as deployed; 0: the web role's priority) --keep
 * Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres): where a
 * throwaway database is made; BENCH_REDIS_URL (default redis://127.0.0.1:6379).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { stringify } from 'yaml';
import { readConfig } from '../src/config/index.ts';
import { type SentRequest, startSlackStandin } from '../src/integrations/slack/standin/index.ts';
import { enqueue, ingestFileInput } from '../src/runtime/enqueue.ts';
import { openQueue } from '../src/runtime/open.ts';
import { expandPaths } from '../src/sources/files.ts';
import { openStore } from '../src/store/index.ts';
import { generateRecords, generateTrail } from './lib/generate/index.ts';
import { fillStore } from './lib/fill.ts';
import { arg, argText, flag } from './lib/options.ts';
import { fmt, machineLine, percentile, targetReport } from './lib/report.ts';
import { ADMIN_URL, createDatabase, dropDatabase, dropQueueKeys, REDIS_URL } from './lib/throwaway.ts';

const EVENTS = arg('events', 200_000);
const TOTAL = arg('total', 1_000_000);
const BURSTS = arg('bursts', 5);
const CONCURRENT = arg('concurrent', 50);
const QUERIES = arg('queries', 100);
const LAYOUT = argText('layout', 'split');
const KEEP = flag('keep');
/** The worker's CPU priority (TRAILBOT_WORKER_NICE: the worker lowers itself; default 10 as deployed); 0: as the web process. */
const WORKER_NICE = arg('worker-nice', 10);
const BIN = join(import.meta.dirname, '../bin/trailbot.js');
const SEED = 20261210;
const DAY = 86_400_000;
// The trail covers the 7 days before today (midnight UTC), so /trail's 24h, 7d and 30d windows hold it.
const START = new Date(Math.floor(Date.now() / DAY) * DAY - 7 * DAY);
const DIR = join(import.meta.dirname, '../.bench/slack-trail');

const ms = (n: number): string => `${n.toFixed(0)} ms`;
const { report, print } = targetReport();

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** `trailbot serve --role <role>`; resolves once it is up. */
async function serve(role: string, env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  const args = [BIN, 'serve', '--role', role];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const until = Date.now() + 60_000;
  while (!out.includes('Stop with Ctrl-C')) {
    if (child.exitCode !== null) throw new Error(`trailbot serve --role ${role} exited: ${out}`);
    if (Date.now() > until) throw new Error(`trailbot serve --role ${role} did not start: ${out}`);
    await sleep(100);
  }
  return { child, output: () => out };
}

async function main(): Promise<void> {
  console.log(
    `trailbot /trail benchmark — acks of ${BURSTS} bursts of ${CONCURRENT} concurrent commands during a ${fmt(EVENTS)}-event ingest; answers with ${fmt(TOTAL)} events stored; ${LAYOUT === 'all' ? 'one process (--role all)' : `web and worker processes apart, the worker at nice ${WORKER_NICE} (TRAILBOT_WORKER_NICE)`}`,
  );
  console.log(`${machineLine()}\n`);

  // The trail to ingest (kept between runs for the same day and size).
  const marker = join(DIR, `.generated-${EVENTS}-${SEED}-${START.toISOString().slice(0, 10)}`);
  if (!existsSync(marker)) {
    await rm(DIR, { recursive: true, force: true });
    const t = performance.now();
    const g = await generateTrail({ dir: DIR, events: EVENTS, seed: SEED, start: START, days: 7 });
    await writeFile(marker, JSON.stringify(g));
    console.log(`generated ${fmt(g.events)} events in ${fmt(g.files)} files (${(g.bytes / 1e6).toFixed(1)} MB gz) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  } else console.log(`reusing the trail in ${DIR}`);
  const { files } = await expandPaths([DIR]);

  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const db = await createDatabase(admin);
  const queueName = `bench-slack-${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'trailbot-bench-slack-'));
  const users = Array.from({ length: CONCURRENT }, (_, i) => `U0BENCH${String(i).padStart(3, '0')}`);
  const slack = await startSlackStandin({ usergroups: { S0BENCH: users } });
  const port = await freePort();
  const target = `http://127.0.0.1:${port}/slack/events`;
  await writeFile(join(dir, 'trailbot.config.yaml'), stringify({ slack: { trail: { allow: { usergroups: ['S0BENCH'] } } } }));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    DATABASE_URL: db.url,
    REDIS_URL,
    TRAILBOT_QUEUE_NAME: queueName,
    TRAILBOT_CONFIG: join(dir, 'trailbot.config.yaml'),
    PORT: String(port),
    LOG_LEVEL: 'warn',
    PUBLIC_URL: 'https://trailbot.example.com',
    ...slack.env(),
  };
  const config = readConfig(env, { cwd: dir });
  const procs: { child: ChildProcess; output: () => string }[] = [];
  const store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent', poolSize: 4 });
  let queue: Awaited<ReturnType<typeof openQueue>> | undefined;
  try {
    if (LAYOUT === 'all') procs.push(await serve('all', env));
    else {
      procs.push(await serve('web', env));
      procs.push(await serve('worker', { ...env, PORT: String(await freePort()), TRAILBOT_WORKER_NICE: String(WORKER_NICE) }));
    }
    queue = await openQueue(config, store);
    let n = 0;
    const command = (text: string): Promise<SentRequest> => slack.sendCommand(target, { text, user_id: users[n++ % users.length]! }, { timeoutMs: 30_000 });
    // Warm both processes (the user group is read once and cached for 5 minutes).
    for (let i = 0; i < 5; i++) await (await command('nobody-yet 24h')).responseUrl.waitForPosts(1, 30_000);

    // 0. The same bursts with nothing else running: what the ingest adds is the difference.
    const idle: number[] = [];
    for (let b = 0; b < 3; b++) {
      const sent = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => command(`user-${i} 24h writes`)));
      idle.push(...sent.map((r) => r.ms));
      await Promise.all(sent.map((r) => r.responseUrl.waitForPosts(1, 30_000)));
    }
    idle.sort((a, c) => a - c);
    console.log(`\n0. 3 bursts of ${CONCURRENT} concurrent /trail commands, nothing else running:`);
    report('idle: ack median / p99', `${ms(percentile(idle, 50))} / ${ms(percentile(idle, 99))}`, '', null);

    // 1. Acks while the worker ingests.
    console.log(`\n1. ${BURSTS} bursts of ${CONCURRENT} concurrent /trail commands while the worker ingests ${fmt(EVENTS)} events (${fmt(files.length)} files as ingest-file jobs, flows on):`);
    const before = await store.count();
    const t0 = performance.now();
    for (const f of files) await enqueue(queue, 'ingest-file', await ingestFileInput(f));
    const count = async () => (await store.count()) - before;
    while ((await count()) < EVENTS * 0.05) await sleep(100);
    const acks: number[] = [];
    const burstP99: number[] = [];
    let late = 0;
    let failed = 0;
    const during: number[] = [];
    for (let b = 0; b < BURSTS; b++) {
      const stored = await count();
      if (stored >= EVENTS) break;
      during.push(stored);
      const sent = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) => command(`user-${i} 24h writes`)));
      const these = sent.map((r) => r.ms).sort((a, c) => a - c);
      for (const r of sent) {
        acks.push(r.ms);
        if (r.late) late++;
        if (r.status !== 200 || !(r.json as { text?: string } | undefined)?.text?.startsWith('Looking up')) failed++;
      }
      burstP99.push(percentile(these, 99));
      await sleep(1500);
    }
    // The end of the ingest: its jobs done (asked of the queue, not of the growing table).
    const busy = async () => {
      const c = await queue!.counts();
      return (c.waiting ?? 0) + (c.active ?? 0);
    };
    while ((await busy()) > 0 && performance.now() - t0 < 600_000) await sleep(250);
    const ingestMs = performance.now() - t0;
    acks.sort((a, c) => a - c);
    report(`commands acked during the ingest`, `${fmt(acks.length)} in ${burstP99.length} bursts, at ${during.map((d) => `${fmt(d)}`).join(', ')} events stored`, '', null);
    report('ack median', ms(percentile(acks, 50)), '', null);
    report('ack p99', ms(percentile(acks, 99)), '< 300 ms', percentile(acks, 99) < 300);
    report('ack max (worst burst p99)', `${ms(acks.at(-1) ?? NaN)} (${ms(Math.max(...burstP99))})`, '< 3,000 ms (Slack gives up)', (acks.at(-1) ?? Infinity) < 3000);
    report('acks not "Looking up …" or late', `${failed} / ${late}`, '0', failed === 0 && late === 0);
    report('the ingest meanwhile', `${fmt(await count())} events in ${(ingestMs / 1000).toFixed(1)} s (${fmt(((await count()) / ingestMs) * 1000)} events/s)`, '', null);

    // 2. The store to TOTAL events, then answers one at a time.
    let stored = await store.count();
    if (stored < TOTAL) {
      const t = performance.now();
      await fillStore(store, generateRecords({ count: TOTAL - stored, seed: SEED + 1, start: START, days: 7 }), 5_000);
      stored = await store.count();
      console.log(`\nfilled the store to ${fmt(stored)} events in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
    await store.db.query('ANALYZE');
    // Let the flows catch up with the ingest (evaluate-flows, notify) so the answers are measured alone.
    while ((await busy()) > 0) await sleep(250);

    const who = await store.db.query<{ w: string }>(
      `(SELECT split_part(email, '@', 1) || '@' || left(split_part(email, '@', 2), 3) AS w FROM principals WHERE email IS NOT NULL ORDER BY random() LIMIT 40)
       UNION ALL (SELECT user_name FROM principals WHERE type = 'IAMUser' ORDER BY random() LIMIT 20)
       UNION ALL (SELECT session_name FROM principals WHERE type = 'AssumedRole' AND email IS NULL ORDER BY random() LIMIT 20)
       UNION ALL (SELECT access_key_id FROM access_keys ORDER BY random() LIMIT 20)`,
    );
    const names = who.rows.map((r) => r.w).filter((w) => w && !/\s/.test(w));
    const windows = ['24h', '7d', '30d'];
    console.log(`\n2. ${QUERIES} /trail commands one at a time over ${fmt(stored)} stored events (people by e-mail prefix, user name, session name, access key; 24h, 7d or 30d):`);
    const answers: number[] = [];
    const calls: number[] = [];
    let empty = 0;
    for (let i = 0; i < QUERIES + 5; i++) {
      const text = `${names[i % names.length]} ${windows[i % windows.length]}`;
      const sentAt = Date.now();
      const r = await command(text);
      const [post] = await r.responseUrl.waitForPosts(1, 30_000);
      if (i < 5) continue; // warm-up
      answers.push(post!.at - sentAt);
      const m = /\*([\d,]+)\* calls? in/.exec(JSON.stringify(post!.body));
      if (m) calls.push(Number(m[1]!.replace(/,/g, '')));
      else empty++;
    }
    answers.sort((a, c) => a - c);
    calls.sort((a, c) => a - c);
    report('answers', `${fmt(answers.length)} (${empty} with no activity in the window); calls per answer median ${fmt(percentile(calls, 50))}, max ${fmt(calls.at(-1) ?? 0)}`, '', null);
    report('command → full answer, median', ms(percentile(answers, 50)), '', null);
    report('command → full answer, p95', ms(percentile(answers, 95)), '< 1,000 ms', percentile(answers, 95) < 1000);
    report('command → full answer, max', ms(answers.at(-1) ?? NaN), '', null);
    report('stored events', fmt(stored), `≥ ${fmt(TOTAL)}`, stored >= TOTAL);
    const failedJobs = (await queue.counts()).failed ?? 0;
    report('failed jobs', fmt(failedJobs), '0', failedJobs === 0);
  } finally {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
    for (const p of procs) if (p.child.exitCode === null) await new Promise((r) => p.child.once('exit', r));
    for (const p of procs) if (/"level":(50|60)/.test(p.output())) console.log(`errors in a trailbot process:\n${p.output().split('\n').filter((l) => /"level":(50|60)/.test(l)).slice(0, 5).join('\n')}`);
    await queue?.close();
    await store.close();
    await slack.close();
    await rm(dir, { recursive: true, force: true });
    if (!KEEP) {
      await dropDatabase(admin, db.name);
      await dropQueueKeys(REDIS_URL, queueName);
    } else console.log(`kept database ${db.name} and queue ${queueName}`);
    await admin.end();
  }

  print();
}

await main();
