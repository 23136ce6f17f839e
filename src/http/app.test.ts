import { createServer, type Server, type Socket, connect } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { allIngestible } from '../../test/helpers/fixtures.ts';
import { ERROR_CODES } from '../errors.ts';
import { createLogger } from '../runtime/logger.ts';
import { createMetrics } from '../runtime/metrics.ts';
import { openInlineQueue } from '../runtime/inline.ts';
import { openStore, type Store } from '../store/index.ts';
import { createApp } from './app.ts';
import { defaultFlowsConfig, evaluateFlows } from '../flows/index.ts';

/** A TCP proxy in front of PostgreSQL that the test can cut, as a network failure or a dead server would. */
async function proxy(target: { host: string; port: number }): Promise<{ port: number; cut: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    cut: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of sockets) s.destroy();
      }),
  };
}

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let cut: () => Promise<void>;
let app: ReturnType<typeof createApp>;
let deps: Parameters<typeof createApp>[0];

/** Two tokens of different lengths, as `openssl rand -hex 32` and `openssl rand -base64 30` print them. */
const TOKEN = 'f3a9c1d2e4b5a6978877665544332211ffeeddccbbaa99887766554433221100';
const OTHER = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2Fy';
const bearer = (t: string): RequestInit => ({ headers: { authorization: `Bearer ${t}` } });

/** Every error body: a declared code, a message and a hint saying what to do. */
async function expectCodedError(r: Response, status: number): Promise<{ code: string; message: string; hint: string }> {
  expect(r.status).toBe(status);
  const { error } = (await r.json()) as { error: { code: string; message: string; hint: string } };
  expect(ERROR_CODES).toContain(error.code);
  expect(typeof error.message).toBe('string');
  expect(typeof error.hint, JSON.stringify(error)).toBe('string');
  expect(error.hint.length).toBeGreaterThan(0);
  return error;
}

beforeAll(async () => {
  db = await createTestDatabase();
  const u = new URL(db.url);
  const p = await proxy({ host: u.hostname, port: Number(u.port || 5432) });
  cut = p.cut;
  u.port = String(p.port);
  store = await openStore({ databaseUrl: u.toString(), dataDir: '/nonexistent' });
  const all = allIngestible();
  await store.ingest(all);
  await evaluateFlows(store, all, defaultFlowsConfig());
  const queue = openInlineQueue(store.db, 'http-test');
  deps = { store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'all', readyTimeoutMs: 1500 };
  app = createApp(deps);
});
afterAll(async () => {
  await store?.close().catch(() => undefined);
  await db?.drop();
});

