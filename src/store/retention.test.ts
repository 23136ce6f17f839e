import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dbBackends } from '../../test/helpers/backends.ts';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { readConfig } from '../config/index.ts';
import { defaultJobs, makeProcessor } from '../runtime/definitions.ts';
import { openInlineQueue } from '../runtime/inline.ts';
import { createLogger } from '../runtime/logger.ts';
import { createMetrics } from '../runtime/metrics.ts';
import { records } from '../../test/helpers/fixtures.ts';
import type { Ingestible, RawRecord } from '../events/model.ts';
import { normalize } from '../events/normalize.ts';
import { type Db, migrate, openDb } from './db.ts';
import { storeOn } from './index.ts';
import { RECORDS_PER_CHUNK } from './chunks.ts';
import { insertEvents } from './events.ts';
import { ADVISORY_LOCKS } from './sql.ts';
import { rawsAt, rawsByIds, readSnapshot } from './queries.ts';
import { maintainStore } from './retention.ts';

const DAY = 86_400_000;
/** The last migration before events were partitioned by day (021): 020 is the dashboard's indexes. */
const PREVIOUS = 20;
const T0 = Date.parse('2026-01-01T00:00:00Z');

const isoAt = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** A real record (actors.json's first) as another event: its own id, at its own time. */
const eventAt = (id: string, time: number | string): Ingestible => {
  const raw = { ...records('actors.json')[0]!, eventID: id, eventTime: typeof time === 'string' ? time : isoAt(time) } as RawRecord;
  return { event: normalize(raw), raw };
};

/** 300 events over 30 UTC days (10 a day, some at a day's first and last second), from a real record. */
function events(): Ingestible[] {
  const out: Ingestible[] = [];
  for (let i = 0; i < 300; i++) {
    const day = Math.floor(i / 10);
    const within = i % 10 === 0 ? 0 : i % 10 === 9 ? DAY - 1000 : (i % 10) * 3_600_000;
    out.push(eventAt(`upgrade-${i}`, T0 + day * DAY + within));
  }
  return out;
}

/** Rows as the previous version wrote them (its events table had the primary key event_id alone). */
async function insertOld(db: Db, items: Ingestible[]): Promise<void> {
  const e = items.map((i) => i.event);
  await db.query(
    `INSERT INTO events (event_id, time, account, region, service, action, read_only, outcome, actor_key, actor_type, actor_arn, access_key_id, via, resources, raw)
     SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::jsonb[], $15::json[])`,
    [
      e.map((x) => x.eventId), e.map((x) => x.time), e.map((x) => x.account), e.map((x) => x.region), e.map((x) => x.service), e.map((x) => x.action),
      e.map((x) => x.readOnly), e.map((x) => x.outcome), e.map((x) => x.actorKey), e.map((x) => x.actor.type), e.map((x) => x.actor.arn), e.map((x) => x.actor.accessKeyId),
      e.map((x) => x.via), e.map((x) => JSON.stringify(x.resources)), items.map((i) => JSON.stringify(i.raw)),
    ],
  );
}

/**
 * Every row, every column the previous version had, in one digest: the same before and after means
 * nothing lost, nothing doubled (raw_chunk and raw_at, migration 022's, are NULL on those rows; the
 * resource keys gain migration 024's type and ARN tokens, checked on their own).
 */
const digest = async (db: Db): Promise<{ n: number; md5: string }> =>
  (
    await db.query<{ n: number; md5: string }>(
      `SELECT count(*)::int AS n, md5(string_agg((to_jsonb(e) - 'raw_chunk' - 'raw_at' - 'resource_keys')::text, '|' ORDER BY event_id)) AS md5 FROM events e`,
    )
  ).rows[0]!;

const partitions = async (db: Db): Promise<string[]> =>
  (await db.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY 1`)).rows.map((r) => r.name);

const backends = dbBackends('retention');

describe.each(backends)('events by day on %s', (_name, open) => {
  it('upgrades a store made by the previous version into day partitions, every event once, then keeps the retention by dropping days', async () => {
    const { db, cleanup } = await open();
    try {
      await migrate(db, { upTo: PREVIOUS });
      const all = events();
      await insertOld(db, all);
      const before = await digest(db);
      expect(before.n).toBe(300);

      expect(await migrate(db)).toEqual(expect.arrayContaining(['021_events_partitioned.sql', '022_raw_chunks.sql']));
      expect(await digest(db)).toEqual(before);
      // Raw records stored before 022 stay in their rows, and read back as they were.
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE raw IS NOT NULL AND raw_chunk IS NULL')).rows[0]!.n).toBe(300);
      expect(await storeOn(db).raw('upgrade-7')).toEqual(all[7]!.raw);
      // Migration 024 gave the rows stored before the tokens their resources' types and ARNs are searched by.
      const resource = all[7]!.event.resources[0]!;
      expect(resource.arn).toBeTruthy();
      for (const q of [{ resourceType: resource.type }, { resourceName: resource.arn! }, { resourceName: resource.id }]) {
        expect((await storeOn(db).search({ ...q, eventIds: ['upgrade-7'], since: '2025-01-01T00:00:00Z' })).events.map((e) => e.eventId), JSON.stringify(q)).toEqual(['upgrade-7']);
      }
      const chunkParts = async (): Promise<string[]> =>
        (await db.query<{ name: string }>(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'raw_chunks'::regclass ORDER BY 1`)).rows.map((r) => r.name);
      expect(await chunkParts()).toEqual(expect.arrayContaining(['raw_chunks_20260101', 'raw_chunks_20260130', 'raw_chunks_default']));
      const parts = await partitions(db);
      for (let d = 0; d < 30; d++) expect(parts).toContain(`events_${new Date(T0 + d * DAY).toISOString().slice(0, 10).replaceAll('-', '')}`);
      expect(parts).toContain('events_default');
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events_default')).rows[0]!.n).toBe(0);
      // Day boundaries: 10 events in each day's partition, the first and last second included.
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events_20260101')).rows[0]!.n).toBe(10);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events_20260130')).rows[0]!.n).toBe(10);

      // The same events again add nothing, wherever their day is.
      const store = storeOn(db);
      const again = await store.ingest(events());
      expect(again).toMatchObject({ inserted: 0, duplicates: 300 });

      // Outside every day partition: the default one takes it, ingest does not fail. A backfilled day
      // within the retention gets its own partition from the maintenance; one past it is deleted.
      const now = T0 + 31 * DAY + 3_600_000; // 2026-02-01T01:00Z
      expect((await store.ingest([eventAt('future', '2099-01-01T00:00:00Z'), eventAt('backfill', '2025-12-20T05:00:00Z'), eventAt('ancient', '2024-05-01T00:00:00Z')])).inserted).toBe(3);
      expect(await store.ingest([eventAt('backfill', '2025-12-20T05:00:00Z')])).toMatchObject({ inserted: 0 });
      // New events' records go into chunks (one per day here), read back the same; a batch stored
      // again adds no chunk.
      const chunks = async (): Promise<number> => (await db.query<{ n: number }>('SELECT count(*)::int AS n FROM raw_chunks')).rows[0]!.n;
      expect(await chunks()).toBe(3);
      expect(await store.raw('backfill')).toEqual(eventAt('backfill', '2025-12-20T05:00:00Z').raw);
      expect(await store.raw('future')).toEqual(eventAt('future', '2099-01-01T00:00:00Z').raw);
      await store.ingest([eventAt('backfill', '2025-12-20T05:00:00Z'), eventAt('mid', '2026-01-15T05:00:00Z')]);
      expect(await chunks()).toBe(4);
      expect(await store.raw('mid')).toEqual(eventAt('mid', '2026-01-15T05:00:00Z').raw);

      // 20 days kept: 2026-01-12 onwards (the cutoff's day whole); earlier days dropped whole.
      const r = await maintainStore(db, { events: 20 * DAY, flowHits: null, rejects: null, reports: null }, { now });
      expect(r.dropped).toEqual(Array.from({ length: 11 }, (_, d) => `events_202601${String(d + 1).padStart(2, '0')}`));
      expect(r.made).toEqual(expect.arrayContaining(['events_20260131', 'events_20260201', 'events_20260202', 'events_20260203', 'events_20260204']));
      expect(r.deleted.events).toBe(2); // the backfill and the ancient one, both older than the cutoff, from events_default
      expect(r.deleted.rawChunks).toBe(2); // their chunks, from raw_chunks_default
      expect(await chunkParts()).not.toContain('raw_chunks_20260111'); // dropped with events_20260111
      expect(await chunkParts()).toContain('raw_chunks_20260115');
      expect(await store.raw('mid')).toEqual(eventAt('mid', '2026-01-15T05:00:00Z').raw);
      const left = await db.query<{ event_id: string }>('SELECT event_id FROM events ORDER BY time, event_id');
      expect(left.rows.map((x) => x.event_id).filter((id) => id !== 'mid')).toEqual([...all.slice(110).map((i) => i.event.eventId).sort((a, b) => Number(a.split('-')[1]) - Number(b.split('-')[1])), 'future']);
      expect(await partitions(db)).not.toContain('events_20260111');

      // A backfill within the retention is moved out of the default partition into its day's.
      await store.ingest([eventAt('late', '2026-01-20T05:00:00Z'), eventAt('late-2', '2026-01-25T23:59:59Z')]);
      await db.query('DROP TABLE events_20260125');
      await store.ingest([eventAt('late-2', '2026-01-25T23:59:59Z')]);
      expect((await db.query<{ event_id: string }>('SELECT event_id FROM events_default ORDER BY 1')).rows.map((x) => x.event_id)).toEqual(['future', 'late-2']);
      const r2 = await maintainStore(db, { events: 20 * DAY, flowHits: null, rejects: null, reports: null }, { now });
      expect(r2.made).toEqual(['events_20260125']);
      expect((await db.query<{ event_id: string }>('SELECT event_id FROM events_default')).rows.map((x) => x.event_id)).toEqual(['future']);
      expect((await db.query<{ event_id: string }>('SELECT event_id FROM events_20260125 ORDER BY event_id')).rows.map((x) => x.event_id)).toContain('late-2');
      expect(r2.dropped).toEqual([]);
    } finally {
      await cleanup();
    }
  }, 120_000);

  it('gives every raw record back as written: more than a chunk a day, across midnight UTC, awkward strings, a batch stored twice, its days\' partitions made later', async () => {
    const { db, cleanup } = await open();
    try {
      await migrate(db);
      const store = storeOn(db);
      // N records over two UTC days with no partition yet (raw_chunks_default and events_default),
      // interleaved in the batch; strings with the characters a line-per-record chunk could trip on.
      const R = RECORDS_PER_CHUNK;
      const N = 2 * (R + 5) + 10;
      const base = records('actors.json')[0]!;
      const all: Ingestible[] = [];
      for (let i = 0; i < N; i++) {
        const time = i % 2 ? `2025-06-01T23:59:${String(i % 60).padStart(2, '0')}Z` : `2025-06-02T00:00:${String(i % 60).padStart(2, '0')}Z`;
        const raw = { ...base, eventID: `chunked-${i}`, eventTime: time, requestParameters: { note: `line\nbreak\r\n \u2028 \u2029 \\n "${i}" \u0000 \ud83d\ude80`, i } } as RawRecord;
        all.push({ event: normalize(raw), raw });
      }
      const check = async (): Promise<void> => {
        const byId = await rawsByIds(db, all.map((x) => x.event.eventId));
        for (const x of all) expect(byId.get(x.event.eventId), x.event.eventId).toEqual(x.raw);
        const at = await rawsAt(db, all.map((x) => ({ eventId: x.event.eventId, time: x.event.time })));
        expect(at).toEqual(byId);
        for (const i of [0, R - 1, R, R + 1, N - 1]) expect(await store.raw(`chunked-${i}`)).toEqual(all[i]!.raw);
      };
      expect((await store.ingest(all.slice(0, N - 10))).inserted).toBe(N - 10);
      expect((await store.ingest(all)).inserted).toBe(10); // partly stored: the other 10 only
      expect((await store.ingest(all)).inserted).toBe(0);
      await check();
      const lines = await db.query<{ chunks: number; most: number }>(
        'SELECT count(DISTINCT raw_chunk)::int AS chunks, max(raw_at)::int AS most FROM events',
      );
      expect(lines.rows[0]).toEqual({ chunks: 6, most: R - 1 }); // R + 5 a day (two chunks each), then 5 a day
      // The store-maintenance job makes the two days' partitions: events and chunks leave the defaults.
      const r = await maintainStore(db, { events: 3650 * DAY, flowHits: null, rejects: null, reports: null }, { now: Date.parse('2025-06-03T12:00:00Z'), aheadDays: 0 });
      expect(r.made).toEqual(expect.arrayContaining(['events_20250601', 'events_20250602']));
      expect((await db.query<{ n: number }>('SELECT (SELECT count(*) FROM events_default) + (SELECT count(*) FROM raw_chunks_default) AS n')).rows[0]!.n).toBe(0);
      await check();
    } finally {
      await cleanup();
    }
  }, 120_000);
});

