import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { FIXTURES } from '../../test/helpers/fixtures.ts';
import { defaultJobs, makeProcessor } from '../runtime/definitions.ts';
import { openInlineQueue } from '../runtime/inline.ts';
import { createLogger } from '../runtime/logger.ts';
import { createMetrics } from '../runtime/metrics.ts';
import { type JobInfo, type JobQueue, JOB_STATES, type WorkerHandle } from '../runtime/queue.ts';
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

const post = (path: string, body: RequestInit['body'], headers: Record<string, string> = {}, to = app): Promise<Response> => Promise.resolve(to.request(path, { method: 'POST', body, headers }));
/** What the CLI sends (src/cli/remote.ts): a file's bytes as application/octet-stream, everything else as JSON. */
const upload = (path: string, bytes: Uint8Array, headers: Record<string, string> = {}): Promise<Response> => post(path, bytes, { 'content-type': 'application/octet-stream', ...headers });
const postJson = (path: string, body: unknown, to = app): Promise<Response> => post(path, typeof body === 'string' ? body : JSON.stringify(body), { 'content-type': 'application/json' }, to);
type ErrorBody = { error: { code: string; message: string; hint: string } };
const allJobs = async (): Promise<JobInfo[]> => (await Promise.all(JOB_STATES.map((s) => queue.list(s, 1000)))).flat();

describe('POST /api/ingest', () => {
  it('ingests a gzipped trail file as CloudTrail wrote it, through an ingest-file job; the same file again adds nothing', async () => {
    const bytes = readFileSync(TRAIL_FILE);
    const first = await upload('/api/ingest?name=logs/a.json.gz', bytes);
    expect(first.status).toBe(200);
    const r = (await first.json()) as { job: string; files: number; inserted: number; duplicates: number };
    expect(r).toMatchObject({ files: 1, duplicates: 0 });
    expect(r.inserted).toBeGreaterThan(0);
    expect((await queue.get(r.job))?.name).toBe('ingest-file');
    expect(await store.count()).toBe(r.inserted);
    const again = (await (await upload('/api/ingest?name=logs/a.json.gz', bytes)).json()) as { inserted: number; duplicates: number };
    expect(again).toMatchObject({ inserted: 0, duplicates: r.inserted });
  });

  it('names the uploaded file in rejections, and refuses an unreadable file without leaving a failed job', async () => {
    const mixed = await upload('/api/ingest?name=in/mixed.ndjson', readFileSync(join(FIXTURES, 'inputs/mixed.ndjson')));
    const m = (await mixed.json()) as { rejected: number; rejections: { where: string; reason: string }[] };
    expect(m.rejected).toBe(3);
    expect(m.rejections.map((x) => x.where)).toEqual(['in/mixed.ndjson:2', 'in/mixed.ndjson:4', 'in/mixed.ndjson:6']);
    const bad = (await (await upload('/api/ingest?name=x/not-json.json', readFileSync(join(FIXTURES, 'inputs/not-json.json')))).json()) as Record<string, unknown>;
    expect(bad).toMatchObject({ job: null, files: 0, failedFiles: 1, rejected: 1, rejections: [{ where: 'x/not-json.json' }] });
    const truncated = (await (await upload('/api/ingest?name=t.json.gz', readFileSync(join(FIXTURES, 'inputs/truncated.json.gz')))).json()) as { rejections: { reason: string }[] };
    expect(truncated.rejections[0]!.reason).toMatch(/^corrupt gzip data/);
    expect(await queue.list('failed', 10)).toEqual([]);
  });

  it('refuses a body over the size limit with 413 E_TOO_LARGE, whose hint is about the size (not the query grammar)', async () => {
    const r = await upload('/api/ingest?name=big.json', new Uint8Array(16), { 'content-length': String(UPLOAD_MAX_BYTES + 1) });
    expect(r.status).toBe(413);
    const { error } = (await r.json()) as ErrorBody;
    expect(error.code).toBe('E_TOO_LARGE');
    expect(error.message).toMatch(/larger than 64 MiB/);
    expect(error.hint).toMatch(/split it|trailbot ingest/);
    expect(error.hint).not.toContain('snake_case');
  });

  it('takes gzip and JSON types too (what a script would send), not text/plain', async () => {
    const bytes = readFileSync(TRAIL_FILE);
    for (const type of ['application/gzip', 'application/x-gzip', 'application/json', 'application/x-ndjson']) {
      expect((await post('/api/ingest?name=logs/a.json.gz', bytes, { 'content-type': type })).status, type).toBe(200);
    }
    expect((await post('/api/ingest?name=logs/a.json.gz', bytes, { 'content-type': 'text/plain' })).status).toBe(415);
  });
});

