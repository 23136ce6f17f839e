import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { serve } from '@hono/node-server';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { ERROR_CODES } from '../errors.ts';
import { createJiraClient } from '../integrations/jira/client.ts';
import { type JiraStandin, startJiraStandin } from '../integrations/jira/standin/index.ts';
import { openInlineQueue } from '../runtime/inline.ts';
import { createLogger } from '../runtime/logger.ts';
import { createMetrics } from '../runtime/metrics.ts';
import { openStore, type Store } from '../store/index.ts';
import { createApp } from './app.ts';
import { jiraWebhook, type WebhookIssueEvent } from './jira-webhook.ts';

const SECRET = 'whsec-trailbot-test-secret-0123456789';
const TOKEN = 'f3a9c1d2e4b5a6978877665544332211ffeeddccbbaa99887766554433221100';
const ALANA = '5b10ac8d82e05b22cc7d4ef5';
const doc = { type: 'doc' as const, version: 1 as const, content: [{ type: 'paragraph', content: [{ type: 'text', text: 'x' }] }] };
const sign = (body: string | Buffer, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let deps: Parameters<typeof createApp>[0];
let app: ReturnType<typeof createApp>;
const lines: string[] = [];
/** What the handler was given; keys in `known` are tickets trailbot filed. */
const seen: WebhookIssueEvent[] = [];
const known = new Set<string>();

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  const queue = openInlineQueue(store.db, 'jira-webhook-test');
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  deps = { store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'debug', destination: sink }), role: 'all', auth: { tokens: [TOKEN] } };
  app = createApp({
    ...deps,
    jiraWebhookSecret: SECRET,
    onJiraIssueEvent: async (e) => {
      seen.push(e);
      return known.has(e.key) ? 'updated' : 'unknown';
    },
  });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});
beforeEach(() => {
  seen.length = 0;
  lines.length = 0;
});

const post = (body: string | Buffer, headers: Record<string, string> = {}, on = app) =>
  on.request('/jira/webhook', { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

async function codedError(r: Response, status: number) {
  expect(r.status).toBe(status);
  const { error } = (await r.json()) as { error: { code: string; message: string; hint: string } };
  expect(ERROR_CODES).toContain(error.code);
  expect(error.hint.length).toBeGreaterThan(0);
  return error;
}

describe('POST /jira/webhook with the stand-in\'s signed deliveries', () => {
  let jira: JiraStandin;
  let server: ReturnType<typeof serve>;
  beforeAll(async () => {
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve(info.port));
    });
    jira = await startJiraStandin({ indexDelayMs: 0 });
    jira.webhooks.register({ url: `http://127.0.0.1:${port}/jira/webhook`, secret: SECRET });
  });
  afterAll(async () => {
    await jira?.close();
    await new Promise((r) => server?.close(r));
  });

  it('hands created, closed and assigned issues to the handler, as {key, status, statusCategory, assignee, event}', async () => {
    const client = createJiraClient({ baseUrl: jira.url, email: jira.credentials.email, apiToken: jira.credentials.apiToken }, { onSchemaMismatch: 'throw' });
    const { key } = await client.create({ project: 'SEC', issueType: 'Task', summary: 'Root sign-in', description: doc, labels: ['trailbot'] });
    known.add(key);
    await jira.webhooks.settled();
    jira.assign(key, ALANA);
    jira.closeIssue(key, { as: ALANA });
    await jira.webhooks.settled();
    expect(seen[0]).toEqual({ event: 'jira:issue_created', key, status: 'To Do', statusCategory: 'new', assignee: null, position: { at: expect.any(Number), seq: 0 } });
    // Deliveries are concurrent, as Jira's are: the newest is the one with the latest (timestamp, changelog id).
    const newest = [...seen].sort((a, b) => a.position!.at - b.position!.at || a.position!.seq - b.position!.seq).at(-1);
    expect(seen.slice(1).every((e) => e.position!.seq > 0)).toBe(true);
    expect(newest).toEqual({
      position: { at: expect.any(Number), seq: expect.any(Number) },
      event: 'jira:issue_updated',
      key,
      status: 'Done',
      statusCategory: 'done',
      assignee: { accountId: ALANA, displayName: 'Alana Ruiz', email: 'alana@corp.example' },
    });
    expect(jira.webhooks.deliveries.map((d) => d.status)).toEqual(seen.map(() => 200));
  });

  it('a ticket trailbot did not file is answered 200 {ignored: true}', async () => {
    jira.webhooks.clear();
    const d = jira.webhooks.deliveries.at(-1)!;
    const other = d.body.replace(/"key":"SEC-\d+"/, '"key":"SEC-4242"');
    const r = await post(other, { 'x-hub-signature': sign(other) });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ ignored: true, key: 'SEC-4242' });
  });

  it('refuses tampered, unsigned and wrongly signed deliveries: 401, nothing handed over, a warning without the signature', async () => {
    const d = jira.webhooks.deliveries.at(-1)!;
    const sig = d.headers['X-Hub-Signature'] ?? d.headers['x-hub-signature']!;
    expect(sig).toBe(sign(d.body));
    const oneByte = Buffer.from(d.body);
    oneByte[oneByte.indexOf('Done')] = 'd'.charCodeAt(0);
    const cases: [string, string | Buffer, Record<string, string>][] = [
      ['one byte changed', oneByte, { 'x-hub-signature': sig }],
      ['the valid signature replayed with another body', d.body.replace('"Done"', '"To Do"'), { 'x-hub-signature': sig }],
      ['signed with another secret', d.body, { 'x-hub-signature': sign(d.body, 'not-the-secret-at-all-000') }],
      ['no header', d.body, {}],
      ['sha1= instead of sha256=', d.body, { 'x-hub-signature': `sha1=${createHmac('sha1', SECRET).update(d.body).digest('hex')}` }],
      ['the bare hex', d.body, { 'x-hub-signature': sig.slice('sha256='.length) }],
      ['a truncated signature', d.body, { 'x-hub-signature': sig.slice(0, -2) }],
      ['a bearer token instead', d.body, { authorization: `Bearer ${TOKEN}` }],
    ];
    for (const [what, body, headers] of cases) {
      const e = await codedError(await post(body, headers), 401);
      expect(e.code, what).toBe('E_UNAUTHORIZED');
      expect(e.hint, what).toMatch(/JIRA_WEBHOOK_SECRET/);
    }
    expect(seen).toEqual([]);
    const warns = lines.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.msg === 'refused a Jira webhook delivery');
    expect(warns).toHaveLength(cases.length);
    expect(warns.every((w) => w.level === 'warn')).toBe(true);
    const all = lines.join('\n');
    expect(all).not.toContain(sig.slice('sha256='.length));
    expect(all).not.toContain(SECRET);
  });

  it('the same delivery as sent is accepted (the signature is over the raw bytes, not a re-serialization)', async () => {
    const d = jira.webhooks.deliveries.at(-1)!;
    const spaced = `  ${d.body.replace('{', '{ ')}  `; // still JSON, other bytes: needs its own signature
    expect((await post(spaced, { 'x-hub-signature': sign(d.body) })).status).toBe(401);
    expect((await post(spaced, { 'x-hub-signature': sign(spaced).toUpperCase().replace('SHA256=', 'sha256=') })).status).toBe(200);
    expect(seen).toHaveLength(1);
  });
});

