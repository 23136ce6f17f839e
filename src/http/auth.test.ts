import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { FIXTURES } from '../../test/helpers/fixtures.ts';
import { ERROR_CODES } from '../errors.ts';
import { openInlineQueue } from '../runtime/inline.ts';
import { createLogger } from '../runtime/logger.ts';
import { createMetrics } from '../runtime/metrics.ts';
import type { JobQueue } from '../runtime/queue.ts';
import { openStore, type Store } from '../store/index.ts';
import { createApp } from './app.ts';

/**
 * Pages of other sites against the API (security review of issue 8): a page the operator opens runs on
 * this machine too, so "from loopback" is not enough. Open mode answers only loopback Host names
 * (DNS rebinding), and every mode refuses a foreign Origin, Sec-Fetch-Site: cross-site, and bodies
 * a page could send without a CORS preflight (text/plain, forms, no type).
 */

const TOKEN = 'f3a9c1d2e4b5a6978877665544332211ffeeddccbbaa99887766554433221100';
const RECORD = readFileSync(join(FIXTURES, 'inputs/array.json'));

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let queue: JobQueue;
let open: ReturnType<typeof createApp>;
let locked: ReturnType<typeof createApp>;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  queue = openInlineQueue(store.db, 'auth-test');
  const deps = { store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'all' as const };
  open = createApp(deps);
  locked = createApp({ ...deps, auth: { tokens: [TOKEN], origins: ['https://trailbot.example.com/'] } });
});
afterAll(async () => {
  await queue?.close();
  await store?.close();
  await db?.drop();
});

async function refused(r: Response, status: number, code: string): Promise<{ message: string; hint: string }> {
  expect(r.status).toBe(status);
  const { error } = (await r.json()) as { error: { code: string; message: string; hint: string } };
  expect(ERROR_CODES).toContain(error.code);
  expect(error.code).toBe(code);
  expect(error.hint.length).toBeGreaterThan(0);
  return error;
}

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({ method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });

describe('open mode (no tokens): only this machine, by address and by name', () => {
  it("refuses the reviewer's repro: text/plain to /api/ingest from evil.example under a rebinding Host; nothing is queued", async () => {
    const r = await open.request('/api/ingest', {
      method: 'POST',
      body: RECORD,
      headers: { 'content-type': 'text/plain', origin: 'http://evil.example', host: 'rebind.evil.example:3000' },
    });
    const e = await refused(r, 403, 'E_FORBIDDEN');
    expect(e.message).toContain('rebind.evil.example');
    expect(e.hint).toMatch(/localhost/);
    expect(await queue.counts()).toMatchObject({ waiting: 0, completed: 0, failed: 0 });
    expect(await store.count()).toBe(0);
  });

  it('refuses to be read under a name that is not loopback (a DNS-rebinding page), whatever the method', async () => {
    for (const host of ['rebind.evil.example:3000', 'rebind.evil.example', '127.0.0.1.nip.io:3000', 'localhost.evil.com', '10.0.0.1:3000', 'a:b:c']) {
      for (const path of ['/api/trail?who=alice', '/api/events?event_name=ConsoleLogin', '/api/jobs', '/api']) {
        const e = await refused(await open.request(path, { headers: { host } }), 403, 'E_FORBIDDEN');
        expect(e.hint, host).toContain('TRAILBOT_API_TOKENS');
      }
    }
    // Probes and metrics are not the API: a load balancer asks them under any name.
    expect((await open.request('/healthz', { headers: { host: 'rebind.evil.example' } })).status).toBe(200);
  });

  it('answers loopback names with any port', async () => {
    for (const host of ['localhost', 'localhost:3000', 'LOCALHOST:8080', '127.0.0.1:3000', '127.0.0.1', '[::1]:3000', '[::1]', 'trailbot.localhost:3000']) {
      expect((await open.request('/api/jobs', { headers: { host } })).status, host).toBe(200);
    }
  });

  it('refuses an absolute request URL naming another host, even with a loopback Host header', async () => {
    const r = await open.request('http://rebind.evil.example:3000/api/jobs', { headers: { host: 'localhost:3000' } });
    await refused(r, 403, 'E_FORBIDDEN');
  });
});

