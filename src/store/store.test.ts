import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalize } from '../events/normalize.ts';
import { summarize } from '../events/summary.ts';
import { storeBackends } from '../../test/helpers/backends.ts';
import { allIngestible, records } from '../../test/helpers/fixtures.ts';
import { normalizeItems, storeEvents } from '../ingest.ts';
import { spanOf, type Store, type TimeSpan } from './index.ts';
import { eventsAt, rawsByIds } from './queries.ts';

const backends = storeBackends('store');

describe.each(backends)('event store on %s', (_name, open) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  const all = allIngestible();
  const unique = new Set(all.map((i) => i.event.eventId)).size;

  beforeAll(async () => {
    ({ store, cleanup } = await open());
  });
  afterAll(async () => cleanup?.());

  it('ingests every fixture once; the same events again add nothing', async () => {
    const first = await store.ingest(all);
    expect(first.inserted).toBe(unique);
    expect(first.duplicates).toBe(all.length - unique);
    const chunks = async () => (await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM raw_chunks')).rows[0]!.n;
    const seq = async () => (await store.db.query<{ v: string }>('SELECT last_value::text AS v FROM raw_chunks_id_seq')).rows[0]!.v;
    const [chunksBefore, seqBefore] = [await chunks(), await seq()];
    const again = await store.ingest(all);
    expect(again).toEqual({ inserted: 0, duplicates: all.length, fresh: [], spans: [] });
    expect(await store.count()).toBe(unique);
    // Seen as delivered before: no chunk written and rolled back (dead space in a past day's TOAST).
    expect([await chunks(), await seq()]).toEqual([chunksBefore, seqBefore]);
  });

  it('keeps the raw record verbatim', async () => {
    const raw = records('otrf-ec2-proxy-s3-exfiltration.ndjson')[0]!;
    expect(await store.raw(raw.eventID as string)).toEqual(raw);
  });

  it('gives back every field of every event exactly as normalized, awkward values included', async () => {
    // Values that break naive encodings: tabs, newlines, backslashes, quotes, non-ASCII and astral
    // characters, an empty string inside a resource id, a time before 2000, NULLs and false.
    const base = records('otrf-ec2-proxy-s3-exfiltration.ndjson')[2]!;
    const odd = {
      ...base,
      eventID: 'odd-values-0001',
      eventTime: '1999-12-31T23:59:59Z',
      eventSource: 's3.amazonaws.com',
      eventName: 'GetBucketAcl',
      userAgent: 'tab\there, newline\nthere, back\\slash "quoted" \u00e9t\u00e9 \ud83d\ude80',
      errorCode: 'AccessDenied',
      errorMessage: 'line one\r\nline two\twith \\N and \\. and {braces}',
      requestParameters: { bucketName: 'b\\ucket\twith"odd{chars}, and é' },
      readOnly: false,
    };
    const odd2 = { ...base, eventID: 'odd-values-0002', requestParameters: null, resources: [], userAgent: '' };
    const extra = [odd, odd2].map((raw) => ({ event: normalize(raw as never), raw: raw as never }));
    await store.ingest(extra);
    const everything = [...all, ...extra];
    const expected = new Map<string, (typeof everything)[number]['event']>();
    for (const i of everything) if (!expected.has(i.event.eventId)) expected.set(i.event.eventId, i.event); // the first one stored wins
    for (const [id, event] of expected) {
      const { events } = await store.search({ eventId: id, since: '1990-01-01T00:00:00Z', limit: 1 });
      expect(events, id).toHaveLength(1);
      expect(events[0], id).toEqual(event);
    }
    expect(await store.raw('odd-values-0001')).toEqual(odd);
    // The resource key (an array element) survives too: found by its odd id.
    const found = await store.search({ resourceName: 'B\\UCKET\twith"odd{chars}, and É', since: '1990-01-01T00:00:00Z', limit: 5 });
    expect(found.events.map((e) => e.eventId)).toEqual(['odd-values-0001']);
  });

  it('reads events by id in time order (then id), as stored, leaving out ids it does not hold', async () => {
    const firsts = new Map<string, (typeof all)[number]['event']>();
    for (const i of all) if (!firsts.has(i.event.eventId)) firsts.set(i.event.eventId, i.event);
    const picked = [...firsts.values()].slice(0, 40).reverse();
    const got = await store.events([...picked.map((e) => e.eventId), 'no-such-event']);
    const key = (e: (typeof picked)[number]) => `${e.time ?? ''}|${e.eventId}`;
    const inOrder = [...picked].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    expect(got).toEqual(inOrder);
    expect(await store.events([])).toEqual([]);
    // With their time span (what an evaluate-flows job carries): the same events, from their days'
    // partitions first. A span that misses some (a job made wrong, by hand or by another version: too
    // narrow, from after to) still gives every stored event: the job marks all its ids evaluated.
    const span = spanOf(picked.map((e) => e.time));
    expect(await store.events([...picked.map((e) => e.eventId), 'no-such-event'], span)).toEqual(inOrder);
    const newest = inOrder[inOrder.length - 1]!;
    const before = { from: span!.from, to: new Date(Date.parse(newest.time!) - 1).toISOString() };
    expect(await store.events(picked.map((e) => e.eventId), before)).toEqual(inOrder);
    expect(await store.events([...picked.map((e) => e.eventId), 'no-such-event'], { from: span!.to, to: span!.from })).toEqual(inOrder);
    expect(await store.events([newest.eventId, newest.eventId], { from: '2001-01-01T00:00:00Z', to: '2001-01-01T00:00:01Z' })).toEqual([newest]);
    // By id and time, each from its own partition, however far apart the times are.
    expect(await eventsAt(store.db, [...picked.map((e) => ({ eventId: e.eventId, time: e.time })), { eventId: 'no-such-event', time: newest.time }])).toEqual(inOrder);
    expect(await eventsAt(store.db, [{ eventId: newest.eventId, time: '2001-01-01T00:00:00Z' }])).toEqual([]);
  });

  it('reads an event with a sub-second time back at that time, by id, by id and time, and in its span', async () => {
    // CloudTrail writes whole seconds, other exporters milliseconds (normalize keeps them): a stored
    // time read back to the second was another time, which the reads by id and time then missed.
    const raw = { ...records('otrf-ec2-proxy-s3-exfiltration.ndjson')[3]!, eventID: 'sub-second-0001', eventTime: '2024-03-05T10:20:30.250Z' };
    const event = normalize(raw);
    expect(event.time).toBe('2024-03-05T10:20:30.250Z');
    await store.ingest([{ event, raw }]);
    expect(await store.events([event.eventId])).toEqual([event]);
    expect(await store.events([event.eventId], spanOf([event.time]))).toEqual([event]);
    const [back] = await store.events([event.eventId]);
    expect(await eventsAt(store.db, [{ eventId: event.eventId, time: back!.time }])).toEqual([event]);
    expect(await rawsByIds(store.db, [event.eventId], spanOf([back!.time]))).toEqual(new Map([[event.eventId, raw]]));
    expect((await store.search({ eventId: event.eventId, since: '2024-01-01T00:00:00Z', limit: 1 })).events).toEqual([event]);
  });

  it('hands new ids on with the span of the times they were stored at, an id twice in a batch included', async () => {
    // A batch keeps the first copy of an id; the span its evaluate-flows job gets must hold that copy's
    // time, not the later copy's (it would read that day only).
    const base = records('otrf-ec2-proxy-s3-exfiltration.ndjson')[4]!;
    const copy = (time: string) => ({ ...base, eventID: 'twice-in-a-batch', eventTime: time });
    const first = copy('2024-04-01T08:00:00Z');
    const other = { ...base, eventID: 'once-in-the-batch', eventTime: '2024-04-01T09:00:00Z' };
    const handed: { ids: string[]; span: TimeSpan | null }[] = [];
    const r = await storeEvents(store, [first, other, copy('2024-06-30T08:00:00Z')].map((raw) => ({ event: normalize(raw), raw })), {
      onFresh: async (ids, span) => void handed.push({ ids, span }),
    });
    expect(r).toMatchObject({ inserted: 2, duplicates: 1 });
    expect(handed).toEqual([{ ids: ['twice-in-a-batch', 'once-in-the-batch'], span: { from: '2024-04-01T08:00:00.000Z', to: '2024-04-01T09:00:00.001Z' } }]);
    expect((await store.events(handed[0]!.ids, handed[0]!.span)).map((e) => e.time)).toEqual(['2024-04-01T08:00:00Z', '2024-04-01T09:00:00Z']);
  });

  it('spans event times to the millisecond, a microsecond-precise time included', () => {
    expect(spanOf(['2024-08-01T13:00:05Z', '2024-07-31T23:59:59.5Z', null])).toBeNull();
    expect(spanOf(['2024-08-01T13:00:05Z', '2024-07-31T23:59:59.5Z'])).toEqual({ from: '2024-07-31T23:59:59.500Z', to: '2024-08-01T13:00:05.001Z' });
    expect(spanOf([])).toBeNull();
  });

  it('stores events of the years 0001 to 9999, and a batch with a record of another year without it', async () => {
    // PostgreSQL reads no year 0, no sign and no fifth digit: such a record used to fail its whole batch.
    const base = records('otrf-ec2-proxy-s3-exfiltration.ndjson')[5]!;
    const rejected: string[] = [];
    const items = normalizeItems(
      ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z', '+010000-01-01T00:00:00Z', '0000-01-01T00:00:00Z'].map((t, i) => ({
        kind: 'record' as const,
        raw: { ...base, eventID: `year-edge-${i}`, eventTime: t },
        origin: { file: 'year-edges.json', at: `Records[${i}]` },
      })),
      (r) => void rejected.push(r.reason),
    );
    expect(rejected).toEqual(['eventTime "+010000-01-01T00:00:00Z" is outside the years 0001 to 9999', 'eventTime "0000-01-01T00:00:00Z" is outside the years 0001 to 9999']);
    expect((await store.ingest(items)).inserted).toBe(2);
    expect((await store.ingest(items)).inserted).toBe(0);
    expect((await store.events(['year-edge-0', 'year-edge-1'])).map((e) => e.time)).toEqual(['0001-01-01T00:00:00Z', '9999-12-31T23:59:59Z']);
    expect((await store.raw('year-edge-1'))?.eventTime).toBe('9999-12-31T23:59:59Z');
  });

  it('gives a record without eventID the same derived id every time', async () => {
    const raw = { ...records('otrf-ec2-proxy-s3-exfiltration.ndjson')[1]! };
    delete raw.eventID;
    const a = normalize(raw);
    const b = normalize(Object.fromEntries(Object.entries(raw).reverse()));
    expect(a.eventId).toBe(b.eventId);
    expect(a.derivedId).toBe(true);
    expect((await store.ingest([{ event: a, raw }])).inserted).toBe(1);
    expect((await store.ingest([{ event: b, raw }])).inserted).toBe(0);
  });

  it('finds a person by the start of their e-mail, case-insensitively', async () => {
    for (const who of ['firstname.lastname@example', 'FIRSTNAME.LASTNAME@EXAMPLE.COM', 'firstname.lastname']) {
      const r = await store.trail({ who, since: '2000-01-01T00:00:00Z' });
      expect(r.principals.map((p) => p.email)).toContain('firstname.lastname@example.com');
      expect(r.events.length).toBeGreaterThan(0);
      expect(r.events.every((e) => e.actor.email === 'firstname.lastname@example.com')).toBe(true);
    }
    expect((await store.trail({ who: 'firstname.lastnam', since: '2000-01-01T00:00:00Z' })).principals).toHaveLength(0);
  });

  it('finds a person by user name, access key, ARN, principal id and session name', async () => {
    const since = '2000-01-01T00:00:00Z';
    const byName = await store.trail({ who: 'Pedro', since, limit: 1000 });
    expect(byName.principals.map((p) => p.actorKey)).toEqual(['arn:aws:iam::123456789123:user/pedro']);
    const n = byName.events.length;
    expect(n).toBeGreaterThan(50);
    for (const who of ['asia5flzvx4oi4zdqjol', 'arn:aws:iam::123456789123:user/pedro', 'AIDAICAK2CN5MGHIIDIHA']) {
      const r = await store.trail({ who, since, limit: 1000 });
      expect(r.principals.map((p) => p.actorKey), who).toEqual(['arn:aws:iam::123456789123:user/pedro']);
      expect(r.events).toHaveLength(n);
    }
    const session = await store.trail({ who: 'i-0317f6c6b66ae9c40', since });
    expect(session.principals.map((p) => p.roleName)).toContain('MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0');
    const role = await store.trail({ who: 'arn:aws:iam::123456789123:role/MordorNginxStack-BankingWAFRole-9S3E0UAE1MM0', since });
    expect(role.principals.map((p) => p.actorKey)).toEqual(session.principals.map((p) => p.actorKey));
  });

  it('lists newest first, honours limit, time range and writes-only', async () => {
    const since = '2000-01-01T00:00:00Z';
    const r = await store.trail({ who: 'pedro', since, limit: 10 });
    expect(r.events).toHaveLength(10);
    const times = r.events.map((e) => e.time!);
    expect([...times].sort().reverse()).toEqual(times);
    const window = await store.trail({ who: 'pedro', since: '2020-09-14T00:45:00Z', until: '2020-09-14T00:46:00Z', limit: 1000 });
    expect(window.events.length).toBeGreaterThan(0);
    expect(window.events.every((e) => e.time! >= '2020-09-14T00:45:00Z' && e.time! <= '2020-09-14T00:46:00Z')).toBe(true);
    const writes = await store.trail({ who: 'christophe', since, writesOnly: true, limit: 1000 });
    expect(writes.events.length).toBeGreaterThan(0);
    expect(writes.events.every((e) => e.readOnly !== true)).toBe(true);
    expect(summarize(writes.events[0]!)).toMatch(/^christophe /);
  });

  it('combines search filters that LookupEvents allows only one at a time', async () => {
    const r = await store.search({ eventName: 'GetObject', resourceName: 'RING.TXT', since: '2000-01-01T00:00:00Z' });
    expect(r.events.length).toBeGreaterThan(0);
    expect(r.events.every((e) => e.action === 'GetObject' && e.resources.some((x) => x.id.toLowerCase() === 'ring.txt'))).toBe(true);
    const arn = 'arn:aws:rds:us-east-1:000000000:db:test-cloudtrail-event-instance-31611-restored';
    const byArn = await store.search({ resourceName: arn.toUpperCase(), since: '2000-01-01T00:00:00Z' });
    expect(byArn.events.map((e) => e.action)).toContain('DeleteDBInstance');
    expect(byArn.events.every((e) => e.resources.some((x) => x.arn === arn))).toBe(true);
    expect((await store.search({ resourceName: arn.replace('us-east-1', 'eu-west-1'), since: '2000-01-01T00:00:00Z' })).events).toHaveLength(0);
    const denied = await store.search({ outcome: 'denied', via: 'sdk', limit: 1000 });
    expect(denied.events.length).toBeGreaterThan(0);
    expect(denied.events.every((e) => e.outcome === 'denied' && e.via === 'sdk')).toBe(true);
    const typed = await store.search({ resourceType: 'AWS::RDS::DBInstance', readOnly: false, limit: 1000 });
    expect(typed.events.map((e) => e.action)).toContain('DeleteDBInstance');
    const user = await store.search({ user: 'pedro', eventSource: 'ec2.amazonaws.com', account: '123456789123', region: 'us-east-1', limit: 5 });
    expect(user.events).toHaveLength(5);
    expect(user.events.every((e) => e.actor.userName === 'pedro' && e.service === 'ec2.amazonaws.com')).toBe(true);
    const none = await store.search({ user: 'nobody-like-this' });
    expect(none.events).toHaveLength(0);
  });

  it("searches a finding's events newest first, with the other filters and paging", async () => {
    // Stored events (a fixture id can appear twice with different times: the store keeps both).
    const rows = await store.db.query<{ event_id: string }>('SELECT event_id FROM events ORDER BY event_id LIMIT 30');
    const picked = await store.events(rows.rows.map((r) => r.event_id));
    await store.db.query(
      `INSERT INTO findings (id, key, flow, group_key, kind, severity, anchor, first_seen, last_seen, count, seq)
       VALUES ('f-search', 'k', 'test', 'g', 'single', 'high', now(), now(), now(), 30, nextval('findings_seq'))`,
    );
    await store.db.query(
      `INSERT INTO finding_events (flow, event_id, finding_id, time) SELECT 'test', id, 'f-search', t FROM unnest($1::text[], $2::timestamptz[]) AS u(id, t)`,
      [picked.map((e) => e.eventId), picked.map((e) => e.time)],
    );
    const key = (e: { time: string | null; eventId: string }) => `${e.time}|${e.eventId}`;
    const expected = [...picked].sort((a, b) => Date.parse(b.time!) - Date.parse(a.time!) || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
    const pages: string[] = [];
    let before: { time: string; eventId: string } | undefined;
    for (;;) {
      const r = await store.search({ findingId: 'f-search', limit: 7, before });
      pages.push(...r.events.map(key));
      if (r.events.length < 7) break;
      const last = r.events[r.events.length - 1]!;
      before = { time: last.time!, eventId: last.eventId };
    }
    expect(pages).toEqual(expected.map(key));
    const denied = await store.search({ findingId: 'f-search', outcome: 'denied', limit: 100 });
    expect(denied.events.map((e) => e.eventId).sort()).toEqual(picked.filter((e) => e.outcome === 'denied').map((e) => e.eventId).sort());
    expect((await store.search({ findingId: 'no-such-finding' })).events).toEqual([]);
  });
});
