import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { openBullQueue } from '../../src/runtime/bullmq.ts';
import { openInlineQueue } from '../../src/runtime/inline.ts';
import type { JobQueue } from '../../src/runtime/queue.ts';
import type { Store } from '../../src/store/index.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { needRedis } from '../helpers/services.ts';

export type Backend = 'redis' | 'postgres' | 'inline';
export const BACKENDS: Backend[] = ['redis', 'postgres', 'inline'];

export function uniqueName(prefix = 't'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** A queue on the given backend; the inline one lives in `store` (a PostgreSQL test database). */
export async function testQueue(backend: Backend, name: string, store: Store, databaseUrl: string): Promise<JobQueue> {
  if (backend === 'redis') {
    await needRedis();
    return openBullQueue(name, { kind: 'redis', url: TEST_REDIS_URL });
  }
  if (backend === 'postgres') return openBullQueue(name, { kind: 'postgres', url: databaseUrl, schema: 'q_test' });
  return openInlineQueue(store.db, name, { pollMs: 50 });
}

/** Removes a test queue's keys from Redis. */
export async function dropRedisQueue(name: string): Promise<void> {
  await needRedis();
  const r = new Redis(TEST_REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `trailbot:${name}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}


const WORKER = join(import.meta.dirname, 'fixtures/worker.ts');

/** Starts the worker fixture in a real child process and waits until it is taking jobs. */
export async function spawnWorker(args: { backend: Backend; queue: string; databaseUrl: string; concurrency?: number; lockMs?: number; tag: string }): Promise<ChildProcess> {
  if (args.backend === 'redis') await needRedis();
  const child = spawn(
    process.execPath,
    [WORKER, args.backend, args.queue, args.databaseUrl, TEST_REDIS_URL, String(args.concurrency ?? 1), String(args.lockMs ?? 1000), args.tag],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`worker ${args.tag} exited with ${code}: ${err}`)));
  });
  return child;
}

export { exited, waitFor } from '../helpers/wait.ts';
