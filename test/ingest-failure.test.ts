import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTrail } from '../bench/lib/generate/index.ts';
import { TrailbotError } from '../src/errors.ts';
import { ingestPaths } from '../src/ingest.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { createTestDatabase } from './helpers/db.ts';

/**
 * Issue 8: a store error while files are still being read must fail the ingest (exit 3 for the
 * command, a failed try for a job), never kill the process with an unhandled rejection.
 */
const BIN = join(import.meta.dirname, '../bin/trailbot.js');
let dir: string;
let files: number;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trailbot-ingest-failure-'));
  // 20,000 events in ~250 files: the first batch (5,000 events) is written while most files are unread.
  files = (await generateTrail({ dir, events: 20_000, recordsPerFile: 80, seed: 8 })).files;
  db = await createTestDatabase();
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ingestPaths when the store fails mid-way', () => {
  it('stops reading, waits for the writes in flight and rejects with a coded error; no unhandled rejection', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => {
      unhandled.push(e);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      let calls = 0;
      let settledWrites = 0;
      // The real store, failing its second write the way a lost server does.
      const failing: Store = {
        ...store,
        ingest: async (batch, o) => {
          calls++;
          try {
            if (calls === 2) throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
            return await store.ingest(batch, o);
          } finally {
            settledWrites++;
          }
        },
      };
      let read = 0;
      const run = ingestPaths(failing, [dir], { batchSize: 500, parallel: 2, onFile: () => read++ });
      const err = await run.then(
        () => undefined,
        (e: unknown) => e,
      );
      await tick();
      await tick();
      expect(err).toBeInstanceOf(TrailbotError);
      expect((err as TrailbotError).code).toBe('E_STORE_UNAVAILABLE');
      expect((err as TrailbotError).message).toMatch(/Connection terminated unexpectedly/);
      expect(settledWrites).toBe(calls); // nothing left running behind the rejection
      expect(read).toBeLessThan(files); // it stopped reading
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('trailbot ingest when the store fails mid-way', () => {
  it('exits 3 with E_STORE_UNAVAILABLE instead of dying of an unhandled rejection', async () => {
    // Every insert into events now fails, as on a full disk.
    await store.db.query(`CREATE FUNCTION refuse_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$`);
    await store.db.query('CREATE TRIGGER refuse_events BEFORE INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION refuse_events()');
    try {
      const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [BIN, 'ingest', '-q', dir],
          { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', DATABASE_URL: db.url } },
          (e, _out, stderr) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, stderr }),
        );
      });
      expect(r.stderr).toMatch(/^trailbot: E_STORE_UNAVAILABLE: .*No space left on device/m);
      expect(r.code).toBe(3);
    } finally {
      await store.db.query('DROP TRIGGER refuse_events ON events');
    }
  });
});
