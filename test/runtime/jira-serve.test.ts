import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findingLabel } from '../../src/actions/jira/notify.ts';
import { currentTicket, type Ticket } from '../../src/actions/jira/tickets.ts';
import type { RawRecord } from '../../src/events/model.ts';
import { getFinding } from '../../src/flows/index.ts';
import { type JiraStandin, signBody, startJiraStandin } from '../../src/integrations/jira/standin/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { needRedis } from '../helpers/services.ts';
import { record } from '../helpers/fixtures.ts';
import { dropRedisQueue, exited, uniqueName, waitFor } from './helpers.ts';

beforeAll(needRedis);

/**
 * Issue 9 end to end: a real `trailbot serve` (PostgreSQL store, Redis queue) reading a folder
 * source, the real jira.js client against the Jira stand-in running in this process, and Jira's
 * signed webhooks back into the serve's /jira/webhook. CreateAccessKey calls of one person make one
 * access-key-created finding (medium: a ticket by default); each test uses its own people.
 *
 * Only settings shorten the waits: the folder is polled every second (`every: 1s`, `settle: 0s`),
 * comments are coalesced per 2 s instead of per minute (`routing.jira.commentEvery`), and a dead
 * worker's jobs are taken again after 2 s (`TRAILBOT_JOB_LOCK`).
 */
const BIN = join(import.meta.dirname, '../../bin/trailbot.js');
const SECRET = 'jira-webhook-secret-e2e-0000';
const TEMPLATE = record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04');
const T0 = Date.parse('2024-08-01T13:00:00Z');
const ISSUE_POST = { method: 'POST', path: '/rest/api/3/issue' };

