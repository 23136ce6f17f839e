import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateFlows, parseFlowsConfig } from '../../src/flows/index.ts';
import { ingestPaths } from '../../src/ingest.ts';
import { enqueue, ingestFileInput } from '../../src/runtime/enqueue.ts';
import { openQueue } from '../../src/runtime/open.ts';
import type { JobQueue } from '../../src/runtime/queue.ts';
import { SAMPLE_TRAIL } from '../../src/runtime/sample.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { needRedis } from '../helpers/services.ts';
import { type Backend, dropRedisQueue, exited, uniqueName, waitFor } from './helpers.ts';

beforeAll(needRedis);

/**
 * Issue 8: a worker killed after `store.ingest` committed and before `evaluate-flows` was enqueued
 * must not lose those events' flow evaluation. Real processes, a real SIGKILL at exactly that point
 * (the fixture kills itself when store.ingest resolves), then a fresh worker: the flows must have run
 * over every event once, giving the same findings as a run that was never interrupted.
 */
const WORKER = join(import.meta.dirname, 'fixtures/ingest-worker.ts');

function spawnIngestWorker(backend: Backend, queue: string, databaseUrl: string, kill: boolean): Promise<ChildProcess> {
  const child = spawn(process.execPath, [WORKER, backend, queue, databaseUrl, TEST_REDIS_URL, kill ? '1' : '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code, signal) => reject(new Error(`ingest worker exited (${code ?? signal}) before it was ready: ${err}`)));
  });
}

type FindingRow = { flow: string; key: string; count: number; first_seen: string; last_seen: string };
const findingsOf = async (s: Store): Promise<FindingRow[]> =>
  (await s.db.query<FindingRow>('SELECT flow, key, count, first_seen::text, last_seen::text FROM findings ORDER BY flow, key')).rows;

// What an uninterrupted run gives: the sample trail stored, then every flow over all of it at once.
let reference: { events: number; findings: FindingRow[]; joined: number };
beforeAll(async () => {
  const ref = await createTestDatabase();
  const s = await openStore({ databaseUrl: ref.url, dataDir: '/nonexistent' });
  try {
    await ingestPaths(s, [SAMPLE_TRAIL]);
    const ids = (await s.db.query<{ event_id: string }>('SELECT event_id FROM events')).rows.map((r) => r.event_id);
    await evaluateFlows(s, await s.events(ids), parseFlowsConfig(undefined));
    const joined = (await s.db.query<{ n: number }>('SELECT count(*)::int AS n FROM finding_events')).rows[0]!.n;
    reference = { events: ids.length, findings: await findingsOf(s), joined };
  } finally {
    await s.close();
    await ref.drop();
  }
  expect(reference.findings.length).toBeGreaterThan(0);
});

describe.each(['redis', 'inline'] as const)('on the %s queue', (backend) => {
  const name = uniqueName(`ob${backend[0]}`);
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: Store | undefined;
  let queue: JobQueue | undefined;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await exited(c);
    }
    await queue?.close();
    await store?.close();
    await db?.drop();
    if (backend === 'redis') await dropRedisQueue(name);
  });

  it('runs the flows over events stored by a worker SIGKILLed before it enqueued evaluate-flows, once', { timeout: 90_000 }, async () => {
    const first = await spawnIngestWorker(backend, name, db.url, true);
    children.push(first);
    store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
    queue = await openQueue({ queue: { backend, name, concurrency: 1 }, redisUrl: TEST_REDIS_URL, databaseUrl: db.url }, store);
    const job = await enqueue(queue, 'ingest-file', await ingestFileInput(SAMPLE_TRAIL));
    await exited(first);
    expect(first.signalCode).toBe('SIGKILL');
    // The events are committed; the flows never ran.
    expect(await store.count()).toBe(reference.events);
    expect(await findingsOf(store)).toEqual([]);

    const second = await spawnIngestWorker(backend, name, db.url, false);
    children.push(second);
    // The ingest job is taken again (its worker died) and finds every event already stored.
    const done = await waitFor('the ingest job to be retried and completed', async () => {
      const j = await queue!.get(job.id);
      return j?.state === 'completed' ? j : undefined;
    }, 20_000);
    expect(done.returnValue).toMatchObject({ inserted: 0 });
    // The flows ran over the killed worker's events: the same findings as an uninterrupted run.
    await waitFor('the findings of the killed ingest', async () => (await findingsOf(store!)).length >= reference.findings.length, 20_000);
    await waitFor('the outbox to be drained', async () => (await store!.db.query('SELECT 1 FROM flow_outbox')).rowCount === 0, 10_000);
    expect(await findingsOf(store)).toEqual(reference.findings);
    expect((await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM finding_events')).rows[0]!.n).toBe(reference.joined);
    expect(await store.count()).toBe(reference.events);
  });
});
