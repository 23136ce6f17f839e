import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { TrailbotError } from '../../errors.ts';
import type { Db } from '../../store/index.ts';
import { ADVISORY_LOCKS } from '../../store/sql.ts';

/**
 * A sliding-window request limiter: at most `limit` requests per key in any `windowMs`, shared by
 * every process that uses the same backend. CloudTrail allows LookupEvents 2 requests per second per
 * account and Region; every trailbot process (pollers, live lookups) takes a slot here first.
 *
 * Three backends with the same algorithm (a log of the last window's request times per key):
 * - Redis: one Lua script, timed by the Redis server's clock, so processes on different hosts agree;
 * - PostgreSQL: the same in a table under a transaction-scoped advisory lock (no Redis needed);
 * - memory: one process only (the embedded store allows one process anyway).
 *
 * `windowMs` is the real window plus a safety margin: a request reaches AWS a little after its slot
 * was taken, and the delay varies, so two slots exactly 1000 ms apart could arrive 990 ms apart.
 */
export interface RateLimiter {
  readonly kind: 'redis' | 'postgres' | 'memory';
  readonly limit: number;
  readonly windowMs: number;
  /** Waits for a slot and takes it. Rejects with LimiterTimeout rather than wait past `deadline` (epoch ms); on abort, at once. */
  acquire(key: string, opts?: AcquireOptions): Promise<void>;
  /** After a throttling answer: fills the key's window so no process sends for `ms` (default one window). */
  penalize(key: string, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export interface AcquireOptions {
  signal?: AbortSignal | undefined;
  /** Give up (throw LimiterTimeout) rather than wait past this time (Date.now() ms). */
  deadline?: number | undefined;
}

export interface LimiterOptions {
  /** Requests per window (default 2: CloudTrail LookupEvents per account-region per second). */
  limit?: number;
  /** Window in ms including the safety margin (default 1000 + DEFAULT_SAFETY_MS). */
  windowMs?: number;
}

/**
 * Margin added to a 1 s window so arrival jitter never puts 3 requests in one AWS-side second. 100 ms
 * was not enough on a loaded 2-core machine (the fresh-clone test run, a dozen processes on 2 cores):
 * 3 times in 5 runs a request reached the stand-in 997–999 ms after the one two slots before it, i.e.
 * one request was held ~100 ms between its slot and the wire. 150 ms costs 4% of the ceiling
 * (2 requests per 1.15 s); a throttle costs every process a 1 s pause.
 */
export const DEFAULT_SAFETY_MS = 150;

/**
 * The next request for `key` could only go after the caller's deadline: because other work holds the
 * key's budget (`busy`), or because AWS kept answering with throttling errors (`throttled`; the
 * caller's backoff would end past the deadline). The caller stops with what it has done so far.
 */
export class LimiterTimeout extends TrailbotError {
  readonly why: 'busy' | 'throttled';
  constructor(key: string, waitMs: number, why: 'busy' | 'throttled' = 'busy', throttles = 0) {
    super(
      'E_SOURCE',
      why === 'throttled'
        ? `AWS throttled ${key} ${throttles} time${throttles === 1 ? '' : 's'} in a row; the next try (${Math.round(waitMs)} ms on) would come after the time limit`
        : `rate-limit wait for ${key} would end after the deadline (${Math.round(waitMs)} ms more)`,
      {
        hint:
          why === 'throttled'
            ? 'something else (another tool, the console) is using this account-region\'s request budget; the next run carries on where this one stopped'
            : 'other work is using this account-region\'s request budget; try again shortly',
      },
    );
    this.name = 'LimiterTimeout';
    this.why = why;
  }
}

function defaults(o: LimiterOptions): { limit: number; windowMs: number } {
  const limit = o.limit ?? 2;
  const windowMs = o.windowMs ?? 1000 + DEFAULT_SAFETY_MS;
  if (!Number.isInteger(limit) || limit < 1) throw new TrailbotError('E_USAGE', `limiter limit must be a whole number ≥ 1, got ${limit}`);
  if (!(windowMs >= 1)) throw new TrailbotError('E_USAGE', `limiter window must be ≥ 1 ms, got ${windowMs}`);
  return { limit, windowMs };
}

/**
 * The loop every backend shares: `tryTake` either takes a slot (returns 0) or says how long until one
 * frees up; we sleep that long (plus a little jitter so waiters do not all wake at once) and try again.
 */
async function waitLoop(key: string, tryTake: () => Promise<number>, opts: AcquireOptions): Promise<void> {
  for (;;) {
    opts.signal?.throwIfAborted();
    const wait = await tryTake();
    if (wait <= 0) return;
    const jittered = wait + 1 + Math.random() * 4;
    if (opts.deadline !== undefined && Date.now() + jittered > opts.deadline) throw new LimiterTimeout(key, jittered);
    await sleep(jittered, undefined, opts.signal ? { signal: opts.signal } : undefined);
  }
}

export function memoryLimiter(o: LimiterOptions = {}): RateLimiter {
  const { limit, windowMs } = defaults(o);
  const log = new Map<string, number[]>();
  const take = (key: string, at = performance.now()): number => {
    let times = log.get(key);
    if (!times) log.set(key, (times = []));
    while (times.length > 0 && times[0]! <= at - windowMs) times.shift();
    if (times.length < limit) {
      times.push(at);
      return 0;
    }
    // The slot frees when the oldest of the newest `limit` requests leaves the window.
    return times[times.length - limit]! + windowMs - at;
  };
  return {
    kind: 'memory',
    limit,
    windowMs,
    acquire: (key, opts = {}) => waitLoop(key, async () => take(key), opts),
    async penalize(key, ms = windowMs) {
      const times = log.get(key) ?? [];
      const until = performance.now() + ms - windowMs;
      log.set(key, [...times, ...Array.from({ length: limit }, () => until)].sort((a, b) => a - b));
    },
    close: async () => undefined,
  };
}

/**
 * KEYS[1] the key's sorted set; ARGV limit, window (µs), member, penalty (µs, 0 = take one slot).
 * Scores are the Redis server's time in µs. Returns 0 when a slot was taken, else µs to wait.
 */
const REDIS_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local penalty = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if penalty > 0 then
  for i = 1, limit do redis.call('ZADD', KEYS[1], now + penalty - window, ARGV[3] .. ':' .. i) end
  redis.call('PEXPIRE', KEYS[1], math.ceil((penalty + window) / 1000) + 1000)
  return 0
end
local n = redis.call('ZCARD', KEYS[1])
if n < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) * 2 + 1000)
  return 0
