import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { allIngestible } from '../../test/helpers/fixtures.ts';
import { createLogger } from '../runtime/logger.ts';
import { createMetrics } from '../runtime/metrics.ts';
import { openInlineQueue } from '../runtime/inline.ts';
import { openStore, type SearchQuery, type Store } from '../store/index.ts';
import { searchSql } from '../store/queries.ts';
import { createApp } from './app.ts';

/**
 * Bad input and heavy queries on the read-only API (issue 8): times in the one grammar, a bounded
 * time range for filters without an index, and a statement_timeout on every query. On real PostgreSQL.
 */

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let app: ReturnType<typeof createApp>;
let slowApp: ReturnType<typeof createApp>;

// 5,000 generated events, one an hour from 2024-01-01 (about 208 days), over 500 principals.
const GENERATED = `
INSERT INTO events (event_id, time, account, region, service, action, read_only, outcome, actor_key, access_key_id, via, resources, resource_keys, raw)
SELECT 'gen-' || i,
       timestamptz '2024-01-01T00:00:00Z' + i * interval '1 hour',
       lpad((i % 20)::text, 12, '0'),
       (ARRAY['us-east-1', 'eu-west-1', 'ap-south-1'])[1 + i % 3],
       's' || (i % 40) || '.amazonaws.com',
       'Action' || (i % 400),
       i % 2 = 0,
       CASE WHEN i % 10 = 0 THEN 'denied' WHEN i % 25 = 0 THEN 'failed' ELSE 'success' END,
       'gen-actor-' || (i % 500),
       'AKIAGEN' || lpad((i % 500)::text, 13, '0'),
       (ARRAY['console', 'cli', 'sdk', 'iac', 'service', 'unknown'])[1 + i % 6],
       jsonb_build_array(jsonb_build_object('type', 'AWS::S3::Bucket', 'id', 'gen-bucket-' || (i % 1000), 'arn', null)),
       ARRAY['gen-bucket-' || (i % 1000)],
       '{}'::json
FROM generate_series(1, 5000) AS i`;
const PRINCIPALS = `
INSERT INTO principals (actor_key, type, name, user_name, first_seen, last_seen, events)
SELECT 'gen-actor-' || n, 'IAMUser', 'gen-user-' || n, 'gen-user-' || n, '2024-01-01', '2024-08-01', 10 FROM generate_series(0, 499) AS n;
INSERT INTO access_keys (access_key_id, actor_key, first_seen, last_seen)
SELECT 'AKIAGEN' || lpad(n::text, 13, '0'), 'gen-actor-' || n, '2024-01-01', '2024-08-01' FROM generate_series(0, 499) AS n`;

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  await store.ingest(allIngestible());
  await store.db.query(GENERATED);
  for (const sql of PRINCIPALS.split(';')) await store.db.query(sql);
  // The 2024 events are in events_default (day partitions exist from yesterday on): one partition big
  // enough that the planner's choice of index shows. A day's partition with one event an hour would
  // be one page, read whole; src/store/retention.test.ts covers day partitions.
  await store.db.query('ANALYZE events');
  await store.db.query('ANALYZE principals');
  await store.db.query('ANALYZE access_keys');
  const queue = openInlineQueue(store.db, 'limits-test');
  const deps = { store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'all' as const };
  app = createApp(deps);
  slowApp = createApp({ ...deps, queryTimeoutMs: 300 });
});
afterAll(async () => {
  await store?.close().catch(() => undefined);
  await db?.drop();
});

async function get(path: string, a = app): Promise<{ status: number; body: { events?: { eventId: string; time: string }[]; error?: { code: string; message: string; hint?: string } } }> {
  const r = await a.request(path);
  return { status: r.status, body: (await r.json()) as never };
}

