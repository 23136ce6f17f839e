import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TrailbotError } from '../../errors.ts';
import { isPermanentError } from '../../runtime/definitions.ts';
import { rateLimitedDelay } from '../../runtime/queue.ts';
import { createResponder, createSlackClient } from './client.ts';
import type { SlackPort } from './port.ts';
import { type SlackStandin, startSlackStandin } from './standin/index.ts';

let slack: SlackStandin;
let port: SlackPort;
const warnings: string[] = [];

beforeAll(async () => {
  slack = await startSlackStandin({ usergroups: { S0ANALYSTS: ['U0ANALYST', 'U0SAM'] } });
  port = createSlackClient({ botToken: slack.token, apiUrl: slack.env().SLACK_API_URL! }, { log: { warn: (_o, m) => warnings.push(String(m)) } });
});
afterAll(async () => {
  await slack?.close();
});
beforeEach(() => {
  slack.faults.clear();
});

async function failure(p: Promise<unknown>): Promise<TrailbotError> {
  const e = await p.then(
    () => {
      throw new Error('expected a failure');
    },
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TrailbotError);
  const t = e as TrailbotError;
  // Never the token, whatever failed.
  expect(`${t.message} ${t.hint}`).not.toContain(slack.token);
  return t;
}

const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });

describe('createSlackClient against the stand-in', () => {
  it('whoami is auth.test', async () => {
    expect(await port.whoami()).toEqual({ teamId: 'T0STANDIN', userId: 'U0TRAILBOT', botId: 'B0TRAILBOT' });
  });

  it('posts by #name (answering the id), replies in the thread, and finds both again by metadata, newest first', async () => {
    const ch = slack.channels.create('findings-a');
    const a = await port.post('#findings-a', { text: 'DeleteUser', blocks: [section('*DeleteUser*')] }, { metadata: { eventType: 'trailbot_finding', payload: { findingId: 'f-1', flow: 'iam' } } });
    expect(a.channel).toBe(ch.id);
    const b = await port.post(ch.id, { text: 'CreateUser' }, { metadata: { eventType: 'trailbot_finding', payload: { findingId: 'f-2', flow: 'iam' } } });
    await port.post(ch.id, { text: 'no metadata' });
    const r1 = await port.post(ch.id, { text: '2 more' }, { threadTs: a.ts, metadata: { eventType: 'trailbot_reply', payload: { findingId: 'f-1', window: '1' } } });
    const r2 = await port.post(ch.id, { text: '3 more' }, { threadTs: a.ts, metadata: { eventType: 'trailbot_reply', payload: { findingId: 'f-1', window: '2' } } });

    expect(await port.findByMetadata('#findings-a', 'trailbot_finding', { flow: 'iam' })).toEqual([
      { channel: ch.id, ts: b.ts, payload: { findingId: 'f-2', flow: 'iam' } },
      { channel: ch.id, ts: a.ts, payload: { findingId: 'f-1', flow: 'iam' } },
    ]);
    expect((await port.findByMetadata(ch.id, 'trailbot_finding', { findingId: 'f-1' })).map((m) => m.ts)).toEqual([a.ts]);
    expect(await port.findByMetadata(ch.id, 'trailbot_finding', { findingId: 'f-1' }, b.ts)).toEqual([]);
    // Replies are not in the history; they are found in their thread.
    expect(await port.findByMetadata(ch.id, 'trailbot_reply', { findingId: 'f-1' })).toEqual([]);
    expect((await port.findByMetadata(ch.id, 'trailbot_reply', { findingId: 'f-1' }, undefined, { threadTs: a.ts })).map((m) => m.ts)).toEqual([r2.ts, r1.ts]);
    // Names were looked up once (conversations.list), then cached.
    expect(slack.requests.filter((q) => q.method === 'conversations.list')).toHaveLength(1);
  });

  it('findByMetadata pages through a long history (200 a page, up to findPages)', async () => {
    const ch = slack.channels.create('busy');
    const target = await port.post(ch.id, { text: 'the one' }, { metadata: { eventType: 'trailbot_finding', payload: { findingId: 'old' } } });
    for (let i = 0; i < 450; i++) await slack.call('chat.postMessage', { channel: ch.id, text: `noise ${i}` }, slack.token);
    const before = slack.requests.length;
    expect((await port.findByMetadata(ch.id, 'trailbot_finding', { findingId: 'old' })).map((m) => m.ts)).toEqual([target.ts]);
    expect(slack.requests.slice(before).filter((q) => q.method === 'conversations.history')).toHaveLength(3);
    const shallow = createSlackClient({ botToken: slack.token, apiUrl: slack.env().SLACK_API_URL! }, { findPages: 1 });
    expect(await shallow.findByMetadata(ch.id, 'trailbot_finding', { findingId: 'old' })).toEqual([]);
  });

  it('update (by name or id), usergroupMembers, uploadFile (by name)', async () => {
    const ch = slack.channels.create('reports-a');
    const m = await port.post(ch.id, { text: 'open' });
    await port.update('#reports-a', m.ts, { text: 'resolved', blocks: [section('~open~ resolved')] });
    expect(ch.messages[0]).toMatchObject({ text: 'resolved' });
    expect(await port.usergroupMembers('S0ANALYSTS')).toEqual(['U0ANALYST', 'U0SAM']);
    const { fileId } = await port.uploadFile('#reports-a', { filename: 'clickops-2026-11.csv', content: 'a,b\n1,2\n', title: 'ClickOps, November', comment: '12 console changes in November' });
    expect(Buffer.from(slack.files.get(fileId)!.bytes!).toString()).toBe('a,b\n1,2\n');
    expect(ch.messages.at(-1)).toMatchObject({ text: '12 console changes in November', files: [{ id: fileId, title: 'ClickOps, November' }] });
  });

  it("a 429 is E_SLACK_RATE_LIMITED with Slack's Retry-After in ms, not retried by the client; the queue retries it without using an attempt", async () => {
    slack.faults.rateLimit({ count: 1, retryAfterSeconds: 7, method: 'chat.postMessage' });
    const before = slack.requests.length;
    const e = await failure(port.post('C0SECURITY', { text: 'x' }));
    expect(e.code).toBe('E_SLACK_RATE_LIMITED');
    expect(e.retryAfterMs).toBe(7000);
    expect(slack.requests.length - before).toBe(1);
    expect(isPermanentError(e)).toBe(false);
    expect(rateLimitedDelay(e, { rateLimitedRetries: 0, createdAtMs: Date.now() })).toBe(7000);
  });

  it('5xx and an unreachable or silent Slack are E_SLACK_UNAVAILABLE (retried)', async () => {
    slack.faults.serverError({ status: 502 });
    const e = await failure(port.whoami());
    expect(e.code).toBe('E_SLACK_UNAVAILABLE');
    expect(e.message).toMatch(/HTTP 502/);
    expect(isPermanentError(e)).toBe(false);

    const down = createSlackClient({ botToken: slack.token, apiUrl: 'http://127.0.0.1:9/api' });
    expect((await failure(down.whoami())).code).toBe('E_SLACK_UNAVAILABLE');

    slack.faults.latency(400);
    const impatient = createSlackClient({ botToken: slack.token, apiUrl: slack.env().SLACK_API_URL! }, { timeoutMs: 100 });
    const t = await failure(impatient.whoami());
    expect(t.code).toBe('E_SLACK_UNAVAILABLE');
    expect(t.message).toMatch(/within 100 ms/);
  });

  it('a bad token is E_SLACK_AUTH naming SLACK_BOT_TOKEN; a missing scope names the scope; both fail the job at once', async () => {
    const bad = createSlackClient({ botToken: 'xoxb-not-the-token-123', apiUrl: slack.env().SLACK_API_URL! });
    const e = await failure(bad.whoami());
    expect(e.code).toBe('E_SLACK_AUTH');
    expect(e.hint).toMatch(/SLACK_BOT_TOKEN/);
    expect(`${e.message} ${e.hint}`).not.toContain('xoxb-not-the-token-123');
    expect(isPermanentError(e)).toBe(true);

    const narrow = await startSlackStandin({ scopes: ['chat:write'] });
    try {
      const c = createSlackClient({ botToken: narrow.token, apiUrl: narrow.env().SLACK_API_URL! });
      const s = await failure(c.usergroupMembers('S0ANALYSTS'));
      expect(s.code).toBe('E_SLACK_AUTH');
      expect(s.message).toMatch(/missing_scope \(needs usergroups:read\)/);
      expect(s.hint).toMatch(/usergroups:read.*slack\/manifest\.yaml/);
    } finally {
      await narrow.close();
    }
  });

  it('what Slack refuses is E_SLACK_REJECTED with what to fix, and fails the job at once', async () => {
    const nf = await failure(port.post('#nowhere', { text: 'x' }));
    expect(nf).toMatchObject({ code: 'E_SLACK_REJECTED' });
    expect(nf.message).toMatch(/channel_not_found/);
    expect(nf.hint).toMatch(/trailbot\.config\.yaml/);
    expect(isPermanentError(nf)).toBe(true);
    const lookup = await failure(port.findByMetadata('#nowhere', 'x', {}));
    expect(lookup.code).toBe('E_SLACK_REJECTED');
    const blocks = await failure(port.post('C0SECURITY', { text: 'x', blocks: [section('y'.repeat(3001))] }));
    expect(blocks.code).toBe('E_SLACK_REJECTED');
    expect(blocks.message).toMatch(/invalid_blocks \(\[ERROR\] must be less than 3001 characters \[json-pointer:\/blocks\/0\/text\/text\]\)/);
    slack.channels.create('outside', { botMember: false });
    const narrow = await startSlackStandin({ scopes: ['chat:write', 'channels:read'], channels: [{ name: 'outside', botMember: false }] });
    try {
      const c = createSlackClient({ botToken: narrow.token, apiUrl: narrow.env().SLACK_API_URL! });
      const ni = await failure(c.post('#outside', { text: 'x' }));
      expect(ni.message).toMatch(/not_in_channel/);
      expect(ni.hint).toMatch(/\/invite @trailbot/);
    } finally {
      await narrow.close();
    }
  });
});

