import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { messageOf, type SlackMessageRow } from '../../src/actions/slack/messages.ts';
import { FINDING_EVENT, REPLY_EVENT } from '../../src/actions/slack/notify.ts';
import type { RawRecord } from '../../src/events/model.ts';
import { listen } from '../../src/integrations/aws/standins/shared.ts';
import { type JiraStandin, startJiraStandin } from '../../src/integrations/jira/standin/index.ts';
import { createSlackService, type SlackService, type StoredMessage } from '../../src/integrations/slack/standin/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { needRedis } from '../helpers/services.ts';
import { record } from '../helpers/fixtures.ts';
import { dropRedisQueue, exited, uniqueName, waitFor } from './helpers.ts';

beforeAll(needRedis);

/**
 * Issue 10 end to end: a real `trailbot serve` (PostgreSQL store, Redis queue) reading a folder
 * source, posting findings through the real @slack/web-api client to the Slack stand-in running in
 * this process (and filing tickets with the Jira stand-in, whose key the message's "Open ticket"
 * button gets once the ticket exists). CreateAccessKey calls of one person make one
 * access-key-created finding (medium: posted with `routing.slack.channel`); each test uses its own people.
 *
 * Only settings shorten the waits: the folder is polled every second, thread replies are coalesced
 * per 2 s instead of per minute (`routing.slack.replyEvery`), and a dead worker's jobs are taken again
 * after 2 s (`TRAILBOT_JOB_LOCK`). The stand-in is served through a wrapper that can carry out a
 * chat.postMessage and hold its answer: the moment to SIGKILL a worker between the post and its record.
 */
const BIN = join(import.meta.dirname, '../../bin/trailbot.js');
const TEMPLATE = record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04');
const T0 = Date.parse('2024-08-01T13:00:00Z');