end
local edge = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
return math.max(1, tonumber(edge[2]) + window - now)
`;

export interface RedisLimiterOptions extends LimiterOptions {
  url: string;
  /** Key prefix, e.g. `trailbot:` (tests use a unique one). */
  prefix?: string;
}

interface LimiterRedis extends Redis {
  trailbotLimit(key: string, limit: number, windowUs: number, member: string, penaltyUs: number): Promise<number>;
}

export function redisLimiter(o: RedisLimiterOptions): RateLimiter {
  const { limit, windowMs } = defaults(o);
  const prefix = o.prefix ?? 'trailbot:';
  const redis = new Redis(o.url, { maxRetriesPerRequest: 2, connectTimeout: 5000, lazyConnect: false }) as LimiterRedis;
  redis.on('error', () => {
    /* reconnects on its own; a failing call rejects and the caller reports it */
  });
  redis.defineCommand('trailbotLimit', { numberOfKeys: 1, lua: REDIS_SCRIPT });
  const windowUs = Math.round(windowMs * 1000);
  const call = async (key: string, penaltyUs: number): Promise<number> => {
    try {
      return await redis.trailbotLimit(`${prefix}ratelimit:${key}`, limit, windowUs, randomBytes(8).toString('hex'), penaltyUs);
    } catch (e) {
      throw new TrailbotError('E_SOURCE', `the request limiter (Redis) failed: ${(e as Error).message}`, {
        hint: 'check REDIS_URL and that Redis is running; requests to AWS wait until it answers',
        cause: e,
      });
    }
  };
  return {
    kind: 'redis',
    limit,
    windowMs,
    acquire: (key, opts = {}) => waitLoop(key, async () => (await call(key, 0)) / 1000, opts),
    async penalize(key, ms = windowMs) {
      await call(key, Math.round(ms * 1000));
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}

/**
 * The same log in PostgreSQL (table source_rate_slots, migration 004). Each try is one short
 * transaction under an advisory lock on the key, timed by the database server's clock.
 */
export function postgresLimiter(db: Db, o: LimiterOptions = {}): RateLimiter {
  const { limit, windowMs } = defaults(o);
  const tryTake = (key: string): Promise<number> =>
    db.transaction(async (tx) => {
      // The slot's time is taken inside the transaction: its commit must be quick (no wait for the
      // disk; the table is unlogged anyway), or the request would leave later than its slot says.
      await tx.query('SET LOCAL synchronous_commit = off');
      await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [ADVISORY_LOCKS.limiter, key]);
      const r = await tx.query<{ wait_ms: number | null }>(
        `WITH gone AS (DELETE FROM source_rate_slots WHERE key = $1 AND at <= clock_timestamp() - $2::float8 * interval '1 millisecond'),
              live AS (SELECT at FROM source_rate_slots WHERE key = $1 AND at > clock_timestamp() - $2::float8 * interval '1 millisecond' ORDER BY at DESC LIMIT $3::int)
         SELECT CASE WHEN count(*) < $3::int THEN NULL
                     ELSE extract(epoch FROM (min(at) + $2::float8 * interval '1 millisecond' - clock_timestamp())) * 1000 END AS wait_ms
         FROM live`,
        [key, windowMs, limit],
      );
      const wait = r.rows[0]?.wait_ms;
      if (wait === null || wait === undefined) {
        await tx.query('INSERT INTO source_rate_slots (key, at) VALUES ($1, clock_timestamp())', [key]);
        return 0;
      }
      return Math.max(1, Number(wait));
    });
  return {
    kind: 'postgres',
    limit,
    windowMs,
    acquire: (key, opts = {}) => waitLoop(key, () => tryTake(key), opts),
    async penalize(key, ms = windowMs) {
      await db.query(
        `INSERT INTO source_rate_slots (key, at) SELECT $1, clock_timestamp() + ($2::float8 - $3::float8) * interval '1 millisecond' FROM generate_series(1, $4::int)`,
        [key, ms, windowMs, limit],
      );
    },
    close: async () => undefined,
  };
}

/**
 * The limiter for a deployment: Redis when there is one, else the PostgreSQL store, else memory
 * (the embedded store admits one process, so memory is shared by everything that can run).
 */
export function openLimiter(o: { redisUrl?: string | undefined; db?: Db | undefined; prefix?: string } & LimiterOptions): RateLimiter {
  if (o.redisUrl) return redisLimiter({ ...o, url: o.redisUrl });
  if (o.db && o.db.kind === 'postgres') return postgresLimiter(o.db, o);
  return memoryLimiter(o);
}
