import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../src/actions/slack/trail/cursor.ts';
import type { RawRecord } from '../../src/events/model.ts';
import { normalize } from '../../src/events/normalize.ts';
import { type Standins, startStandins } from '../../src/integrations/aws/standins/index.ts';
import { type SentRequest, type SlackStandin, startSlackStandin } from '../../src/integrations/slack/standin/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { needRedis } from '../helpers/services.ts';
import { record } from '../helpers/fixtures.ts';
import { BASE_ACCOUNT, MIN, synthRecords } from '../sources/helpers.ts';
import { dropRedisQueue, exited, uniqueName, waitFor } from './helpers.ts';

beforeAll(needRedis);

/**
 * Issue 10's `/trail` end to end: one real `trailbot serve` (PostgreSQL store, Redis queue) behind
 * which the Slack stand-in sends correctly signed commands and clicks to POST /slack/events, and
 * records what trailbot posts to each response_url; the AWS stand-ins answer the live LookupEvents
 * fan-out. alana's calls are in the store; maria's only in CloudTrail (the lookup source's backfill
 * of one minute never reaches them, so only the live fallback finds them).
 */
const BIN = join(import.meta.dirname, '../../bin/trailbot.js');
const TEMPLATE = record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04');
const NOW = Date.now();
const ANALYST = 'U0ANALYST';
const GROUPIE = 'U0GROUPIE';

function alanaCalls(n: number): RawRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const raw = structuredClone(TEMPLATE) as RawRecord & Record<string, unknown>;
    raw.eventID = `e2e7a11a-0000-4000-8000-${String(i).padStart(12, '0')}`;
    raw.eventTime = new Date(NOW - (i + 1) * MIN).toISOString().replace(/\.\d{3}Z$/, 'Z');
    Object.assign(raw.userIdentity as Record<string, unknown>, { userName: 'alana', arn: 'arn:aws:iam::229654561268:user/alana' });
    return raw;
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

type Block = { type: string; text?: { text: string }; elements?: { value?: string; action_id?: string }[] };
const blocksOf = (m: { blocks?: unknown[] } | undefined) => (m?.blocks ?? []) as Block[];
const textOf = (m: { text?: string; blocks?: unknown[] } | undefined) => `${m?.text ?? ''}\n${JSON.stringify(m?.blocks ?? [])}`;

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let slack: SlackStandin;
let aws: Standins;
let child: ChildProcess;
let output = '';
let target = '';
const dir = mkdtempSync(join(tmpdir(), 'trailbot-slack-trail-'));
const queue = uniqueName('st');

/** Slack's deadline is 3 s; every answer to a command or click must leave well within it. */
function acked(r: SentRequest): SentRequest {
  expect(r.status).toBe(200);
  expect(r.late).toBe(false);
  expect(r.ms).toBeLessThan(3000);
  return r;
}

