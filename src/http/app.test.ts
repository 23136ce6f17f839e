import { createServer, type Server, type Socket, connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { allIngestible } from '../../test/helpers/fixtures.ts';
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
  app = createApp({ store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'all', readyTimeoutMs: 1500 });
});
afterAll(async () => {
  await store?.close().catch(() => undefined);
  await db?.drop();
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
    expect(await noWho.json()).toEqual({ error: { code: 'E_USAGE', message: 'who is required: an e-mail, user name, session name, access key id or ARN' } });

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
  });
});
