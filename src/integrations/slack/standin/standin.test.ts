import { Hono } from 'hono';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { ErrorCode, WebClient, type WebAPIPlatformError, type WebAPIRateLimitedError } from '@slack/web-api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifySlackSignature } from '../signature.ts';
import { BLOCK_LIMITS, blocksProblem, type SlackStandin, startSlackStandin } from './index.ts';
import { parseCliArgs, runCli } from './cli.ts';

let slack: SlackStandin;
let web: WebClient;

beforeAll(async () => {
  slack = await startSlackStandin({ usergroups: { S0ANALYSTS: ['U0ANALYST', 'U0SAM'] } });
  web = new WebClient(slack.token, { slackApiUrl: `${slack.env().SLACK_API_URL}/`, retryConfig: { retries: 0 }, rejectRateLimitedCalls: true });
});
afterAll(async () => {
  await slack?.close();
});
beforeEach(() => {
  slack.faults.clear();
});

/** The Slack error code a WebClient call failed with. */
async function slackError(p: Promise<unknown>): Promise<{ error: string; data: Record<string, unknown> }> {
  const e = await p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (x: unknown) => x,
  );
  expect((e as { code?: string }).code).toBe(ErrorCode.PlatformError);
  const data = (e as WebAPIPlatformError).data as unknown as Record<string, unknown>;
  return { error: String(data.error), data };
}

const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });

