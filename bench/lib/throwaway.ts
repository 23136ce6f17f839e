/**
 * What a benchmark makes for one run and removes after it: a database on the PostgreSQL server of
 * BENCH_DATABASE_URL, and a queue's keys in Redis.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type pg from 'pg';

/** The server throwaway databases are made on (BENCH_DATABASE_URL; its own database is only connected to). */
export const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** The Redis of the queues (BENCH_REDIS_URL). */
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A new, empty database `trailbot_bench_<random>` on the admin connection's server: its name and URL. */
export async function createDatabase(admin: pg.Client): Promise<{ name: string; url: string }> {
  const name = `trailbot_bench_${randomBytes(4).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

/** Drops a database createDatabase made, closing whatever is still connected to it. */
export async function dropDatabase(admin: pg.Client, name: string): Promise<void> {
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** Deletes every key of the queue `name` (`trailbot:<name>:*`) from Redis. */
export async function dropQueueKeys(redisUrl: string, name: string): Promise<void> {
  const r = new Redis(redisUrl);
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `trailbot:${name}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await r.del(...keys);
  } while (cursor !== '0');
  r.disconnect();
}