/** A store of its own on the machine's PostgreSQL (locks, sessions and time zones are the server's business). */
async function serverStore(poolSize = 4): Promise<{ db: Db; url: string; cleanup: () => Promise<void> }> {
  const t = await createTestDatabase();
  const db = await openDb({ databaseUrl: t.url, dataDir: '/nonexistent', poolSize });
  return { db, url: t.url, cleanup: async () => { await db.close(); await t.drop(); } };
}

const NOW = Date.parse('2026-06-01T12:00:00Z');
const dayName = (ms: number): string => `events_${new Date(ms).toISOString().slice(0, 10).replaceAll('-', '')}`;
const ids = async (db: Db, table: string): Promise<string[]> =>
  (await db.query<{ event_id: string }>(`SELECT event_id FROM ${table} ORDER BY event_id`)).rows.map((r) => r.event_id);
const noRetention = { flowHits: null, rejects: null, reports: null };

describe('store maintenance at scale and beside other sessions (PostgreSQL)', () => {
  it('upgrades a store holding 500 days: the newest 90 get partitions in the migration, the rest wait in events_default, and the job gives those within the retention their days and deletes the others, every event once', async () => {
    const { db, cleanup } = await serverStore();
    try {
      await migrate(db, { upTo: PREVIOUS });
      // Before the cap the migration made a partition for every day in its one transaction: past ~400
      // days PostgreSQL's lock table overflowed ("out of shared memory") and the store could not start.
      await insertOld(db, Array.from({ length: 500 }, (_, d) => eventAt(`old-${d}`, NOW - d * DAY)));
      const before = await digest(db);
      await migrate(db);
      expect(await digest(db)).toEqual(before);
      const parts = await partitions(db);
      for (let d = 0; d < 90; d++) expect(parts).toContain(dayName(NOW - d * DAY));
      expect(parts).not.toContain(dayName(NOW - 90 * DAY));
      expect(parts.length).toBeLessThanOrEqual(90 + 5 + 1); // and the days around today, and events_default
      expect((await ids(db, 'events_default')).length).toBe(410);

      // 150 days kept: the job moves days 90–150 out of events_default (the cutoff's day whole) and deletes 151–499,
      // a few days to a transaction: each day made holds ~30 locks till the commit (61 days in one held 1,200
      // of the 6,400 PostgreSQL's lock table has here, and a server with fewer connections has fewer).
      const locks: number[] = [];
      const r = await maintainStore(db, { events: 150 * DAY, ...noRetention }, {
        now: NOW,
        beforeCommit: async (step, tx) => {
          if (step === 'move') locks.push((await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_locks WHERE pid = pg_backend_pid()')).rows[0]!.n);
        },
      });
      expect(locks.length).toBe(7);
      expect(Math.max(...locks)).toBeLessThan(400);
      expect(r.made).toEqual(expect.arrayContaining(Array.from({ length: 61 }, (_, i) => dayName(NOW - (90 + i) * DAY))));
      expect(r.deleted.events).toBe(349);
      expect(r.dropped).toEqual([]);
      expect(await ids(db, 'events_default')).toEqual([]);
      expect(await ids(db, 'events')).toEqual(Array.from({ length: 151 }, (_, d) => `old-${d}`).sort());
      for (const d of [0, 89, 90, 150]) expect(await ids(db, dayName(NOW - d * DAY))).toEqual([`old-${d}`]);
    } finally {
      await cleanup();
    }
  }, 120_000);

  it('drops 620 days past the retention in one run, a batch to a transaction (in one, PostgreSQL ran out of locks past ~600 and the job failed for good)', async () => {
    const { db, cleanup } = await serverStore();
    try {
      await migrate(db);
      // 620 days, 31 to a statement (each its own transaction).
      for (let d = 0; d < 620; d += 31) {
        await db.query(`SELECT events_day_partition(($1::date + n)) FROM generate_series(0, 30) AS n`, [new Date(NOW - (100 + d + 30) * DAY).toISOString().slice(0, 10)]);
      }
      await storeOn(db).ingest([eventAt('kept', NOW - 2 * DAY), eventAt('gone', NOW - 300 * DAY)]);
      const r = await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      expect(r.dropped).toHaveLength(620);
      expect(r.dropped[0]).toBe(dayName(NOW - 719 * DAY));
      expect((await partitions(db)).filter((p) => p !== 'events_default' && p < dayName(NOW - 90 * DAY))).toEqual([]);
      expect(await ids(db, 'events')).toEqual(['kept']);
      expect((await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW })).dropped).toEqual([]);
    } finally {
      await cleanup();
    }
  }, 120_000);

  it('waits for a writer with rows in flight for events_default before moving its day out, and loses none of them', async () => {
    const { db, url, cleanup } = await serverStore();
    const writer = new pg.Client({ connectionString: url });
    try {
      await migrate(db);
      await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW }); // the days around NOW, made already
      await storeOn(db).ingest([eventAt('backfill-1', NOW - 10 * DAY)]);
      await writer.connect();
      await writer.query('BEGIN');
      await writer.query(`INSERT INTO events (event_id, time, outcome, via, raw) VALUES ('backfill-2', $1, 'success', 'console', '{}')`, [isoAt(NOW - 10 * DAY + 1000)]);
      const job = maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      await sleep(1000);
      await writer.query('COMMIT');
      // Before, the move ran beside the writer: ATTACH then found its row in events_default and the whole job failed.
      const r = await job;
      expect(r.made).toContain(dayName(NOW - 10 * DAY));
      expect(await ids(db, 'events_default')).toEqual([]);
      expect(await ids(db, dayName(NOW - 10 * DAY))).toEqual(['backfill-1', 'backfill-2']);
    } finally {
      await writer.end().catch(() => undefined);
      await cleanup();
    }
  }, 60_000);

  it('never deadlocks with a writer: an open ingest transaction that goes on to write an old day commits, and the drops wait for it', async () => {
    const { db, url, cleanup } = await serverStore();
    const writer = new pg.Client({ connectionString: url });
    try {
      await migrate(db);
      await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW }); // today's partitions
      await db.query('SELECT events_day_partition($1::date)', [new Date(NOW - 200 * DAY).toISOString().slice(0, 10)]);
      // A backfilled day for the job to move out of events_default before it drops the old one.
      await storeOn(db).ingest([eventAt('backfill-1', NOW - 20 * DAY)]);
      await writer.connect();
      await writer.query('BEGIN');
      await writer.query(`INSERT INTO events (event_id, time, outcome, via, raw) VALUES ('today', $1, 'success', 'console', '{}')`, [isoAt(NOW)]);
      const job = maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      await sleep(1500);
      // Before, the job held events_default's lock (a day's move) while it waited for the parent to
      // drop a day: this insert then deadlocked, and PostgreSQL aborted the writer.
      await writer.query(`INSERT INTO events (event_id, time, outcome, via, raw) VALUES ('backfill-2', $1, 'success', 'console', '{}')`, [isoAt(NOW - 11 * DAY)]);
      await writer.query('COMMIT');
      const r = await job;
      expect(r.made).toEqual([dayName(NOW - 20 * DAY)]);
      expect(r.dropped).toEqual([dayName(NOW - 200 * DAY)]);
      expect(await ids(db, 'events')).toEqual(['backfill-1', 'backfill-2', 'today']);
    } finally {
      await writer.end().catch(() => undefined);
      await cleanup();
    }
  }, 90_000);

  it('keeps UTC days whatever the time zone of the database or the session', async () => {
    const { url, cleanup } = await serverStore(1);
    try {
      const name = new URL(url).pathname.slice(1);
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query(`ALTER DATABASE ${name} SET timezone = 'America/Los_Angeles'`);
      await admin.end();
      const tzDb = await openDb({ databaseUrl: url, dataDir: '/nonexistent', poolSize: 1 });
      try {
        // The pool sets the session's time zone to UTC.
        expect((await tzDb.query<{ tz: string }>('SELECT current_setting($1) AS tz', ['TimeZone'])).rows[0]!.tz).toBe('UTC');
        await migrate(tzDb);
        // 20 days kept at 2026-02-01T01:00Z: the cutoff is 2026-01-12T01:00Z, and its day is kept whole.
        const now = Date.parse('2026-02-01T01:00:00Z');
        await storeOn(tzDb).ingest([eventAt('cutoff-day', Date.parse('2026-01-12T05:00:00Z')), eventAt('day-before', Date.parse('2026-01-11T20:00:00Z'))]);
        // The retention's own SQL, in a session set to another zone (the pool's one connection): a
        // bare date there was Los Angeles' midnight, and the cutoff day's event was deleted.
        await tzDb.query(`SET TimeZone = 'America/Los_Angeles'`);
        const r = await maintainStore(tzDb, { events: 20 * DAY, ...noRetention }, { now });
        expect(r.made).toContain('events_20260112');
        expect(r.deleted.events).toBe(1);
        expect(await ids(tzDb, 'events')).toEqual(['cutoff-day']);
        expect(await ids(tzDb, 'events_20260112')).toEqual(['cutoff-day']);
      } finally {
        await tzDb.close();
      }
    } finally {
      await cleanup().catch(() => undefined);
    }
  }, 60_000);
});