describe("the Web API, driven by @slack/web-api's WebClient", () => {
  it('auth.test names the team and the bot', async () => {
    const r = await web.auth.test();
    expect(r).toMatchObject({ ok: true, team_id: 'T0STANDIN', user_id: 'U0TRAILBOT', bot_id: 'B0TRAILBOT' });
  });

  it('a wrong token is invalid_auth; none is not_authed; a revoked one token_revoked; a missing scope names it', async () => {
    expect((await slackError(new WebClient('xoxb-wrong', { slackApiUrl: `${slack.url}/api/`, retryConfig: { retries: 0 } }).auth.test())).error).toBe('invalid_auth');
    expect((await slackError(new WebClient(undefined, { slackApiUrl: `${slack.url}/api/`, retryConfig: { retries: 0 } }).auth.test())).error).toBe('not_authed');
    const narrow = await startSlackStandin({ scopes: ['chat:write'] });
    try {
      const w = new WebClient(narrow.token, { slackApiUrl: `${narrow.url}/api/`, retryConfig: { retries: 0 } });
      const e = await slackError(w.usergroups.users.list({ usergroup: 'S1' }));
      expect(e).toMatchObject({ error: 'missing_scope', data: { needed: 'usergroups:read' } });
      narrow.revokeToken();
      expect((await slackError(w.auth.test())).error).toBe('token_revoked');
    } finally {
      await narrow.close();
    }
  });

  it('chat.postMessage by id or #name answers the channel id and ts; replies go into the thread; metadata comes back from history only when asked', async () => {
    const ch = slack.channels.create('alerts-1');
    const first = await web.chat.postMessage({ channel: '#alerts-1', text: 'DeleteUser by alana', blocks: [section('*DeleteUser* by alana')], metadata: { event_type: 'trailbot_finding', event_payload: { findingId: 'f-1' } } });
    expect(first).toMatchObject({ ok: true, channel: ch.id });
    expect(first.ts).toMatch(/^\d+\.\d{6}$/);
    const reply = await web.chat.postMessage({ channel: ch.id, thread_ts: first.ts!, text: '2 more events', metadata: { event_type: 'trailbot_finding_reply', event_payload: { findingId: 'f-1', n: '2' } } });
    expect(ch.messages).toHaveLength(1);
    expect(ch.thread(first.ts!).map((m) => m.text)).toEqual(['2 more events']);
    expect(ch.thread(first.ts!)[0]!.thread_ts).toBe(first.ts);

    const plain = await web.conversations.history({ channel: ch.id });
    expect(plain.messages?.map((m) => m.ts)).toEqual([first.ts]);
    expect(plain.messages?.[0]).not.toHaveProperty('metadata');
    expect(plain.messages?.[0]).toMatchObject({ reply_count: 1, thread_ts: first.ts });
    const meta = await web.conversations.history({ channel: ch.id, include_all_metadata: true });
    expect(meta.messages?.[0]?.metadata).toEqual({ event_type: 'trailbot_finding', event_payload: { findingId: 'f-1' } });
    const thread = await web.conversations.replies({ channel: ch.id, ts: first.ts!, include_all_metadata: true });
    expect(thread.messages?.map((m) => [m.ts, m.metadata?.event_type])).toEqual([
      [first.ts, 'trailbot_finding'],
      [reply.ts, 'trailbot_finding_reply'],
    ]);
  });

  it('conversations.history pages newest first with limit and cursor, and honours oldest', async () => {
    const ch = slack.channels.create('paging');
    const ts: string[] = [];
    for (let i = 0; i < 5; i++) ts.push((await web.chat.postMessage({ channel: ch.id, text: `m${i}` })).ts!);
    const p1 = await web.conversations.history({ channel: ch.id, limit: 2 });
    expect(p1.messages?.map((m) => m.text)).toEqual(['m4', 'm3']);
    expect(p1.has_more).toBe(true);
    const p2 = await web.conversations.history({ channel: ch.id, limit: 2, cursor: p1.response_metadata!.next_cursor! });
    expect(p2.messages?.map((m) => m.text)).toEqual(['m2', 'm1']);
    const p3 = await web.conversations.history({ channel: ch.id, limit: 2, cursor: p2.response_metadata!.next_cursor! });
    expect(p3.messages?.map((m) => m.text)).toEqual(['m0']);
    expect(p3.has_more).toBe(false);
    expect((await web.conversations.history({ channel: ch.id, oldest: ts[2] })).messages?.map((m) => m.text)).toEqual(['m4', 'm3']);
  });

  it('chat.update replaces text and blocks of a message the bot posted', async () => {
    const ch = slack.channels.create('updates');
    const m = await web.chat.postMessage({ channel: ch.id, text: 'open', blocks: [section('open')] });
    await web.chat.update({ channel: ch.id, ts: m.ts!, text: 'resolved', blocks: [section('~open~ resolved')] });
    expect(ch.messages[0]).toMatchObject({ text: 'resolved', blocks: [section('~open~ resolved')], edited: { user: 'U0TRAILBOT' } });
    expect((await slackError(web.chat.update({ channel: ch.id, ts: '1.000001', text: 'x' }))).error).toBe('message_not_found');
  });

  it('refuses what Slack refuses: unknown channel, a channel the bot is not in, no text, too long, invalid blocks with pointers', async () => {
    expect((await slackError(web.chat.postMessage({ channel: '#nowhere', text: 'x' }))).error).toBe('channel_not_found');
    slack.channels.create('private-elsewhere', { isPrivate: true, botMember: false });
    expect((await slackError(web.chat.postMessage({ channel: '#private-elsewhere', text: 'x' }))).error).toBe('channel_not_found');
    const pub = slack.channels.create('public-elsewhere', { botMember: false });
    // chat:write.public lets the bot post in a public channel it is not in, but not read it.
    expect((await web.chat.postMessage({ channel: pub.id, text: 'x' })).ok).toBe(true);
    expect((await slackError(web.conversations.history({ channel: pub.id }))).error).toBe('not_in_channel');
    expect((await slackError(web.chat.postMessage({ channel: 'C0SECURITY', text: '' }))).error).toBe('no_text');
    expect((await slackError(web.chat.postMessage({ channel: 'C0SECURITY', text: 'x'.repeat(40_001) }))).error).toBe('msg_too_long');
    const tooMany = Array.from({ length: 51 }, (_, i) => section(`line ${i}`));
    const e = await slackError(web.chat.postMessage({ channel: 'C0SECURITY', text: 'x', blocks: tooMany }));
    expect(e.error).toBe('invalid_blocks');
    expect(e.data.response_metadata).toMatchObject({ messages: ['[ERROR] no more than 50 items allowed [json-pointer:/blocks]'] });
    const long = await slackError(web.chat.postMessage({ channel: 'C0SECURITY', text: 'x', blocks: [section('y'.repeat(3001))] }));
    expect(long.data.response_metadata).toMatchObject({ messages: ['[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]'] });
    expect((await slackError(web.chat.postMessage({ channel: 'C0SECURITY', text: 'x', metadata: { event_type: 'bad type!', event_payload: {} } }))).error).toBe('invalid_metadata_format');
  });

  it('only chat.postMessage takes a #name: history, update and uploads want the id; conversations.list maps names to ids', async () => {
    const ch = slack.channels.create('named');
    const m = await web.chat.postMessage({ channel: '#named', text: 'x' });
    expect((await slackError(web.conversations.history({ channel: '#named' }))).error).toBe('channel_not_found');
    expect((await slackError(web.chat.update({ channel: '#named', ts: m.ts!, text: 'y' }))).error).toBe('channel_not_found');
    const list = await web.conversations.list({ types: 'public_channel,private_channel', limit: 2 });
    expect(list.channels).toHaveLength(2);
    const all = [...(list.channels ?? [])];
    let cursor = list.response_metadata?.next_cursor;
    while (cursor) {
      const next = await web.conversations.list({ types: 'public_channel,private_channel', limit: 2, cursor });
      all.push(...(next.channels ?? []));
      cursor = next.response_metadata?.next_cursor;
    }
    expect(all.find((c) => c.name === 'named')?.id).toBe(ch.id);
  });

  it('usergroups.users.list answers the members the test set; an unknown group is no_such_subteam', async () => {
    expect((await web.usergroups.users.list({ usergroup: 'S0ANALYSTS' })).users).toEqual(['U0ANALYST', 'U0SAM']);
    slack.usergroups.set('S0ANALYSTS', ['U0SAM']);
    expect((await web.usergroups.users.list({ usergroup: 'S0ANALYSTS' })).users).toEqual(['U0SAM']);
    expect((await slackError(web.usergroups.users.list({ usergroup: 'S0NOPE' }))).error).toBe('no_such_subteam');
  });

  it('files.uploadV2 (getUploadURLExternal, the upload, completeUploadExternal) keeps the bytes and posts the comment in the channel', async () => {
    const ch = slack.channels.create('reports');
    const content = 'account,denied\n111122223333,42\n';
    const r = await web.filesUploadV2({ channel_id: ch.id, filename: 'denied-2026-W48.csv', title: 'Denied calls, week 48', initial_comment: 'Weekly denied calls: 42', file: Buffer.from(content) });
    const id = (r.files[0] as { files?: { id: string }[] }).files?.[0]?.id;
    expect(id).toMatch(/^F/);
    const f = slack.files.get(id!)!;
    expect(Buffer.from(f.bytes!).toString()).toBe(content);
    expect(f).toMatchObject({ filename: 'denied-2026-W48.csv', title: 'Denied calls, week 48', channel: ch.id, comment: 'Weekly denied calls: 42', completed: true });
    expect(ch.messages.at(-1)).toMatchObject({ text: 'Weekly denied calls: 42', files: [{ id, name: 'denied-2026-W48.csv' }] });
    expect(slack.requests.map((q) => q.method).filter((m) => m.startsWith('files.'))).toEqual(['files.getUploadURLExternal', 'files.completeUploadExternal']);
  });

  it('a 429 fault carries Retry-After: the WebClient (rejectRateLimitedCalls) rejects with retryAfter, and nothing was posted', async () => {
    slack.faults.rateLimit({ count: 1, retryAfterSeconds: 7, method: 'chat.postMessage' });
    const before = slack.channels.get('C0SECURITY')!.messages.length;
    const e = (await web.chat.postMessage({ channel: 'C0SECURITY', text: 'x' }).catch((x: unknown) => x)) as WebAPIRateLimitedError;
    expect(e.code).toBe(ErrorCode.RateLimitedError);
    expect(e.retryAfter).toBe(7);
    expect(slack.channels.get('C0SECURITY')!.messages.length).toBe(before);
    expect(slack.requests.at(-1)).toMatchObject({ method: 'chat.postMessage', status: 429, fault: '429' });
    expect((await web.chat.postMessage({ channel: 'C0SECURITY', text: 'x' })).ok).toBe(true);
  });

  it('a 5xx fault is an HTTP error to the WebClient', async () => {
    slack.faults.serverError({ status: 503 });
    const e = (await web.auth.test().catch((x: unknown) => x)) as { code: string; statusCode: number };
    expect(e.code).toBe(ErrorCode.HTTPError);
    expect(e.statusCode).toBe(503);
  });

  it('the request log never keeps the token', () => {
    expect(JSON.stringify(slack.requests)).not.toContain(slack.token);
  });
});

