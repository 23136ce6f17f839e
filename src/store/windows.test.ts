import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeBackends } from '../../test/helpers/backends.ts';
import { records } from '../../test/helpers/fixtures.ts';
import type { Ingestible, RawRecord } from '../events/model.ts';
import { normalize } from '../events/normalize.ts';
import type { Db } from './db.ts';
import { type Store, storeOn } from './index.ts';
import { resolvePrincipals, type SearchQuery, search, searchSql } from './queries.ts';
import { maintainStore } from './retention.ts';
import { firstDepth, LAST_WINDOW_DAYS, newestEventTime, newestFirst, nextDepth } from './windows.ts';

const DAY = 86_400_000;
/** The newest event of the store below (the windows' top). */
const TOP = Date.parse('2026-06-30T12:00:00.000Z');

/**
 * `db` as it is, except that inside its transactions (where search and trail read) `then(sql)` runs
 * after each statement, before its answer is handed back.
 */
function afterEachQuery(db: Db, then: (sql: string) => Promise<void>): Db {
  return {
    ...db,
    transaction: <T>(fn: (tx: Db) => Promise<T>) =>
      db.transaction((tx) =>
        fn({
          ...tx,
          query: (async (sql: string, params?: unknown[]) => {
            const r = await tx.query(sql, params);
            await then(sql);
            return r;
          }) as Db['query'],
        }),
      ),
  };
}

describe('firstDepth', () => {
  it('is a day without a rate, twice a page at the rate given, or everything at once when that reaches past the last window', () => {
    expect(firstDepth(50)).toBe(1);
    expect(firstDepth(50, 0)).toBe(1);
    expect(firstDepth(50, 1000)).toBe(1); // a busy person: a day holds twice a page
    expect(firstDepth(50, 10)).toBe(10);
    expect(firstDepth(50, 1)).toBeNull(); // 100 days for twice a page: one query over their whole span
  });
});

describe('nextDepth', () => {
  it('reaches as deep as the rate found says the rest of the page needs, twice over, at least twice as deep', () => {
    expect(nextDepth(1, 10, 50)).toBe(1 + 8); // 40 more at 10 a day: 4 days, twice: 8
    expect(nextDepth(1, 45, 50)).toBe(2); // 5 more: a fraction of a day, but at least twice as deep
    expect(nextDepth(2, 1, 50)).toBeNull(); // 49 more at half a day's rate: past LAST_WINDOW_DAYS, so the rest
  });
  it('goes four times as deep while nothing was found, then the rest', () => {
    const depths: (number | null)[] = [1];
    while (depths.at(-1) !== null) depths.push(nextDepth(depths.at(-1)!, 0, 50));
    expect(depths).toEqual([1, 4, 16, null]);
    expect(4 * 16).toBeGreaterThanOrEqual(LAST_WINDOW_DAYS);
  });
});

/** Events from a real record (actors.json, an IAM user's AssumeRole), with their own id, time, user, action and bucket. */
function event(id: string, t: number, o: { user?: string; action?: string; bucket?: string; account?: string } = {}): Ingestible {
  const base = records('actors.json').find((r) => (r.userIdentity as { type?: string } | undefined)?.type === 'IAMUser')!;
  const ui = base.userIdentity as Record<string, unknown>;
  const user = o.user ?? 'everyday';
  const account = o.account ?? '777788889999';
  const raw = {
    ...base,
    recipientAccountId: account,
    eventID: id,
    eventTime: new Date(t).toISOString(),
    eventName: o.action ?? base.eventName,
    userIdentity: { ...ui, userName: user, accountId: account, arn: `arn:aws:iam::${account}:user/${user}`, principalId: `AIDA${user.toUpperCase()}${account}` },
    resources: o.bucket ? [{ ARN: `arn:aws:s3:::${o.bucket}`, accountId: account, type: 'AWS::S3::Bucket' }] : undefined,
  } as RawRecord;
  return { event: normalize(raw), raw };
}

/**
 * 130 days of events: every 4 hours (a busy bucket), a user seen only 40–45 days back, a rare
 * bucket (5 and 100 days back), and a bucket with events exactly on the windows' edges when nothing is
 * found (1, 4, 16 and 64 days below the top), a millisecond either side, and two at the same instant.
 */