/** Whether a session of this database waits for a lock on `table`. */
const waitsFor = async (db: Db, table: string): Promise<boolean> =>
  (
    await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = $1::regclass AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      [table],
    )
  ).rows[0]!.n > 0;
const until = async (cond: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> => {
  for (const end = Date.now() + ms; !(await cond()); await sleep(25)) if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
};
/** The longest a query of events took, run over and over by its own session until stopped. */
function probe(url: string): { stop: () => Promise<number> } {
  const c = new pg.Client({ connectionString: url });
  let going = true;
  let longest = 0;
  const done = (async () => {
    await c.connect();
    while (going) {
      const t = Date.now();
      await c.query(`SELECT count(*) FROM events WHERE time >= now() - interval '1 day'`);
      longest = Math.max(longest, Date.now() - t);
      await sleep(20);
    }
    await c.end();
  })();
  return { stop: async () => { going = false; await done; return longest; } };
}

describe('store maintenance meets the store\'s readers and writers (PostgreSQL)', () => {
  it('an ingest that meets the move of its day out of events_default lands in the new partition (it was refused: 23514, partition constraint)', async () => {
    const { db, cleanup } = await serverStore();
    try {
      await migrate(db);
      await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      await storeOn(db).ingest([eventAt('backfill-1', NOW - 10 * DAY)]);
      let ingest: ReturnType<ReturnType<typeof storeOn>['ingest']> | undefined;
      const r = await maintainStore(db, { events: 90 * DAY, ...noRetention }, {
        now: NOW,
        // The day's partition made, not committed: a batch for that day starts now, is routed to the
        // default partitions (the only ones it can see), and waits for the move's lock on them.
        beforeCommit: async (step) => {
          if (step !== 'move' || ingest) return;
          ingest = storeOn(db).ingest([eventAt('backfill-2', NOW - 10 * DAY + 1000)]);
          await until(async () => (await waitsFor(db, 'raw_chunks_default')) || (await waitsFor(db, 'events_default')), 'the ingest waits for the move');
        },
      });
      expect(r.made).toEqual([dayName(NOW - 10 * DAY)]);
      expect(await ingest).toMatchObject({ inserted: 1 });
      expect(await ids(db, dayName(NOW - 10 * DAY))).toEqual(['backfill-1', 'backfill-2']);
      expect(await ids(db, 'events_default')).toEqual([]);
      expect(await storeOn(db).raw('backfill-2')).toEqual(eventAt('backfill-2', NOW - 10 * DAY + 1000).raw);
    } finally {
      await cleanup();
    }
  }, 60_000);

  it('never deadlocks with a query: a reader of events that goes on to read the chunks while the job waits for it finishes, and so does the job', async () => {
    const { db, url, cleanup } = await serverStore();
    const reader = new pg.Client({ connectionString: url });
    let job: Promise<unknown> | undefined;
    try {
      await migrate(db);
      await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      await storeOn(db).ingest([eventAt('backfill', NOW - 10 * DAY)]);
      // A search: events first (all partitions, the default one too), then its records' chunks.
      await reader.connect();
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      await reader.query('SELECT count(*) FROM events');
      job = maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      // The job's tries without waiting fail; so does the waiting try in ingest's order (it gets
      // raw_chunks_default, not events_default, and lets go); then it waits for events_default, holding
      // nothing. Before, it waited for events_default holding raw_chunks_default: the reader's next read
      // closed the cycle, and PostgreSQL aborted one of the two (40P01).
      await until(() => waitsFor(db, 'events_default'), 'the job waits for events_default');
      expect((await reader.query<{ n: number }>('SELECT count(*)::int AS n FROM raw_chunks')).rows[0]!.n).toBe(1);
      await reader.query('COMMIT');
      const r = (await job) as Awaited<ReturnType<typeof maintainStore>>;
      expect(r.made).toEqual([dayName(NOW - 10 * DAY)]);
      expect(r.skipped).toEqual([]);
      expect(await ids(db, dayName(NOW - 10 * DAY))).toEqual(['backfill']);
    } finally {
      await reader.end().catch(() => undefined);
      await job?.catch(() => undefined);
      await cleanup();
    }
  }, 60_000);

  it('a long reader (a dump) holds up the store\'s queries for at most the short wait: the drops are left for the next run, and the rest is done', async () => {
    const { db, url, cleanup } = await serverStore();
    const dump = new pg.Client({ connectionString: url });
    let watch: { stop: () => Promise<number> } | undefined;
    try {
      await migrate(db);
      await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      await db.query('SELECT events_day_partition($1::date)', [new Date(NOW - 200 * DAY).toISOString().slice(0, 10)]);
      await storeOn(db).ingest([eventAt('today', NOW), eventAt('old-day', NOW - 200 * DAY), eventAt('straggler', NOW - 300 * DAY)]);
      await db.query(`INSERT INTO flow_hits (flow, group_key, event_id, time) VALUES ('f', 'g', 'old-day', $1)`, [isoAt(NOW - 200 * DAY)]);
      await dump.connect();
      await dump.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      await dump.query('SELECT count(*) FROM events');
      watch = probe(url);
      const r = await maintainStore(db, { events: 90 * DAY, flowHits: 90 * DAY, rejects: null, reports: null }, { now: NOW });
      const longest = await watch.stop();
      watch = undefined;
      // Before, the drop phase waited 30 s for the dump, every query of events queued behind it, and
      // then the job failed without deleting anything.
      expect(longest).toBeLessThan(5_000);
      expect(r.dropped).toEqual([]);
      // The dump's snapshot is older than a rebuild of the default partitions' indexes (due: a straggler
      // left them), which waits for it without holding anyone up, then leaves it for the next run too.
      expect(r.skipped.map((s) => s.step)).toEqual(['drop', 'rebuild']);
      // The reason names the table that did not come and who held it (the dump: idle in transaction).
      expect(r.skipped[0]!.reason).toMatch(/no lock on raw_chunks_default, events_default, ONLY raw_chunks, ONLY events .*events_default did not come within 2s, held by pid \d+ \(.*idle in transaction, AccessShareLock on events_default, transaction \d+ s old\).*the next run does it/);
      expect(r.deleted).toMatchObject({ events: 1, rawChunks: 1, flowHits: 1 });
      await dump.query('COMMIT');
      const next = await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      expect(next.dropped).toEqual([dayName(NOW - 200 * DAY)]);
      expect(next.skipped).toEqual([]);
      expect(next.rebuilt).toBe(true);
      expect(await ids(db, 'events')).toEqual(['today']);
    } finally {
      await watch?.stop().catch(() => undefined);
      await dump.end().catch(() => undefined);
      await cleanup();
    }
  }, 90_000);

  it('rebuilds the default partitions\' indexes beside readers and writers, gives up after a short wait, and the next run finishes it', async () => {
    const { db, url, cleanup } = await serverStore();
    const reader = new pg.Client({ connectionString: url });
    let watch: { stop: () => Promise<number> } | undefined;
    const indexes = async (): Promise<{ name: string; valid: boolean }[]> =>
      (
        await db.query<{ name: string; valid: boolean }>(
          `SELECT c.relname AS name, i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            WHERE i.indrelid IN ('events_default'::regclass, 'raw_chunks_default'::regclass) ORDER BY 1`,
        )
      ).rows;
    try {
      await migrate(db);
      await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      const before = await indexes();
      await storeOn(db).ingest([eventAt('backfill', NOW - 10 * DAY)]);
      await reader.connect();
      let reading: Promise<unknown> | undefined;
      const r = await maintainStore(db, { events: 90 * DAY, ...noRetention }, {
        now: NOW,
        // A reader of events_default comes during the move and stays in its transaction: the rebuild
        // must wait for it. Before, the REINDEX waited with no end, and every query and write of the
        // default partitions queued behind it.
        beforeCommit: async (step) => {
          if (step !== 'move' || reading) return;
          await reader.query('BEGIN');
          reading = reader.query('SELECT count(*) FROM events_default');
          await until(() => waitsFor(db, 'events_default'), 'the reader waits for the move');
          watch = probe(url);
        },
      });
      await reading;
      // Writes to the default partitions go on during the rebuild's wait.
      expect(await storeOn(db).ingest([eventAt('far-ahead', Date.parse('2099-01-01T00:00:00Z'))])).toMatchObject({ inserted: 1 });
      expect(await watch!.stop()).toBeLessThan(1_500);
      watch = undefined;
      expect(r.made).toEqual([dayName(NOW - 10 * DAY)]);
      expect(r.rebuilt).toBe(false);
      expect(r.skipped.map((s) => s.step)).toEqual(['rebuild']);
      expect(r.skipped[0]!.reason).toMatch(/events_default, raw_chunks_default: .*the next run rebuilds them/);
      // What the unfinished rebuild left: the old copies of the indexes it had swapped, invalid, beside
      // the new ones queries use.
      const invalid = (await indexes()).filter((i) => !i.valid).map((i) => i.name);
      expect(invalid.length).toBeGreaterThan(0);
      for (const name of invalid) expect(name).toMatch(/_cc(new|old)$/);
      await reader.query('COMMIT');
      // Due still (migration 025): the next run removes what the unfinished rebuild left and rebuilds.
      const next = await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      expect(next.rebuilt).toBe(true);
      expect(next.skipped).toEqual([]);
      expect(await indexes()).toEqual(before);
      expect((await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW })).rebuilt).toBe(false);
      expect(await ids(db, 'events')).toEqual(['backfill', 'far-ahead']);
    } finally {
      await watch?.stop().catch(() => undefined);
      await reader.end().catch(() => undefined);
      await cleanup();
    }
  }, 90_000);
});