describe('every mode: no requests made by pages of other sites', () => {
  it('refuses a foreign Origin (and "null"), but not its own or none', async () => {
    for (const origin of ['http://evil.example', 'null', 'http://localhost:3001', 'https://localhost.evil.com', 'not a url']) {
      const e = await refused(await open.request('/api/jobs', { headers: { origin, host: 'localhost:3000' } }), 403, 'E_FORBIDDEN');
      expect(e.message).toContain('Origin');
    }
    for (const origin of ['http://localhost:3000', 'https://localhost:3000']) expect((await open.request('/api/jobs', { headers: { origin, host: 'localhost:3000' } })).status, origin).toBe(200);
    expect((await open.request('/api/jobs', { headers: { origin: 'http://localhost' } })).status).toBe(200);
  });

  it('refuses Sec-Fetch-Site cross-site and same-site, except a plain GET navigation (a link in a Jira ticket)', async () => {
    for (const site of ['cross-site', 'same-site']) {
      await refused(await open.request('/api/jobs', { headers: { 'sec-fetch-site': site, 'sec-fetch-mode': 'cors' } }), 403, 'E_FORBIDDEN');
      await refused(await open.request('/api/jobs', { headers: { 'sec-fetch-site': site, 'sec-fetch-mode': 'no-cors' } }), 403, 'E_FORBIDDEN');
      await refused(await open.request('/api/jobs', { ...json({ kind: 'probe', data: {} }), headers: { 'content-type': 'application/json', 'sec-fetch-site': site, 'sec-fetch-mode': 'navigate' } }), 403, 'E_FORBIDDEN');
    }
    expect((await open.request('/api/jobs', { headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' } })).status).toBe(200);
    for (const site of ['same-origin', 'none']) expect((await open.request('/api/jobs', { headers: { 'sec-fetch-site': site } })).status, site).toBe(200);
  });

  it('refuses with 415 a write whose body a page could send without asking first (text/plain, a form, no type)', async () => {
    const bodies: [string, RequestInit][] = [
      ['text/plain', { method: 'POST', body: JSON.stringify({ kind: 'probe', data: { note: 'csrf' } }), headers: { 'content-type': 'text/plain' } }],
      ['a form', { method: 'POST', body: 'kind=probe', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
      ['multipart', { method: 'POST', body: 'x', headers: { 'content-type': 'multipart/form-data; boundary=x' } }],
      ['no type, with a length', { method: 'POST', body: new TextEncoder().encode('{"kind":"probe"}'), headers: { 'content-length': '16' } }],
      ['no type, bytes', { method: 'POST', body: new TextEncoder().encode('{"kind":"probe"}') }],
    ];
    for (const [what, init] of bodies) {
      for (const path of ['/api/jobs', '/api/ingest', '/api/jobs/any/retry']) {
        const e = await refused(await open.request(path, init), 415, 'E_CONTENT_TYPE');
        expect(e.hint, `${what} ${path}`).toContain('application/json');
      }
    }
    await refused(await open.request('/api/jobs', { method: 'POST', body: '{}', headers: { 'content-type': 'application/octet-stream' } }), 415, 'E_CONTENT_TYPE');
    expect(await queue.counts()).toMatchObject({ waiting: 0 });
    expect(await store.count()).toBe(0);
  });

  it('takes what the CLI sends: JSON to /api/jobs, a bodiless retry (404 for an unknown job, not 415)', async () => {
    expect((await open.request('/api/jobs', json({ kind: 'probe', data: { note: 'ok' } }))).status).toBe(200);
    expect((await open.request('/api/jobs', json({ kind: 'probe', data: { note: 'ok2' } }, { 'content-type': 'application/json; charset=utf-8' }))).status).toBe(200);
    expect((await open.request('/api/jobs/no-such-job/retry', { method: 'POST' })).status).toBe(404);
    expect((await open.request('/api/jobs/no-such-job/retry', { method: 'POST', headers: { 'content-length': '0' } })).status).toBe(404);
  });

  it('with tokens: any Host (behind a proxy), but still no foreign Origin, cross-site fetch or text/plain', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await locked.request('/api/jobs', { headers: { ...auth, host: 'trailbot.example.com' } })).status).toBe(200);
    expect((await locked.request('/api/jobs', { headers: { ...auth, host: '127.0.0.1:3000', origin: 'https://trailbot.example.com' } })).status).toBe(200);
    expect((await locked.request('/api/jobs', { headers: { ...auth, host: 'trailbot.example.com', origin: 'https://trailbot.example.com' } })).status).toBe(200);
    await refused(await locked.request('/api/jobs', { headers: { ...auth, host: 'trailbot.example.com', origin: 'https://evil.example' } }), 403, 'E_FORBIDDEN');
    await refused(await locked.request('/api/jobs', { headers: { ...auth, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'cors' } }), 403, 'E_FORBIDDEN');
    await refused(await locked.request('/api/jobs', { method: 'POST', body: '{"kind":"probe"}', headers: { ...auth, 'content-type': 'text/plain' } }), 415, 'E_CONTENT_TYPE');
  });
});
