import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeBackends } from '../../test/helpers/backends.ts';
import { allIngestible } from '../../test/helpers/fixtures.ts';
import type { Ingestible } from '../events/model.ts';
import type { Store } from './index.ts';
import { outboxKey } from './outbox.ts';

// The flows outbox is written in the events' own transaction, on every write path: PostgreSQL's
// binary COPY (all new), its staging-table fallback (some already stored) and PGlite's INSERT.
const backends = storeBackends('outbox');

const unique = (items: Ingestible[]): Ingestible[] => [...new Map(items.map((i) => [i.event.eventId, i])).values()];
const ids = (items: Ingestible[]): string[] => items.map((i) => i.event.eventId);

describe.each(backends)('the flows outbox on %s', (_name, open) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  const all = unique(allIngestible());
  const first = all.slice(0, 40);
  const second = all.slice(20, 70); // 20 already stored, 30 new

  beforeAll(async () => {
    ({ store, cleanup } = await open());
  });
  afterAll(async () => cleanup?.());

  const rows = async (): Promise<{ key: string; event_ids: string[] }[]> =>
    (await store.db.query<{ key: string; event_ids: string[] }>('SELECT key, event_ids FROM flow_outbox ORDER BY id')).rows;

  it('records exactly the ids each write newly stored, in the same transaction, and returns them', async () => {
    const a = await store.ingest(first, { outbox: true });
    expect(a.fresh).toEqual([ids(first)]);
    const b = await store.ingest(second, { outbox: true });
    expect(b).toMatchObject({ inserted: 30, duplicates: 20 });
    expect(b.fresh.map((x) => [...x].sort())).toEqual([ids(all.slice(40, 70)).sort()]);
    const r = await rows();
    expect(r.map((x) => [...x.event_ids].sort())).toEqual([ids(first).sort(), ids(all.slice(40, 70)).sort()]);
    expect(r.map((x) => x.key)).toEqual([outboxKey(ids(first)), outboxKey(ids(all.slice(40, 70)))]);
    // Nothing new: no row.
    expect((await store.ingest(first, { outbox: true })).fresh).toEqual([]);
    expect(await rows()).toHaveLength(2);
  });

  it('lists rows old enough for the drainer, and forgets a row once its flows ran', async () => {
    expect((await store.outbox.pending({ minAgeMs: 60_000 })).length).toBe(0);
    const pending = await store.outbox.pending({ minAgeMs: 0 });
    expect(pending.map((p) => p.eventIds.length)).toEqual([40, 30]);
    expect(await store.outbox.done([...pending[0]!.eventIds].reverse())).toBe(1); // found by its ids, in any order
    expect((await store.outbox.pending({ minAgeMs: 0 })).map((p) => p.id)).toEqual([pending[1]!.id]);
    expect(await store.outbox.pending({ minAgeMs: 0, afterId: pending[1]!.id })).toEqual([]);
  });

  it('writes no row when the outbox is off (no flows wired)', async () => {
    await store.db.query('DELETE FROM flow_outbox');
    const r = await store.ingest(all.slice(70, 90));
    expect(r.inserted).toBe(20);
    expect(r.fresh).toEqual([ids(all.slice(70, 90))]);
    expect(await rows()).toEqual([]);
  });
});
