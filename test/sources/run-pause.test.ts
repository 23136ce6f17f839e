import { getEventListeners } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSources, type Sources } from '../../src/sources/index.ts';
import { testConfig, testSources, testStore, type TestDb, waitFor } from './helpers.ts';

/** `sources run` pauses between polls many times a day: each pause must leave nothing behind. */
let db: TestDb;
let dir: string;
let sources: Sources;

beforeAll(async () => {
  db = await testStore();
  dir = await mkdtemp(join(tmpdir(), 'trailbot-pause-'));
  // An empty folder polled every 5 ms: many poll-and-pause rounds in a moment.
  sources = testSources(testConfig({ sources: [{ id: 'quiet', kind: 'folder', path: dir, settle: '0s', every: '5ms' }], endpoint: 'http://127.0.0.1:9' }));
});
afterAll(async () => {
  await sources?.close();
  await db?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('sources run', () => {
  it('removes the abort listener of every pause: the count on the signal stays flat over many rounds', async () => {
    const ac = new AbortController();
    let rounds = 0;
    const counts: number[] = [];
    const running = runSources(sources, db.store, {
      signal: ac.signal,
      onReport: () => {
        rounds++;
        if (rounds === 5 || rounds === 60) counts.push(getEventListeners(ac.signal, 'abort').length);
      },
    });
    try {
      await waitFor('60 poll-and-pause rounds', async () => rounds >= 60, 20_000);
    } finally {
      ac.abort();
      await running;
    }
    expect(counts).toHaveLength(2);
    expect(counts[1]).toBeLessThanOrEqual(counts[0]!);
    expect(counts[1]).toBeLessThanOrEqual(2);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});