function corpus(): Ingestible[] {
  const out: Ingestible[] = [];
  for (let h = 0; h < 130 * 24; h += 4) out.push(event(`busy-${h}`, TOP - h * 3_600_000 - 60_000, { bucket: 'bucket-busy', action: h % 12 === 0 ? 'GetRole' : undefined }));
  for (let i = 0; i < 30; i++) out.push(event(`gap-${i}`, TOP - 40 * DAY - i * 4 * 3_600_000 - 7_000, { user: 'gap-user', bucket: i % 3 === 0 ? 'bucket-gap' : undefined }));
  for (const d of [5, 100]) out.push(event(`rare-${d}`, TOP - d * DAY - 11_000, { user: 'rare-user', bucket: 'bucket-rare' }));
  for (const d of [1, 4, 16, 64]) {
    out.push(event(`edge-${d}`, TOP - d * DAY, { bucket: 'bucket-edge' }));
    out.push(event(`edge-${d}-twin`, TOP - d * DAY, { bucket: 'bucket-edge' }));
    out.push(event(`edge-${d}-above`, TOP - d * DAY + 1, { bucket: 'bucket-edge' }));
    out.push(event(`edge-${d}-below`, TOP - d * DAY - 1, { bucket: 'bucket-edge' }));
  }
  out.push(event('top', TOP, { user: 'top-user' }));
  // Two users named dup in two accounts: one busy 5 days back, the other with two events in one second.
  out.push(event('dup-b1', TOP - 3_600_000, { user: 'dup', account: '111111111111' }));
  for (let i = 0; i < 17; i++) out.push(event(`dup-old-${i}`, TOP - 5 * DAY - i * 60_000, { user: 'dup', account: '111111111111' }));
  for (const id of ['dup-a-b', 'dup-a-a', 'dup-a-c']) out.push(event(id, TOP - 2 * DAY, { user: 'dup', account: '222222222222' }));
  return out;
}

