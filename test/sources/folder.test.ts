import { appendFile, cp, mkdtemp, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSources, type Sources } from '../../src/sources/index.ts';
import { readRejects } from '../../src/sources/state.ts';
import { formatStatus, sourcesStatus } from '../../src/sources/status.ts';
import { MIN, synthRecords, testConfig, testSources, testStore, type TestDb, waitFor } from './helpers.ts';

/** A watched folder of trail files: read once, read again only when changed, bad files kept aside. */
let db: TestDb;
let dir: string;
let sources: Sources;
const FIXTURES = join(import.meta.dirname, '../fixtures/inputs');

beforeAll(async () => {
  db = await testStore();
  dir = await mkdtemp(join(tmpdir(), 'trailbot-folder-'));
  sources = testSources(testConfig({ sources: [{ id: 'replays', kind: 'folder', path: dir, settle: '0s', every: '1m' }], endpoint: 'http://127.0.0.1:9' }));
});
afterAll(async () => {
  await sources?.close();
  await db?.close();
});

const count = async (): Promise<number> => db.store.count();
const old = async (file: string): Promise<void> => {
  const t = new Date(Date.now() - 10_000);
  await utimes(file, t, t);
};

describe('watched folder', () => {
  it('reads the files in it (log files, NDJSON, EventBridge), once', async () => {
    await cp(join(FIXTURES, 'trail'), join(dir, 'trail'), { recursive: true });
    await cp(join(FIXTURES, 'eventbridge.ndjson'), join(dir, 'eventbridge.ndjson'));
    const r = await sources.poll(db.store, 'replays');
    expect(r.inserted).toBe(3); // the same three records in both files
    expect(r.duplicates).toBe(3);
    const again = await sources.poll(db.store, 'replays');
    expect(again.events).toBe(0);
  });

  it('reads a changed file again (its new events count, the rest are duplicates)', async () => {
    const file = join(dir, 'more.ndjson');
    const [one, two] = synthRecords(2, { newest: Date.now() - MIN, seed: 'folder-change' });
    await writeFile(file, `${JSON.stringify(one)}\n`);
    await old(file);
    expect((await sources.poll(db.store, 'replays')).inserted).toBe(1);
    await appendFile(file, `${JSON.stringify(two)}\n`);
    await old(file);
    const r = await sources.poll(db.store, 'replays');
    expect([r.inserted, r.duplicates]).toEqual([1, 1]);
  });

  it('keeps an unreadable file aside and does not retry it until it changes', async () => {
    const bad = join(dir, 'bad.json.gz');
    await writeFile(bad, Buffer.from([0x1f, 0x8b, 0, 1, 2]));
    const r = await sources.poll(db.store, 'replays');
    expect(r.rejected).toBe(1);
    expect((await readRejects(db.store.db, 'replays', 5))[0]).toMatchObject({ ref: bad, reason: expect.stringMatching(/corrupt gzip data/) });
    expect((await sources.poll(db.store, 'replays')).rejected).toBe(0);
    const text = formatStatus(await sourcesStatus(db.store, sources.specs));
    expect(text).toMatch(/replays +folder +\S+ +\S+( \S+)? +5 +1 +last error: .*bad\.json\.gz: corrupt gzip data/);
  });

  it('when run, picks up a new file as soon as it is written', async () => {
    const ac = new AbortController();
    const running = runSources(sources, db.store, { signal: ac.signal });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const before = await count();
      const recs = synthRecords(4, { newest: Date.now() - MIN, seed: 'folder-watch' });
      const t0 = performance.now();
      await writeFile(join(dir, 'dropped.json.gz'), gzipSync(JSON.stringify({ Records: recs })));
      await waitFor('the dropped file to be stored', async () => (await count()) === before + 4, 5000);
      // Far sooner than the 1-minute schedule: the folder is watched.
      expect(performance.now() - t0).toBeLessThan(3000);
    } finally {
      ac.abort();
      await running;
    }
  });
});
