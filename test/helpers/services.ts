import { createConnection } from 'node:net';
import pg from 'pg';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './env.ts';

/**
 * The test files that use PostgreSQL or Redis ask for them here (createTestDatabase does for
 * PostgreSQL; a file that uses Redis calls `beforeAll(needRedis)`), so a missing service fails those
 * files with a message that says what to do, and the pure unit tests run without either.
 * Each answer is probed once per test file.
 */
let postgres: Promise<void> | undefined;
let redis: Promise<void> | undefined;

const HOW = 'run ./dev test, which starts throwaway PostgreSQL and Redis when none run';

export function needPostgres(): Promise<void> {
  postgres ??= (async () => {
    const c = new pg.Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5000 });
    try {
      await c.connect();
      await c.end();
    } catch (e) {
      throw new Error(`this test needs PostgreSQL at ${TEST_DATABASE_URL} (set TEST_DATABASE_URL, or ${HOW}): ${(e as Error).message}`);
    }
  })();
  return postgres;
}

export function needRedis(): Promise<void> {
  redis ??= (async () => {
    const answer = await ping(new URL(TEST_REDIS_URL));
    if (answer !== '+PONG') throw new Error(`this test needs Redis at ${TEST_REDIS_URL} (set TEST_REDIS_URL, or ${HOW}): ${answer}`);
  })();
  return redis;
}

/** What the Redis server at `url` answers to PING after AUTH when the URL has a password; else why nothing answered. */
export function ping(url: URL, timeoutMs = 5000): Promise<string> {
  const command = (...args: string[]): string => `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  const password = decodeURIComponent(url.password);
  const auth = password ? command('AUTH', ...(url.username ? [decodeURIComponent(url.username)] : []), password) : '';
  return new Promise((resolve) => {
    let got = '';
    const s = createConnection({ host: url.hostname, port: Number(url.port || 6379), timeout: timeoutMs }, () => s.write(auth + command('PING')));
    s.on('data', (d) => {
      got += d.toString();
      const refused = got.split('\r\n').find((l) => l.startsWith('-'));
      if (refused || got.includes('+PONG\r\n')) {
        s.destroy();
        resolve(refused ?? '+PONG');
      }
    });
    s.on('error', (e) => resolve(e.message));
    s.on('timeout', () => {
      s.destroy();
      resolve(`no answer within ${timeoutMs / 1000} s`);
    });
  });
}