describe('API times', () => {
  it.each([
    ['/api/events?since=99999999999d', /^since "99999999999d" is longer than 3650d/],
    ['/api/events?until=99999999999d', /^until "99999999999d" is longer than 3650d/],
    ['/api/trail?who=x&since=99999999999d', /^since "99999999999d" is longer than 3650d/],
    [`/api/events?since=${encodeURIComponent('2024-08-01 junk')}`, /^since "2024-08-01 junk" is not a time$/],
    ['/api/events?since=2024-02-30', /^since "2024-02-30" is not a time$/],
    ['/api/events?since=2024-08-02&until=2024-08-01', /^since "2024-08-02" \(2024-08-02T00:00:00.000Z\) is after until "2024-08-01" \(2024-08-01T00:00:00.000Z\)$/],
    ['/api/trail?who=x&since=2024-08-02&until=2024-08-01', /^since "2024-08-02" .* is after until "2024-08-01"/],
  ])('%s is a 400 E_USAGE saying what is wrong, never a 500', async (path, message) => {
    const r = await get(path);
    expect(r.body.error?.message).toMatch(message);
    expect(r.status).toBe(400);
    expect(r.body.error?.code).toBe('E_USAGE');
    expect(r.body.error?.hint).toBeTruthy();
  });

  it('reads an unencoded + before a trailing offset (a space once decoded) as +, and only there', async () => {
    // gen-34 is at 2024-01-02T10:00Z, gen-36 at 12:00Z: 12:00+02:00 to 14:00+0200 is that range.
    for (const [since, until] of [
      ['2024-01-02T12:00:00+02:00', '2024-01-02T14:00:00+0200'],
      ['2024-01-02T12:00:00%2B02:00', '2024-01-02T14:00:00%2B0200'],
      ['2024-01-02T12:00+02:00', '2024-01-02T14:00:00.000+02:00'],
      ['2024-01-02+12:00+02:00', '2024-01-02t14:00:00+02:00'],
    ]) {
      const r = await get(`/api/events?since=${since}&until=${until}&limit=10`);
      expect(r.status, `${since} ${until}: ${JSON.stringify(r.body.error)}`).toBe(200);
      expect(r.body.events!.map((e) => e.eventId)).toEqual(['gen-36', 'gen-35', 'gen-34']);
    }
    const trail = await get('/api/trail?who=gen-user-34&since=2024-01-02T11:00:00+02:00&until=2024-01-02T13:00:00+02:00');
    expect(trail.status).toBe(200);
    expect(trail.body.events!.map((e) => e.eventId)).toEqual(['gen-34']);
    const findings = await app.request('/api/findings?updated_since=2024-01-02T12:00:00+02:00');
    expect(findings.status).toBe(200);
    // Elsewhere a space stays a space: still not a time.
    for (const bad of ['2024-01-02T12:00:00  02:00', '2024-01-02T12:00:00 2:00', '2024-01-02T12:00:00 02:00 ', '7d 02:00', '2024-01-02 02:00 02:00x']) {
      const r = await get(`/api/events?since=${encodeURIComponent(bad)}`);
      expect(r.status, bad).toBe(400);
    }
  });

  it('reads a date-time without an offset as UTC, whatever the server’s time zone', async () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      const r = await get('/api/events?since=2024-01-02T10:00:00&until=2024-01-02T12:00:00&limit=10');
      expect(r.status).toBe(200);
      // gen-34 is at 2024-01-02T10:00Z, gen-36 at 12:00Z.
      expect(r.body.events!.map((e) => e.eventId)).toEqual(['gen-36', 'gen-35', 'gen-34']);
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });
});