describe('POST /jira/webhook: what is refused before the handler', () => {
  it('a valid signature over something that is not JSON is 400 E_INPUT_NOT_JSON', async () => {
    const body = 'not json {';
    const e = await codedError(await post(body, { 'x-hub-signature': sign(body) }), 400);
    expect(e.code).toBe('E_INPUT_NOT_JSON');
  });

  it('a valid signature over JSON that is not an issue event is 400 E_INPUT_SHAPE', async () => {
    for (const body of ['{}', '[]', '{"webhookEvent":"jira:issue_updated","issue":{"key":"not a key"}}', 'null']) {
      const e = await codedError(await post(body, { 'x-hub-signature': sign(body) }), 400);
      expect(e.code, body).toBe('E_INPUT_SHAPE');
    }
    expect(seen).toEqual([]);
  });

  it('an event other than issue created/updated is answered 200 {ignored: true} without the handler', async () => {
    const body = JSON.stringify({ webhookEvent: 'jira:issue_deleted', issue: { key: 'SEC-1', fields: {} } });
    const r = await post(body, { 'x-hub-signature': sign(body) });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ ignored: true });
    expect(seen).toEqual([]);
  });

  it('a body over the cap is 413', async () => {
    const big = JSON.stringify({ webhookEvent: 'jira:issue_updated', issue: { key: 'SEC-1' }, pad: 'x'.repeat(2 * 1024 * 1024) });
    const e = await codedError(await post(big, { 'x-hub-signature': sign(big) }), 413);
    expect(e.message).toMatch(/larger than/);
    const small = jiraWebhook({ secret: SECRET, onIssueEvent: async () => 'unknown', log: deps.log, maxBytes: 100 });
    const body = JSON.stringify({ webhookEvent: 'jira:issue_updated', issue: { key: 'SEC-1' }, pad: 'x'.repeat(200) });
    expect((await small.request('/webhook', { method: 'POST', body, headers: { 'x-hub-signature': sign(body) } })).status).toBe(413);
    expect(seen).toEqual([]);
  });

  it('with no JIRA_WEBHOOK_SECRET the route refuses everything (404, a hint naming the setting)', async () => {
    const off = createApp({ ...deps, onJiraIssueEvent: async (e) => {
        seen.push(e);
        return 'updated';
      },
    });
    const body = JSON.stringify({ webhookEvent: 'jira:issue_updated', issue: { key: 'SEC-1' } });
    const e = await codedError(await post(body, { 'x-hub-signature': sign(body) }, off), 404);
    expect(e.hint).toMatch(/JIRA_WEBHOOK_SECRET/);
    expect(seen).toEqual([]);
  });

  it('is served by the web role only', async () => {
    const worker = createApp({ ...deps, role: 'worker', jiraWebhookSecret: SECRET });
    const body = JSON.stringify({ webhookEvent: 'jira:issue_updated', issue: { key: 'SEC-1' } });
    expect((await post(body, { 'x-hub-signature': sign(body) }, worker)).status).toBe(404);
  });
});
