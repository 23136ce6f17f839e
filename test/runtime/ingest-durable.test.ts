import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultJobs, makeProcessor } from '../../src/runtime/definitions.ts';
import { enqueue } from '../../src/runtime/enqueue.ts';
import { openInlineQueue } from '../../src/runtime/inline.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { createMetrics } from '../../src/runtime/metrics.ts';
import type { JobQueue, WorkerHandle } from '../../src/runtime/queue.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { FIXTURES, records } from '../helpers/fixtures.ts';
import { uniqueName, waitFor } from './helpers.ts';

/**
 * Issue 8: event batches commit with synchronous_commit off; every ingest must end with a commit that
 * waits for the disk (which flushes the log of every commit before it) before it reports success.
 * Seen from the server: the database's default is set to off, so only a transaction that asks for
 * `on` itself gets it, and statement triggers log, in order, each write to events, source_status and
 * ingest_sync with the synchronous_commit it ran under. After the ingest reports success, a write
 * under `on` must come after the last write to events.
 */
const BIN = join(import.meta.dirname, '../../bin/trailbot.js');
const INPUTS = join(FIXTURES, 'inputs');

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let queue: JobQueue;
let worker: WorkerHandle;

beforeAll(async () => {
  db = await createTestDatabase();
  const setup = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  try {
    await setup.db.query(`ALTER DATABASE ${db.name} SET synchronous_commit = off`);
    await setup.db.query('CREATE TABLE commit_log (seq bigserial PRIMARY KEY, tbl text NOT NULL, sync text NOT NULL)');
    await setup.db.query(`CREATE FUNCTION log_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO commit_log (tbl, sync) VALUES (TG_TABLE_NAME, current_setting('synchronous_commit')); RETURN NULL; END $$`);
    for (const t of ['events', 'source_status', 'ingest_sync']) {
      if ((await setup.db.query('SELECT to_regclass($1) AS t', [t])).rows[0]!.t === null) continue;
      await setup.db.query(`CREATE TRIGGER log_commit AFTER INSERT OR UPDATE ON ${t} FOR EACH STATEMENT EXECUTE FUNCTION log_commit()`);
    }
  } finally {
    await setup.close();
  }
  // Opened after the ALTER: its connections start with synchronous_commit off.
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  queue = await openInlineQueue(store.db, uniqueName('durable'), { pollMs: 20 });
  const log = createLogger({ level: 'silent' });
  worker = await queue.work(makeProcessor(defaultJobs({}), { store, queue, log, metrics: createMetrics({ store, queue }), config: undefined }), { concurrency: 1 });
});
afterAll(async () => {
  await worker?.close();
  await queue?.close();
  await store?.close();
  await db?.drop();
});
beforeEach(async () => {
  // Each case stores its events anew.
  await store.db.query('TRUNCATE commit_log, events, principals, access_keys, flow_outbox');
});

/** The writes since the last TRUNCATE, in order. */
async function writes(): Promise<{ tbl: string; sync: string }[]> {
  return (await store.db.query<{ tbl: string; sync: string }>('SELECT tbl, sync FROM commit_log ORDER BY seq')).rows;
}

function expectDurableEnd(log: { tbl: string; sync: string }[]): void {
  const lastEvents = log.map((w) => w.tbl).lastIndexOf('events');
  expect(lastEvents, 'events were written').toBeGreaterThanOrEqual(0);
  expect(log.filter((w) => w.tbl === 'events').every((w) => w.sync === 'off')).toBe(true); // the fast, asynchronous commits
  expect(log.slice(lastEvents + 1).filter((w) => w.sync === 'on'), `a synchronous commit after the last events write in ${JSON.stringify(log)}`).not.toEqual([]);
}

async function finished(id: string) {
  return waitFor(`job ${id}`, async () => {
    const j = await queue.get(id);
    return j && (j.state === 'completed' || j.state === 'failed') ? j : undefined;
  });
}

describe('every ingest ends with a durable commit before reporting success', () => {
  it('trailbot ingest', async () => {
    const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [BIN, 'ingest', '-q', join(INPUTS, 'trail')],
        { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: db.url } },
        (e, _out, stderr) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, stderr }),
      );
    });
    expect(r).toEqual({ code: 0, stderr: '' });
    expectDurableEnd(await writes());
    // The CLI runs no flows: it leaves its events to the next worker's outbox drainer.
    expect((await store.db.query('SELECT 1 FROM flow_outbox')).rowCount).toBeGreaterThan(0);
  });

  it('the ingest-file job (no source)', async () => {
    const job = await enqueue(queue, 'ingest-file', { path: join(INPUTS, 'trail') });
    expect((await finished(job.id)).state).toBe('completed');
    expectDurableEnd(await writes());
    expect((await store.db.query('SELECT 1 FROM flow_outbox')).rowCount).toBe(0); // no flows wired: no outbox rows
  });

  it('the ingest-batch job', async () => {
    const job = await enqueue(queue, 'ingest-batch', { source: 'hook', records: records('denied.json') });
    expect((await finished(job.id)).state).toBe('completed');
    expectDurableEnd(await writes());
  });
});
