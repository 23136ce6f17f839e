/**
 * npm run bench:queue [-- --jobs 10000 --concurrency 8 --only redis,postgres,inline-embedded,inline-postgres]
 *
 * How many trivial jobs per second each queue backend sustains, through trailbot's own queue code and
 * processor (payload check, dispatch, metrics): `probe` jobs with ms 0. For each backend the jobs are
 * first enqueued in bulk (timed), then one worker with the given concurrency drains them (timed).
 *
 * Uses the machine's Redis (BENCH_REDIS_URL, default redis://127.0.0.1:6379) and PostgreSQL
 * (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/postgres; a throwaway database is
 * created and dropped). The embedded store goes in a temporary folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { openBullQueue } from '../src/runtime/bullmq.ts';
import { defaultJobs, makeProcessor } from '../src/runtime/definitions.ts';
import { openInlineQueue } from '../src/runtime/inline.ts';
import { createLogger } from '../src/runtime/logger.ts';
import { createMetrics } from '../src/runtime/metrics.ts';
import type { JobQueue, NewJob } from '../src/runtime/queue.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { fmt } from './lib/report.ts';
import { ADMIN_URL, createDatabase, dropDatabase, dropQueueKeys, REDIS_URL } from './lib/throwaway.ts';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '8' },
    only: { type: 'string', default: 'redis-raw,redis,postgres,inline-embedded,inline-postgres' },
  },
});
const N = Number(values.jobs);
const CONCURRENCY = Number(values.concurrency);
const FACTS: Record<string, string> = {
  'redis-raw': 'BullMQ alone, no trailbot code: the ceiling on this machine now', redis: '~9,400 jobs/s (FACTS.md §5, Redis 7.0)', postgres: '~1,400 jobs/s (FACTS.md §5, PostgreSQL 15)' };

interface Result {
  backend: string;
  enqueuePerS: number;
  drainPerS: number;
  drainS: number;
}

async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const db = await createDatabase(admin);
  try {
    return await fn(db.url);
  } finally {
    await dropDatabase(admin, db.name);
    await admin.end();
  }
}

async function measure(backend: string, store: Store, queue: JobQueue): Promise<Result> {
  const jobs: NewJob[] = Array.from({ length: N }, (_, i) => ({ name: 'probe', data: { ms: 0 }, id: `probe-bench-${i}`, attempts: 1, backoffMs: 1000 }));
  const t0 = performance.now();
  await queue.addMany(jobs);
  const enqueueS = (performance.now() - t0) / 1000;
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => {
    finished = r;
  });
  const log = createLogger({ level: 'silent' });
  const processor = makeProcessor(defaultJobs({}), { store, queue, log, metrics: createMetrics({ store, queue }), config: undefined });
  const t1 = performance.now();
  const worker = await queue.work(processor, {
    concurrency: CONCURRENCY,
    onEvent: (e) => {
      if (e.type === 'completed' || e.type === 'failed') {
        if (++done === N) finished();
      }
    },
  });
  await all;
  const drainS = (performance.now() - t1) / 1000;
  await worker.close();
  const counts = await queue.counts();
  if (counts.completed !== N) throw new Error(`${backend}: expected ${N} completed, got ${JSON.stringify(counts)}`);
  return { backend, enqueuePerS: N / enqueueS, drainPerS: N / drainS, drainS };
}

const only = new Set(values.only.split(','));
const results: Result[] = [];
const queueName = `bench-${process.pid}`;

if (only.has('redis-raw')) {
  // The same jobs through bare BullMQ (a no-op processor), to show what trailbot's own layer costs.
  const name = `${queueName}-raw`;
  const qConn = new Redis(REDIS_URL);
  const wConn = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection: qConn, prefix: 'trailbot' });
  const t0 = performance.now();
  for (let i = 0; i < N; i += 1000) {
    await queue.addBulk(Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ name: 'probe', data: { ms: 0 }, opts: { jobId: `probe-raw-${i + k}` } })));
  }
  const enqueueS = (performance.now() - t0) / 1000;
  let done = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => {
    finished = r;
  });
  const t1 = performance.now();
  const worker = new Worker(name, async () => ({ ok: true }), { connection: wConn, prefix: 'trailbot', concurrency: CONCURRENCY });
  worker.on('completed', () => {
    if (++done === N) finished();
  });
  await all;
  const drainS = (performance.now() - t1) / 1000;
  await worker.close();
  await queue.close();
  // BullMQ leaves connections it was handed open.
  qConn.disconnect();
  wConn.disconnect();
  await dropQueueKeys(REDIS_URL, name);
  results.push({ backend: 'redis-raw', enqueuePerS: N / enqueueS, drainPerS: N / drainS, drainS });
}
if (only.has('redis')) {
  await withDatabase(async (url) => {
    const store = await openStore({ databaseUrl: url, dataDir: '/nonexistent' });
    const queue = await openBullQueue(queueName, { kind: 'redis', url: REDIS_URL });
    try {
      results.push(await measure('redis', store, queue));
    } finally {
      await queue.close();
      await store.close();
      await dropQueueKeys(REDIS_URL, queueName);
    }
  });
}
if (only.has('postgres')) {
  await withDatabase(async (url) => {
    const store = await openStore({ databaseUrl: url, dataDir: '/nonexistent' });
    const queue = await openBullQueue(queueName, { kind: 'postgres', url });
    try {
      results.push(await measure('postgres', store, queue));
    } finally {
      await queue.close();
      await store.close();
    }
  });
}
if (only.has('inline-postgres')) {
  await withDatabase(async (url) => {
    const store = await openStore({ databaseUrl: url, dataDir: '/nonexistent' });
    const queue = openInlineQueue(store.db, queueName);
    try {
      results.push(await measure('inline-postgres', store, queue));
    } finally {
      await queue.close();
      await store.close();
    }
  });
}
if (only.has('inline-embedded')) {
  const dir = mkdtempSync(join(tmpdir(), 'trailbot-bench-'));
  const store = await openStore({ dataDir: dir });
  const queue = openInlineQueue(store.db, queueName);
  try {
    results.push(await measure('inline-embedded', store, queue));
  } finally {
    await queue.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`\n${fmt(N)} trivial jobs (probe, ms 0) through trailbot's queue and processor, one worker at concurrency ${CONCURRENCY}:\n`);
console.log('backend            enqueue (bulk)    processed           comparison');
for (const r of results) {
  console.log(`${r.backend.padEnd(18)} ${`${fmt(r.enqueuePerS)} jobs/s`.padEnd(17)} ${`${fmt(r.drainPerS)} jobs/s`.padEnd(19)} ${FACTS[r.backend] ?? ''}`);
}
console.log('\ninline-embedded is the embedded default (PGlite in the data folder); inline-postgres is the inline backend on a PostgreSQL store.');
