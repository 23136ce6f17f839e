import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { allIngestible } from '../../test/helpers/fixtures.ts';
import { defaultFlowsConfig, evaluateFlows, setFindingStatus } from '../flows/index.ts';
import { createLogger } from '../runtime/logger.ts';
import { createMetrics } from '../runtime/metrics.ts';
import { openInlineQueue } from '../runtime/inline.ts';
import { openStore, type Store } from '../store/index.ts';
import { createApp } from './app.ts';

/** GET /api/findings as a feed: `after` and `next`, and `updated_since` to the microsecond. */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  db = await createTestDatabase('trailbot_feed');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  const all = allIngestible();
  await store.ingest(all);
  await evaluateFlows(store, all, defaultFlowsConfig());
  const queue = openInlineQueue(store.db, 'feed-test');
  app = createApp({ store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'all' });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

interface Page {
  findings: { id: string; updatedAt: string; cursor: string }[];
  next: string;
}
const get = async (q: string): Promise<Page> => {
  const r = await app.request(`/api/findings${q}`);
  expect(r.status, await r.clone().text()).toBe(200);
  return (await r.json()) as Page;
};

describe('GET /api/findings', () => {
  it('pages with after= and next until the end, every finding once, and keeps next at the end', async () => {
    const all = await get('?limit=1000');
    expect(all.findings.length).toBeGreaterThanOrEqual(3);
    const ids: string[] = [];
    let next = '';
    for (let i = 0; i < 100; i++) {
      const page = await get(`?limit=2${next ? `&after=${next}` : ''}`);
      expect(page.next).toMatch(/^\d+$/);
      ids.push(...page.findings.map((f) => f.id));
      if (page.findings.length === 0) break;
      expect(page.next).toBe(page.findings.length === 2 ? page.findings[1]!.cursor : page.next);
      next = page.next;
    }
    expect(ids.sort()).toEqual(all.findings.map((f) => f.id).sort());
    expect(await get(`?after=${next}`)).toEqual({ findings: [], next });
    // A change to an old finding comes through on the next poll.
    const oldest = all.findings[0]!.id;
    await setFindingStatus(store.db, oldest, 'acknowledged');
    const changed = await get(`?after=${next}`);
    expect(changed.findings.map((f) => f.id)).toEqual([oldest]);
    expect(Number(changed.next)).toBeGreaterThan(Number(next));
  });

  it('takes updated_since to the microsecond: the last change is not handed back again', async () => {
    const all = await get('?limit=1000');
    const last = all.findings[all.findings.length - 1]!;
    await store.db.query("UPDATE findings SET updated_at = '2031-01-01T00:00:00.123456Z' WHERE id = $1", [last.id]);
    const page = await get('?updated_since=2031-01-01T00:00:00.123456Z');
    expect(page.findings).toEqual([]);
    const before = await get('?updated_since=2031-01-01T00:00:00.123455Z');
    expect(before.findings.map((f) => f.id)).toEqual([last.id]);
    expect(before.findings[0]!.updatedAt).toBe('2031-01-01T00:00:00.123456Z');
  });

  it('refuses a bad cursor with E_USAGE and a hint', async () => {
    const r = await app.request('/api/findings?after=2024-08-01');
    expect(r.status).toBe(400);
    const { error } = (await r.json()) as { error: { code: string; message: string; hint: string } };
    expect(error.code).toBe('E_USAGE');
    expect(error.message).toMatch(/not a findings cursor/);
    expect(error.hint).toMatch(/next/);
  });
});