describe('every /api/events filter is served by an index, or needs a bounded time range', () => {
  const WEEK = { since: '2024-03-01T00:00:00Z', until: '2024-03-08T00:00:00Z' };
  const plans: [string, SearchQuery, string][] = [
    ['event_id', { eventId: 'gen-1234' }, 'events_pkey'],
    ['event_name', { eventName: 'Action7' }, 'events_action_time'],
    ['user', { user: 'gen-user-7' }, 'events_actor_hash_time'],
    ['access_key', { accessKey: 'AKIAGEN0000000000007' }, 'events_access_key_time'],
    ['resource_name', { resourceName: 'gen-bucket-7' }, 'events_resource_keys'],
    ['no filter', {}, 'events_time'],
    ['since/until', WEEK, 'events_time'],
    ['event_source + time', { eventSource: 's7.amazonaws.com', ...WEEK }, 'events_time'], // bounded by the week: along events_time (the facets' GIN index, migration 024, serves rare values over long ranges)
    ['resource_type + time', { resourceType: 'AWS::S3::Bucket', ...WEEK }, 'events_time'],
    ['read_only + time', { readOnly: false, ...WEEK }, 'events_time'],
    ['account + time', { account: '000000000007', ...WEEK }, 'events_time'],
    ['region + time', { region: 'eu-west-1', ...WEEK }, 'events_time'],
    ['outcome + time', { outcome: 'denied', ...WEEK }, 'events_time'],
    ['via + time', { via: 'iac', ...WEEK }, 'events_time'],
  ];

  it.each(plans)('%s: no Seq Scan on events, the index %s', async (_name, q, index) => {
    const s = await searchSql(store.db, { limit: 50, ...q });
    const r = await store.db.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (FORMAT JSON) ${s.sql!}`, s.params);
    const nodes: { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string }[] = [];
    const walk = (n: { Plans?: unknown[] } & (typeof nodes)[number]): void => {
      nodes.push(n);
      for (const c of n.Plans ?? []) walk(c as never);
    };
    walk((r.rows[0]!['QUERY PLAN'] as { Plan: never }[])[0]!.Plan);
    // events is partitioned by day (migration 021): a plan names partitions and their indexes; each
    // stands for its parent here (events, and the index made on events).
    const parents = new Map(
      (await store.db.query<{ child: string; parent: string }>(
        'SELECT c.relname AS child, p.relname AS parent FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent',
      )).rows.map((x) => [x.child, x.parent]),
    );
    const up = (name: string | undefined): string | undefined => (name === undefined ? undefined : (parents.get(name) ?? name));
    // A partition with no rows (one made ahead) may be read whole: that reads no pages.
    const seq = nodes.filter((n) => n['Node Type'] === 'Seq Scan' && up(n['Relation Name']) === 'events').map((n) => n['Relation Name']!);
    const withRows: string[] = [];
    for (const part of seq) if ((await store.db.query(`SELECT 1 FROM ${part} LIMIT 1`)).rowCount > 0) withRows.push(part);
    expect(withRows).toEqual([]);
    expect(seq.length).toBeLessThan(20);
    expect(nodes.map((n) => up(n['Index Name'])).filter(Boolean)).toContain(index);
  });

  it.each([
    ['event_source=s7.amazonaws.com', 'event_source'],
    ['resource_type=AWS::S3::Bucket', 'resource_type'],
    ['read_only=false', 'read_only'],
    ['account=000000000007', 'account'],
    ['region=eu-west-1', 'region'],
    ['outcome=denied', 'outcome'],
    ['via=iac', 'via'],
    ['outcome=denied&region=eu-west-1&until=2024-08-01', 'region, outcome'],
    ['outcome=denied&since=2024-01-01&until=2024-03-01', 'outcome'],
  ])('?%s without an indexed filter or a time range of at most 31 days is a 400 naming it', async (query, names) => {
    const r = await get(`/api/events?${query}`);
    expect(r.status).toBe(400);
    expect(r.body.error).toMatchObject({ code: 'E_USAGE', hint: expect.stringContaining('since=7d') });
    expect(r.body.error!.message).toContain(`${names} ha`);
  });

  it('answers those filters with a time range, or with an indexed filter beside them', async () => {
    const bounded = await get('/api/events?outcome=denied&since=2024-03-01&until=2024-03-08&limit=1000');
    expect(bounded.status).toBe(200);
    expect(bounded.body.events).toHaveLength(17); // every 10th hour of the week
    const indexed = await get('/api/events?outcome=denied&user=gen-user-10&limit=1000');
    expect(indexed.status).toBe(200);
    expect(indexed.body.events).toHaveLength(10);
  });

  it('finds every event of an access key, whoever CloudTrail says used it', async () => {
    const keys = await store.db.query<{ k: string; ids: string[] }>(
      `SELECT access_key_id AS k, array_agg(event_id ORDER BY time DESC, event_id) AS ids FROM events
       WHERE access_key_id = upper(access_key_id) -- real keys are upper-case; search upper-cases what it is given
         AND (access_key_id NOT LIKE 'AKIAGEN%' OR access_key_id = 'AKIAGEN0000000000007') GROUP BY 1`,
    );
    expect(keys.rows.length).toBeGreaterThan(5);
    for (const { k, ids } of keys.rows) {
      const r = await store.search({ accessKey: k.toLowerCase(), limit: 10_000 });
      expect(r.events.map((e) => e.eventId), k).toEqual(ids);
    }
  });
});

describe('statement_timeout on API queries', () => {
  it('stops a query that runs too long and answers 503 E_QUERY_TIMEOUT with what to do', async () => {
    // Another session holds the events table: the API's query waits for it until its timeout.
    const blocker = new pg.Client({ connectionString: db.url });
    await blocker.connect();
    try {
      await blocker.query('BEGIN');
      await blocker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      const r = await get('/api/events?event_name=Action7', slowApp);
      expect(r.status).toBe(503);
      expect(r.body.error).toEqual({
        code: 'E_QUERY_TIMEOUT',
        message: 'the query ran longer than 300 ms and was stopped',
        hint: expect.stringMatching(/narrow the time range .* add a filter/),
      });
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
    expect((await get('/api/events?event_name=Action7', slowApp)).status).toBe(200);
  });
});