describe('store maintenance with a large backfill in events_default (PostgreSQL)', () => {
  const dayOf = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
  const left = async (db: Db): Promise<number> => Number((await db.query<{ n: number }>('SELECT left_rows AS n FROM store_maintenance')).rows[0]!.n);

  it('makes a batch of days reading each default partition once, not twice a day under its lock: PostgreSQL proves the ATTACH checks from constraints (migration 026)', async () => {
    const { db, url, cleanup } = await serverStore();
    const c = new pg.Client({ connectionString: url });
    try {
      await migrate(db);
      await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      const days = [10, 11, 12, 13, 14].map((d) => dayOf(NOW - d * DAY));
      await storeOn(db).ingest([...Array.from({ length: 50 }, (_, i) => eventAt(`b-${i}`, NOW - (10 + (i % 5)) * DAY + i * 1000)), eventAt('stays', NOW - 400 * DAY)]);
      await c.connect();
      // Three of the days copied beforehand, without the lock (as the job does); then a late event of one of them.
      expect((await c.query<{ n: number }>('SELECT events_day_stage($1::date[])::int AS n', [days.slice(0, 3)])).rows[0]!.n).toBe(30);
      await storeOn(db).ingest([eventAt('late', NOW - 11 * DAY + 5000)]);
      // And one gone from a copied day since (only a move takes rows of a day within the retention out; the copy follows the default).
      await db.query(`DELETE FROM events_default WHERE event_id = 'b-0'`);
      const notes: string[] = [];
      c.on('notice', (n) => notes.push(n.message ?? ''));
      await c.query('SET client_min_messages = debug1');
      await c.query('BEGIN');
      const r = await c.query<{ parts: string[]; moved: number }>('SELECT parts, moved FROM events_day_partitions($1::date[])', [[...days].reverse()]);
      await c.query('COMMIT');
      await c.query('SET client_min_messages = notice');
      expect(r.rows[0]).toEqual({ parts: days.map((d) => `events_${d.replaceAll('-', '')}`).sort(), moved: 50 });
      // The copies became the partitions, their indexes with them: none left, none built again.
      expect((await db.query(`SELECT relname FROM pg_class WHERE relname LIKE 'move\\_%'`)).rows).toEqual([]);
      const built = new Set(notes.map((m) => /^building index "(?:events|raw_chunks)_\w+" on table "(\w+)"/.exec(m)?.[1]).filter(Boolean));
      const unstaged = days.slice(3).map((d) => d.replaceAll('-', ''));
      expect([...built].sort()).toEqual(unstaged.flatMap((n) => [`events_${n}`, `raw_chunks_${n}`]).sort());
      expect((await db.query(`SELECT indexrelid::regclass::text AS i FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1`, [`events_${days[0]!.replaceAll('-', '')}`])).rows).toHaveLength(8);
      for (const d of days) {
        const n = d.replaceAll('-', '');
        // The new tables' bounds, and the defaults' rest, were not read: implied by the CHECKs.
        expect(notes).toContain(`partition constraint for table "events_${n}" is implied by existing constraints`);
        expect(notes).toContain(`partition constraint for table "raw_chunks_${n}" is implied by existing constraints`);
      }
      for (const t of ['events_default', 'raw_chunks_default']) {
        expect(notes.filter((m) => m === `updated partition constraint for default partition "${t}" is implied by existing constraints`)).toHaveLength(5);
        // One read of each default for the five days: the CHECKs excluding them, added in one statement.
        expect(notes.filter((m) => m === `verifying table "${t}"`)).toHaveLength(1);
      }
      expect((await db.query(`SELECT conname FROM pg_constraint WHERE conname ~ '_(not_[0-9]{8}|bounds)$'`)).rows).toEqual([]);
      expect(await ids(db, 'events_default')).toEqual(['stays']);
      for (let k = 0; k < 5; k++) expect(await ids(db, `events_${days[k]!.replaceAll('-', '')}`)).toHaveLength(k === 1 ? 11 : k === 0 ? 9 : 10);
      expect(await ids(db, `events_${days[1]!.replaceAll('-', '')}`)).toContain('late');
      // New rows of those days go to their partitions, of other days to the default.
      await storeOn(db).ingest([eventAt('later', NOW - 12 * DAY), eventAt('stays-too', NOW - 300 * DAY)]);
      expect(await ids(db, `events_${days[2]!.replaceAll('-', '')}`)).toContain('later');
      expect(await ids(db, 'events_default')).toEqual(['stays', 'stays-too']);
      expect(await storeOn(db).raw('b-7')).toEqual(eventAt('b-7', NOW - 12 * DAY + 7000).raw);
    } finally {
      await c.end().catch(() => undefined);
      await cleanup();
    }
  }, 60_000);

  it('a read in one snapshot (a search\'s) never sees a moved day twice: the move waits for it (its snapshot, taken before the move committed, saw the copy and the default both)', async () => {
    const { db, cleanup } = await serverStore();
    try {
      await migrate(db);
      await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      const backfill = [0, 1, 2].map((i) => eventAt(`seen-once-${i}`, NOW - 10 * DAY + i * 1000));
      await storeOn(db).ingest(backfill);
      let seen: Promise<string[]> | undefined;
      let snapshot = false;
      // The day copied and committed, its move not yet: a read in one snapshot starts (a search's
      // principals, then its windows), and reads the events once the move has committed.
      const r = await maintainStore(db, { events: 90 * DAY, ...noRetention }, {
        now: NOW,
        beforeCommit: async (step) => {
          if (step !== 'move' || seen) return;
          seen = readSnapshot(db, async (tx) => {
            await tx.query('SELECT 1');
            snapshot = true;
            // Once the move has committed (its partition is there to other sessions).
            await until(async () => (await db.query<{ r: string | null }>('SELECT to_regclass($1)::text AS r', [dayName(NOW - 10 * DAY)])).rows[0]!.r !== null, 'the move commits');
            return (await tx.query<{ event_id: string }>(`SELECT event_id FROM events WHERE event_id LIKE 'seen-once-%' ORDER BY 1`)).rows.map((x) => x.event_id);
          });
          await until(async () => snapshot || (await waitsFor(db, 'raw_chunks_default')) || (await waitsFor(db, 'events_default')), 'the read takes its snapshot or waits for the move');
        },
      });
      expect(r.made).toEqual([dayName(NOW - 10 * DAY)]);
      // Without the read's locks (queries.ts readSnapshot) it saw each event twice: in the copy, committed before its snapshot, and in the default.
      expect(await seen).toEqual(backfill.map((b) => b.event.eventId));
      expect(await ids(db, dayName(NOW - 10 * DAY))).toEqual(backfill.map((b) => b.event.eventId));
    } finally {
      await cleanup();
    }
  }, 60_000);

  it('an ingest batch spanning 35 backfilled days that meets each of the job\'s 4 move transactions lands whole (it gave up after 4 tries, 23514)', async () => {
    const { db, cleanup } = await serverStore();
    try {
      await migrate(db);
      await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      await storeOn(db).ingest(Array.from({ length: 35 }, (_, d) => eventAt(`first-${d}`, NOW - (10 + d) * DAY)));
      let ingest: ReturnType<ReturnType<typeof storeOn>['ingest']> | undefined;
      let settled = false;
      let moves = 0;
      const r = await maintainStore(db, { events: 90 * DAY, ...noRetention }, {
        now: NOW,
        // Each move, before its commit, waits until the batch waits for it (the batch is refused when
        // the move commits, and tries again), unless the batch got in between two moves.
        beforeCommit: async (step) => {
          if (step !== 'move') return;
          moves++;
          if (!ingest) {
            ingest = storeOn(db).ingest(Array.from({ length: 35 }, (_, d) => eventAt(`second-${d}`, NOW - (10 + d) * DAY + 1000)));
            void ingest.finally(() => { settled = true; }).catch(() => undefined);
          }
          await until(async () => settled || (await waitsFor(db, 'raw_chunks_default')) || (await waitsFor(db, 'events_default')), 'the ingest waits for the move');
        },
      });
      expect(moves).toBe(4);
      expect(r.made).toHaveLength(35);
      expect(r.skipped).toEqual([]);
      expect(await ingest).toMatchObject({ inserted: 35, duplicates: 0 });
      expect(await ids(db, 'events_default')).toEqual([]);
      for (let d = 0; d < 35; d++) expect(await ids(db, dayName(NOW - (10 + d) * DAY))).toEqual([`first-${d}`, `second-${d}`]);
    } finally {
      await cleanup();
    }
  }, 90_000);

  it('gets its locks beside three writers that keep backfilling old days (they starved it: today\'s partition was never made), and every row they wrote is kept once', async () => {
    const { db, cleanup } = await serverStore(8);
    try {
      await migrate(db);
      await storeOn(db).ingest(Array.from({ length: 30 }, (_, d) => eventAt(`seed-${d}`, NOW - (10 + d) * DAY)));
      let going = true;
      const written: string[] = [];
      const writers = [0, 1, 2].map(async (w) => {
        for (let i = 0; going; i++) {
          const batch = Array.from({ length: 20 }, (_, k) => eventAt(`w${w}-${i}-${k}`, NOW - (10 + ((i + k) % 30)) * DAY + w * 60_000 + k * 1000));
          await storeOn(db).ingest(batch);
          written.push(...batch.map((b) => b.event.eventId));
        }
      });
      await sleep(300);
      const r = await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      going = false;
      await Promise.all(writers);
      expect(r.skipped).toEqual([]);
      for (let d = -1; d <= 3; d++) expect(r.made).toContain(dayName(NOW + d * DAY));
      for (let d = 0; d < 30; d++) expect(r.made).toContain(dayName(NOW - (10 + d) * DAY));
      expect(await ids(db, 'events_default')).toEqual([]);
      expect(await ids(db, 'events')).toEqual([...written, ...Array.from({ length: 30 }, (_, d) => `seed-${d}`)].sort());
    } finally {
      await cleanup();
    }
  }, 90_000);

  it('a run that fails in the drops still deletes the stragglers, and its error says what it had done (it was thrown away)', async () => {
    const { db, cleanup } = await serverStore();
    try {
      await migrate(db);
      await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      await db.query('SELECT events_day_partition($1::date)', [dayOf(NOW - 200 * DAY)]);
      await storeOn(db).ingest([eventAt('backfill', NOW - 10 * DAY), eventAt('straggler', NOW - 300 * DAY)]);
      const failed = await maintainStore(db, { events: 90 * DAY, ...noRetention }, {
        now: NOW,
        beforeCommit: async (step) => {
          if (step === 'drop') throw Object.assign(new Error('disk full'), { code: '53100' });
        },
      }).then(() => undefined, (e: unknown) => e);
      expect((failed as Error).message).toBe('disk full');
      // The day moved out is said; the drop that failed is not (it was said though rolled back).
      expect(failed).toMatchObject({ maintenance: { made: [dayName(NOW - 10 * DAY)], dropped: [], deleted: { events: 1, rawChunks: 1 } } });
      expect(await ids(db, 'events')).toEqual(['backfill']);
      expect((await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW })).dropped).toEqual([dayName(NOW - 200 * DAY)]);
    } finally {
      await cleanup();
    }
  }, 60_000);

  it('rebuilds the default partitions\' indexes once the rows that left are a fair share of what they hold, not for every straggler', async () => {
    const { db, cleanup } = await serverStore();
    try {
      await migrate(db);
      await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      // 400 events dated past the partitions made ahead stay in events_default; one straggler is past the retention.
      await storeOn(db).ingest([...Array.from({ length: 400 }, (_, i) => eventAt(`ahead-${i}`, NOW + 30 * DAY + i * 1000)), eventAt('straggler', NOW - 200 * DAY)]);
      const once = await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      expect(once.deleted).toMatchObject({ events: 1, rawChunks: 1 });
      expect(once.rebuilt).toBe(false);
      expect(await left(db)).toBe(1);
      // 150 backfilled events move out: 151 left, against 400 held, is over a quarter.
      await storeOn(db).ingest(Array.from({ length: 150 }, (_, i) => eventAt(`back-${i}`, NOW - 20 * DAY + i * 1000)));
      const twice = await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      expect(twice.made).toEqual([dayName(NOW - 20 * DAY)]);
      expect(twice.rebuilt).toBe(true);
      expect(await left(db)).toBe(0);
      expect((await ids(db, 'events_default')).length).toBe(400);
    } finally {
      await cleanup();
    }
  }, 60_000);
});

