import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { TrailbotError } from '../../src/errors.ts';
import { defineJob, makeProcessor, type Registry } from '../../src/runtime/definitions.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { createMetrics } from '../../src/runtime/metrics.ts';
import { type JobQueue, RATE_LIMITED_MAX_AGE_MS, RATE_LIMITED_MAX_RETRIES, rateLimitedDelay, type WorkerEvent, type WorkerHandle } from '../../src/runtime/queue.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { BACKENDS, dropRedisQueue, testQueue, uniqueName, waitFor } from './helpers.ts';

// A 429's Retry-After (TrailbotError.retryAfterMs) through every queue backend: the job is tried
// again no earlier than asked, a storm of them uses up no attempts, and a cap stops it looping.

const rateLimited = (ms: number) =>
  new TrailbotError('E_JIRA_RATE_LIMITED', `Jira rate-limited creating an issue in SEC (429); retry in ${ms} ms`, { retryAfterMs: ms });

describe('rateLimitedDelay', () => {
  it('puts off a rate-limited try without an attempt, up to the count and age caps', () => {
    const now = Date.now();
    expect(rateLimitedDelay(rateLimited(1500), { rateLimitedRetries: 0, createdAtMs: now }, now)).toBe(1500);
    expect(rateLimitedDelay(new Error('ECONNRESET'), { rateLimitedRetries: 0 }, now)).toBeUndefined();
    expect(rateLimitedDelay(rateLimited(1500), { rateLimitedRetries: RATE_LIMITED_MAX_RETRIES - 1 }, now)).toBe(1500);
    expect(rateLimitedDelay(rateLimited(1500), { rateLimitedRetries: RATE_LIMITED_MAX_RETRIES }, now)).toBeUndefined();
    expect(rateLimitedDelay(rateLimited(1500), { rateLimitedRetries: 0, createdAtMs: now - RATE_LIMITED_MAX_AGE_MS - 1 }, now)).toBeUndefined();
  });
});

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

describe.each(BACKENDS)('the %s queue and Retry-After', (backend) => {
  let queue: JobQueue;
  let worker: WorkerHandle;
  const name = uniqueName(`ra${backend[0]}`);
  /** When each try of each job threw or returned (Date.now()). */
  const tries = new Map<string, number[]>();
  const events: WorkerEvent[] = [];
  const registry: Registry = {
    // Rate-limited `storm` times (retry after `ms`), then done.
    jira: defineJob({
      payload: z.object({ storm: z.number(), ms: z.number() }),
      async run(ctx, p) {
        const mine = tries.get(ctx.job.id) ?? [];
        tries.set(ctx.job.id, mine);
        mine.push(Date.now());
        if (mine.length <= p.storm) throw rateLimited(p.ms);
        return { tries: mine.length };
      },
    }),
  };

  beforeAll(async () => {
    queue = await testQueue(backend, name, store, db.url);
    const log = createLogger({ level: 'silent' });
    worker = await queue.work(makeProcessor(registry, { store, queue, log, metrics: createMetrics({ store, queue }), config: undefined }), {
      concurrency: 4,
      onEvent: (e) => events.push(e),
    });
  });
  afterAll(async () => {
    await worker?.close();
    await queue?.close();
    if (backend === 'redis') await dropRedisQueue(name);
  });

  const completed = (id: string) =>
    waitFor(`${id} to complete`, async () => {
      const j = await queue.get(id);
      if (j?.state === 'failed') throw new Error(`${id} failed: ${j.failedReason}`);
      return j?.state === 'completed' ? j : undefined;
    });

  it('tries a rate-limited job again no earlier than its retryAfterMs, and the try uses no attempt', async () => {
    // backoff 10 ms: an ordinary retry would come back at once.
    await queue.add({ name: 'jira', data: { storm: 1, ms: 1500 }, id: 'ra-1500', attempts: 2, backoffMs: 10 });
    const done = await completed('ra-1500');
    const [first, second] = tries.get('ra-1500')!;
    expect(second! - first!).toBeGreaterThanOrEqual(1500);
    expect(done.attemptsMade).toBe(1);
    expect(done.returnValue).toEqual({ tries: 2 });
    const put = events.find((e) => e.type === 'failed' && e.job.id === 'ra-1500');
    expect(put).toMatchObject({ willRetry: true, retryInMs: 1500, reason: expect.stringMatching(/^E_JIRA_RATE_LIMITED: /) });
  });

  it('a long 429 storm delays the job but does not fail it', async () => {
    await queue.add({ name: 'jira', data: { storm: 8, ms: 20 }, id: 'ra-storm', attempts: 2, backoffMs: 10 });
    const done = await completed('ra-storm');
    expect(tries.get('ra-storm')).toHaveLength(9);
    expect(done.attemptsMade).toBe(1);
  });

  it(`past ${RATE_LIMITED_MAX_RETRIES} rate-limited tries, each one uses an attempt: the job fails in the end`, async () => {
    await queue.add({ name: 'jira', data: { storm: 10_000, ms: 0 }, id: 'ra-endless', attempts: 3, backoffMs: 10 });
    const failed = await waitFor(
      'the endless storm to fail',
      async () => {
        const j = await queue.get('ra-endless');
        return j?.state === 'failed' ? j : undefined;
      },
      20_000,
    );
    expect(failed.attemptsMade).toBe(3);
    expect(failed.failedReason).toMatch(/^E_JIRA_RATE_LIMITED: /);
    expect(tries.get('ra-endless')).toHaveLength(RATE_LIMITED_MAX_RETRIES + 3);
  }, 30_000);
});
