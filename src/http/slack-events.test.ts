import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { ERROR_CODES } from '../errors.ts';
import { slackSignature, slackSignedHeaders, verifySlackSignature } from '../integrations/slack/signature.ts';
import { openInlineQueue } from '../runtime/inline.ts';
import { createLogger } from '../runtime/logger.ts';
import { createMetrics } from '../runtime/metrics.ts';
import { openStore, type Store } from '../store/index.ts';
import { createApp } from './app.ts';
import { createSlackEvents } from './slack-events.ts';

const SECRET = 'slack-signing-secret-for-tests-0123';
const API_TOKEN = 'f3a9c1d2e4b5a6978877665544332211ffeeddccbbaa99887766554433221100';
const RESPONSE_URL = 'https://hooks.slack.com/commands/T1/123/abcdefSECRETresponse';

/** Slack's documented worked example (FACTS §4, api.slack.com/authentication/verifying-requests-from-slack). */
const EXAMPLE = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  ts: 1531420618,
  body: 'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};

const lines: string[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    lines.push(chunk.toString());
    done();
  },
});
const log = createLogger({ level: 'debug', destination: sink });

/** A slash command's form body, as Slack sends it (overrides win). */
function commandBody(over: Record<string, string> = {}): string {
  return new URLSearchParams({
    token: 'legacy-verification-token',
    team_id: 'T1',
    team_domain: 'corp',
    channel_id: 'C1',
    channel_name: 'security',
    user_id: 'U1',
    user_name: 'analyst',
    command: '/trail',
    text: 'alana@corp 7d',
    response_url: RESPONSE_URL,
    trigger_id: '1.2.3',
    api_app_id: 'A1',
    ...over,
  }).toString();
}