describe('store maintenance killed mid-way (PostgreSQL)', () => {
  it('a job whose session is killed in the middle of a move or of the drops loses and doubles nothing, and the next run does all of it', async () => {
    const { db, url, cleanup } = await serverStore();
    const admin = new pg.Client({ connectionString: url });
    try {
      await migrate(db);
      await admin.connect();
      await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      await db.query('SELECT events_day_partition($1::date)', [new Date(NOW - 200 * DAY).toISOString().slice(0, 10)]);
      const all = [eventAt('today', NOW), eventAt('old-day', NOW - 200 * DAY), ...Array.from({ length: 15 }, (_, d) => eventAt(`backfill-${d}`, NOW - (10 + d) * DAY))];
      await storeOn(db).ingest(all);
      const before = await digest(db);
      // The session is ended (as a crash or a failover would) while the step holds its locks, its
      // work done but not committed.
      for (const step of ['move', 'drop'] as const) {
        let killed = false;
        const run = maintainStore(db, { events: 90 * DAY, ...noRetention }, {
          now: NOW,
          beforeCommit: async (s, tx) => {
            if (s !== step || killed) return;
            killed = true;
            const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
            await admin.query('SELECT pg_terminate_backend($1)', [pid]);
          },
        });
        await expect(run).rejects.toThrow(/terminat|Connection/i);
        if (step === 'move') {
          expect(await digest(db)).toEqual(before);
          // The copies made before the killed move are still there, not attached: the next run remakes or drops them.
          expect((await db.query(`SELECT relname FROM pg_class WHERE relname LIKE 'move\\_events\\_%' AND relkind = 'r'`)).rows.length).toBeGreaterThan(0);
        }
      }
      // The first kill undid the first batch of the move, the second the drop (after the move's
      // batches had committed): nothing lost or doubled, the old day still there.
      expect(await ids(db, 'events')).toEqual(all.map((e) => e.event.eventId).sort());
      const r = await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      expect(r.dropped).toEqual([dayName(NOW - 200 * DAY)]);
      expect(r.skipped).toEqual([]);
      expect(r.rebuilt).toBe(true);
      expect(await ids(db, 'events_default')).toEqual([]);
      expect(await ids(db, 'events')).toEqual(all.filter((e) => e.event.eventId !== 'old-day').map((e) => e.event.eventId).sort());
      for (let d = 0; d < 15; d++) expect(await ids(db, dayName(NOW - (10 + d) * DAY))).toEqual([`backfill-${d}`]);
      expect((await db.query(`SELECT relname FROM pg_class WHERE relname LIKE 'move\\_%'`)).rows).toEqual([]);
      for (const e of all.slice(2, 4)) expect(await storeOn(db).raw(e.event.eventId)).toEqual(e.raw);
    } finally {
      await admin.end().catch(() => undefined);
      await cleanup();
    }
  }, 90_000);
});

