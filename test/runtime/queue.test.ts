import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TrailbotError } from '../../src/errors.ts';
import { defineJob, makeProcessor, type Registry } from '../../src/runtime/definitions.ts';
import { enqueue } from '../../src/runtime/enqueue.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { createMetrics } from '../../src/runtime/metrics.ts';
import type { JobQueue, WorkerHandle } from '../../src/runtime/queue.ts';
import { reconcileSchedules } from '../../src/runtime/service.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { BACKENDS, dropRedisQueue, testQueue, uniqueName, waitFor } from './helpers.ts';

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

describe.each(BACKENDS)('the %s queue', (backend) => {
  let queue: JobQueue;
  let worker: WorkerHandle;
  const name = uniqueName(`q${backend[0]}`);
  const runs = new Map<string, number>();
  let flaky = 0;
  const registry: Registry = {
    count: defineJob({
      payload: z.object({ n: z.number() }),
      async run(ctx) {
        runs.set(ctx.job.id, (runs.get(ctx.job.id) ?? 0) + 1);
        await sleep(30);
        return { ok: true };
      },
    }),
    flaky: defineJob({
      payload: z.object({}),
      async run() {
        flaky++;
        if (flaky < 3) throw new Error('ECONNRESET: the network hiccuped');
        return { tries: flaky };
      },
    }),
  };

  beforeAll(async () => {
    queue = await testQueue(backend, name, store, db.url);
    const log = createLogger({ level: 'silent' });
    worker = await queue.work(makeProcessor(registry, { store, queue, log, metrics: createMetrics({ store, queue }), config: undefined }), {
      concurrency: 4,
    });
  });
  afterAll(async () => {
    await worker?.close();
    await queue?.close();
    if (backend === 'redis') await dropRedisQueue(name);
  });

  it('runs a job once per idempotency key, even when it is enqueued twice at once', async () => {
    const job = { name: 'count', data: { n: 1 }, id: 'count-same-key', attempts: 3, backoffMs: 50 };
    const [a, b] = await Promise.all([queue.add(job), queue.add(job)]);
    expect(a.id).toBe(b.id);
    const again = await queue.add(job);
    expect(again.duplicate).toBe(true);
    await waitFor('the job to complete', async () => (await queue.get('count-same-key'))?.state === 'completed');
    await queue.add(job); // after completion too: still kept, still ignored
    await sleep(300);
    expect(runs.get('count-same-key')).toBe(1);
    expect((await queue.counts()).completed).toBe(1);
  });

  it('retries a transient fault with exponential backoff, then succeeds', async () => {
    await queue.add({ name: 'flaky', data: {}, id: 'flaky-1', attempts: 5, backoffMs: 40 });
    const done = await waitFor('the flaky job to complete', async () => {
      const j = await queue.get('flaky-1');
      return j?.state === 'completed' ? j : undefined;
    });
    expect(done.attemptsMade).toBe(3);
    expect(done.returnValue).toEqual({ tries: 3 });
  });

  it('fails bad input at once, keeps it visible with its reason, and retries it on request', async () => {
    await queue.add({ name: 'count', data: { n: 'not a number' }, id: 'count-bad', attempts: 5, backoffMs: 40 });
    const failed = await waitFor('the bad job to fail', async () => {
      const j = await queue.get('count-bad');
      return j?.state === 'failed' ? j : undefined;
    });
    expect(failed.attemptsMade).toBe(1); // UnrecoverableError: no retries
    expect(failed.failedReason).toMatch(/^E_INPUT_SHAPE: bad count job data: n: /);
    expect((await queue.list('failed', 10)).map((j) => j.id)).toContain('count-bad');
    await queue.retry('count-bad');
    await waitFor('the retried job to fail again', async () => (await queue.get('count-bad'))?.state === 'failed');
    await expect(queue.retry('count-same-key')).rejects.toThrow(/not failed/);
    await expect(queue.retry('no-such-job')).rejects.toThrow(/no job no-such-job/);
  });

  it('refuses a bad payload at the door with a coded error', async () => {
    const e = await enqueue(queue, 'ingest-file', { path: '' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TrailbotError);
    expect((e as TrailbotError).code).toBe('E_INPUT_SHAPE');
    expect((e as TrailbotError).message).toBe('bad ingest-file job: path: expected a file or folder path');
    const e2 = await enqueue(queue, 'notify', { target: 'email', findingId: 'f1' } as never).catch((x: unknown) => x);
    expect((e2 as TrailbotError).message).toMatch(/target: expected slack or jira/);
  });

  it('keeps one schedule per stable id however often it is upserted', async () => {
    const config = { sources: [{ id: 'org-trail', every: '1h' }], reports: [{ id: 'daily', kind: 'denied' as const, pattern: '0 8 * * *', tz: 'UTC' }] };
    await reconcileSchedules(queue, config);
    await reconcileSchedules(queue, config); // a restart, or a second replica
    let s = await queue.schedules();
    expect(s.map((x) => x.id).sort()).toEqual(['poll-org-trail', 'report-daily']);
    await reconcileSchedules(queue, { sources: [], reports: config.reports });
    s = await queue.schedules();
    expect(s.map((x) => x.id)).toEqual(['report-daily']);
    expect(await queue.unschedule('report-daily')).toBe(true);
  });
});

describe.each(BACKENDS)('the %s queue, under a backlog', (backend) => {
  it('takes jobs by priority (0 first, as BullMQ), oldest first within one; enqueue gives a new finding\'s notify the first place', async () => {
    const name = uniqueName(`p${backend[0]}`);
    const queue = await testQueue(backend, name, store, db.url);
    const order: string[] = [];
    const registry: Registry = {
      probe: defineJob({
        payload: z.object({ ms: z.number().optional(), note: z.string().optional() }),
        async run(_ctx, p) {
          order.push(p.note ?? '?');
          return {};
        },
      }),
      notify: defineJob({
        payload: z.object({ findingId: z.string() }).loose(),
        async run(_ctx, p) {
          order.push(`notify ${p.findingId}`);
          return {};
        },
      }),
    };
    try {
      // The backlog is there before a worker looks: the order is the queue's, not the arrival's.
      for (const [i, prio] of [3, 1, 0, 2, 0, 3, 1].entries()) {
        await queue.add({ name: 'probe', data: { note: `p${prio}-${i}` }, id: `probe-${i}`, attempts: 1, backoffMs: 10, priority: prio });
      }
      await enqueue(queue, 'probe', { note: 'enqueued probe' }, { key: 'late-probe' });
      await enqueue(queue, 'notify', { target: 'jira', findingId: 'f-open', action: 'open' });
      const worker = await queue.work(makeProcessor(registry, { store, queue, log: createLogger({ level: 'silent' }), metrics: createMetrics({ store, queue }), config: undefined }), { concurrency: 1 });
      await waitFor('every job', async () => order.length === 9);
      await worker.close();
      expect(order).toEqual(['p0-2', 'p0-4', 'notify f-open', 'p1-1', 'p1-6', 'p2-3', 'p3-0', 'p3-5', 'enqueued probe']);
    } finally {
      await queue.close();
      if (backend === 'redis') await dropRedisQueue(name);
    }
  });
});
