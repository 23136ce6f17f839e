import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openBullQueue } from '../../src/runtime/bullmq.ts';
import { enqueue } from '../../src/runtime/enqueue.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { needRedis } from '../helpers/services.ts';
import { dropRedisQueue, exited, uniqueName, waitFor } from './helpers.ts';

beforeAll(needRedis);

/** The real command line, in a real process, with only the environment given here. */
const BIN = join(import.meta.dirname, '../../bin/trailbot.js');
const BASE_ENV = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test' };

interface Run {
  child: ChildProcess;
  out: () => string;
  err: () => string;
}

function run(args: string[], env: Record<string, string>, cwd: string): Run {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...BASE_ENV, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { child, out: () => out, err: () => err };
}

/** How a run ended, for an assertion's message: the signal that ended it, if one did, and its output's tail. */
function ended(r: Run): string {
  return `ended by ${r.child.signalCode ?? `exit ${r.child.exitCode}`}\nstderr: ${r.err().slice(-2000)}\nstdout: ${r.out().slice(-2000)}`;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'trailbot-serve-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('npm start on embedded defaults', () => {
  it('ingests the sample trail, serves it, stops on SIGTERM, and adds nothing on the second start', async () => {
    const cwd = tmp();
    const port = await freePort();
    const env = { PORT: String(port), TRAILBOT_DATA_DIR: join(cwd, 'data') };
    const first = run(['serve', '--sample'], env, cwd);
    await waitFor('the first start', async () => first.err().includes('Stop with Ctrl-C') || (first.child.exitCode !== null && Promise.reject(new Error(first.err()))), 150_000, 100);
    expect(first.err()).toMatch(/trailbot is running at http:\/\/localhost:\d+ \(role all; store: embedded, in .*data; jobs: inline/);
    const added = /Sample trail: ingested (\d+) new events .* The store holds (\d+) events/.exec(first.err());
    expect(added, first.err()).not.toBeNull();
    expect(Number(added![1])).toBeGreaterThan(200);
    expect(added![1]).toBe(added![2]);

    const who = /\/api\/trail\?who=([^&]+)&since=2010-01-01 {3}what (.+) did \((\d+) events\)/.exec(first.err());
    expect(who).not.toBeNull();
    const trail = (await (await fetch(`http://127.0.0.1:${port}/api/trail?who=${who![1]}&since=2010-01-01&limit=1000`)).json()) as { events: unknown[] };
    expect(trail.events).toHaveLength(Number(who![3]));
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toContain(`trailbot_events_ingested_total{source="files"} ${added![1]}`);
    // One ingest job, then the flows over its new events: findings raised through the queue.
    expect(metrics).toContain('trailbot_jobs{state="failed"} 0');
    expect(metrics).toMatch(/trailbot_jobs_processed_total\{kind="evaluate-flows",outcome="completed"\} [1-9]/);
    const flows = /Flows: (\d+) findings/.exec(first.err());
    expect(flows, first.err()).not.toBeNull();
    expect(Number(flows![1])).toBeGreaterThan(0);
    // The dashboard on the same server: its findings page lists them, and says it answers this machine only.
    const page = await fetch(`http://127.0.0.1:${port}/findings`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<h1>Findings and tickets</h1>');
    expect(html).toContain('this machine (localhost) only');
    // (Handlebars writes the URL's `=` as `&#x3D;` inside the attribute; a browser reads it back as `=`.)
    expect(html.match(/href="\/\?finding(=|&#x3D;)/g)?.length ?? 0).toBe(Math.min(50, Number(flows![1])));

    first.child.kill('SIGTERM');
    expect(await exited(first.child), ended(first)).toBe(0);
    const logs = first.out().trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: string });
    expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['trailbot started', 'signal received', 'stopped']));

    const second = run(['serve', '--sample'], env, cwd);
    await waitFor('the second start', async () => second.err().includes('Stop with Ctrl-C') || (second.child.exitCode !== null && Promise.reject(new Error(second.err()))), 150_000, 100);
    expect(second.err()).toContain(`Sample trail: already ingested`);
    expect(second.err()).toContain(`nothing added. The store holds ${added![2]} events.`);
    expect(second.err()).toContain(`Flows: ${flows![1]} findings`); // and no finding doubled
    second.child.kill('SIGTERM');
    expect(await exited(second.child), ended(second)).toBe(0);
  }, 330_000); // generous: on a loaded two-core machine the first start (sample ingest and flows) took 60 s
});

