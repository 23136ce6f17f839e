import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/helpers/db.ts';
import { TEST_REDIS_URL } from '../../../test/helpers/env.ts';
import { needRedis } from '../../../test/helpers/services.ts';
import { openStore, type Store } from '../../store/index.ts';
import { LimiterTimeout, memoryLimiter, postgresLimiter, type RateLimiter, redisLimiter } from './limiter.ts';

beforeAll(needRedis);

/**
 * The limiter's promise: at most `limit` slots per key in any window, however many limiter instances
 * (stand-ins for processes, each with its own Redis or PostgreSQL connection) take slots at once.
 * A short window keeps the test fast; the algorithm is the same at 1 s.
 */
const WINDOW = 200;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;

beforeAll(async () => {
  db = await createTestDatabase('trailbot_lim');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

const prefix = `trailbot-test-${randomBytes(4).toString('hex')}:`;
const backends: [string, () => RateLimiter][] = [
  ['memory', () => memoryLimiter({ limit: 2, windowMs: WINDOW })],
  ['redis', () => redisLimiter({ url: TEST_REDIS_URL, prefix, limit: 2, windowMs: WINDOW })],
  ['postgres', () => postgresLimiter(store.db, { limit: 2, windowMs: WINDOW })],
];

/** Most slots taken in any window, from the times acquire() returned. */
function peak(times: number[], windowMs: number): number {
  const t = [...times].sort((a, b) => a - b);
  let best = 0;
  let lo = 0;
  for (let hi = 0; hi < t.length; hi++) {
    while (t[hi]! - t[lo]! >= windowMs) lo++;
    best = Math.max(best, hi - lo + 1);
  }
  return best;
}

describe.each(backends)('the %s limiter', (name, make) => {
  it('never lets more than 2 requests into one window, across 3 instances taking slots at once, and uses the whole budget', async () => {
    // memory is one process: its instances do not share; use one instance three times there.
    const one = make();
    const instances = name === 'memory' ? [one, one, one] : [one, make(), make()];
    const key = `k-${randomBytes(3).toString('hex')}`;
    const times: number[] = [];
    const started = performance.now();
    await Promise.all(
      instances.map(async (l) => {
        for (let i = 0; i < 4; i++) {
          await l.acquire(key);
          times.push(performance.now());
        }
      }),
    );
    const elapsed = performance.now() - started;
    // Slots are judged on the backend's clock; allow the few ms between its decision and ours.
    expect(peak(times, WINDOW - 15)).toBeLessThanOrEqual(2);
    // 12 slots at 2 per window: 5 full windows of waiting, and not much more.
    expect(elapsed).toBeGreaterThanOrEqual(5 * WINDOW - 20);
    expect(elapsed).toBeLessThan(5 * WINDOW * 1.6 + 300);
    for (const l of new Set(instances)) await l.close();
  });

  it('after a throttling answer, holds every instance back for the penalty', async () => {
    const a = make();
    const b = name === 'memory' ? a : make();
    const key = `p-${randomBytes(3).toString('hex')}`;
    await a.penalize(key, 600);
    const t0 = performance.now();
    await b.acquire(key);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(550);
    await a.close();
    if (b !== a) await b.close();
  });

  it('gives up with a coded error rather than wait past a deadline', async () => {
    const l = make();
    const key = `d-${randomBytes(3).toString('hex')}`;
    await l.penalize(key, 2000);
    const err = await l.acquire(key, { deadline: Date.now() + 100 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimiterTimeout);
    expect((err as LimiterTimeout).code).toBe('E_SOURCE');
    await l.close();
  });
});
