import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/db.ts';
import { waitFor } from '../../../../test/helpers/wait.ts';
import { createSlackEvents } from '../../../http/slack-events.ts';
import { createResponder } from '../../../integrations/slack/client.ts';
import { slackSignedHeaders } from '../../../integrations/slack/signature.ts';
import { type SlackStandin, startSlackStandin } from '../../../integrations/slack/standin/index.ts';
import { openInlineQueue } from '../../../runtime/inline.ts';
import type { JobPayload } from '../../../runtime/jobs.ts';
import { createLogger } from '../../../runtime/logger.ts';
import type { JobQueue } from '../../../runtime/queue.ts';
import { openStore, type Store } from '../../../store/index.ts';
import { trailAccess, type TrailAllow } from './access.ts';
import { registerTrail } from './listeners.ts';

/**
 * The /trail listeners on the real Bolt App behind POST /slack/events (src/http/slack-events.ts),
 * requests signed as Slack signs them, jobs queued on a real (inline, PostgreSQL) queue: what is
 * answered in the ack, what is queued, and what a web process without a bot token does with user groups.
 */
const SECRET = 'listeners-test-signing-secret-0123';
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let slack: SlackStandin;
const lines: string[] = [];
const log = createLogger({ level: 'info', destination: new Writable({ write: (c: Buffer, _e, done) => {
      lines.push(c.toString());
      done();
    } }) });

beforeAll(async () => {
  db = await createTestDatabase('trailbot_trail_listeners');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  slack = await startSlackStandin();
});
afterAll(async () => {
  await store?.close();
  await slack?.close();
  await db?.drop();
});

let n = 0;
/** A route with the listeners registered; `slackClient`: whether this process can read user groups. */
function web(allow: TrailAllow, queue: JobQueue, o: { usergroups?: Record<string, string[]> } = {}) {
  const { bolt, route } = createSlackEvents({ signingSecret: SECRET, log });
  const reader = o.usergroups ? { usergroupMembers: async (id: string) => o.usergroups![id] ?? [] } : undefined;
  registerTrail(bolt, { queue, log, access: trailAccess({ allow, slack: reader }), respond: createResponder({ apiUrl: `${slack.url}/api` }) });
  const send = async (form: Record<string, string>) => {
    const body = new URLSearchParams(form).toString();
    const res = await route.request('/events', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...slackSignedHeaders(SECRET, body) }, body });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as { text?: string; response_type?: string }) : undefined };
  };
  return {
    command: (text: string, user: string, channel = 'C0RANDOM') => {
      const url = slack.responseUrl({ userId: user, channelId: channel });
      return send({ command: '/trail', text, user_id: user, channel_id: channel, response_url: url.url, team_id: 'T0', trigger_id: `t${n++}` }).then((r) => ({ ...r, url }));
    },
    click: (action_id: string, value: string, user: string) => {
      const url = slack.responseUrl({ userId: user });
      const payload = { type: 'block_actions', user: { id: user }, channel: { id: 'C0RANDOM' }, container: { type: 'message', channel_id: 'C0RANDOM' }, response_url: url.url, trigger_id: `t${n++}`, team: { id: 'T0' }, actions: [{ type: 'button', action_id, block_id: 'b', value, action_ts: '1' }] };
      return send({ payload: JSON.stringify(payload) }).then((r) => ({ ...r, url }));
    },
  };
}

let queue: JobQueue;
let qn = 0;
beforeEach(() => {
  queue = openInlineQueue(store.db, `listeners${qn++}`);
  lines.length = 0;
});
const jobsNow = async () => (await queue.list('waiting', 100)).map((j) => j.data as JobPayload<'slack-trail'>);
/** The jobs queued, once `n` are there (the listener queues right after its ack has left). */
const queued = async (n = 0) => {
  await waitFor(`${n} queued jobs`, async () => (await jobsNow()).length >= n, 5000, 20);
  return jobsNow();
};