let seq = 0;
function keyCalls(actor: string, n: number): RawRecord[] {
  const out: RawRecord[] = [];
  for (let i = 0; i < n; i++) {
    seq++;
    const raw = structuredClone(TEMPLATE) as RawRecord & Record<string, unknown>;
    raw.eventID = `51ac${String(seq).padStart(4, '0')}-0fa4-46e6-9322-022e8e934f04`;
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

/** One deployment under test: its folder, config, database, queue and the Slack stand-in. */
class Deployment {
  dir = mkdtempSync(join(tmpdir(), 'trailbot-slack-e2e-'));
  queue = uniqueName('se2e');
  db!: Awaited<ReturnType<typeof createTestDatabase>>;
  store!: Store;
  slack: SlackService = createSlackService();
  slackUrl = '';
  jira!: JiraStandin;
  port = 0;
  serves: Serve[] = [];
  /** Armed: the next first-message post is carried out and its answer held until released. */
  private holdNext = false;
  held = 0;
  private release: () => void = () => undefined;
  private released = new Promise<void>((r) => (this.release = r));
  private closeSlack: () => Promise<void> = async () => undefined;
  private files = 0;

  async start(): Promise<void> {
    this.db = await createTestDatabase('trailbot_slack_e2e');
    this.jira = await startJiraStandin({ indexDelayMs: 0 });
    this.port = await freePort();
    const l = await listen(async (req) => {
      const first = this.holdNext && new URL(req.url).pathname === '/api/chat.postMessage' && (await req.clone().text()).includes(FINDING_EVENT);
      const res = await this.slack.app.fetch(req);
      if (first && this.holdNext) {
        this.holdNext = false;
        this.held++;
        await this.released;
      }
      return res;
    });
    this.slack.baseUrl = l.url;
    this.slackUrl = l.url;
    this.closeSlack = l.close;
    mkdirSync(join(this.dir, 'drop'));
    mkdirSync(join(this.dir, 'staging'));
    writeFileSync(
      join(this.dir, 'trailbot.config.yaml'),
      'sources:\n  - { id: drop, kind: folder, path: ./drop, every: 1s, settle: 0s }\nrouting:\n  slack: { channel: "#security", replyEvery: 2s }\n',
    );
  }

  holdNextPost(): void {
    this.holdNext = true;
  }

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
      SLACK_API_URL: `${this.slackUrl}/api`,
      SLACK_BOT_TOKEN: this.slack.token,
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

  drop(records: RawRecord[]): void {
    const name = `trail-${++this.files}.json`;
    writeFileSync(join(this.dir, 'staging', name), JSON.stringify({ Records: records }));
    renameSync(join(this.dir, 'staging', name), join(this.dir, 'drop', name));
  }

  findingOf(actor: string): Promise<string> {
    return waitFor(`the finding of ${actor}`, async () => {
      const r = await this.store.db.query<{ id: string }>(`SELECT id FROM findings WHERE flow = 'access-key-created' AND group_key LIKE $1`, [`%${actor}%`]);
      return r.rows[0]?.id;
    }, 20_000);
  }

  message(findingId: string): Promise<SlackMessageRow | undefined> {
    return messageOf(this.store.db, findingId);
  }

  /** The finding's top-level messages in #security. */
  posted(findingId: string): StoredMessage[] {
    return (this.slack.channels.get('security')?.messages ?? []).filter((m) => m.metadata?.event_type === FINDING_EVENT && m.metadata.event_payload.finding_id === findingId);
  }

  async stop(): Promise<void> {
    this.release();
    for (const s of this.serves) {
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
      await exited(s.child);
    }
    await this.store?.close();
    await this.closeSlack();
    await this.jira?.close();
    await this.db?.drop();
    await dropRedisQueue(this.queue);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const metric = async (s: Serve, re: RegExp): Promise<number> => Number(re.exec(await (await fetch(`${s.url}/metrics`)).text())?.[1] ?? -1);

describe('trailbot serve with Slack', () => {
  const d = new Deployment();
  let serve: Serve;
  beforeAll(async () => {
    await d.start();
    serve = await d.serve();
  }, 60_000);
  afterAll(() => d.stop(), 30_000);

  it('a burst of 300 events for one finding: one message, a few thread replies at least 2 s apart, every event told', async () => {
    const calls = keyCalls('burst-user', 300);
    // Three waves a little over a second apart: the first opens the finding and its message, the rest join it.
    for (let w = 0; w < 3; w++) {
      d.drop(calls.slice(w * 100, (w + 1) * 100));
      if (w === 0) await d.findingOf('burst-user');
      else await new Promise((r) => setTimeout(r, 1100));
    }
    const findingId = await d.findingOf('burst-user');
    const m = await waitFor('every event to be told in Slack', async () => {
      const x = await d.message(findingId);
      return x?.state === 'posted' && x.reportedCount === 300 ? x : undefined;
    }, 30_000);
    const [first, ...others] = d.posted(findingId);
    expect(others).toEqual([]);
    expect(first!.ts).toBe(m.ts);
    const replies = d.slack.channels.get('security')!.thread(m.ts!);
    expect(replies.length).toBeGreaterThanOrEqual(1);
    expect(replies.length).toBeLessThanOrEqual(3);
    expect(replies.every((r) => r.metadata?.event_type === REPLY_EVENT)).toBe(true);
    // Each reply says "N more events … (T in all)": every reply takes up where the one before (or the
    // first message) left off, and the last brings the thread to all 300: none lost, none told twice.
    const counts = replies.map((r) => {
      const x = /^\*(\d+) more events?\*, newest [^(]+\((\d+) in all\)/.exec((r.blocks as { text: { text: string } }[])[0]!.text.text)!;
      return { n: Number(x[1]), total: Number(x[2]) };
    });
    expect(counts[0]!.total - counts[0]!.n).toBeGreaterThanOrEqual(1); // what the first message told
    for (let i = 1; i < counts.length; i++) expect(counts[i]!.total - counts[i]!.n).toBe(counts[i - 1]!.total);
    expect(counts.at(-1)!.total).toBe(300);
    expect(Number(replies.at(-1)!.metadata!.event_payload.upto)).toBe(300);
    for (let i = 1; i < replies.length; i++) expect(Number(replies[i]!.ts) - Number(replies[i - 1]!.ts)).toBeGreaterThanOrEqual(1.99);
    expect(m.replies).toBe(replies.length);
    // The finding's Jira ticket came after the message: the message was updated to open it.
    const key = await waitFor('the ticket', async () => (await d.store.db.query<{ jira_key: string | null }>('SELECT jira_key FROM tickets WHERE finding_id = $1', [findingId])).rows[0]?.jira_key, 20_000);
    const button = await waitFor('the Open ticket button', async () => {
      const blocks = d.slack.channels.get('security')!.messages.find((x) => x.ts === m.ts)!.blocks as { type: string; elements?: { action_id: string; url?: string; text: { text: string } }[] }[];
      return blocks.at(-1)!.elements!.find((b) => b.action_id === 'open-ticket');
    }, 20_000);
    expect(button).toMatchObject({ text: { text: `Open ticket ${key}` }, url: `${d.jira.url}/browse/${key}` });
    expect(d.posted(findingId)).toHaveLength(1);
    expect(await metric(serve, /trailbot_slack_messages_total\{action="posted"\} (\d+)/)).toBeGreaterThanOrEqual(1);
    expect(await metric(serve, /trailbot_jobs\{state="failed"\} (\d+)/)).toBe(0);
  }, 60_000);

  it("a 429 storm delays the messages but loses none and doubles none (Slack's Retry-After honoured)", async () => {
    const before = d.slack.requests.length;
    d.slack.faults.rateLimit({ count: 8, retryAfterSeconds: 1, method: 'chat.postMessage' });
    const people = ['storm-a', 'storm-b', 'storm-c', 'storm-d'];
    d.drop(people.flatMap((p) => keyCalls(p, 2)));
    const ids = await Promise.all(people.map((p) => d.findingOf(p)));
    await waitFor('a message for every finding', async () => (await Promise.all(ids.map((id) => d.message(id)))).every((m) => m?.state === 'posted'), 40_000);
    expect(d.slack.requests.slice(before).filter((r) => r.fault === '429')).toHaveLength(8);
    for (const id of ids) {
      expect(d.posted(id)).toHaveLength(1);
      expect(d.posted(id)[0]!.ts).toBe((await d.message(id))!.ts);
    }
    expect(await metric(serve, /trailbot_jobs\{state="failed"\} (\d+)/)).toBe(0);
  }, 60_000);

  it('SIGKILLed between the post and recording it, then restarted: the message is found by its metadata, still one', async () => {
    // Slack carries out the post and holds its answer: the worker is killed while it waits.
    d.holdNextPost();
    d.drop(keyCalls('crash-user', 2));
    const findingId = await d.findingOf('crash-user');
    await waitFor('the post to be carried out and held', async () => d.held === 1 && d.posted(findingId).length === 1, 20_000);
    serve.child.kill('SIGKILL');
    await exited(serve.child);
    expect(await d.message(findingId)).toMatchObject({ state: 'intent', attempts: 1, ts: null });

    const second = await d.serve();
    const m = await waitFor('the message to be recorded', async () => {
      const x = await d.message(findingId);
      return x?.state === 'posted' ? x : undefined;
    }, 30_000);
    expect(d.posted(findingId)).toHaveLength(1);
    expect(m.ts).toBe(d.posted(findingId)[0]!.ts);
    // The log line reaches the child's output a moment after the record reaches the database.
    await waitFor('the log line', async () => (second.out().includes('found by its metadata after an interrupted post') ? true : undefined), 10_000);
    expect(await metric(second, /trailbot_jobs\{state="failed"\} (\d+)/)).toBe(0);
  }, 60_000);
});