describe('access to the API', () => {
  let lines: string[];
  let locked: ReturnType<typeof createApp>;
  beforeAll(() => {
    lines = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const log = createLogger({ level: 'trace', destination: sink });
    // The list as TRAILBOT_API_TOKENS gives it after parsing: different lengths.
    locked = createApp({ ...deps, log, auth: { tokens: [TOKEN, OTHER] } });
  });

  it('refuses /api without a valid bearer token: 401, WWW-Authenticate: Bearer, a coded error with a hint', async () => {
    const cases: [string, RequestInit][] = [
      ['no header', {}],
      ['a wrong token', bearer('0'.repeat(64))],
      ['a prefix of a good token', bearer(TOKEN.slice(0, 40))],
      ['a good token and more', bearer(`${TOKEN}x`)],
      ['two tokens run together', bearer(`${TOKEN},${OTHER}`)],
      ['Basic instead of Bearer', { headers: { authorization: `Basic ${TOKEN}` } }],
      ['the token alone', { headers: { authorization: TOKEN } }],
      ['an empty bearer', { headers: { authorization: 'Bearer ' } }],
    ];
    for (const [what, init] of cases) {
      for (const path of ['/api/events?since=2000-01-01', '/api/events/any-id', '/api/jobs/x', '/api/nothing-here', '/api', '/api/']) {
        const r = await locked.request(path, init);
        expect(r.status, `${what} ${path}`).toBe(401);
        expect(r.headers.get('www-authenticate'), what).toMatch(/^Bearer\b/);
        const e = await expectCodedError(r, 401);
        expect(e.code).toBe('E_UNAUTHORIZED');
        expect(e.hint).toContain('TRAILBOT_API_TOKENS');
        expect(JSON.stringify(e)).not.toContain(TOKEN);
      }
    }
  });

  it('answers /api with any of the tokens, whatever their lengths; probes stay open', async () => {
    for (const t of [TOKEN, OTHER]) {
      const r = await locked.request('/api/events?event_name=ConsoleLogin&since=2000-01-01&limit=1', bearer(t));
      expect(r.status).toBe(200);
      expect(((await r.json()) as { events: unknown[] }).events).toHaveLength(1);
    }
    expect((await locked.request('/api/jobs?state=failed', { headers: { Authorization: `bearer   ${OTHER}` } })).status).toBe(200);
    for (const p of ['/healthz', '/metrics', '/']) expect((await locked.request(p)).status, p).toBe(200);
    expect([200, 503]).toContain((await locked.request('/readyz')).status);
    // Only /api is guarded, and only as Hono routes it: look-alike paths reach no API handler.
    for (const p of ['/API/events', '//api/events', '/api%2Fevents']) expect((await locked.request(p)).status, p).toBe(404);
  });

  it('never logs the token or the Authorization header', async () => {
    await locked.request('/api/jobs', bearer(TOKEN));
    await locked.request('/api/jobs', bearer(`${TOKEN}0`));
    await locked.request('/healthz', bearer(TOKEN));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    const all = lines.join('');
    expect(all).not.toContain(TOKEN);
    expect(all.toLowerCase()).not.toContain('bearer');
  });

  it('with no tokens and no sign-in, answers /api from this machine only', async () => {
    const from = (address: string) => ({ incoming: { socket: { remoteAddress: address, remotePort: 40000, remoteFamily: address.includes(':') ? 'IPv6' : 'IPv4' } } });
    for (const a of ['127.0.0.1', '127.3.2.1', '::1', '::ffff:127.0.0.1']) {
      expect((await app.request('/api/jobs', {}, from(a))).status, a).toBe(200);
    }
    for (const a of ['10.1.2.3', '192.168.0.7', '::ffff:10.0.0.1', 'fe80::1', '172.17.0.1']) {
      const r = await app.request('/api/jobs', {}, from(a));
      const e = await expectCodedError(r, 403);
      expect(e.code).toBe('E_FORBIDDEN');
      expect(e.hint).toContain('TRAILBOT_API_TOKENS');
    }
    expect((await app.request('/healthz', {}, from('10.1.2.3'))).status).toBe(200);
  });

  it('gives every HTTP error a declared code and a hint', async () => {
    const answers: [string, Response, number][] = [
      ['unknown route', await app.request('/nothing-here'), 404],
      ['unknown API route', await locked.request('/api/nothing-here', bearer(TOKEN)), 404],
      ['POST to a GET route', await locked.request('/api/events', { method: 'POST', ...bearer(TOKEN) }), 404],
      ['missing parameter', await app.request('/api/trail'), 400],
      ['bad time', await app.request('/api/events?since=yesterday'), 400],
      ['bad limit', await app.request('/api/events?limit=0'), 400],
      ['bad enum', await app.request('/api/jobs?state=maybe'), 400],
      ['bad boolean', await app.request('/api/events?read_only=perhaps'), 400],
      ['no such event', await app.request('/api/events/no-such-event'), 404],
      ['no such finding', await app.request('/api/findings/no-such-finding'), 404],
      ['no such report', await app.request('/api/reports/no-such-report'), 404],
      ['no such job', await app.request('/api/jobs/no-such-job'), 404],
      ['no token', await locked.request('/api/jobs'), 401],
    ];
    for (const [what, r, status] of answers) {
      const e = await expectCodedError(r, status);
      expect(e.code, what).toBe(status === 400 ? 'E_USAGE' : status === 404 ? 'E_NOT_FOUND' : 'E_UNAUTHORIZED');
    }
  });
});