describe.each(storeBackends('windows'))('newest-first reads through day windows give what one query gives (%s)', (_name, open) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ store, cleanup } = await open());
    expect(await newestEventTime(store.db, 0)).toBeNull(); // empty (and `now` 0: nothing cached yet)
    const all = corpus();
    expect((await store.ingest(all)).inserted).toBe(all.length);
    // Days of their own, as the store-maintenance job makes them: 131 day partitions, and some ahead.
    await maintainStore(store.db, { events: 400 * DAY, flowHits: null, rejects: null, reports: null }, { now: TOP, maxSplitDays: 1000 });
  }, 120_000);
  afterAll(async () => {
    await cleanup();
  });

  /** The answer of one query over the whole range (searchSql without a window). */
  async function reference(q: SearchQuery): Promise<string[]> {
    const s = await searchSql(store.db, q);
    if (!s.sql) return [];
    return (await store.db.query<{ event_id: string }>(s.sql, s.params)).rows.map((r) => r.event_id);
  }

  it('finds the newest event in the day partitions, past the empty ones made ahead', async () => {
    const parts = (await store.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'events'::regclass`)).rows[0]!.n;
    expect(parts).toBeGreaterThan(130);
    expect(await newestEventTime(store.db, 60_000)).toBe(TOP); // (`now` a minute on: the empty answer above is no longer reused)
  });

  const queries: [string, SearchQuery][] = [
    ['a busy bucket', { resourceName: 'bucket-busy' }],
    ['a rare bucket', { resourceName: 'bucket-rare' }],
    ['the edges', { resourceName: 'bucket-edge' }],
    ['the edges by ARN', { resourceName: 'arn:aws:s3:::bucket-edge' }],
    ['an action', { eventName: 'GetRole' }],
    ['a user seen only weeks ago', { user: 'gap-user' }],
    ['that user and a bucket', { user: 'gap-user', resourceName: 'bucket-gap' }],
    ['a rare user', { user: 'rare-user' }],
    ['no filter', {}],
    ['a range', { since: new Date(TOP - 50 * DAY).toISOString(), until: new Date(TOP - 3 * DAY).toISOString() }],
    ['a range ending on an edge', { resourceName: 'bucket-edge', until: new Date(TOP - 4 * DAY).toISOString() }],
    ['a range starting on an edge', { resourceName: 'bucket-edge', since: new Date(TOP - 16 * DAY).toISOString() }],
    ['nothing', { resourceName: 'no-such-bucket' }],
  ];

  it.each(queries)('%s: the same events in the same order, for every page size', async (_what, q) => {
    for (const limit of [1, 2, 3, 7, 50, 1000]) {
      const want = await reference({ ...q, limit });
      expect((await store.search({ ...q, limit })).events.map((e) => e.eventId), `limit ${limit}`).toEqual(want);
    }
  });

  it.each(queries.filter(([, q]) => q.resourceName !== undefined))('%s, read as a common name (along events_time): the same events', async (_what, q) => {
    for (const limit of [1, 3, 50, 1000]) {
      const want = await reference({ ...q, limit });
      expect((await search(store.db, { ...q, limit }, { fenceMax: 0 })).events.map((e) => e.eventId), `limit ${limit}`).toEqual(want);
    }
  });

  it('a name common in the newest day is left to the planner (no fence), a rare one read from its own index entries', async () => {
    const plans: string[] = [];
    // The store's own connection, noting which form of the page query each window runs.
    const watching = afterEachQuery(store.db, async (sql) => {
      if (sql.includes('OFFSET 0) x')) plans.push('fenced');
      else if (sql.includes('ORDER BY events.time DESC')) plans.push('walk');
    });
    await search(watching, { resourceName: 'bucket-busy', limit: 3 }, { fenceMax: 2 }); // 6 in the newest day
    expect(plans).toEqual(['walk']);
    plans.length = 0;
    await search(watching, { resourceName: 'bucket-busy', limit: 3 }, { fenceMax: 10 });
    expect(plans).toEqual(['fenced']);
  });

  it('pages through the edges two by two (keyset), each event once, in order', async () => {
    const all = await reference({ resourceName: 'bucket-edge', limit: 1000 });
    expect(all).toHaveLength(16);
    const seen: string[] = [];
    let before: SearchQuery['before'];
    for (let i = 0; i < 20; i++) {
      const page = (await store.search({ resourceName: 'bucket-edge', limit: 2, before })).events;
      if (page.length === 0) break;
      seen.push(...page.map((e) => e.eventId));
      const last = page.at(-1)!;
      before = { time: last.time!, eventId: last.eventId }; // as the dashboard's Next link does
    }
    expect(seen).toEqual(all);
  });

  it('a person’s trail is the one query’s answer, from weeks ago as from today', async () => {
    for (const who of ['gap-user', 'rare-user', 'top-user', 'everyday', 'dup']) {
      const keys = (await resolvePrincipals(store.db, who)).map((p) => p.actorKey);
      for (const limit of [1, 2, 3, 4, 5, 50, 1000]) {
        const want = (
          await store.db.query<{ event_id: string }>('SELECT event_id FROM events WHERE actor_key = ANY($1::text[]) ORDER BY time DESC, event_id LIMIT $2', [keys, limit])
        ).rows.map((r) => r.event_id);
        expect((await store.trail({ who, limit })).events.map((e) => e.eventId), `${who} ${limit}`).toEqual(want);
        const since = new Date(TOP - 42 * DAY).toISOString();
        const bounded = (
          await store.db.query<{ event_id: string }>('SELECT event_id FROM events WHERE actor_key = ANY($1::text[]) AND time >= $2 ORDER BY time DESC, event_id LIMIT $3', [keys, since, limit])
        ).rows.map((r) => r.event_id);
        expect((await store.trail({ who, limit, since })).events.map((e) => e.eventId), `${who} ${limit} since`).toEqual(bounded);
      }
    }
  });

  it('two principals, one with events in the same second: the page is cut where one query cuts it (event id breaks the tie)', async () => {
    expect((await resolvePrincipals(store.db, 'dup')).length).toBe(2);
    expect((await store.trail({ who: 'dup', limit: 2 })).events.map((e) => e.eventId)).toEqual(['dup-b1', 'dup-a-a']);
    expect((await store.search({ user: 'dup', limit: 3 })).events.map((e) => e.eventId)).toEqual(['dup-b1', 'dup-a-a', 'dup-a-b']);
  });

  it('an event stored after the newest time was read (and kept for a few seconds) comes first all the same', async () => {
    await store.search({ resourceName: 'bucket-busy', limit: 1 }); // reads and keeps the newest time
    const later = event('later', TOP + 3 * DAY, { bucket: 'bucket-busy', user: 'gap-user' });
    expect((await store.ingest([later])).inserted).toBe(1);
    expect((await store.search({ resourceName: 'bucket-busy', limit: 2 })).events.map((e) => e.eventId)).toEqual(['later', 'busy-0']);
    expect((await store.search({ limit: 1 })).events.map((e) => e.eventId)).toEqual(['later']);
    expect((await store.trail({ who: 'gap-user', limit: 2 })).events.map((e) => e.eventId)).toEqual(['later', 'gap-0']);
  });
});

describe.each(storeBackends('windows-newest'))('the newest event’s time (%s)', (_name, open) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  const DAY20 = TOP - 20 * DAY;
  beforeAll(async () => {
    ({ store, cleanup } = await open());
    await store.ingest([event('day-20', DAY20)]);
    await maintainStore(store.db, { events: 400 * DAY, flowHits: null, rejects: null, reports: null }, { now: DAY20, maxSplitDays: 1000 });
    // A backfill older than every day partition: events_default keeps it.
    await store.ingest([event('ancient', Date.parse('2001-05-01T00:00:00Z'))]);
    // Twelve empty days ahead of it, more than one probe's worth.
    for (let d = 1; d <= 12; d++) await store.db.query('SELECT events_day_partition($1::date)', [new Date(DAY20 + d * DAY).toISOString().slice(0, 10)]);
  }, 60_000);
  afterAll(async () => {
    await cleanup();
  });

  it('is found past a dozen empty days, and an older event in events_default does not stand for it', async () => {
    expect((await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM events_default')).rows[0]!.n).toBe(1); // the ancient one
    expect(await newestEventTime(store.db, 1e12)).toBe(DAY20);
  });

  it('a day dropped between listing the partitions and probing them has the listing read again, not an error', async () => {
    const doomed = `events_${new Date(DAY20 + 12 * DAY).toISOString().slice(0, 10).replaceAll('-', '')}`;
    let dropped = false;
    // The store's own connection; the only change: the maintenance drops a day right after the listing.
    const racing = {
      ...store.db,
      query: async (sql: string, params?: unknown[]) => {
        const r = await store.db.query(sql, params);
        if (!dropped && sql.includes('pg_inherits')) {
          dropped = true;
          await store.db.query(`DROP TABLE ${doomed}`);
        }
        return r;
      },
    } as typeof store.db;
    expect(await newestEventTime(racing, 2e12)).toBe(DAY20);
    expect(dropped).toBe(true);
  });
});

describe('a page is one snapshot (PostgreSQL: another connection commits between two windows)', () => {
  it('shows the store as it was when the page began: a batch committed meanwhile is wholly out of it, and the next page skips nothing', async () => {
    const { store, cleanup } = await storeBackends('windows-snapshot')[0]![1]();
    try {
      await store.ingest([event('A', TOP, { bucket: 'bk' }), event('D', TOP - 10 * DAY, { bucket: 'bk' })]);
      await maintainStore(store.db, { events: 400 * DAY, flowHits: null, rejects: null, reports: null }, { now: TOP, maxSplitDays: 1000 });
      let committed = false;
      // The store's own pool; the only change: right after the page's first statement reading the name, one batch (B two
      // hours back, C two days back) is committed on another connection.
      const racing = afterEachQuery(store.db, async (sql) => {
        if (!committed && sql.includes('resource_keys @>')) {
          committed = true;
          await store.ingest([event('B', TOP - 2 * 3_600_000, { bucket: 'bk' }), event('C', TOP - 2 * DAY, { bucket: 'bk' })]);
        }
      });
      const page = (await storeOn(racing).search({ resourceName: 'bk', limit: 2 })).events;
      expect(committed).toBe(true);
      expect(page.map((e) => e.eventId)).toEqual(['A', 'D']);
      // Read again, the page has them all, and paging on from it skips nothing.
      const again = (await store.search({ resourceName: 'bk', limit: 2 })).events;
      expect(again.map((e) => e.eventId)).toEqual(['A', 'B']);
      const next = (await store.search({ resourceName: 'bk', limit: 10, before: { time: again[1]!.time!, eventId: 'B' } })).events;
      expect(next.map((e) => e.eventId)).toEqual(['C', 'D']);
    } finally {
      await cleanup();
    }
  }, 60_000);
});

describe('newestFirst', () => {
  it('asks for the newest day, then deeper as the rate says, each window below the last with no gap, the rest last', async () => {
    // The newest event at TOP.
    const asked: { from?: string | undefined; below?: string | undefined; n: number }[] = [];
    const perWindow = [0, 0, 3, 0];
    const rows = await newestFirst(TOP, {}, 10, async (w, n) => {
      asked.push({ ...w, n });
      return Array.from({ length: perWindow[asked.length - 1] ?? 0 }, (_, i) => `${asked.length}-${i}`);
    }, TOP);
    const at = (days: number): string => new Date(TOP - days * DAY).toISOString();
    expect(asked).toEqual([
      { from: at(1), below: undefined, n: 10 },
      { from: at(4), below: at(1), n: 10 },
      { from: at(16), below: at(4), n: 10 },
      // 3 found in 16 days: 7 more at that rate need ~37 days, twice: 16 + 74.7 ≥ 64, so the rest.
      { from: undefined, below: at(16), n: 7 },
    ]);
    expect(rows).toEqual(['3-0', '3-1', '3-2']);
  });
});
