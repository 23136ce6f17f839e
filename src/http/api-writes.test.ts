import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { FIXTURES } from '../../test/helpers/fixtures.ts';
import { defaultJobs, makeProcessor } from '../runtime/definitions.ts';
import { openInlineQueue } from '../runtime/inline.ts';
import { createLogger } from '../runtime/logger.ts';
import { createMetrics } from '../runtime/metrics.ts';
import type { JobQueue, WorkerHandle } from '../runtime/queue.ts';
import { UPLOAD_MAX_BYTES } from '../runtime/upload.ts';
import { openStore, type Store } from '../store/index.ts';
import { createApp } from './app.ts';

/** The API routes the CLI uses while `trailbot serve` holds the embedded store (src/cli/remote.ts). */
const TRAIL_FILE = join(
  FIXTURES,
  'inputs/trail/AWSLogs/o-exampleorg/111111111111/CloudTrail/us-east-1/2024/08/01/111111111111_CloudTrail_us-east-1_20240801T1330Z_AbCdEfGh12345678.json.gz',
);

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let queue: JobQueue;
let worker: WorkerHandle;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  queue = openInlineQueue(store.db, 'api-writes', { pollMs: 50 });
  const log = createLogger({ level: 'silent' });
  const metrics = createMetrics({ store, queue });
  worker = await queue.work(makeProcessor(defaultJobs({}), { store, queue, log, metrics, config: undefined }), { concurrency: 2 });
  app = createApp({ store, queue, metrics, log, role: 'all' });
});
afterAll(async () => {
  await worker?.close();
  await queue?.close();
  await store?.close();
  await db?.drop();
});

const post = (path: string, body: RequestInit['body'], headers: Record<string, string> = {}): Promise<Response> => Promise.resolve(app.request(path, { method: 'POST', body, headers }));

describe('POST /api/ingest', () => {
  it('ingests a gzipped trail file as CloudTrail wrote it, through an ingest-file job; the same file again adds nothing', async () => {
    const bytes = readFileSync(TRAIL_FILE);
    const first = await post('/api/ingest?name=logs/a.json.gz', bytes);
    expect(first.status).toBe(200);
    const r = (await first.json()) as { job: string; files: number; inserted: number; duplicates: number };
    expect(r).toMatchObject({ files: 1, duplicates: 0 });
    expect(r.inserted).toBeGreaterThan(0);
    expect((await queue.get(r.job))?.name).toBe('ingest-file');
    expect(await store.count()).toBe(r.inserted);
    const again = (await (await post('/api/ingest?name=logs/a.json.gz', bytes)).json()) as { inserted: number; duplicates: number };
    expect(again).toMatchObject({ inserted: 0, duplicates: r.inserted });
  });

  it('names the uploaded file in rejections, and refuses an unreadable file without leaving a failed job', async () => {
    const mixed = await post('/api/ingest?name=in/mixed.ndjson', readFileSync(join(FIXTURES, 'inputs/mixed.ndjson')));
    const m = (await mixed.json()) as { rejected: number; rejections: { where: string; reason: string }[] };
    expect(m.rejected).toBe(3);
    expect(m.rejections.map((x) => x.where)).toEqual(['in/mixed.ndjson:2', 'in/mixed.ndjson:4', 'in/mixed.ndjson:6']);
    const bad = (await (await post('/api/ingest?name=x/not-json.json', readFileSync(join(FIXTURES, 'inputs/not-json.json')))).json()) as Record<string, unknown>;
    expect(bad).toMatchObject({ job: null, files: 0, failedFiles: 1, rejected: 1, rejections: [{ where: 'x/not-json.json' }] });
    const truncated = (await (await post('/api/ingest?name=t.json.gz', readFileSync(join(FIXTURES, 'inputs/truncated.json.gz')))).json()) as { rejections: { reason: string }[] };
    expect(truncated.rejections[0]!.reason).toMatch(/^corrupt gzip data/);
    expect(await queue.list('failed', 10)).toEqual([]);
  });

  it('refuses a body over the size limit with 413', async () => {
    const r = await post('/api/ingest?name=big.json', new Uint8Array(16), { 'content-length': String(UPLOAD_MAX_BYTES + 1) });
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/larger than 64 MiB/);
  });
});

describe('POST /api/jobs and /api/jobs/:id/retry, GET /api/queue', () => {
  it('queues a job by kind and data, and never one that names a server path or acts in IAM', async () => {
    const ok = await post('/api/jobs', JSON.stringify({ kind: 'probe', data: { note: 'api' } }), { 'content-type': 'application/json' });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { id: string }).id).toMatch(/^probe-/);
    for (const kind of ['ingest-file', 'remediate']) {
      const r = await post('/api/jobs', JSON.stringify({ kind, data: { path: '/etc/shadow' } }), { 'content-type': 'application/json' });
      expect(r.status, kind).toBe(400);
    }
    const shape = await post('/api/jobs', JSON.stringify({ kind: 'probe', data: { ms: -1 } }), { 'content-type': 'application/json' });
    expect(shape.status).toBe(400);
    expect(((await shape.json()) as { error: { code: string } }).error.code).toBe('E_INPUT_SHAPE');
  });

  it('retries only failed jobs, and describes the queue', async () => {
    const { id } = (await (await post('/api/jobs', JSON.stringify({ kind: 'probe', data: { note: 'retry' } }), { 'content-type': 'application/json' })).json()) as { id: string };
    const r = await post(`/api/jobs/${id}/retry`, '');
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/only failed jobs can be retried/);
    const q = (await (await app.request('/api/queue')).json()) as { backend: string; name: string; counts: Record<string, number>; schedules: unknown[] };
    expect(q).toMatchObject({ backend: 'inline', name: 'api-writes', schedules: [] });
    expect(Object.keys(q.counts)).toEqual(['waiting', 'delayed', 'active', 'completed', 'failed']);
  });
});