beforeAll(async () => {
  db = await createTestDatabase('trailbot_slack_trail');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  await store.ingest(alanaCalls(25).map((raw) => ({ event: normalize(raw), raw })));
  slack = await startSlackStandin({ usergroups: { S0ANALYSTS: [GROUPIE] } });
  aws = await startStandins({ records: synthRecords(6, { account: BASE_ACCOUNT, region: 'eu-west-1', newest: NOW - 2 * 60 * MIN, stepMs: MIN, user: 'maria', seed: 'slack-trail-maria' }) });
  const port = await freePort();
  target = `http://127.0.0.1:${port}/slack/events`;
  writeFileSync(
    join(dir, 'trailbot.config.yaml'),
    stringify({
      sources: [{ id: 'live', kind: 'lookup', regions: ['eu-west-1'], backfill: '1m', every: '1h' }],
      slack: { trail: { allow: { users: [ANALYST], usergroups: ['S0ANALYSTS'] } } },
    }),
  );
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    TRAILBOT_QUEUE_NAME: queue,
    TRAILBOT_CONFIG: join(dir, 'trailbot.config.yaml'),
    PORT: String(port),
    PUBLIC_URL: 'https://trailbot.example.com',
    LOG_LEVEL: 'info',
    ...aws.env(),
    ...slack.env(),
  };
  child = spawn(process.execPath, [BIN, 'serve'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  await waitFor('trailbot serve to start', async () => output.includes('Stop with Ctrl-C') || (child.exitCode !== null && Promise.reject(new Error(output))), 30_000, 100);
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  if (child) await exited(child);
  await store?.close();
  await slack?.close();
  await aws?.close();
  await db?.drop();
  await dropRedisQueue(queue);
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('/trail through trailbot serve', () => {
  it('acks at once, answers through the response_url, and pages with More', async () => {
    const cmd = acked(await slack.sendCommand(target, { text: 'alana', user_id: ANALYST }));
    expect(cmd.json).toMatchObject({ response_type: 'ephemeral', text: 'Looking up *alana* in the last 24 hours…' });
    const [post] = await cmd.responseUrl.waitForPosts(1, 15_000);
    expect(post!.status).toBe(200);
    const first = cmd.responseUrl.latest!;
    expect(first.responseType).toBe('ephemeral');
    expect(blocksOf(first)[0]).toMatchObject({ type: 'header', text: { text: 'Trail of alana' } });
    expect(textOf(first)).toMatch(/\*25\* calls in the last 24 hours/);
    expect(textOf(first)).toContain('*Calls 1–20 of 25*, newest first');
    expect(textOf(first)).toContain('<https://trailbot.example.com/?person=alana&amp;since=');

    const more = acked(await slack.clickButton(target, { on: cmd.responseUrl, action_id: 'trail-more' }));
    await more.responseUrl.waitForPosts(1, 15_000);
    // The page replaced the message the button was on.
    expect(cmd.responseUrl.messages).toHaveLength(1);
    expect(cmd.responseUrl.latest!.replaced).toBe(1);
    expect(textOf(cmd.responseUrl.latest)).toContain('*Calls 21–25 of 25*, newest first');
    expect(blocksOf(cmd.responseUrl.latest).some((b) => b.type === 'actions')).toBe(false);
  }, 30_000);

  it('answers usage help and help in the acknowledgement, queueing nothing', async () => {
    const bad = acked(await slack.sendCommand(target, { text: 'alana 48h', user_id: ANALYST }));
    expect((bad.json as { text: string }).text).toMatch(/^I don't know “48h”\.[\s\S]*\*Usage:\* `\/trail <who> \[24h\|7d\|30d/);
    const date = acked(await slack.sendCommand(target, { text: 'alana between 2024-08-03 and 2024-08-01', user_id: ANALYST }));
    expect((date.json as { text: string }).text).toMatch(/^2024-08-03 is after 2024-08-01: put the earlier date first/);
    const help = acked(await slack.sendCommand(target, { text: 'help', user_id: ANALYST }));
    expect((help.json as { text: string }).text).toContain('`/trail alana@corp 7d writes`');
    // Nothing was queued for them: an allowed command sent after them is answered, and they got no post.
    const next = acked(await slack.sendCommand(target, { text: 'alana 7d writes', user_id: ANALYST }));
    await next.responseUrl.waitForPosts(1, 15_000);
    expect(textOf(next.responseUrl.latest)).toMatch(/\*25\* calls in the last 7 days \(.*\), changes only/);
    for (const r of [bad, date, help]) expect(r.responseUrl.posts).toHaveLength(0);
  }, 30_000);

  it('refuses whoever is not allowed, politely and with nothing else; logs who, not what; a user group member may', async () => {
    const refused = acked(await slack.sendCommand(target, { text: 'alana 30d', user_id: 'U0STRANGER', channel_id: 'C0SECURITY' }));
    expect((refused.json as { text: string }).text).toMatch(/^Sorry, you can't use \/trail here/);
    expect(refused.text).not.toContain('alana');
    const groupie = acked(await slack.sendCommand(target, { text: 'alana 30d', user_id: GROUPIE }));
    expect((groupie.json as { text: string }).text).toBe('Looking up *alana* in the last 30 days…');
    await groupie.responseUrl.waitForPosts(1, 15_000);
    expect(textOf(groupie.responseUrl.latest)).toContain('*25* calls in the last 30 days');
    expect(refused.responseUrl.posts).toHaveLength(0);
    const line = output.split('\n').find((l) => l.includes('/trail refused'));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 'warn', userId: 'U0STRANGER', channelId: 'C0SECURITY', why: 'not-listed' });
    expect(line).not.toContain('alana');
    expect(line).not.toContain(refused.responseUrl.url);
  }, 30_000);

  it('says no activity found, naming what it searched: the store and CloudTrail live', async () => {
    const cmd = acked(await slack.sendCommand(target, { text: 'nobody@nowhere.example', user_id: ANALYST }));
    await cmd.responseUrl.waitForPosts(1, 20_000);
    expect(cmd.responseUrl.latest!.text).toBe(
      "No activity found for *nobody@nowhere.example* in the last 24 hours (searched trailbot's store: nobody by that name; and CloudTrail live: Complete: 2 account-regions answered every question).",
    );
  }, 30_000);

  it('asks CloudTrail live when the store has nothing for the window, and keeps what it found', async () => {
    expect((await store.db.query(`SELECT 1 FROM events e JOIN principals p ON p.actor_key = e.actor_key WHERE p.user_name = 'maria'`)).rowCount).toBe(0);
    const cmd = acked(await slack.sendCommand(target, { text: 'maria', user_id: ANALYST }));
    await cmd.responseUrl.waitForPosts(1, 20_000);
    const text = textOf(cmd.responseUrl.latest);
    expect(text).toContain('Trail of maria');
    expect(text).toMatch(/\*6\* calls in the last 24 hours/);
    expect(text).toContain('Asked CloudTrail live: Complete: 2 account-regions answered every question. 6 events were new');
    expect((await store.db.query(`SELECT 1 FROM events e JOIN principals p ON p.actor_key = e.actor_key WHERE p.user_name = 'maria'`)).rowCount).toBe(6);
  }, 30_000);

  it('answers a "Trail of <actor>" button on a finding message for its clicker, over 7 days', async () => {
    const click = acked(await slack.clickButton(target, { action_id: 'trail-run', value: 'alana', user_id: ANALYST }));
    await click.responseUrl.waitForPosts(1, 15_000);
    expect(click.responseUrl.latest!.responseType).toBe('ephemeral');
    expect(textOf(click.responseUrl.latest)).toMatch(/\*25\* calls in the last 7 days/);
  }, 30_000);

  it('answers a damaged More value with a short notice and nothing else', async () => {
    const good = encodeCursor({
      query: { who: 'alana', window: { kind: 'last', span: '24h' }, since: new Date(NOW - 86_400_000).toISOString(), until: new Date(NOW).toISOString(), writes: false, denied: false, console: false, live: false },
      page: 2,
      offset: 20,
      after: { time: new Date(NOW - 20 * MIN).toISOString(), eventId: 'e2e7a11a-0000-4000-8000-000000000019' },
    });
    const [prefix, body, check] = good.split('.') as [string, string, string];
    const json = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${prefix}.${Buffer.from(JSON.stringify({ ...json, w: 'omar' })).toString('base64url')}.${check}`;
    for (const value of [forged, 'not-a-cursor']) {
      const click = acked(await slack.clickButton(target, { action_id: 'trail-more', value, user_id: ANALYST }));
      await click.responseUrl.waitForPosts(1, 15_000);
      expect(click.responseUrl.latest!.text).toBe('That “More” button is damaged or was not made by trailbot, so I did not use it. Run /trail again to start over.');
    }
    // A stranger's click on a real button is refused the same way a command is.
    const stranger = acked(await slack.clickButton(target, { action_id: 'trail-more', value: good, user_id: 'U0STRANGER' }));
    await stranger.responseUrl.waitForPosts(1, 15_000);
    expect(stranger.responseUrl.latest!.text).toMatch(/^Sorry, you can't use \/trail here/);
  }, 30_000);

  it('refuses a request not signed with the app’s secret: 401, nothing run', async () => {
    const forged = await slack.sendCommand(target, { text: 'alana', user_id: ANALYST }, { secret: 'not-the-signing-secret' });
    expect(forged.status).toBe(401);
    const stale = await slack.sendCommand(target, { text: 'alana', user_id: ANALYST }, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    const ok = acked(await slack.sendCommand(target, { text: 'alana', user_id: ANALYST }));
    await ok.responseUrl.waitForPosts(1, 15_000);
    expect(forged.responseUrl.posts).toHaveLength(0);
    expect(stale.responseUrl.posts).toHaveLength(0);
    expect(output).not.toMatch(/"level":50/);
  }, 30_000);
});