describe('createResponder', () => {
  const responder = () => createResponder({ apiUrl: slack.env().SLACK_API_URL! });

  it("posts the answer as JSON to the stand-in's response_url: ephemeral, then replacing it", async () => {
    const ru = slack.responseUrl();
    await responder().respond(ru.url, { text: 'alana@corp: 3 calls', blocks: [section('3 calls')] });
    await responder().respond(ru.url, { text: 'page 2', blocks: [section('page 2')], replaceOriginal: true });
    expect(ru.posts.map((p) => p.body)).toEqual([
      { text: 'alana@corp: 3 calls', blocks: [section('3 calls')] },
      { text: 'page 2', blocks: [section('page 2')], replace_original: true },
    ]);
    expect(ru.messages.map((m) => [m.text, m.responseType])).toEqual([['page 2', 'ephemeral']]);
    await responder().respond(ru.url, { text: 'for everyone', responseType: 'in_channel' });
    expect(ru.latest?.responseType).toBe('in_channel');
  });

  it.each([
    ['another site', 'https://evil.example/commands/T1/1/secret'],
    ['http to hooks.slack.com', 'http://hooks.slack.com/commands/T1/1/secret'],
    ['a look-alike host', 'https://hooks.slack.com.evil.example/commands/T1/1/secret'],
    ['credentials in the URL', 'https://user:pw@hooks.slack.com/commands/T1/1/secret'],
    ['not a URL', 'javascript:alert(1)'],
  ])('refuses %s (E_INPUT_SHAPE), posting nothing and not repeating the URL', async (_w, url) => {
    const e = await failure(responder().respond(url, { text: 'the data' }));
    expect(e.code).toBe('E_INPUT_SHAPE');
    expect(e.message).not.toContain('secret');
    expect(isPermanentError(e)).toBe(true);
  });

  it('takes hooks.slack.com, and refuses the stand-in origin when SLACK_API_URL is Slack itself', async () => {
    const real = createResponder({ apiUrl: 'https://slack.com/api' });
    const ru = slack.responseUrl();
    expect((await failure(real.respond(ru.url, { text: 'x' }))).code).toBe('E_INPUT_SHAPE');
    // hooks.slack.com is accepted (the post itself cannot reach it from here: a network failure, not a refusal).
    const e = await failure(createResponder({ apiUrl: 'https://slack.com/api' }, { timeoutMs: 500 }).respond('https://hooks.slack.com/commands/T1/1/x', { text: 'x' }));
    expect(e.code).toBe('E_SLACK_UNAVAILABLE');
  });

  it('a used-up or expired response_url is a permanent E_SLACK_REJECTED saying so', async () => {
    const ru = slack.responseUrl();
    for (let i = 0; i < 5; i++) await responder().respond(ru.url, { text: `answer ${i}` });
    const e = await failure(responder().respond(ru.url, { text: 'sixth' }));
    expect(e.code).toBe('E_SLACK_REJECTED');
    expect(e.message).toMatch(/response_url expired \(used_url\).*5 answers within 30 minutes/);
    expect(isPermanentError(e)).toBe(true);

    let now = Date.now();
    const timed = await startSlackStandin({ clock: () => now });
    try {
      const old = timed.responseUrl();
      now += 31 * 60_000;
      const x = await failure(createResponder({ apiUrl: timed.env().SLACK_API_URL! }).respond(old.url, { text: 'late' }));
      expect(x.message).toMatch(/expired \(expired_url\)/);
    } finally {
      await timed.close();
    }
  });

  it('bad blocks are E_SLACK_REJECTED; a 5xx E_SLACK_UNAVAILABLE; a 429 E_SLACK_RATE_LIMITED with its delay', async () => {
    const ru = slack.responseUrl();
    const b = await failure(responder().respond(ru.url, { text: 'x', blocks: Array.from({ length: 51 }, () => ({ type: 'divider' })) }));
    expect(b.code).toBe('E_SLACK_REJECTED');
    expect(b.message).toMatch(/invalid_blocks/);
    slack.faults.serverError({ status: 503, method: 'response_url' });
    expect((await failure(responder().respond(ru.url, { text: 'x' }))).code).toBe('E_SLACK_UNAVAILABLE');
    slack.faults.rateLimit({ retryAfterSeconds: 2, method: 'response_url' });
    const r = await failure(responder().respond(ru.url, { text: 'x' }));
    expect(r).toMatchObject({ code: 'E_SLACK_RATE_LIMITED', retryAfterMs: 2000 });
    await responder().respond(ru.url, { text: 'finally' });
    expect(ru.latest?.text).toBe('finally');
  });
});
