import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ingestPaths } from '../src/ingest.ts';
import { openStore, type Store } from '../src/store/index.ts';
import { createTestDatabase } from './helpers/db.ts';

/** ingestPaths with an AbortSignal (what Ctrl-C in `trailbot ingest` aborts): stop reading, store what was read, say what was left. */
let dir: string;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;

const record = (id: string) => ({
  eventVersion: '1.09',
  eventTime: '2026-01-15T12:00:00Z',
  eventSource: 'iam.amazonaws.com',
  eventName: 'GetUser',
  awsRegion: 'us-east-1',
  eventID: id,
  recipientAccountId: '111111111111',
  userIdentity: { type: 'IAMUser', accountId: '111111111111', userName: 'maria' },
});
async function logFile(name: string, ids: string[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, JSON.stringify({ Records: ids.map(record) }));
  return file;
}
const stored = async (): Promise<string[]> => (await store.db.query<{ event_id: string }>('SELECT event_id FROM events ORDER BY event_id')).rows.map((r) => r.event_id);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trailbot-ingest-interrupt-'));
  db = await createTestDatabase();
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('ingestPaths stopped by its signal', () => {
  it('reads no further file, stores what it had read, and says how many files were not read', async () => {
    await store.db.query('DELETE FROM events');
    const files = [await logFile('a.json', ['a1', 'a2']), await logFile('b.json', ['b1']), await logFile('c.json', ['c1'])];
    const ac = new AbortController();
    const stats = await ingestPaths(store, files, { signal: ac.signal, onFile: (f) => f.index === 1 && ac.abort() });
    expect(stats).toMatchObject({ interrupted: true, files: 1, events: 2, inserted: 2, unreadFiles: 2 });
    expect(await stored()).toEqual(['a1', 'a2']);
  });

  it('stops waiting on an input that blocks (a pipe nobody writes), and still stores what came before it', async () => {
    await store.db.query('DELETE FROM events');
    const fifo = join(dir, 'pipe.json');
    execFileSync('mkfifo', [fifo]);
    const before = [await logFile('p1.json', ['p1']), await logFile('p2.json', ['p2']), await logFile('p3.json', ['p3']), await logFile('p4.json', ['p4'])];
    const ac = new AbortController();
    // Four files load ahead of the one being parsed: the pipe (fifth) is opened for reading only once
    // the first file is loaded, and that one is parsed before anything else can run. Then stop.
    const writer = open(fifo, 'w');
    const running = ingestPaths(store, [...before, fifo], { signal: ac.signal });
    const w = await writer;
    ac.abort();
    try {
      const stats = await running;
      expect(stats.interrupted).toBe(true);
      expect(stats.files).toBeGreaterThanOrEqual(1);
      expect(stats.unreadFiles).toBe(5 - stats.files);
      const ids = await stored();
      expect(ids).toHaveLength(stats.inserted);
      expect(ids).toEqual(['p1', 'p2', 'p3', 'p4'].slice(0, stats.files));
    } finally {
      await w.close(); // lets the abandoned read finish
    }
  });

  it('without a signal, or one never aborted, reads everything as before', async () => {
    await store.db.query('DELETE FROM events');
    const files = [await logFile('d.json', ['d1']), await logFile('e.json', ['e1'])];
    const stats = await ingestPaths(store, files, { signal: new AbortController().signal });
    expect(stats.interrupted).toBeUndefined();
    expect(stats).toMatchObject({ files: 2, inserted: 2 });
  });
});
