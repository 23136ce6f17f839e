import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CloudTrailRecord, type LogObject, type Standins, startStandins, toCloudTrailLogObjects } from '../../src/integrations/aws/standins/index.ts';
import type { Sources } from '../../src/sources/index.ts';
import { readCursors, readRejects } from '../../src/sources/state.ts';
import { DAY, MIN, synthRecords, testConfig, testSources, testStore, type TestDb } from './helpers.ts';

/**
 * Reading CloudTrail log files straight from a trail bucket (organization trail, with a key
 * prefix), against the S3 stand-in with the real S3 client.
 */
const BUCKET = 'corp-cloudtrail';
const PREFIX = 'corp';
const ORG = 'o-a1b2c3d4e5';
const A = '111111111111';
const B = '222222222222';
let aws: Standins;
let db: TestDb;
let sources: Sources;
const now = Date.now();
const ymd = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

function put(records: CloudTrailRecord[]): LogObject[] {
  const logs = toCloudTrailLogObjects(records, { prefix: PREFIX, organizationId: ORG });
  for (const l of logs) aws.s3.putObject(BUCKET, l.key, l.body);
  return logs;
}
const dayOf = (key: string): string => key.split('/').slice(-4, -1).join('-');
const recordsIn = (logs: LogObject[]): CloudTrailRecord[] => logs.flatMap((l) => l.records);

const logs: LogObject[] = [];

beforeAll(async () => {
  aws = await startStandins({});
  aws.s3.createBucket(BUCKET);
  db = await testStore();
  // Four days of files for two accounts; the source backfills 2 days, so the oldest two are left.
  for (const [i, [account, region]] of [[A, 'eu-west-1'], [A, 'us-east-1'], [B, 'eu-west-1']].entries()) {
    for (const d of [0, 1, 2, 5]) logs.push(...put(synthRecords(8, { account, region, newest: now - d * DAY - 30 * MIN, stepMs: 20_000, seed: `s3-${i}-${d}` })));
  }
  // What the reader must never open: digests, Insights, and another service's logs.
  const day = ymd(now).replace(/-/g, '/');
  aws.s3.putObject(BUCKET, `${PREFIX}/AWSLogs/${ORG}/${A}/CloudTrail-Digest/eu-west-1/${day}/${A}_CloudTrail-Digest_eu-west-1_org_us-east-1_20260101T000000Z.json.gz`, gzipSync('{"digestStartTime":"x"}'));
  aws.s3.putObject(BUCKET, `${PREFIX}/AWSLogs/${ORG}/${A}/CloudTrail-Insight/eu-west-1/${day}/${A}_CloudTrail-Insight_eu-west-1_x.json.gz`, gzipSync('{"Records":[]}'));
  aws.s3.putObject(BUCKET, `${PREFIX}/AWSLogs/${ORG}/${A}/Config/eu-west-1/${day}/config.json.gz`, gzipSync('{}'));
  sources = testSources(testConfig({ sources: [{ id: 'bucket', kind: 's3', bucket: BUCKET, prefix: PREFIX, backfill: '2d' }], endpoint: aws.url }));
});
afterAll(async () => {
  await sources?.close();
  await aws?.close();
  await db?.close();
});

const storedOf = async (recs: CloudTrailRecord[]): Promise<number> =>
  (await db.store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE event_id = ANY($1::text[])', [recs.map((r) => r.eventID)])).rows[0]!.n;

describe('S3 trail reader', () => {
  it('finds every account-region of an organization trail and reads the backfill period, skipping digests and Insights', async () => {
    const r = await sources.poll(db.store, 'bucket');
    expect(r.parts.map((p) => p.part).sort()).toEqual([`${ORG}/${A}/eu-west-1`, `${ORG}/${A}/us-east-1`, `${ORG}/${B}/eu-west-1`]);
    const first = ymd(now - 2 * DAY);
    const wanted = logs.filter((l) => dayOf(l.key) >= first);
    const left = logs.filter((l) => dayOf(l.key) < first);
    expect(left.length).toBeGreaterThan(0);
    expect(r.inserted).toBe(recordsIn(wanted).length);
    expect(await storedOf(recordsIn(wanted))).toBe(recordsIn(wanted).length);
    expect(await storedOf(recordsIn(left))).toBe(0);
    expect(aws.s3.requests.filter((q) => q.operation === 'GetObject')).toHaveLength(wanted.length);
    const cursors = await readCursors(db.store.db, 'bucket');
    expect(cursors.map((c) => c.doneDay)).toEqual([ymd(now - DAY), ymd(now - DAY), ymd(now - DAY)]);
  });

  it('a file listed again is not read again; a new file, and a late one in yesterday’s folder, are', async () => {
    const before = aws.s3.requests.filter((q) => q.operation === 'GetObject').length;
    const fresh = put(synthRecords(5, { account: B, region: 'eu-west-1', newest: now - 5 * MIN, stepMs: 1000, seed: 's3-new' }));
    const late = put(synthRecords(4, { account: A, region: 'us-east-1', newest: now - DAY - 2 * MIN, stepMs: 1000, seed: 's3-late' }));
    const r = await sources.poll(db.store, 'bucket');
    expect(r.inserted).toBe(9);
    expect(r.duplicates).toBe(0);
    expect(aws.s3.requests.filter((q) => q.operation === 'GetObject').length - before).toBe(fresh.length + late.length);
    const again = await sources.poll(db.store, 'bucket');
    expect(again.events).toBe(0);
  });

  it('backfills a date range by listing its days', async () => {
    const day = ymd(now - 5 * DAY);
    const old = logs.filter((l) => dayOf(l.key) === day);
    const r = await sources.poll(db.store, 'bucket', { from: day, to: day });
    expect(r.inserted).toBe(recordsIn(old).length);
    expect(await storedOf(recordsIn(old))).toBe(recordsIn(old).length);
  });

  it('keeps an unreadable file aside with the reason, and reads it again only if it changes', async () => {
    const key = `${PREFIX}/AWSLogs/${ORG}/${A}/CloudTrail/eu-west-1/${ymd(now).replace(/-/g, '/')}/${A}_CloudTrail_eu-west-1_20990101T0000Z_brokenbrokenbrok.json.gz`;
    aws.s3.putObject(BUCKET, key, Buffer.from('{"Records": [ {"eventID": '));
    const r = await sources.poll(db.store, 'bucket');
    expect(r.rejected).toBe(1);
    const [reject] = await readRejects(db.store.db, 'bucket', 1);
    expect(reject!.ref).toBe(`s3://${BUCKET}/${key}`);
    expect(reject!.reason).toMatch(/not valid JSON/);
    expect((await sources.poll(db.store, 'bucket')).rejected).toBe(0); // not retried while unchanged
    const fixed = synthRecords(1, { account: A, region: 'eu-west-1', newest: now - MIN, seed: 's3-fixed' });
    aws.s3.putObject(BUCKET, key, gzipSync(JSON.stringify({ Records: fixed })));
    expect((await sources.poll(db.store, 'bucket')).inserted).toBe(1);
  });
});
