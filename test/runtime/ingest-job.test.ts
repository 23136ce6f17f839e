import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultJobs, makeProcessor } from '../../src/runtime/definitions.ts';
import { enqueue } from '../../src/runtime/enqueue.ts';
import { openInlineQueue } from '../../src/runtime/inline.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { createMetrics } from '../../src/runtime/metrics.ts';
import type { JobQueue, WorkerHandle } from '../../src/runtime/queue.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { FIXTURES } from '../helpers/fixtures.ts';
import { uniqueName, waitFor } from './helpers.ts';

// The ingest-file job runs the same pipeline as `trailbot ingest` (src/ingest.ts), writing each
// batch through the store and on to the flows. This drives it through a real queue and store.
const INPUTS = join(FIXTURES, 'inputs');

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let queue: JobQueue;
let worker: WorkerHandle;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  queue = await openInlineQueue(store.db, uniqueName('ingest'), { pollMs: 20 });
  const log = createLogger({ level: 'silent' });
  worker = await queue.work(makeProcessor(defaultJobs({}), { store, queue, log, metrics: createMetrics({ store, queue }), config: undefined }), { concurrency: 1 });
  dir = await mkdtemp(join(tmpdir(), 'trailbot-ingest-job-'));
  await mkdir(join(dir, 'mixed'));
  await copyFile(join(INPUTS, 'records-with-bad.json'), join(dir, 'mixed', 'records-with-bad.json'));
  await copyFile(join(INPUTS, 'truncated.json.gz'), join(dir, 'mixed', 'truncated.json.gz'));
  await copyFile(join(INPUTS, 'eventbridge.ndjson'), join(dir, 'mixed', 'eventbridge.ndjson'));
  await mkdir(join(dir, 'broken'));
  await copyFile(join(INPUTS, 'truncated.json.gz'), join(dir, 'broken', 'truncated.json.gz'));
});
afterAll(async () => {
  await worker?.close();
  await queue?.close();
  await store?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function settled(id: string) {
  return waitFor(`job ${id} to finish`, async () => {
    const j = await queue.get(id);
    return j && (j.state === 'completed' || j.state === 'failed') ? j : undefined;
  });
}

describe('the ingest-file job', () => {
  it('stores a folder’s good records, names every bad record and unreadable file, and adds nothing when run again', async () => {
    const first = await enqueue(queue, 'ingest-file', { path: join(dir, 'mixed') });
    const done = await settled(first.id);
    expect(done.state).toBe('completed');
    const r = done.returnValue as { files: number; events: number; inserted: number; duplicates: number; rejected: number; rejections: { where: string; reason: string }[]; flowJobs: string[] };
    expect(r.files).toBe(2);
    expect(r.inserted).toBeGreaterThan(0);
    expect(r.inserted + r.duplicates).toBe(r.events);
    expect(await store.count()).toBe(r.inserted);
    expect(r.rejected).toBe(r.rejections.length);
    expect(r.rejections.some((x) => x.where.endsWith('truncated.json.gz'))).toBe(true);
    expect(r.rejections.some((x) => /records-with-bad\.json/.test(x.where))).toBe(true);
    expect(r.flowJobs).toEqual([]); // no flows wired in this registry

    // The same folder with new content is new work; the same events are not stored twice.
    const again = await enqueue(queue, 'ingest-file', { path: join(dir, 'mixed'), fingerprint: 'touched' });
    const second = (await settled(again.id)).returnValue as { inserted: number; duplicates: number };
    expect(second.inserted).toBe(0);
    expect(second.duplicates).toBe(r.events);
    expect(await store.count()).toBe(r.inserted);
  });

  it('fails with a coded error naming the file when nothing can be read', async () => {
    const job = await enqueue(queue, 'ingest-file', { path: join(dir, 'broken') });
    const done = await settled(job.id);
    expect(done.state).toBe('failed');
    expect(done.failedReason).toMatch(/^E_INPUT_UNREADABLE: nothing could be read from .*broken: .*truncated\.json\.gz: /);
  });
});