describe('trailbot serve --role worker on Redis', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const queueName = uniqueName('serve');
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await dropRedisQueue(queueName);
    await db?.drop();
  });

  it('finishes the job in hand on SIGTERM, exits 0, and logs no secrets', async () => {
    const cwd = tmp();
    const secrets = {
      SLACK_SIGNING_SECRET: 'slack-signing-secret-value',
      SLACK_BOT_TOKEN: 'xoxb-0000-bot-token-value',
      APPROVAL_SECRET: 'approval-secret-approval-secret-value',
      JIRA_BASE_URL: 'https://corp.atlassian.net',
      JIRA_EMAIL: 'bot@corp.example',
      JIRA_API_TOKEN: 'jira-api-token-value',
      JIRA_PROJECT: 'SEC',
    };
    // PostgreSQL here trusts local connections, so the password is carried but never checked.
    const dbUrl = new URL(db.url);
    dbUrl.username = 'postgres';
    dbUrl.password = 'database-password-value';
    const env = { ...secrets, DATABASE_URL: dbUrl.toString(), REDIS_URL: TEST_REDIS_URL, TRAILBOT_QUEUE_NAME: queueName, PORT: String(await freePort()), LOG_LEVEL: 'debug' };
    const worker = run(['serve', '--role', 'worker'], env, cwd);
    await waitFor('the worker to start', async () => worker.err().includes('Stop with Ctrl-C') || (worker.child.exitCode !== null && Promise.reject(new Error(worker.err()))), 30_000, 100);

    const queue = await openBullQueue(queueName, { kind: 'redis', url: TEST_REDIS_URL });
    try {
      const { id } = await enqueue(queue, 'probe', { ms: 1500, note: 'in hand at SIGTERM' });
      await waitFor('the worker to take the job', async () => (await queue.get(id))?.state === 'active', 10_000);
      worker.child.kill('SIGTERM');
      expect(await exited(worker.child)).toBe(0);
      const job = await queue.get(id);
      expect(job?.state).toBe('completed');
      expect(job?.returnValue).toEqual({ ok: true, note: 'in hand at SIGTERM' });
    } finally {
      await queue.close();
    }
    const output = worker.out() + worker.err();
    expect(output).toContain('effective configuration'); // the debug line with the whole config is there...
    for (const s of [...Object.values(secrets).filter((v) => v.includes('value')), 'database-password-value']) expect(output).not.toContain(s); // ...masked
  }, 60_000);
});

describe('trailbot config', () => {
  it('check exits 2 listing every wrong key; print masks secrets', async () => {
    const cwd = tmp();
    const bad = run(['config', 'check'], { PORT: 'x', REDIS_URL: 'http://nope', APPROVAL_SECRET: 'tiny-secret' }, cwd);
    expect(await exited(bad.child)).toBe(2);
    expect(bad.err()).toMatch(/^trailbot: E_CONFIG_INVALID: 3 settings are wrong:\n {2}REDIS_URL: .*\n.*\n {2}PORT: .*\n.*\n {2}APPROVAL_SECRET: /);
    expect(bad.err()).not.toContain('tiny-secret');

    const good = run(['config', 'print', '--json'], { APPROVAL_SECRET: 'a-real-approval-secret-of-enough-length' }, cwd);
    expect(await exited(good.child)).toBe(0);
    const printed = JSON.parse(good.out()) as { approvalSecret: string; queue: { backend: string } };
    expect(printed.approvalSecret).toBe('*** (set)');
    expect(printed.queue.backend).toBe('inline');

    const role = run(['serve', '--role', 'web'], { TRAILBOT_DATA_DIR: join(cwd, 'd') }, cwd);
    expect(await exited(role.child)).toBe(2);
    expect(role.err()).toContain('E_USAGE: --role web needs a shared queue');
  });
});