describe('Block Kit limits', () => {
  const button = (over: Record<string, unknown> = {}) => ({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'More' }, action_id: 'trail_more', value: 'c', ...over }] });
  it.each([
    ['button text over 75', button({ text: { type: 'plain_text', text: 'x'.repeat(76) } }), /less than 76/],
    ['button value over 2000', button({ value: 'x'.repeat(2001) }), /less than 2001/],
    ['action_id over 255', button({ action_id: 'x'.repeat(256) }), /1 to 255/],
    ['a header over 150', { type: 'header', text: { type: 'plain_text', text: 'x'.repeat(151) } }, /less than 151/],
    ['a mrkdwn header', { type: 'header', text: { type: 'mrkdwn', text: 'x' } }, /plain_text/],
    ['an unknown block type', { type: 'table' }, /unsupported type/],
  ])('%s → invalid_blocks', (_w, block, msg) => {
    const p = blocksProblem([block]);
    expect(p?.error).toBe('invalid_blocks');
    expect(p?.messages.join('\n')).toMatch(msg);
  });
  it('duplicate block_ids are refused; 50 blocks at the limits are taken', () => {
    expect(blocksProblem([{ type: 'divider', block_id: 'a' }, { type: 'divider', block_id: 'a' }])?.messages[0]).toMatch(/duplicate block_id/);
    const fifty = [button({ text: { type: 'plain_text', text: 'x'.repeat(75) }, value: 'v'.repeat(2000), action_id: 'a'.repeat(255) }), ...Array.from({ length: 49 }, () => ({ type: 'divider' }))];
    expect(blocksProblem(fifty)).toBeUndefined();
    expect(blocksProblem([section('x'.repeat(BLOCK_LIMITS.sectionText))])).toBeUndefined();
  });
  it('more text in all blocks together than Slack takes is msg_blocks_too_long', () => {
    expect(blocksProblem(Array.from({ length: 5 }, () => section('x'.repeat(2900))))?.error).toBe('msg_blocks_too_long');
  });
});

