import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTicket, syncCursor } from '../src/actions/jira/tickets.ts';
import { readConfig } from '../src/config/index.ts';
import type { Ingestible, RawRecord } from '../src/events/model.ts';
import { normalize } from '../src/events/normalize.ts';
import { defaultFlowsConfig, evaluateFlows } from '../src/flows/index.ts';
import { createApp } from '../src/http/app.ts';
import { createJiraClient } from '../src/integrations/jira/client.ts';
import { type JiraStandin, startJiraStandin } from '../src/integrations/jira/standin/index.ts';
import { wirePipeline } from '../src/main.ts';
import { enqueue } from '../src/runtime/enqueue.ts';
import { idempotencyKey, jobPayloads, notifyDelayMs, notifyUpdateOptions } from '../src/runtime/jobs.ts';
import { openInlineQueue } from '../src/runtime/inline.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { createMetrics } from '../src/runtime/metrics.ts';
import type { JobContext, Pipeline } from '../src/runtime/pipeline.ts';
import type { JobQueue } from '../src/runtime/queue.ts';
import { createSources, type Sources } from '../src/sources/index.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { createTestDatabase } from './helpers/db.ts';
import { record } from './helpers/fixtures.ts';

/**
 * The Jira tickets wired into trailbot: the notify job keys, evaluate-flows enqueuing notify, the
 * tickets-sync catch-up, /api/findings' ticket and /api/tickets, and `trailbot tickets`.
 */
