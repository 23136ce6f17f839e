import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobQueue } from '../../src/runtime/queue.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { BACKENDS, dropRedisQueue, exited, spawnWorker, testQueue, uniqueName, waitFor } from './helpers.ts';

/**
 * Real processes, really killed. The `slow` job of the worker fixture writes a row when it starts and
 * stamps it when it ends, so every run of every job is visible from here.
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  await store.db.query('CREATE TABLE runs (job_id text NOT NULL, worker text NOT NULL, started timestamptz NOT NULL, ended timestamptz)');
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

async function runsOf(jobId: string): Promise<{ worker: string; ended: string | null }[]> {
  return (await store.db.query<{ worker: string; ended: string | null }>('SELECT worker, ended FROM runs WHERE job_id = $1 ORDER BY started', [jobId])).rows;
}

describe.each(BACKENDS)('on the %s queue', (backend) => {
  const name = uniqueName(`k${backend[0]}`);
  let queue: JobQueue;
  beforeAll(async () => {
    queue = await testQueue(backend, name, store, db.url);
  });
  afterAll(async () => {
    await queue?.close();
    if (backend === 'redis') await dropRedisQueue(name);
  });

  it('loses no work when a worker is killed (SIGKILL) in the middle of a job', async () => {
    const killed = `${name}-killed`;
    const first = await spawnWorker({ backend, queue: name, databaseUrl: db.url, tag: 'first', lockMs: 1000 });
    await queue.add({ name: 'slow', data: { ms: 1500 }, id: killed, attempts: 3, backoffMs: 100 });
    await waitFor('the first worker to start the job', async () => (await runsOf(killed)).length === 1);
    first.kill('SIGKILL');
    await exited(first);
    expect((await queue.get(killed))?.state).toBe('active'); // held by a dead worker

    const second = await spawnWorker({ backend, queue: name, databaseUrl: db.url, tag: 'second', lockMs: 1000 });
    try {
      const job = await waitFor('the job to be taken again and completed', async () => {
        const j = await queue.get(killed);
        return j?.state === 'completed' ? j : undefined;
      }, 20_000);
      expect(job.returnValue).toEqual({ by: 'second' });
      const runs = await runsOf(killed);
      expect(runs.map((r) => [r.worker, r.ended !== null])).toEqual([
        ['first', false], // cut short by the kill
        ['second', true], // done once, by the survivor
      ]);
    } finally {
      second.kill('SIGTERM');
      await exited(second);
    }
  });

  it('never runs the same job in two workers at once, and runs each job once', async () => {
    const workers = await Promise.all(['a', 'b'].map((tag) => spawnWorker({ backend, queue: name, databaseUrl: db.url, tag: `two-${tag}`, concurrency: 4, lockMs: 5000 })));
    try {
      const ids = Array.from({ length: 40 }, (_, i) => `${name}-two-${i}`);
      // Every job enqueued twice, from two producers at once.
      await Promise.all([...ids, ...ids].map((id) => queue.add({ name: 'slow', data: { ms: 40 }, id, attempts: 1, backoffMs: 100 })));
      await waitFor('all 40 jobs to complete', async () => (await queue.counts()).completed >= 41, 20_000);
      const rows = (
        await store.db.query<{ job_id: string; worker: string; s: number; e: number }>(
          `SELECT job_id, worker, extract(epoch FROM started)::float8 AS s, extract(epoch FROM ended)::float8 AS e FROM runs WHERE job_id LIKE $1`,
          [`${name}-two-%`],
        )
      ).rows;
      expect(rows).toHaveLength(40); // each job ran exactly once
      expect(new Set(rows.map((r) => r.job_id)).size).toBe(40);
      expect(rows.every((r) => r.e >= r.s)).toBe(true);
      // Both workers shared the work.
      expect(new Set(rows.map((r) => r.worker))).toEqual(new Set(['two-a', 'two-b']));
    } finally {
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map(exited));
    }
  });
});