describe('the HTTP app', () => {
  it('answers /healthz', async () => {
    const r = await app.request('/healthz');
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'ok', role: 'all' });
  });

  it('serves Prometheus metrics, with the lag of each source read from the store', async () => {
    await store.db.query(
      "INSERT INTO source_status (source, newest_event_at, last_run_at, last_events) VALUES ('org-trail', now() - interval '90 seconds', now(), 5)",
    );
    const r = await app.request('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await r.text();
    for (const name of ['trailbot_events_ingested_total', 'trailbot_findings_total', 'trailbot_tickets_total', 'trailbot_jobs{state="waiting"}', 'trailbot_job_duration_seconds', 'process_cpu_seconds_total']) {
      expect(text).toContain(name);
    }
    const lag = Number(/trailbot_source_lag_seconds\{source="org-trail"\} ([\d.]+)/.exec(text)?.[1]);
    expect(lag).toBeGreaterThanOrEqual(90);
    expect(lag).toBeLessThan(120);
  });

  it('answers the read-only API, and bad parameters with coded errors', async () => {
    const events = await app.request('/api/events?event_name=ConsoleLogin&since=2000-01-01&limit=5');
    expect(events.status).toBe(200);
    const body = (await events.json()) as { events: { action: string; summary: string }[] };
    expect(body.events.length).toBeGreaterThan(0);
    expect(body.events.every((e) => e.action === 'ConsoleLogin' && e.summary.length > 0)).toBe(true);

    const noWho = await app.request('/api/trail');
    expect(noWho.status).toBe(400);
    expect(await noWho.json()).toEqual({ error: { code: 'E_USAGE', message: 'who is required: an e-mail, user name, session name, access key id or ARN', hint: expect.stringContaining('snake_case') } });

    const badTime = await app.request('/api/events?since=yesterday');
    expect(badTime.status).toBe(400);
    expect(((await badTime.json()) as { error: { code: string } }).error.code).toBe('E_USAGE');

    const missing = await app.request('/api/nothing-here');
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('E_NOT_FOUND');

    const jobs = await app.request('/api/jobs?state=failed');
    expect(await jobs.json()).toMatchObject({ backend: 'inline', jobs: [] });
  });

  it('lists findings and shows one with all its events and rendered bodies', async () => {
    const list = await app.request('/api/findings?flow=root-activity');
    expect(list.status).toBe(200);
    const { findings } = (await list.json()) as { findings: { id: string; flow: string; count: number; slack?: string }[] };
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((f) => f.flow === 'root-activity' && f.slack === undefined)).toBe(true);
    const one = await app.request(`/api/findings/${findings[0]!.id}`);
    const { finding } = (await one.json()) as { finding: { id: string; count: number; eventIds: string[]; slack: string; jira: { type: string } } };
    expect(finding.eventIds).toHaveLength(finding.count);
    expect(finding.jira.type).toBe('doc');
    expect(finding.slack.length).toBeGreaterThan(0);
    expect((await app.request('/api/findings/nope')).status).toBe(404);
    const bad = await app.request('/api/findings?status=maybe');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { message: expect.stringContaining('status must be one of open') } });
  });

  it('answers /readyz 200 while the store is up and 503 naming the store once it is cut off', async () => {
    const up = await app.request('/readyz');
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({ status: 'ready', store: 'ok', queue: 'ok' });

    await cut();
    const down = await app.request('/readyz');
    expect(down.status).toBe(503);
    const body = (await down.json()) as { status: string; store: string };
    expect(body.status).toBe('not ready');
    expect(body.store).toMatch(/^down: /);
    // The API's errors while the store is down are coded, with a hint, and say nothing of the internals.
    const failing = await app.request('/api/events?since=2000-01-01');
    expect([500, 503]).toContain(failing.status);
    await expectCodedError(failing, failing.status);
  });
});