describe('POST /api/jobs and /api/jobs/:id/retry, GET /api/queue', () => {
  it('queues a job by kind and data, and never one that names a server path or acts in IAM', async () => {
    const ok = await postJson('/api/jobs', { kind: 'probe', data: { note: 'api' } });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { id: string }).id).toMatch(/^probe-/);
    for (const kind of ['ingest-file', 'remediate']) {
      const r = await postJson('/api/jobs', { kind, data: { path: '/etc/shadow' } });
      expect(r.status, kind).toBe(400);
    }
    const shape = await postJson('/api/jobs', { kind: 'probe', data: { ms: -1 } });
    expect(shape.status).toBe(400);
    expect(((await shape.json()) as { error: { code: string } }).error.code).toBe('E_INPUT_SHAPE');
  });

  it('retries only failed jobs, and describes the queue', async () => {
    const { id } = (await (await postJson('/api/jobs', { kind: 'probe', data: { note: 'retry' } })).json()) as { id: string };
    const r = await post(`/api/jobs/${id}/retry`, undefined);
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/only failed jobs can be retried/);
    const q = (await (await app.request('/api/queue')).json()) as { backend: string; name: string; counts: Record<string, number>; schedules: unknown[] };
    expect(q).toMatchObject({ backend: 'inline', name: 'api-writes', schedules: [] });
    expect(Object.keys(q.counts)).toEqual(['waiting', 'delayed', 'active', 'completed', 'failed']);
  });

  it("never shows a /trail job's response_url (a credential: whoever holds it can answer the person as trailbot), in GET /api/jobs/:id or the lists", async () => {
    const secret = 'https://hooks.slack.com/commands/T1/123/SECRETresponsepath';
    const data = { responseUrl: secret, userId: 'U0ANALYST', answer: { kind: 'notice', notice: 'damaged' } };
    const { id } = (await (await postJson('/api/jobs', { kind: 'slack-trail', data })).json()) as { id: string };
    const one = await (await app.request(`/api/jobs/${id}`)).text();
    expect(one).toContain('U0ANALYST');
    expect(one).toContain('https://hooks.slack.com/***');
    expect(one).not.toContain('SECRETresponsepath');
    for (const state of JOB_STATES) expect(await (await app.request(`/api/jobs?state=${state}`)).text()).not.toContain('SECRETresponsepath');
  });

  it('answers 404 E_NOT_FOUND for the retry of a job that does not exist, as GET /api/jobs/:id does', async () => {
    for (const init of [{ method: 'POST' }, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }]) {
      const r = await app.request('/api/jobs/no-such-job/retry', init);
      expect(r.status).toBe(404);
      const { error } = (await r.json()) as ErrorBody;
      expect(error.code).toBe('E_NOT_FOUND');
      expect(error.message).toContain('no-such-job');
    }
    expect((await app.request('/api/jobs/no-such-job')).status).toBe(404);
  });

  it('answers a body that is not JSON with E_INPUT_NOT_JSON and a hint about JSON (not the query grammar)', async () => {
    for (const body of ['{"kind": "probe"', 'kind=probe', '']) {
      const r = await postJson('/api/jobs', body);
      expect(r.status, body).toBe(400);
      const { error } = (await r.json()) as ErrorBody;
      expect(error.code).toBe('E_INPUT_NOT_JSON');
      expect(error.hint).toContain('"kind"');
      expect(error.hint).not.toContain('snake_case');
    }
  });

  it('refuses a job body over 1 MiB with 413 E_TOO_LARGE, queueing nothing', async () => {
    // Valid JSON, and a valid job once parsed: only its size is wrong.
    const big = `{"kind": "probe", "data": {"note": "too-big"}${' '.repeat(1024 * 1024)}}`;
    const r = await postJson('/api/jobs', big);
    expect(r.status).toBe(413);
    const { error } = (await r.json()) as ErrorBody;
    expect(error.code).toBe('E_TOO_LARGE');
    expect(error.message).toContain('1 MiB');
    expect(error.hint).not.toContain('snake_case');
    expect((await allJobs()).filter((j) => (j.data as { note?: string }).note === 'too-big')).toEqual([]);
  });

  it('refuses at once a report job for a report that is not configured, naming the configured ones', async () => {
    const withReports = createApp({ store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'all', reportIds: ['daily', 'weekly-denied'] });
    const r = await postJson('/api/jobs', { kind: 'report', data: { report: 'dialy' } }, withReports);
    expect(r.status).toBe(400);
    const { error } = (await r.json()) as ErrorBody;
    expect(error.message).toContain('dialy');
    expect(`${error.message} ${error.hint}`).toContain('daily, weekly-denied');
    const none = createApp({ store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'all', reportIds: [] });
    const r2 = await postJson('/api/jobs', { kind: 'report', data: { report: 'daily' } }, none);
    expect(r2.status).toBe(400);
    expect(((await r2.json()) as ErrorBody).error.hint).toContain('reports:');
    expect((await allJobs()).filter((j) => j.name === 'report')).toEqual([]);
    // A configured one is queued as before.
    expect((await postJson('/api/jobs', { kind: 'report', data: { report: 'weekly-denied' } }, withReports)).status).toBe(200);
  });
});