let seq = 0;
/** `n` CreateAccessKey calls by `actor` (one finding per actor within a day), a second apart. */
function keyCalls(actor: string, n: number): RawRecord[] {
  const out: RawRecord[] = [];
  for (let i = 0; i < n; i++) {
    seq++;
    const raw = structuredClone(TEMPLATE) as RawRecord & Record<string, unknown>;
    raw.eventID = `e2e0${String(seq).padStart(4, '0')}-0fa4-46e6-9322-022e8e934f04`;
    raw.eventTime = new Date(T0 + seq * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    Object.assign(raw.userIdentity as Record<string, unknown>, { userName: actor, arn: `arn:aws:iam::229654561268:user/${actor}` });
    out.push(raw);
  }
  return out;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Serve {
  child: ChildProcess;
  url: string;
  out: () => string;
}

/** One trailbot deployment under test: its folder, config, database, queue and the Jira stand-in. */
class Deployment {
  dir = mkdtempSync(join(tmpdir(), 'trailbot-jira-e2e-'));
  queue = uniqueName('je2e');
  db!: Awaited<ReturnType<typeof createTestDatabase>>;
  store!: Store;
  jira!: JiraStandin;
  port = 0;
  serves: Serve[] = [];
  private files = 0;
  private routing: string;

  /** `routing`: more lines under `routing.jira:` in trailbot.config.yaml. */
  constructor(routing: string) {
    this.routing = routing;
  }

  async start(): Promise<void> {
    this.db = await createTestDatabase('trailbot_jira_e2e');
    this.port = await freePort();
    this.jira = await startJiraStandin({ indexDelayMs: 200, webhooks: [{ url: `http://127.0.0.1:${this.port}/jira/webhook`, secret: SECRET }] });
    mkdirSync(join(this.dir, 'drop'));
    mkdirSync(join(this.dir, 'staging'));
    writeFileSync(
      join(this.dir, 'trailbot.config.yaml'),
      `sources:\n  - { id: drop, kind: folder, path: ./drop, every: 1s, settle: 0s }\nrouting:\n  jira:\n    commentEvery: 2s\n${this.routing}`,
    );
  }

  /** `node bin/trailbot.js serve` with only these settings; resolves once it is up. */
  async serve(): Promise<Serve> {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'test',
      DATABASE_URL: this.db.url,
      REDIS_URL: TEST_REDIS_URL,
      TRAILBOT_QUEUE_NAME: this.queue,
      TRAILBOT_CONFIG: join(this.dir, 'trailbot.config.yaml'),
      TRAILBOT_JOB_LOCK: '2s',
      PORT: String(this.port),
      LOG_LEVEL: 'info',
      ...this.jira.env(),
    };
    const child = spawn(process.execPath, [BIN, 'serve'], { env, cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor('trailbot serve to start', async () => err.includes('Stop with Ctrl-C') || (child.exitCode !== null && Promise.reject(new Error(err))), 30_000, 100);
    if (!this.store) this.store = await openStore({ databaseUrl: this.db.url, dataDir: '/nonexistent' });
    const s = { child, url: `http://127.0.0.1:${this.port}`, out: () => out + err };
    this.serves.push(s);
    return s;
  }

  /** A trail file into the watched folder, whole at once (written aside, then renamed in). */
  drop(records: RawRecord[]): void {
    const name = `trail-${++this.files}.json`;
    writeFileSync(join(this.dir, 'staging', name), JSON.stringify({ Records: records }));
    renameSync(join(this.dir, 'staging', name), join(this.dir, 'drop', name));
  }

  /** The id of `actor`'s access-key-created finding, once the flows have raised it. */
  findingOf(actor: string): Promise<string> {
    return waitFor(`the finding of ${actor}`, async () => {
      const r = await this.store.db.query<{ id: string }>(`SELECT id FROM findings WHERE flow = 'access-key-created' AND group_key LIKE $1`, [`%${actor}%`]);
      return r.rows[0]?.id;
    }, 20_000);
  }

  ticket(findingId: string): Promise<Ticket | undefined> {
    return currentTicket(this.store.db, findingId);
  }

  /** Issues in the stand-in carrying the finding's own label. */
  issuesOf(findingId: string) {
    return this.jira.issues().filter((i) => i.labels.includes(findingLabel(findingId)));
  }

  async stop(): Promise<void> {
    for (const s of this.serves) {
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
      await exited(s.child);
    }
    await this.store?.close();
    await this.jira?.close();
    await this.db?.drop();
    await dropRedisQueue(this.queue);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const failedJobs = async (s: Serve): Promise<number> => {
  const m = /trailbot_jobs\{state="failed"\} (\d+)/.exec(await (await fetch(`${s.url}/metrics`)).text());
  return Number(m?.[1] ?? -1);
};

describe('trailbot serve with Jira (default routing: new linked ticket when closed)', () => {
  const d = new Deployment('');
  let serve: Serve;
  beforeAll(async () => {
    await d.start();
    serve = await d.serve();
  }, 60_000);
  afterAll(() => d.stop(), 30_000);

  it('a burst of 500 events for one finding: one ticket and a few comments, every event told', async () => {
    const calls = keyCalls('burst-user', 500);
    // Five waves of 100 a little over a second apart: the first opens the finding and its ticket, the rest join it.
    for (let w = 0; w < 5; w++) {
      d.drop(calls.slice(w * 100, (w + 1) * 100));
      if (w === 0) await d.findingOf('burst-user');
      else await new Promise((r) => setTimeout(r, 1100));
    }
    const findingId = await d.findingOf('burst-user');
    const t = await waitFor('every event to be told to Jira', async () => {
      const x = await d.ticket(findingId);
      return x?.state === 'created' && x.reportedCount === 500 ? x : undefined;
    }, 30_000);
    expect((await getFinding(d.store.db, findingId))?.count).toBe(500);
    const issues = d.issuesOf(findingId);
    expect(issues).toHaveLength(1);
    expect(issues[0]!.key).toBe(t.key);
    const comments = issues[0]!.comments;
    // Four later waves, gathered per 2 s: at least one comment, never one per event (or per wave more than once).
    expect(comments.length).toBeGreaterThanOrEqual(1);
    expect(comments.length).toBeLessThanOrEqual(4);
    expect(t.comments).toBe(comments.length);
    expect(d.jira.requests.filter((r) => r.method === 'POST' && r.path === '/rest/api/3/issue')).toHaveLength(1);
    expect(await failedJobs(serve)).toBe(0);
  }, 60_000);

  it('a 429 storm delays the tickets but loses none', async () => {
    const before = d.jira.requests.length;
    d.jira.faults.rateLimit({ count: 12, retryAfterSeconds: 1 });
    const people = ['storm-a', 'storm-b', 'storm-c', 'storm-d'];
    d.drop(people.flatMap((p) => keyCalls(p, 3)));
    const ids = await Promise.all(people.map((p) => d.findingOf(p)));
    await waitFor('a ticket for every finding', async () => {
      const ts = await Promise.all(ids.map((id) => d.ticket(id)));
      return ts.every((t) => t?.state === 'created');
    }, 40_000);
    const faulted = d.jira.requests.slice(before).filter((r) => r.fault === '429');
    expect(faulted.length).toBe(12); // the storm did hit trailbot's requests
    for (const id of ids) {
      const issues = d.issuesOf(id);
      expect(issues).toHaveLength(1);
      expect(issues[0]!.key).toBe((await d.ticket(id))!.key);
    }
    expect(await failedJobs(serve)).toBe(0);
  }, 60_000);

  it('a closed ticket and new activity: a new ticket that links the old one; the finding follows Jira', async () => {
    d.drop(keyCalls('closed-user', 2));
    const findingId = await d.findingOf('closed-user');
    const first = await waitFor('the ticket', async () => {
      const t = await d.ticket(findingId);
      return t?.state === 'created' ? t : undefined;
    }, 20_000);
    d.jira.closeIssue(first.key!);
    await d.jira.webhooks.settled();
    expect(d.jira.webhooks.deliveries.filter((x) => x.issueKey === first.key).every((x) => x.status === 200)).toBe(true);
    expect((await getFinding(d.store.db, findingId))?.status).toBe('resolved');
    expect(await d.ticket(findingId)).toMatchObject({ key: first.key, statusCategory: 'done' });

    d.drop(keyCalls('closed-user', 3));
    const second = await waitFor('a second ticket', async () => {
      const t = await d.ticket(findingId);
      return t && t.generation === 2 && t.state === 'created' ? t : undefined;
    }, 20_000);
    expect(second.key).not.toBe(first.key);
    expect(second.linksKey).toBe(first.key);
    expect(d.issuesOf(findingId).map((i) => i.key).sort()).toEqual([first.key, second.key].sort());
    // The link is requested after the new ticket is recorded: wait for it rather than look once.
    const linked = (): (string | undefined)[] =>
      (d.jira.issueJson(second.key!).fields as { issuelinks: { inwardIssue?: { key: string }; outwardIssue?: { key: string } }[] }).issuelinks.map((l) => l.inwardIssue?.key ?? l.outwardIssue?.key);
    await waitFor('the new ticket to link the old one', async () => (linked().includes(first.key!) ? true : undefined), 20_000);
    expect(linked()).toContain(first.key);
    expect(d.jira.issue(first.key!)!.comments).toHaveLength(0); // the closed one is left alone
    expect((await getFinding(d.store.db, findingId))?.status).toBe('open');
  }, 60_000);

  it('a tampered webhook is refused with 401 and changes nothing', async () => {
    const findingId = await d.findingOf('burst-user');
    const key = (await d.ticket(findingId))!.key!;
    // A delivery Jira really signed for this ticket, its body changed afterwards to say "Done".
    const real = d.jira.webhooks.deliveries.find((x) => x.issueKey === key)!;
    const forged = real.body.replace(/"statusCategory":\{[^}]*\}/, '"statusCategory":{"id":3,"key":"done","colorName":"green","name":"Done"}').replace('"name":"To Do"', '"name":"Done"');
    expect(forged).not.toBe(real.body);
    const ticketBefore = await d.ticket(findingId);
    const findingBefore = await getFinding(d.store.db, findingId);
    const res = await fetch(`${serve.url}/jira/webhook`, { method: 'POST', headers: { ...real.headers }, body: forged });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_UNAUTHORIZED');
    // …and one signed with a guessed secret.
    const guessed = await fetch(`${serve.url}/jira/webhook`, { method: 'POST', headers: { ...real.headers, 'x-hub-signature': signBody('not-the-secret-at-all', forged) }, body: forged });
    expect(guessed.status).toBe(401);
    expect(await d.ticket(findingId)).toEqual(ticketBefore);
    expect(await getFinding(d.store.db, findingId)).toEqual(findingBefore);
    expect(findingBefore?.status).toBe('open');
  });
});

describe('trailbot serve with Jira, routing.jira.onClosed: reopen', () => {
  const d = new Deployment('    onClosed: reopen\n');
  beforeAll(async () => {
    await d.start();
    await d.serve();
  }, 60_000);
  afterAll(() => d.stop(), 30_000);

  it('new activity on a closed ticket reopens it, with a comment; still one ticket', async () => {
    d.drop(keyCalls('reopen-user', 2));
    const findingId = await d.findingOf('reopen-user');
    const t = await waitFor('the ticket', async () => {
      const x = await d.ticket(findingId);
      return x?.state === 'created' ? x : undefined;
    }, 20_000);
    d.jira.closeIssue(t.key!);
    await d.jira.webhooks.settled();
    expect((await getFinding(d.store.db, findingId))?.status).toBe('resolved');

    d.drop(keyCalls('reopen-user', 3));
    await waitFor('the ticket to be reopened with a comment', async () => d.jira.issue(t.key!)!.comments.length === 1 && (await getFinding(d.store.db, findingId))?.status === 'open', 20_000);
    expect(d.jira.issueJson(t.key!).fields).toMatchObject({ status: { name: 'To Do' } });
    expect(d.issuesOf(findingId)).toHaveLength(1);
    expect(await d.ticket(findingId)).toMatchObject({ generation: 1, key: t.key, reportedCount: 5 });
  }, 60_000);
});

describe('trailbot serve with Jira, SIGKILLed between the create request and recording it', () => {
  const d = new Deployment('');
  beforeAll(() => d.start(), 60_000);
  afterAll(() => d.stop(), 30_000);

  it('restarted, it finds the ticket Jira made and records it: still one ticket', async () => {
    const first = await d.serve();
    // Jira carries out the create and holds its answer: the worker is killed while it waits.
    d.jira.faults.hold({ ms: 60_000, match: ISSUE_POST });
    d.drop(keyCalls('crash-user', 2));
    await waitFor('the create request to be carried out and held', async () => d.jira.faults.holding === 1, 20_000);
    first.child.kill('SIGKILL');
    await exited(first.child);
    d.jira.faults.clear();
    expect(d.jira.issues()).toHaveLength(1);
    const findingId = await d.findingOf('crash-user');
    expect(await d.ticket(findingId)).toMatchObject({ state: 'intent', attempts: 1, key: null });

    const second = await d.serve();
    const t = await waitFor('the ticket to be recorded', async () => {
      const x = await d.ticket(findingId);
      return x?.state === 'created' ? x : undefined;
    }, 30_000);
    expect(t.key).toBe(d.jira.issues()[0]!.key);
    expect(d.issuesOf(findingId)).toHaveLength(1);
    expect(d.jira.requests.filter((r) => r.method === 'POST' && r.path === '/rest/api/3/issue')).toHaveLength(1);
    // The log line reaches the child's output a moment after the record reaches the database.
    await waitFor('the log line', async () => (second.out().includes('found by its label after an interrupted create') ? true : undefined), 10_000);
    expect(await failedJobs(second)).toBe(0);
  }, 60_000);
});
