import { createConnection } from 'node:net';
import pg from 'pg';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './helpers/env.ts';

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port, timeout: 2000 }, () => {
      s.end();
      resolve(true);
    });
    s.on('error', () => resolve(false));
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}

/** The suite runs against real PostgreSQL and Redis; say clearly when they are not there. */
export default async function setup(): Promise<void> {
  const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
  try {
    await c.connect();
    await c.end();
  } catch (e) {
    throw new Error(`tests need PostgreSQL at ${TEST_DATABASE_URL} (set TEST_DATABASE_URL): ${(e as Error).message}`);
  }
  const r = new URL(TEST_REDIS_URL);
  if (!(await reachable(r.hostname, Number(r.port || 6379)))) {
    throw new Error(`tests need Redis at ${TEST_REDIS_URL} (set TEST_REDIS_URL)`);
  }
}