/** A block_actions click, as Slack sends it: one form field `payload` holding JSON. */
function clickBody(over: Record<string, unknown> = {}): string {
  const payload = {
    type: 'block_actions',
    team: { id: 'T1', domain: 'corp' },
    user: { id: 'U1', username: 'analyst', team_id: 'T1' },
    api_app_id: 'A1',
    token: 'legacy-verification-token',
    container: { type: 'message', message_ts: '1700000000.000100', channel_id: 'C1', is_ephemeral: true },
    trigger_id: '1.2.3',
    channel: { id: 'C1', name: 'security' },
    response_url: RESPONSE_URL,
    actions: [{ type: 'button', action_id: 'trail_more', block_id: 'more-1', value: '{"cursor":"abc"}', action_ts: '1700000001.000200', text: { type: 'plain_text', text: 'More' } }],
    ...over,
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

type Events = ReturnType<typeof createSlackEvents>;
const post = (ev: Events, body: string, headers: Record<string, string>) =>
  ev.route.request('/events', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
const signed = (body: string, secret = SECRET, ts = Math.floor(Date.now() / 1000)) => slackSignedHeaders(secret, body, ts);

async function codedError(r: Response, status: number) {
  expect(r.status).toBe(status);
  const { error } = (await r.json()) as { error: { code: string; message: string; hint: string } };
  expect(ERROR_CODES).toContain(error.code);
  expect(error.hint.length).toBeGreaterThan(0);
  return error;
}

beforeEach(() => {
  lines.length = 0;
});

describe('Slack v0 signatures', () => {
  it("reproduces Slack's documented example exactly, and accepts it at its own time", () => {
    expect(slackSignature(EXAMPLE.secret, EXAMPLE.ts, EXAMPLE.body)).toBe(EXAMPLE.signature);
    const verdict = verifySlackSignature({ secret: EXAMPLE.secret, body: Buffer.from(EXAMPLE.body), timestamp: String(EXAMPLE.ts), signature: EXAMPLE.signature, nowMs: EXAMPLE.ts * 1000 + 1000 });
    expect(verdict).toEqual({ ok: true });
  });

  it('refuses the example 5 minutes and 1 second later, and 5 minutes and 1 second earlier', () => {
    const at = (nowS: number) => verifySlackSignature({ secret: EXAMPLE.secret, body: Buffer.from(EXAMPLE.body), timestamp: String(EXAMPLE.ts), signature: EXAMPLE.signature, nowMs: nowS * 1000 });
    expect(at(EXAMPLE.ts + 300).ok).toBe(true);
    expect(at(EXAMPLE.ts - 300).ok).toBe(true);
    expect(at(EXAMPLE.ts + 301)).toMatchObject({ ok: false, why: expect.stringMatching(/301 s old/) });
    expect(at(EXAMPLE.ts - 301)).toMatchObject({ ok: false, why: expect.stringMatching(/301 s in the future/) });
  });
});

describe('POST /slack/events', () => {
  it("Slack's documented example request reaches the command listener, whose ack text is the answer", async () => {
    const ev = createSlackEvents({ signingSecret: EXAMPLE.secret, log, now: () => EXAMPLE.ts * 1000 + 2000 });
    const seen: Record<string, unknown>[] = [];
    ev.bolt.command('/webhook-collect', async ({ command, ack }) => {
      seen.push(command);
      await ack('Looking up …');
    });
    const r = await post(ev, EXAMPLE.body, { 'x-slack-request-timestamp': String(EXAMPLE.ts), 'x-slack-signature': EXAMPLE.signature });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('Looking up …');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ command: '/webhook-collect', user_id: 'U2CERLKJA', channel_id: 'G8PSS9T3V', text: '' });
  });

  it('answers with the JSON a listener acks with, as soon as it acks, while the listener goes on', async () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    let finished = false;
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    ev.bolt.command('/trail', async ({ command, ack }) => {
      await ack({ response_type: 'ephemeral', text: `Looking up ${command.text.split(' ')[0]} …` });
      await held; // the work after the ack does not hold the answer
      finished = true;
    });
    const body = commandBody();
    const r = await post(ev, body, signed(body));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/application\/json/);
    expect(await r.json()).toEqual({ response_type: 'ephemeral', text: 'Looking up alana@corp …' });
    expect(finished).toBe(false);
    release();
  });

  it('an empty ack is an empty 200', async () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    ev.bolt.command('/trail', async ({ ack }) => ack());
    const body = commandBody();
    const r = await post(ev, body, signed(body));
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('');
  });

  describe('refuses what Slack did not sign, and runs nothing', () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    let ran = 0;
    ev.bolt.command('/trail', async ({ ack }) => {
      ran++;
      await ack('ran');
    });
    ev.bolt.action('trail_more', async ({ ack }) => {
      ran++;
      await ack();
    });
    const body = commandBody();
    const nowS = Math.floor(Date.now() / 1000);
    const cases: [string, () => [string, Record<string, string>], RegExp][] = [
      ['a tampered body', () => [commandBody({ text: 'someone-else@corp' }), signed(body)], /does not match/],
      ['a tampered interactivity payload', () => [clickBody({ user: { id: 'U666' } }), signed(clickBody())], /does not match/],
      ['a stale timestamp (6 minutes old)', () => [body, signed(body, SECRET, nowS - 360)], /s old/],
      ['a future timestamp (6 minutes ahead)', () => [body, signed(body, SECRET, nowS + 360)], /in the future/],
      ['no headers', () => [body, {}], /no X-Slack-Request-Timestamp/],
      ['no signature', () => [body, { 'x-slack-request-timestamp': String(nowS) }], /no X-Slack-Signature/],
      ['no timestamp', () => [body, { 'x-slack-signature': signed(body)['x-slack-signature']! }], /no X-Slack-Request-Timestamp/],
      ['another secret', () => [body, signed(body, 'another-apps-signing-secret-000')], /does not match/],
      ['a signature that is not v0=<hex>', () => [body, { ...signed(body), 'x-slack-signature': 'v1=abc' }], /not v0=/],
      ['a timestamp that is not a number', () => [body, { ...signed(body), 'x-slack-request-timestamp': '1e9' }], /not a number/],
      ['a signature over another timestamp', () => [body, { ...signed(body, SECRET, nowS - 10), 'x-slack-request-timestamp': String(nowS) }], /does not match/],
    ];
    it.each(cases)('%s → 401 E_UNAUTHORIZED, logged without the body or the signature', async (_what, make, why) => {
      ran = 0;
      const [b, h] = make();
      const r = await post(ev, b, h);
      const error = await codedError(r, 401);
      expect(error.code).toBe('E_UNAUTHORIZED');
      expect(error.message).toMatch(why);
      expect(error.hint).toMatch(/SLACK_SIGNING_SECRET/);
      expect(ran).toBe(0);
      const logged = lines.join('');
      expect(logged).toMatch(/refused a Slack request/);
      expect(logged).not.toContain('hooks.slack.com');
      expect(logged).not.toContain('alana');
      if (h['x-slack-signature']) expect(logged).not.toContain(h['x-slack-signature'].slice(3, 20));
    });
  });

  it('a listener that never acks: 200 (empty) after the ack deadline, ~2.5 s, well within Slack\'s 3 s', async () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    ev.bolt.command('/trail', async () => {
      await new Promise((r) => setTimeout(r, 4000));
    });
    const body = commandBody();
    const started = performance.now();
    const r = await post(ev, body, signed(body));
    const ms = performance.now() - started;
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('');
    expect(ms).toBeGreaterThanOrEqual(2400);
    expect(ms).toBeLessThan(2900);
    expect(lines.join('')).toMatch(/no Slack listener acknowledged in time/);
  });

  it('parses interactivity (payload=<JSON>) for action listeners', async () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    const got: unknown[] = [];
    ev.bolt.action('trail_more', async ({ action, body, ack }) => {
      got.push(action, (body as { response_url?: string }).response_url, (body as { user: { id: string } }).user.id);
      await ack();
    });
    const body = clickBody();
    const r = await post(ev, body, signed(body));
    expect(r.status).toBe(200);
    expect(got).toEqual([expect.objectContaining({ type: 'button', action_id: 'trail_more', value: '{"cursor":"abc"}' }), RESPONSE_URL, 'U1']);
  });

  it('signed payloads of odd shapes (null actions, no user, no type, actions not a list) are answered 200 and never throw past the route', async () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log, ackTimeoutMs: 200 });
    ev.bolt.action('trail_more', async ({ ack }) => {
      await ack();
    });
    const failures: unknown[] = [];
    const onRejection = (e: unknown) => failures.push(e);
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onRejection);
    try {
      const shapes: Record<string, unknown>[] = [
        { actions: [null] },
        { actions: [null, 7, 'x', { action_id: { a: 1 } }] },
        { actions: 'trail_more' },
        { user: null, actions: [{ type: 'button', action_id: 'trail_more' }] },
        { type: undefined, actions: [null] },
      ];
      for (const over of shapes) {
        const body = clickBody(over);
        const r = await post(ev, body, signed(body));
        expect(r.status).toBe(200);
      }
      // Past the ack deadline too (the timer's log line describes the request).
      await new Promise((r) => setTimeout(r, 400));
    } finally {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onRejection);
    }
    expect(failures).toEqual([]);
  });

  it('a payload that is not JSON is 400 E_INPUT_NOT_JSON (after the signature)', async () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    const body = 'payload=%7Bnot-json';
    expect((await codedError(await post(ev, body, signed(body)), 400)).code).toBe('E_INPUT_NOT_JSON');
  });

  it('ssl_check=1 is answered 200 and runs nothing', async () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    let ran = 0;
    ev.bolt.command('/trail', async ({ ack }) => {
      ran++;
      await ack();
    });
    const r = await post(ev, 'ssl_check=1&token=legacy-verification-token', {});
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('');
    expect(ran).toBe(0);
  });

  it('a listener that throws before acking: the person gets a short apology with a code, never the stack; the log has the error', async () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    ev.bolt.command('/trail', async () => {
      throw new Error('boom at secret/place.ts:42');
    });
    const body = commandBody();
    const r = await post(ev, body, signed(body));
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toMatch(/^Sorry, trailbot could not handle that \(E_INTERNAL\)/);
    expect(text).not.toMatch(/boom|place\.ts|\n\s+at /);
    const logged = lines.join('');
    expect(logged).toMatch(/a Slack listener failed/);
    expect(logged).toMatch(/boom at secret/);
  });

  it('a listener that throws after acking keeps its ack; the error is logged', async () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    let failed!: () => void;
    const thrown = new Promise<void>((r) => {
      failed = r;
    });
    ev.bolt.command('/trail', async ({ ack }) => {
      await ack('Looking up …');
      setTimeout(failed, 10);
      throw new Error('late failure');
    });
    const body = commandBody();
    const r = await post(ev, body, signed(body));
    expect(await r.text()).toBe('Looking up …');
    await thrown;
    expect(lines.join('')).toMatch(/late failure/);
  });

  it('a command no listener handles: 200 empty, and a warning', async () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    const body = commandBody({ command: '/other' });
    const r = await post(ev, body, signed(body));
    expect(r.status).toBe(200);
    expect(lines.join('')).toMatch(/no Slack listener handled the request/);
  });

  it('no signing secret: 404 E_NOT_FOUND telling to set SLACK_SIGNING_SECRET, nothing run', async () => {
    const ev = createSlackEvents({ signingSecret: undefined, log });
    let ran = 0;
    ev.bolt.command('/trail', async ({ ack }) => {
      ran++;
      await ack();
    });
    const body = commandBody();
    const error = await codedError(await post(ev, body, signed(body)), 404);
    expect(error.code).toBe('E_NOT_FOUND');
    expect(error.hint).toMatch(/SLACK_SIGNING_SECRET/);
    expect(ran).toBe(0);
  });

  it('a body over 64 KiB is 413 E_TOO_LARGE', async () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    const body = commandBody({ text: 'x'.repeat(70 * 1024) });
    expect((await codedError(await post(ev, body, signed(body)), 413)).code).toBe('E_TOO_LARGE');
  });

  it('a signed body of another type is 415 E_CONTENT_TYPE', async () => {
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    const body = 'hello';
    const r = await ev.route.request('/events', { method: 'POST', body, headers: { 'content-type': 'text/plain', ...signed(body) } });
    expect((await codedError(r, 415)).code).toBe('E_CONTENT_TYPE');
  });
});

describe('on the app: /slack/events sits outside /api', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: Store;
  beforeAll(async () => {
    db = await createTestDatabase();
    store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  });
  afterAll(async () => {
    await store?.close();
    await db?.drop();
  });

  it('a signed form post is answered without an API token even when API tokens are set; the worker role has no such route', async () => {
    const queue = openInlineQueue(store.db, 'slack-events-test');
    const deps = { store, queue, metrics: createMetrics({ store, queue }), log, auth: { tokens: [API_TOKEN], origins: ['https://trailbot.example.com'] } };
    const ev = createSlackEvents({ signingSecret: SECRET, log });
    ev.bolt.command('/trail', async ({ ack }) => ack('Looking up …'));
    const web = createApp({ ...deps, role: 'web', slackEvents: ev.route });
    const body = commandBody();
    const r = await web.request('/slack/events', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://slack.com', ...signed(body) } });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('Looking up …');
    const unsigned = await web.request('/slack/events', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect((await codedError(unsigned, 401)).code).toBe('E_UNAUTHORIZED');
    const worker = createApp({ ...deps, role: 'worker', slackEvents: undefined });
    expect((await worker.request('/slack/events', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded', ...signed(body) } })).status).toBe(404);
  });
});