describe('the Slack side of the conversation', () => {
  /** A minimal receiver of Slack's requests: checks the signature as trailbot must, and answers. */
  let target: string;
  let server: ReturnType<typeof serve>;
  const got: { body: string; verdict: unknown; headers: Record<string, string> }[] = [];
  let answer: (body: string) => Response = () => new Response('Looking up …');
  beforeAll(async () => {
    const app = new Hono();
    app.post('/slack/events', async (c) => {
      const body = await c.req.text();
      got.push({ body, headers: Object.fromEntries(c.req.raw.headers), verdict: verifySlackSignature({ secret: slack.signingSecret, body: Buffer.from(body), timestamp: c.req.header('x-slack-request-timestamp'), signature: c.req.header('x-slack-signature'), nowMs: Date.now() }) });
      return answer(body);
    });
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (i: AddressInfo) => resolve(i.port));
    });
    target = `http://127.0.0.1:${port}/slack/events`;
  });
  afterAll(() => {
    server?.close();
  });
  beforeEach(() => {
    got.length = 0;
    answer = () => new Response('Looking up …');
  });

  it('sendCommand posts a correctly signed slash command form with a fresh response_url, and returns the answer and its timing', async () => {
    const r = await slack.sendCommand(target, { text: 'alana@corp 7d', user_id: 'U0ANALYST' });
    expect(r).toMatchObject({ status: 200, text: 'Looking up …', late: false });
    expect(r.ms).toBeGreaterThan(0);
    expect(got[0]!.verdict).toEqual({ ok: true });
    expect(got[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(got[0]!.body);
    expect(Object.fromEntries(form)).toMatchObject({ command: '/trail', text: 'alana@corp 7d', user_id: 'U0ANALYST', channel_id: 'C0SECURITY', team_id: 'T0STANDIN', response_url: r.responseUrl.url });
    expect(r.responseUrl.url).toMatch(new RegExp(`^${slack.url}/commands/T0STANDIN/\\d+/[\\w-]+$`));
  });

  it('signs with another secret or an old timestamp when asked (for refusal tests)', async () => {
    await slack.sendCommand(target, {}, { secret: 'not-the-apps-secret-000000' });
    await slack.sendCommand(target, {}, { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(got.map((g) => (g.verdict as { ok: boolean }).ok)).toEqual([false, false]);
  });

  it('a response_url records what is posted (ephemeral by default, in_channel into the channel), takes 5 posts, refuses the 6th', async () => {
    const r = await slack.sendCommand(target, { text: 'alana@corp' });
    const ru = r.responseUrl;
    const postTo = (body: unknown) => fetch(ru.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await postTo({ text: 'alana@corp: 3 calls', blocks: [section('3 calls')] })).status).toBe(200);
    expect(ru.latest).toMatchObject({ text: 'alana@corp: 3 calls', responseType: 'ephemeral' });
    const before = slack.channels.get('C0SECURITY')!.messages.length;
    expect((await postTo({ text: 'shared', response_type: 'in_channel' })).status).toBe(200);
    expect(slack.channels.get('C0SECURITY')!.messages.length).toBe(before + 1);
    expect((await postTo({ text: 'replaced', replace_original: true })).status).toBe(200);
    expect(ru.messages.map((m) => [m.text, m.replaced])).toEqual([
      ['alana@corp: 3 calls', 0],
      ['replaced', 1],
    ]);
    const bad = await postTo({ text: 'x', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ ok: false, error: 'invalid_blocks' });
    await postTo({ text: '4' });
    await postTo({ text: '5' });
    const sixth = await postTo({ text: '6' });
    expect(sixth.status).toBe(404);
    expect(await sixth.json()).toEqual({ ok: false, error: 'used_url' });
    expect(ru.posts.filter((p) => p.status === 200)).toHaveLength(5);
    await expect(ru.waitForPosts(5)).resolves.toHaveLength(5);
  });

  it('a response_url expires after 30 minutes', async () => {
    let now = Date.now();
    const timed = await startSlackStandin({ clock: () => now });
    try {
      const ru = timed.responseUrl();
      now += 30 * 60_000 + 1;
      const r = await fetch(ru.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'late' }) });
      expect(r.status).toBe(404);
      expect(await r.json()).toEqual({ ok: false, error: 'expired_url' });
    } finally {
      await timed.close();
    }
  });

  it('clickButton clicks a button on the message shown: a signed block_actions payload with its value, and a response_url that replaces that message', async () => {
    const r = await slack.sendCommand(target, { text: 'alana@corp' });
    const more = { type: 'actions', block_id: 'page-1', elements: [{ type: 'button', text: { type: 'plain_text', text: 'More' }, action_id: 'trail_more', value: '{"cursor":"c1"}' }] };
    await fetch(r.responseUrl.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'page 1', blocks: [section('page 1'), more] }) });
    answer = () => new Response(null, { status: 200 });
    const click = await slack.clickButton(target, { on: r.responseUrl, action_id: 'trail_more' });
    expect(click.status).toBe(200);
    expect(got).toHaveLength(2);
    expect(got[1]!.verdict).toEqual({ ok: true });
    const payload = JSON.parse(new URLSearchParams(got[1]!.body).get('payload')!) as { type: string; actions: { action_id: string; value: string; block_id: string }[]; response_url: string; user: { id: string } };
    expect(payload).toMatchObject({ type: 'block_actions', user: { id: 'U0ANALYST' }, response_url: click.responseUrl.url });
    expect(payload.actions[0]).toMatchObject({ action_id: 'trail_more', value: '{"cursor":"c1"}', block_id: 'page-1' });
    await fetch(click.responseUrl.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ replace_original: true, text: 'page 2', blocks: [section('page 2')] }) });
    expect(r.responseUrl.messages.map((m) => m.text)).toEqual(['page 2']);
    await expect(slack.clickButton(target, { on: r.responseUrl, action_id: 'trail_more' })).rejects.toThrow(/no button with action_id trail_more/);
  });

  it('by hand (the CLI): POST /__standin/click clicks a button on a channel message (a finding\'s "Trail of …") by channel and ts, as any user', async () => {
    const cli = (await runCli(['--port', '0'], () => {}))!;
    try {
      const trail = { type: 'actions', block_id: 'buttons', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Trail of alana' }, action_id: 'trail-run', value: 'alana@corp' }] };
      const posted = (await (
        await fetch(`${cli.url}/api/chat.postMessage`, { method: 'POST', headers: { authorization: `Bearer ${cli.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ channel: '#security', text: 'finding', blocks: [section('finding'), trail] }) })
      ).json()) as { ts: string };
      answer = () => new Response(null, { status: 200 });
      const click = (b: Record<string, unknown>) => fetch(`${cli.url}/__standin/click`, { method: 'POST', body: JSON.stringify({ target, action_id: 'trail-run', ...b }) });
      const r = await click({ channel: 'security', ts: posted.ts, user_id: 'U0SAM' });
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ status: 200, responseUrl: expect.any(String) });
      const payload = JSON.parse(new URLSearchParams(got.at(-1)!.body).get('payload')!) as { user: { id: string }; channel: { id: string }; actions: { value: string }[] };
      expect(payload).toMatchObject({ user: { id: 'U0SAM' }, channel: { id: 'C0SECURITY' }, actions: [{ value: 'alana@corp' }] });
      const missing = await click({ channel: 'security', ts: '1.000001' });
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as { error: string }).error).toMatch(/no message 1\.000001 in #security/);
    } finally {
      await cli.close();
    }
  });
});

describe('the CLI', () => {
  it('parses its options and refuses a token that is not a bot token', () => {
    expect(parseCliArgs(['--port', '0', '--usergroup', 'S0ANALYSTS=U1,U2', '--channel', 'security', '--channel', 'alerts'])).toMatchObject({
      port: 0,
      usergroups: { S0ANALYSTS: ['U1', 'U2'] },
      channels: [{ name: 'security', id: 'C0SECURITY' }, { name: 'alerts' }],
    });
    expect(() => parseCliArgs(['--token', 'nope'])).toThrow(/xoxb-/);
    expect(parseCliArgs(['--help'])).toBe('help');
  });
});
