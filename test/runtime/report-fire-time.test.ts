import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultJobs, makeProcessor } from '../../src/runtime/definitions.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { createMetrics } from '../../src/runtime/metrics.ts';
import type { JobPayload } from '../../src/runtime/jobs.ts';
import type { JobQueue, WorkerHandle } from '../../src/runtime/queue.ts';
import { runScheduledReport } from '../../src/reports/scheduled.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { type Backend, dropRedisQueue, testQueue, uniqueName, waitFor } from './helpers.ts';

/**
 * A scheduled `report` job carries its fire time (from the job the scheduler made), and every try of
 * it, retries included, reports the period ending then: not the time the try happens to run.
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;

beforeAll(async () => {
  db = await createTestDatabase('trailbot_fire');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

const BACKENDS: Backend[] = ['inline', 'redis'];

describe.each(BACKENDS)('a scheduled report on the %s queue', (backend) => {
  let queue: JobQueue;
  let worker: WorkerHandle;
  const name = uniqueName(`fire${backend[0]}`);
  const tries: { jobId: string; attempt: number; p: JobPayload<'report'>; until: string }[] = [];
  const schedules = [{ id: 'weekly', kind: 'denied' as const }];

  beforeAll(async () => {
    queue = await testQueue(backend, name, store, db.url);
    const registry = defaultJobs({
      report: async (ctx, p) => {
        const r = await runScheduledReport(ctx.store, schedules, p);
        tries.push({ jobId: ctx.job.id, attempt: ctx.job.attempt, p, until: r.until });
        if (ctx.job.attempt === 1) throw new Error('ECONNRESET: the first try fails after building the report');
        return r;
      },
    });
    worker = await queue.work(makeProcessor(registry, { store, queue, log: createLogger({ level: 'silent' }), metrics: createMetrics({ store, queue }), config: undefined }), {
      concurrency: 1,
    });
  });
  afterAll(async () => {
    await worker?.close();
    await queue?.unschedule('report-weekly').catch(() => undefined);
    await queue?.close();
    if (backend === 'redis') await dropRedisQueue(name);
  });

  it('hands every try the fire time, and the retry reports the same period', async () => {
    await queue.schedule({ id: 'report-weekly', every: 3_600_000, name: 'report', data: { report: 'weekly' }, attempts: 3, backoffMs: 50 });
    await waitFor('the scheduled report to be retried', async () => tries.length >= 2, 15_000);
    const [first, retry] = tries;
    expect(retry!.jobId).toBe(first!.jobId);
    expect(retry!.attempt).toBe(2);
    // The scheduler names the fire time in the job's id (BullMQ: repeat:<id>:<ms>; inline: repeat-<id>-<ms>).
    const fired = Number(/(\d{13})$/.exec(first!.jobId)![1]);
    expect(first!.p.at).toBe(new Date(fired).toISOString());
    expect(retry!.p.at).toBe(first!.p.at);
    expect(retry!.until).toBe(first!.until);
    expect(first!.until).toBe(new Date(Math.floor(fired / 60_000) * 60_000).toISOString());
  });
});