const TEMPLATE = record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04');
let seq = 0;
function keyEvents(n: number, actor: string): Ingestible[] {
  return Array.from({ length: n }, () => {
    seq++;
    const raw = structuredClone(TEMPLATE) as RawRecord & Record<string, unknown>;
    raw.eventID = `1111${String(seq).padStart(4, '0')}-0fa4-46e6-9322-022e8e934f04`;
    raw.eventTime = new Date(Date.parse('2024-08-01T13:00:00Z') + seq * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    (raw.userIdentity as Record<string, unknown>).userName = actor;
    (raw.userIdentity as Record<string, unknown>).arn = `arn:aws:iam::229654561268:user/${actor}`;
    return { event: normalize(raw), raw };
  });
}

describe('notify job keys', () => {
  it('open: one per finding; update: one per finding per minute, run at the minute’s end', () => {
    const open = jobPayloads.notify.parse({ target: 'jira', findingId: 'f1', action: 'open' });
    const update = jobPayloads.notify.parse({ target: 'jira', findingId: 'f1', action: 'update' });
    const t = Date.parse('2024-08-01T13:00:10Z');
    expect(idempotencyKey('notify', open, t)).toBe(idempotencyKey('notify', open, t + 3_600_000));
    expect(idempotencyKey('notify', update, t)).toBe(idempotencyKey('notify', update, t + 49_000));
    expect(idempotencyKey('notify', update, t)).not.toBe(idempotencyKey('notify', update, t + 50_000));
    expect(idempotencyKey('notify', update, t)).not.toBe(idempotencyKey('notify', jobPayloads.notify.parse({ target: 'jira', findingId: 'f2', action: 'update' }), t));
    expect(notifyDelayMs(t)).toBe(50_000);
    // What evaluate-flows and tickets-sync enqueue: the same key as the payload's own with the default window.
    expect(notifyUpdateOptions('f1', t)).toEqual({ key: idempotencyKey('notify', update, t), delayMs: 50_000 });
  });

  it('update with a shorter window (routing.jira.commentEvery): one per finding per window, run at its end', () => {
    const t = Date.parse('2024-08-01T13:00:10.250Z');
    const a = notifyUpdateOptions('f1', t, 2000);
    expect(a.delayMs).toBe(1750);
    expect(notifyUpdateOptions('f1', t + 1749, 2000).key).toBe(a.key);
    expect(notifyUpdateOptions('f1', t + 1750, 2000).key).not.toBe(a.key);
    expect(a.key).not.toBe(notifyUpdateOptions('f1', t).key);
  });
});

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let queue: JobQueue;
let jira: JiraStandin;
let sources: Sources;
let pipeline: Pipeline;
const log = createLogger({ level: 'silent' });

beforeAll(async () => {
  db = await createTestDatabase('trailbot_tickets_wiring');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  queue = openInlineQueue(store.db, 'tickets-wiring');
  jira = await startJiraStandin({ indexDelayMs: 0 });
  const config = readConfig({ DATABASE_URL: db.url, LOG_LEVEL: 'silent', ...jira.env() }, { cwd: import.meta.dirname });
  sources = createSources({ config });
  pipeline = wirePipeline(config, sources, { jira: createJiraClient(config.jira!) });
});
afterAll(async () => {
  await queue?.close();
  await sources?.close();
  await jira?.close();
  await store?.close();
  await db?.drop();
});

const ctx = (): JobContext => ({
  store,
  enqueue: (k, input, opts) => enqueue(queue, k, input, opts),
  log,
  metrics: createMetrics({ store, queue }),
  config: undefined,
  job: { id: 'wiring-test', kind: 'test', attempt: 1, attempts: 1 },
});
const notifyJobs = async () => [...(await queue.list('waiting', 1000)), ...(await queue.list('delayed', 1000))].filter((j) => j.name === 'notify');

describe('wiring', () => {
  it('evaluate-flows enqueues notify: open for a new finding, one delayed update per minute for 500 more events', async () => {
    const first = keyEvents(1, 'wired-1');
    await store.ingest(first);
    const r = await pipeline.evaluateFlows!(ctx(), { eventIds: first.map((e) => e.event.eventId) });
    const findingId = (r.findingIds as string[])[0]!;
    let jobs = await notifyJobs();
    expect(jobs.map((j) => j.data)).toEqual([{ target: 'jira', findingId, action: 'open' }]);
    for (let i = 0; i < 5; i++) {
      const batch = keyEvents(100, 'wired-1');
      await store.ingest(batch);
      await pipeline.evaluateFlows!(ctx(), { eventIds: batch.map((e) => e.event.eventId) });
    }
    jobs = await notifyJobs();
    const updates = jobs.filter((j) => (j.data as { action: string }).action === 'update');
    // Five batches in one minute (two when a minute ends between them): one comment each at most.
    expect(updates.length).toBeGreaterThanOrEqual(1);
    expect(updates.length).toBeLessThanOrEqual(2);
    expect(updates.every((j) => j.state === 'delayed')).toBe(true);
    // The jobs' work, as a worker would run it: one ticket, one comment for the 500 events.
    for (const j of jobs) await pipeline.notify!(ctx(), j.data as never);
    const t = (await currentTicket(store.db, findingId))!;
    expect(t).toMatchObject({ state: 'created', reportedCount: 501 });
    expect(jira.issues().filter((i) => i.labels.includes(`trailbot-${findingId}`))).toHaveLength(1);
    expect(jira.issue(t.key!)!.comments.length).toBeLessThanOrEqual(1);
  });

  it('a finding this batch opened gets an open job (at once) even when another batch joined it before the job read it back', async () => {
    const first = keyEvents(2, 'wired-race');
    const later = keyEvents(3, 'wired-race');
    await store.ingest([...first, ...later]);
    // Another worker's evaluate-flows commits `later` (joining the new finding) right after this job
    // committed `first` and before it reads its findings back.
    let raced = false;
    const racing: Store = Object.assign(Object.create(store) as Store, {
      db: Object.assign(Object.create(store.db) as Store['db'], {
        query: async (...a: Parameters<Store['db']['query']>) => {
          if (!raced && /FROM findings/.test(String(a[0])) && (await store.db.query("SELECT 1 FROM findings WHERE group_key LIKE '%wired-race%'")).rowCount) {
            raced = true;
            await evaluateFlows(store, later, defaultFlowsConfig());
          }
          return store.db.query(...a);
        },
      }),
    });
    const r = await pipeline.evaluateFlows!({ ...ctx(), store: racing }, { eventIds: first.map((e) => e.event.eventId) });
    expect(raced).toBe(true);
    const findingId = (r.findingIds as string[])[0]!;
    const jobs = (await notifyJobs()).filter((j) => (j.data as { findingId: string }).findingId === findingId);
    expect(jobs.map((j) => j.data)).toEqual([{ target: 'jira', findingId, action: 'open' }]);
    expect(r.findings).toEqual({ 'access-key-created': 1 });
  });

  it('the findings a batch opens are enqueued before the updates of those it joins (a new ticket waits for no comment)', async () => {
    const old = ['order-a', 'order-b', 'order-c'].map((p) => keyEvents(1, p));
    for (const e of old) {
      await store.ingest(e);
      await pipeline.evaluateFlows!(ctx(), { eventIds: e.map((x) => x.event.eventId) });
    }
    const batch = [...old.flatMap((_, i) => keyEvents(1, ['order-a', 'order-b', 'order-c'][i]!)), ...keyEvents(1, 'order-new')];
    await store.ingest(batch);
    const order: string[] = [];
    const c = ctx();
    const r = await pipeline.evaluateFlows!({ ...c, enqueue: (k, input, o) => {
        order.push((input as { action: string }).action);
        return c.enqueue(k, input, o);
      },
    }, { eventIds: batch.map((e) => e.event.eventId) });
    expect((r.findingIds as string[]).length).toBe(4);
    expect(order).toEqual(['open', 'update', 'update', 'update']);
  });

  it('tickets-sync enqueues notify for a finding whose enqueue was lost, once', async () => {
    const events = keyEvents(1, 'lost-1');
    await store.ingest(events);
    // The flows ran and committed, then the worker died: no notify was enqueued.
    const r = await evaluateFlows(store, events, defaultFlowsConfig());
    const findingId = r.findings[0]!.id;
    expect((await notifyJobs()).some((j) => (j.data as { findingId: string }).findingId === findingId)).toBe(false);
    const s = await pipeline.ticketsSync!(ctx(), {});
    expect(s).toMatchObject({ opened: 1 });
    expect((await notifyJobs()).filter((j) => (j.data as { findingId: string }).findingId === findingId).map((j) => j.data)).toEqual([{ target: 'jira', findingId, action: 'open' }]);
    expect(await syncCursor(store.db)).toBe(s.cursor);
    expect(await pipeline.ticketsSync!(ctx(), {})).toMatchObject({ findings: 0, opened: 0, updated: 0 });
  });

  it('/api/findings and /api/findings/:id carry the ticket; /api/tickets lists them', async () => {
    const app = createApp({ store, queue, metrics: createMetrics({ store, queue }), log, role: 'all' });
    const list = (await (await app.request('/api/findings?limit=1000')).json()) as { findings: { id: string; ticket: unknown }[] };
    const withTicket = list.findings.filter((f) => f.ticket !== null);
    expect(withTicket).toHaveLength(1);
    const t = (await currentTicket(store.db, withTicket[0]!.id))!;
    expect(withTicket[0]!.ticket).toEqual({ key: t.key, url: t.url, status: 'To Do' });
    expect(list.findings.filter((f) => f.ticket === null).length).toBeGreaterThan(0);
    const one = (await (await app.request(`/api/findings/${t.findingId}`)).json()) as { finding: { ticket: unknown } };
    expect(one.finding.ticket).toEqual({ key: t.key, url: t.url, status: 'To Do' });
    const tickets = (await (await app.request('/api/tickets')).json()) as { tickets: { key: string; findingId: string }[] };
    expect(tickets.tickets.map((x) => x.key)).toEqual([t.key]);
    expect((await app.request('/api/tickets?state=nope')).status).toBe(400);
  });

  it('`trailbot tickets [--json]` lists them from the store', async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [join(import.meta.dirname, '../bin/trailbot.js'), ...args], { env: { PATH: process.env.PATH ?? '', HOME: '/tmp', DATABASE_URL: db.url } }, (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const json = await run(['tickets', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const rows = JSON.parse(json.stdout) as { key: string; findingId: string; summary: string; status: string }[];
    expect(rows).toHaveLength(1);
    const text = await run(['tickets']);
    expect(text.stdout).toMatch(/^KEY\s+FINDING\s+STATUS\s+SUMMARY\n/);
    expect(text.stdout).toMatch(new RegExp(`\\n${rows[0]!.key} +${rows[0]!.findingId} +To Do +Access key created`));
  });
});