describe('/trail listeners', () => {
  it('acks "Looking up …" and queues the answer for an allowed user; refuses the others in the ack, queueing nothing', async () => {
    const w = web({ users: ['U0ANALYST'], usergroups: [], channels: ['C0SECURITY'] }, queue);
    const ok = await w.command('alana@corp 7d writes', 'U0ANALYST');
    expect(ok).toMatchObject({ status: 200, json: { response_type: 'ephemeral', text: 'Looking up *alana@corp* in the last 7 days (changes only)…' } });
    const inChannel = await w.command('alana@corp', 'U0VISITOR', 'C0SECURITY');
    expect(inChannel.json?.text).toBe('Looking up *alana@corp* in the last 24 hours…');
    const no = await w.command('alana@corp 7d', 'U0STRANGER');
    expect(no.json?.text).toMatch(/^Sorry, you can't use \/trail here/);
    const jobs = (await queued(2)).sort((x, y) => x.userId.localeCompare(y.userId));
    expect(jobs.map((j) => [j.userId, j.channelId, j.answer.kind, j.responseUrl])).toEqual([
      ['U0ANALYST', 'C0RANDOM', 'page', ok.url.url],
      ['U0VISITOR', 'C0SECURITY', 'page', inChannel.url.url],
    ]);
    expect(jobs[0]!.answer).toMatchObject({ kind: 'page', page: 1, query: { who: 'alana@corp', window: { kind: 'last', span: '7d' }, writes: true } });
    const refusal = lines.find((l) => l.includes('/trail refused'))!;
    expect(JSON.parse(refusal)).toMatchObject({ userId: 'U0STRANGER', channelId: 'C0RANDOM', why: 'not-listed' });
    expect(refusal).not.toContain('alana');
    expect(refusal).not.toContain(no.url.url);
  });

  it('nobody may without an allow-list, whatever they type', async () => {
    const w = web({ users: [], usergroups: [], channels: [] }, queue);
    for (const text of ['alana', 'help', '']) expect((await w.command(text, 'U0ANALYST')).json?.text).toMatch(/^Sorry, \/trail is not open to anyone yet/);
    expect(await queued()).toEqual([]);
  });

  it('without a bot token here, leaves user groups to the worker: queued, checked there', async () => {
    const w = web({ users: [], usergroups: ['S0ANALYSTS'], channels: [] }, queue);
    expect((await w.command('alana', 'U0GROUPIE')).json?.text).toBe('Looking up *alana* in the last 24 hours…');
    expect((await queued(1)).map((j) => j.userId)).toEqual(['U0GROUPIE']);
    // With a client, the web decides at once.
    const withClient = web({ users: [], usergroups: ['S0ANALYSTS'], channels: [] }, queue, { usergroups: { S0ANALYSTS: ['U0GROUPIE'] } });
    expect((await withClient.command('alana', 'U0GROUPIE')).json?.text).toBe('Looking up *alana* in the last 24 hours…');
    expect((await withClient.command('alana', 'U0STRANGER')).json?.text).toMatch(/^Sorry, you can't use \/trail here/);
    expect((await queued(2)).map((j) => j.userId)).toEqual(['U0GROUPIE', 'U0GROUPIE']);
  });

  it('answers help and usage in the ack, queueing nothing', async () => {
    const w = web({ users: ['U0ANALYST'], usergroups: [], channels: [] }, queue);
    expect((await w.command('help', 'U0ANALYST')).json?.text).toMatch(/^\*\/trail\* shows what someone did in AWS/);
    expect((await w.command('alana since 2024-02-30', 'U0ANALYST')).json?.text).toMatch(/^“2024-02-30” is not a date/);
    expect(await queued()).toEqual([]);
  });

  it('tells the person through the response_url when the queue cannot take the answer', async () => {
    // A queue whose database has gone away.
    const gone = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
    const broken = openInlineQueue(gone.db, 'listeners-gone');
    await gone.close();
    const w = web({ users: ['U0ANALYST'], usergroups: [], channels: [] }, broken);
    const r = await w.command('alana', 'U0ANALYST');
    expect(r.json?.text).toBe('Looking up *alana* in the last 24 hours…');
    await r.url.waitForPosts(1);
    expect(r.url.latest!.text).toBe('Sorry, trailbot could not take that just now. Please try again in a minute.');
    expect(lines.some((l) => l.includes('could not queue a /trail answer'))).toBe(true);
  });

  it('queues More pages, notices for damaged values, and Trail of <actor> over 7 days', async () => {
    const w = web({ users: ['U0ANALYST'], usergroups: [], channels: [] }, queue);
    expect((await w.click('trail-more', 'tampered', 'U0ANALYST')).status).toBe(200);
    expect((await w.click('trail-run', 'alana@corp', 'U0ANALYST')).status).toBe(200);
    expect((await w.click('trail-run', 'two words', 'U0ANALYST')).status).toBe(200);
    expect((await w.click('trail-run', 'alana@corp', 'U0STRANGER')).status).toBe(200);
    const jobs = await queued(4);
    const what = jobs.map((j) => `${j.userId} ${j.answer.kind === 'notice' ? j.answer.notice : `${j.answer.query.who} ${j.answer.query.window.kind === 'last' ? j.answer.query.window.span : ''}`}`);
    expect(what.sort()).toEqual(['U0ANALYST alana@corp 7d', 'U0ANALYST damaged', 'U0ANALYST damaged', 'U0STRANGER refused']);
  });
});