describe('store: in trailbot.config.yaml and the store-maintenance job', () => {
  it('refuses a retention shorter than what reads its rows (a threshold window, a dedup period, a report and the period before it), naming both settings; takes store: with nothing under it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trailbot-retention-checks-'));
    try {
      const env = { TRAILBOT_CONFIG: join(dir, 'c.yaml') };
      const check = async (yaml: string): Promise<string> => {
        await writeFile(env.TRAILBOT_CONFIG, yaml);
        try {
          readConfig(env, { cwd: dir });
          return 'valid';
        } catch (e) {
          return (e as Error).message;
        }
      };
      expect(await check('store:\n')).toBe('valid');
      expect(await check('store:\n  retention: 90\n')).toMatch(/store\.retention: expected store\.retention as a duration with its unit, e\.g\. 90d/);
      expect(await check('store:\n  flowHitsRetention: 7d\nflows:\n  clickops-burst:\n    params:\n      window: 30d\n')).toMatch(
        /store\.flowHitsRetention: 7d is shorter than flow clickops-burst's window \(30d, flows\.clickops-burst\.params\.window\).*set store\.flowHitsRetention to 30d or more/,
      );
      expect(await check('store:\n  flowHitsRetention: 30d\nflows:\n  clickops-burst:\n    params:\n      window: 30d\n')).toBe('valid');
      expect(await check('store:\n  flowHitsRetention: forever\nflows:\n  clickops-burst:\n    params:\n      window: 30d\n')).toBe('valid');
      expect(await check('store:\n  retention: 2d\nflows:\n  root-activity:\n    dedupPeriod: 3d\n')).toMatch(/store\.retention: 2d is shorter than flow root-activity's dedup period \(3d, flows\.root-activity\.dedupPeriod\)/);
      const report = (kind: string, period?: string) => `reports:\n  - id: r1\n    kind: ${kind}\n    pattern: "0 8 * * 1"\n${period ? `    period: ${period}\n` : ''}`;
      // ClickOps compares its 30 days (the default) with the 30 before: 60 days of events.
      expect(await check(`store:\n  retention: 30d\n${report('clickops')}`)).toMatch(/store\.retention: 30d is shorter than report r1 needs \(60d: its period of 30d and the one before it/);
      expect(await check(`store:\n  retention: 60d\n${report('clickops')}`)).toBe('valid');
      expect(await check(`store:\n  retention: 13d\n${report('denied')}`)).toMatch(/report r1 needs \(14d/);
      expect(await check(`store:\n  retention: 30d\n${report('inactive', '30d')}`)).toBe('valid');
      expect(await check(`store:\n  retention: 30d\n${report('inactive')}`)).toBe('valid'); // it reads principals, which are kept
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads the retentions (defaults without the section), refuses what it cannot apply, and the job drops days past store.retention', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trailbot-retention-config-'));
    const t = await createTestDatabase();
    const db = await openDb({ databaseUrl: t.url, dataDir: '/nonexistent' });
    try {
      const env = { TRAILBOT_CONFIG: join(dir, 'c.yaml') };
      await writeFile(env.TRAILBOT_CONFIG, 'sources: []\n');
      expect(readConfig(env, { cwd: dir }).retention).toEqual({ events: 90 * DAY, flowHits: 90 * DAY, rejects: 90 * DAY, reports: 365 * DAY });
      await writeFile(env.TRAILBOT_CONFIG, 'store:\n  retention: 2d\n  flowHitsRetention: forever\n  reportsRetention: 2w\n');
      const config = readConfig(env, { cwd: dir });
      expect(config.retention).toEqual({ events: 2 * DAY, flowHits: null, rejects: 90 * DAY, reports: 14 * DAY });
      for (const bad of ['store:\n  retention: 2h\n', 'store:\n  retention: forever\n', 'store:\n  findingsRetention: 30d\n', 'store:\n  retension: 30d\n']) {
        await writeFile(env.TRAILBOT_CONFIG, bad);
        expect(() => readConfig(env, { cwd: dir }), bad).toThrow(/store\./);
      }

      await migrate(db);
      const store = storeOn(db);
      const now = Date.now();
      const at = (daysAgo: number): Ingestible => eventAt(`job-${daysAgo}`, now - daysAgo * DAY);
      await store.ingest([at(0), at(1), at(4), at(10)]);
      const old = new Date(now - 10 * DAY).toISOString().slice(0, 10).replaceAll('-', '');
      await db.query(`SELECT events_day_partition($1::date)`, [new Date(now - 10 * DAY).toISOString().slice(0, 10)]);
      await db.query(`INSERT INTO flow_hits (flow, group_key, event_id, time) VALUES ('f', 'g', 'job-10', now() - interval '10 days')`);
      const metrics = createMetrics({ store, queue: openInlineQueue(db, 'retention-job') });
      const run = makeProcessor(defaultJobs({}), { store, queue: openInlineQueue(db, 'retention-job'), log: createLogger({ level: 'silent' }), metrics, config });
      const r = (await run({ id: 'j1', name: 'store-maintenance', data: {}, attemptsMade: 0, attempts: 3 })) as { dropped: number; deleted: { events: number; flowHits: number } };
      expect(r.dropped).toBeGreaterThanOrEqual(1);
      expect(r.deleted.flowHits).toBe(0); // flowHitsRetention: forever
      expect(await partitions(db)).not.toContain(`events_${old}`);
      // 2 days kept: today, yesterday and the cutoff's day; 4 and 10 days ago are gone (job-4 from events_default).
      expect((await db.query<{ event_id: string }>('SELECT event_id FROM events ORDER BY time DESC')).rows.map((x) => x.event_id)).toEqual(['job-0', 'job-1']);
    } finally {
      await db.close();
      await t.drop();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.each(backends)('day partitions made by ingest on %s', (_name, open) => {
  it('gives each day within the retention its partition as ingest meets it: a 35-day backfill never lands in events_default, days past the retention or far ahead do, every event once', async () => {
    const { db, cleanup } = await open();
    try {
      await migrate(db);
      const store = storeOn(db, { dayPartitions: { retentionMs: 90 * DAY, now: () => NOW } });
      const batch: Ingestible[] = [];
      for (let d = 34; d >= 0; d--) for (let i = 0; i < 3; i++) batch.push(eventAt(`backfill-${d}-${i}`, NOW - d * DAY - i * 3_600_000));
      batch.push(eventAt('past-retention', NOW - 200 * DAY), eventAt('far-ahead', NOW + 30 * DAY));
      // Out of time order, as a trail bucket's files come.
      batch.sort((a, b) => a.event.eventId.localeCompare(b.event.eventId));
      expect(await store.ingest(batch)).toMatchObject({ inserted: 107, duplicates: 0 });
      const days = new Set(batch.slice(0, 105).map((b) => b.event.time!.slice(0, 10)));
      const parts = await partitions(db);
      for (const d of days) expect(parts).toContain(`events_${d.replaceAll('-', '')}`);
      expect(parts).not.toContain(dayName(NOW - 200 * DAY));
      expect(parts).not.toContain(dayName(NOW + 30 * DAY));
      expect(await ids(db, 'events_default')).toEqual(['far-ahead', 'past-retention']);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM raw_chunks_default')).rows[0]!.n).toBe(2);
      expect(await ids(db, dayName(NOW - 34 * DAY))).toEqual(['backfill-34-0', 'backfill-34-1', 'backfill-34-2']);
      // A day's GIN indexes keep a small pending list (migration 027): 4 MB each was most of a small day's size.
      const gin = await db.query<{ name: string; opts: string[] | null }>(
        `SELECT c.relname AS name, c.reloptions AS opts FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam WHERE i.indrelid = $1::regclass AND a.amname = 'gin'`,
        [dayName(NOW - 3 * DAY)],
      );
      expect(gin.rows).toHaveLength(2);
      for (const r of gin.rows) expect(r.opts).toEqual(['gin_pending_list_limit=128']);
      expect(await store.ingest(batch)).toMatchObject({ inserted: 0, duplicates: 107 });
      expect(await store.count()).toBe(107);
      expect(await store.raw('backfill-7-2')).toEqual(batch.find((b) => b.event.eventId === 'backfill-7-2')!.raw);
      // The job finds nothing to move: it makes the days ahead and deletes the row past the retention.
      const r = await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      expect(r.made).toEqual([1, 2, 3].map((d) => dayName(NOW + d * DAY)));
      expect(r.deleted.events).toBe(1);
      expect(await ids(db, 'events_default')).toEqual(['far-ahead']);
    } finally {
      await cleanup();
    }
  }, 120_000);
});

describe('day partitions made by ingest beside other sessions (PostgreSQL)', () => {
  it('a reader holding the default partitions costs a batch the short wait, not the batch: its day waits in events_default, and a later batch makes the partition and moves it', async () => {
    const { db, url, cleanup } = await serverStore();
    const reader = new pg.Client({ connectionString: url });
    try {
      await migrate(db);
      let now = NOW;
      const store = storeOn(db, { dayPartitions: { retentionMs: 90 * DAY, now: () => now, lockTimeoutMs: 200, retryAfterMs: 60_000 } });
      await reader.connect();
      await reader.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      await reader.query('SELECT count(*) FROM events');
      expect(await store.ingest([eventAt('held-1', NOW - 5 * DAY)])).toMatchObject({ inserted: 1 });
      // Within the retry wait the day is not tried again: no wait a batch while the reader stays.
      expect(await store.ingest([eventAt('held-2', NOW - 5 * DAY + 1000)])).toMatchObject({ inserted: 1 });
      expect(await ids(db, 'events_default')).toEqual(['held-1', 'held-2']);
      expect(await partitions(db)).not.toContain(dayName(NOW - 5 * DAY));
      await reader.query('COMMIT');
      now += 61_000;
      expect(await store.ingest([eventAt('held-3', NOW - 5 * DAY + 2000)])).toMatchObject({ inserted: 1 });
      expect(await ids(db, dayName(NOW - 5 * DAY))).toEqual(['held-1', 'held-2', 'held-3']);
      expect(await ids(db, 'events_default')).toEqual([]);
      for (const id of ['held-1', 'held-2', 'held-3']) expect(await store.raw(id)).toMatchObject({ eventID: id });
    } finally {
      await reader.end().catch(() => undefined);
      await cleanup();
    }
  }, 60_000);

  it('a make killed while it waits for its locks fails its batch and leaves nothing half made: the batch stored again lands whole, once', async () => {
    const { db, url, cleanup } = await serverStore();
    const reader = new pg.Client({ connectionString: url });
    try {
      await migrate(db);
      const store = storeOn(db, { dayPartitions: { retentionMs: 90 * DAY, now: () => NOW, lockTimeoutMs: 20_000 } });
      const batch = [0, 1, 2, 3, 4, 5].map((d) => eventAt(`killed-${d}`, NOW - (d + 2) * DAY));
      await reader.connect();
      // An ANALYZE-like holder of the parent: the make waits for it (the defaults it only tries for).
      await reader.query('BEGIN');
      await reader.query('LOCK TABLE ONLY events IN SHARE UPDATE EXCLUSIVE MODE');
      const ingest = store.ingest(batch);
      await until(() => waitsFor(db, 'events'), 'the make waits for events');
      const killed = await db.query<{ ok: boolean }>(
        `SELECT pg_terminate_backend(l.pid) AS ok FROM pg_locks l WHERE NOT l.granted AND l.relation = 'events'::regclass`,
      );
      expect(killed.rows.map((r) => r.ok)).toEqual([true]);
      await expect(ingest).rejects.toThrow();
      await reader.query('COMMIT');
      expect(await storeOn(db).count()).toBe(0);
      expect(await partitions(db)).not.toContain(dayName(NOW - 2 * DAY));
      expect(await store.ingest(batch)).toMatchObject({ inserted: 6 });
      expect(await store.ingest(batch)).toMatchObject({ inserted: 0, duplicates: 6 });
      for (let d = 0; d < 6; d++) expect(await ids(db, dayName(NOW - (d + 2) * DAY))).toEqual([`killed-${d}`]);
      expect(await ids(db, 'events_default')).toEqual([]);
    } finally {
      await reader.end().catch(() => undefined);
      await cleanup();
    }
  }, 60_000);

  it('a make that takes longer than allowed (a large default to check) is cancelled: the batch lands in events_default, and the job gives the day its partition', async () => {
    const { db, cleanup } = await serverStore();
    try {
      await migrate(db);
      // 1 ms: every make is too slow.
      const store = storeOn(db, { dayPartitions: { retentionMs: 90 * DAY, now: () => NOW, makeTimeoutMs: 1 } });
      expect(await store.ingest([eventAt('slow-1', NOW - 4 * DAY), eventAt('slow-2', NOW - 4 * DAY + 1000)])).toMatchObject({ inserted: 2 });
      expect(await partitions(db)).not.toContain(dayName(NOW - 4 * DAY));
      expect(await ids(db, 'events_default')).toEqual(['slow-1', 'slow-2']);
      const r = await maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      expect(r.made).toContain(dayName(NOW - 4 * DAY));
      expect(await ids(db, dayName(NOW - 4 * DAY))).toEqual(['slow-1', 'slow-2']);
      // Known made now: the next batch of that day goes straight to it.
      expect(await store.ingest([eventAt('slow-3', NOW - 4 * DAY + 2000)])).toMatchObject({ inserted: 1 });
      expect(await ids(db, 'events_default')).toEqual([]);
    } finally {
      await cleanup();
    }
  }, 60_000);

  it('an ingest transaction locks only its days\' partitions, a batch delivered before too: never the default partitions a make takes (it held them, the reverse of a make\'s order)', async () => {
    const { db, cleanup } = await serverStore();
    try {
      await migrate(db);
      const partitioner = { retentionMs: 90 * DAY, now: () => NOW };
      const store = storeOn(db, { dayPartitions: partitioner });
      // Every other day: the days between have no partition (the default's), and a look-up bounded by the batch's first and last times read it.
      const batch = [0, 1, 2, 3, 4].map((d) => eventAt(`locks-${d}`, NOW - (2 * d + 1) * DAY));
      await store.ingest(batch);
      for (const again of [batch, [...batch, eventAt('locks-new', NOW - DAY + 5000)]]) {
        const held = await db.transaction(async (tx) => {
          await insertEvents(tx, again);
          return (await tx.query<{ name: string }>(`SELECT relation::regclass::text AS name FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'relation'`)).rows.map((r) => r.name);
        });
        expect(held).not.toContain('events_default');
        expect(held).not.toContain('raw_chunks_default');
        expect([...new Set(held.filter((n) => /^events_\d{8}$/.test(n)))].sort()).toEqual([0, 1, 2, 3, 4].map((d) => dayName(NOW - (2 * d + 1) * DAY)).sort());
      }
      expect(await ids(db, dayName(NOW - DAY))).toEqual(['locks-0', 'locks-new']);
    } finally {
      await cleanup();
    }
  }, 60_000);

  it('a read by id planned while a make moves its event out of events_default finds it (it found nothing: planned with the old partitions, it read the emptied default)', async () => {
    const { db, url, cleanup } = await serverStore(8);
    const mover = new pg.Client({ connectionString: url });
    try {
      await migrate(db);
      const day = new Date(NOW - 6 * DAY).toISOString().slice(0, 10);
      await storeOn(db).ingest([eventAt('moving', NOW - 6 * DAY)]);
      expect(await ids(db, 'events_default')).toEqual(['moving']);
      await mover.connect();
      await mover.query('BEGIN');
      await mover.query('LOCK TABLE raw_chunks_default, events_default IN ACCESS EXCLUSIVE MODE');
      await mover.query('SELECT events_day_partitions($1::date[])', [[day]]);
      const span = { from: isoAt(NOW - 7 * DAY), to: isoAt(NOW - 5 * DAY) };
      const store = storeOn(db);
      const reads = [store.events(['moving'], span), rawsByIds(db, ['moving'], span), store.raw('moving'), store.count()];
      await until(async () => (await waitsFor(db, 'raw_chunks_default')) || (await waitsFor(db, 'events_default')), 'the reads wait for the move');
      await sleep(100);
      await mover.query('COMMIT');
      const [events, raws, raw, count] = await Promise.all(reads);
      expect((events as { eventId: string }[]).map((e) => e.eventId)).toEqual(['moving']);
      expect([...(raws as Map<string, unknown>).keys()]).toEqual(['moving']);
      expect(raw).toMatchObject({ eventID: 'moving' });
      expect(count).toBe(1);
      expect(await ids(db, dayName(NOW - 6 * DAY))).toEqual(['moving']);
    } finally {
      await mover.end().catch(() => undefined);
      await cleanup();
    }
  }, 60_000);

  it('never deadlocks with the job\'s drops: a read by id holding the default partitions goes on to the parents while the job waits to drop old days', async () => {
    const { db, url, cleanup } = await serverStore();
    const reader = new pg.Client({ connectionString: url });
    let job: Promise<unknown> | undefined;
    try {
      await migrate(db);
      await db.query('SELECT events_day_partition($1::date)', [new Date(NOW - 200 * DAY).toISOString().slice(0, 10)]);
      await storeOn(db).ingest([eventAt('old-day', NOW - 200 * DAY)]);
      // The days ahead made (a longer retention keeps the old day): the run below has only the drop to do.
      await maintainStore(db, { events: 365 * DAY, ...noRetention }, { now: NOW });
      await reader.connect();
      // What besideMoves does: the defaults first, then a query of events (the parents).
      await reader.query('BEGIN');
      await reader.query('LOCK TABLE raw_chunks_default, events_default IN ACCESS SHARE MODE');
      job = maintainStore(db, { events: 90 * DAY, ...noRetention }, { now: NOW });
      await until(() => waitsFor(db, 'events_default'), 'the job waits for events_default');
      // Before, the job held the parents while its DROP TABLE waited for the default: this read closed
      // the cycle, and PostgreSQL aborted the job after the reader had waited a second (40P01). Now it
      // waits holding none of them.
      const parents = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE granted AND relation IN ('events'::regclass, 'raw_chunks'::regclass) AND mode = 'AccessExclusiveLock'`,
      );
      expect(parents.rows[0]!.n).toBe(0);
      await reader.query('SELECT count(*) FROM events');
      await reader.query('COMMIT');
      const r = (await job) as Awaited<ReturnType<typeof maintainStore>>;
      expect(r.dropped).toEqual([dayName(NOW - 200 * DAY)]);
    } finally {
      await reader.end().catch(() => undefined);
      await job?.catch(() => undefined);
      await cleanup();
    }
  }, 60_000);

  it('while the job runs (its advisory lock held), a batch meeting 40 new days leaves them all to the default at once, and a later batch makes them', async () => {
    const { db, url, cleanup } = await serverStore();
    const job = new pg.Client({ connectionString: url });
    try {
      await migrate(db);
      let now = NOW;
      const store = storeOn(db, { dayPartitions: { retentionMs: 90 * DAY, now: () => now } });
      await job.connect();
      await job.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCKS.storeMaintenance]);
      const batch = Array.from({ length: 40 }, (_, d) => eventAt(`busy-${d}`, NOW - (d + 1) * DAY));
      const t = Date.now();
      expect(await store.ingest(batch)).toMatchObject({ inserted: 40 });
      // One try for all 40 (it waited 500 ms for each 4 days: 5 s, queries queued behind each wait).
      expect(Date.now() - t).toBeLessThan(2_500);
      expect((await ids(db, 'events_default')).length).toBe(40);
      await job.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCKS.storeMaintenance]);
      now += 31_000;
      expect(await store.ingest([eventAt('busy-later', NOW - DAY + 1000)])).toMatchObject({ inserted: 1 });
      // The batch's day and the days left waiting with it: the next batches of those days make them.
      expect(await ids(db, dayName(NOW - DAY))).toEqual(['busy-0', 'busy-later']);
    } finally {
      await job.end().catch(() => undefined);
      await cleanup();
    }
  }, 60_000);

  it('an ANALYZE of events (the parents held in the mode ATTACH needs) costs the days the short retry, not the slow one', async () => {
    const { db, url, cleanup } = await serverStore();
    const analyze = new pg.Client({ connectionString: url });
    try {
      await migrate(db);
      let now = NOW;
      const store = storeOn(db, { dayPartitions: { retentionMs: 90 * DAY, now: () => now } });
      await analyze.connect();
      await analyze.query('BEGIN');
      await analyze.query('LOCK TABLE ONLY events IN SHARE UPDATE EXCLUSIVE MODE');
      expect(await store.ingest([eventAt('analyzed-1', NOW - 8 * DAY)])).toMatchObject({ inserted: 1 });
      expect(await ids(db, 'events_default')).toEqual(['analyzed-1']);
      await analyze.query('COMMIT');
      // Past the 30 s retry, well within the 10 minutes a make too slow waits: met inside the make, the
      // lock cancelled it as slow.
      now += 31_000;
      expect(await store.ingest([eventAt('analyzed-2', NOW - 8 * DAY + 1000)])).toMatchObject({ inserted: 1 });
      expect(await ids(db, dayName(NOW - 8 * DAY))).toEqual(['analyzed-1', 'analyzed-2']);
    } finally {
      await analyze.end().catch(() => undefined);
      await cleanup();
    }
  }, 60_000);

  it('four workers backfilling the same new days at once, and a writer that makes no partitions, store every row once and leave nothing in events_default', async () => {
    const { db, cleanup } = await serverStore(8);
    try {
      await migrate(db);
      const workers = [0, 1, 2, 3].map(() => storeOn(db, { dayPartitions: { retentionMs: 90 * DAY, now: () => NOW, lockTimeoutMs: 10_000 } }));
      const plain = storeOn(db);
      const batches: Ingestible[][] = [];
      for (let b = 0; b < 12; b++) {
        const part: Ingestible[] = [];
        // Each batch spans the same 12 days, and shares half its events with the next (duplicates across workers).
        for (let i = 0; i < 200; i++) {
          const k = (b * 100 + i) % 1000;
          part.push(eventAt(`race-${k}`, NOW - ((k % 12) + 1) * DAY + k * 10_000));
        }
        batches.push(part);
      }
      const expected = new Set(batches.flat().map((b) => b.event.eventId));
      await Promise.all([
        ...workers.map((w, k) => (async () => { for (let b = k; b < 12; b += 4) await w.ingest(batches[b]!); })()),
        (async () => { for (let b = 0; b < 12; b += 3) await plain.ingest(batches[b]!); })(),
      ]);
      expect(await storeOn(db).count()).toBe(expected.size);
      expect((await db.query<{ n: number }>('SELECT count(DISTINCT event_id)::int AS n FROM events')).rows[0]!.n).toBe(expected.size);
      expect(await ids(db, 'events_default')).toEqual([]);
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM raw_chunks_default')).rows[0]!.n).toBe(0);
      expect(await partitions(db)).toEqual(expect.arrayContaining(Array.from({ length: 12 }, (_, d) => dayName(NOW - (d + 1) * DAY))));
    } finally {
      await cleanup();
    }
  }, 120_000);
});
