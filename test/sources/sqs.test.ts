import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cloudTrailNotificationMessage,
  type CloudTrailRecord,
  type LogObject,
  listen,
  s3EventBridgeEvent,
  s3EventNotification,
  s3TestEvent,
  snsEnvelope,
  type Standins,
  startStandins,
  toCloudTrailLogObjects,
} from '../../src/integrations/aws/standins/index.ts';
import type { Sources } from '../../src/sources/index.ts';
import { storeSink } from '../../src/sources/sink.ts';
import { readRejects } from '../../src/sources/state.ts';
import { BASE_ACCOUNT, exited, MIN, spawnCli, storedIds, synthRecords, testConfig, testSources, testStore, type TestDb, waitFor, writeConfig } from './helpers.ts';

/**
 * The SQS consumer against the S3 and SQS stand-ins, with the real SDK clients and a real store:
 * every notification kind, duplicates, malformed messages, a store failure, and a process killed
 * between storing and deleting.
 */
const BUCKET = 'org-trail';
const MEMBER = '111111111111';
const STRANGER = '999999999999';
let aws: Standins;
let db: TestDb;
const open: Sources[] = [];

beforeAll(async () => {
  aws = await startStandins({ accounts: ['111111111111'] });
  aws.s3.createBucket(BUCKET);
  db = await testStore();
});
afterAll(async () => {
  for (const s of open) await s.close();
  await aws?.close();
  await db?.close();
});

let n = 0;
/** A fresh queue and a source reading it. */
function queueSource(extra: Record<string, unknown> = {}, attributes?: Record<string, string>): { name: string; url: string; sources: Sources; id: string } {
  const name = `trail-${++n}`;
  const url = aws.sqs.createQueue(name, attributes);
  const id = `q${n}`;
  const sources = testSources(testConfig({ sources: [{ id, kind: 'sqs', queueUrl: url, waitSeconds: 0, buckets: [BUCKET], ...extra }], accounts: [MEMBER], endpoint: aws.url }));
  open.push(sources);
  return { name, url, sources, id };
}

/** Log files for `records` put in the bucket (under `prefix`, if any). */
function putLogs(records: CloudTrailRecord[], prefix?: string): LogObject[] {
  const logs = toCloudTrailLogObjects(records, { prefix, organizationId: 'o-a1b2c3d4e5' });
  for (const l of logs) aws.s3.putObject(BUCKET, l.key, l.body);
  return logs;
}

/** The middle of a 5-minute log-file window a little in the past: records close to it land in one file. */
const midWindow = (): number => Math.floor(Date.now() / 300_000) * 300_000 - 150_000;

const ids = (recs: { eventID: string }[]): string[] => recs.map((r) => r.eventID).sort();
const eventsIn = async (recs: { eventID: string }[]): Promise<number> =>
  (await db.store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE event_id = ANY($1::text[])', [recs.map((r) => r.eventID)])).rows[0]!.n;

describe('SQS consumer', () => {
  it('reads S3 event notifications (URL-encoded keys), CloudTrail SNS notifications raw or wrapped, and EventBridge events; ignores s3:TestEvent; deletes what it stored', async () => {
    const q = queueSource();
    const recs = synthRecords(60, { account: '111111111111', region: 'eu-west-1', newest: Date.now() - 10 * MIN, stepMs: 60_000, seed: 'sqs1' });
    // A trail prefix with a space and a plus: S3 event keys come URL-encoded with + for the space.
    const logs = putLogs(recs, 'trail logs+2026');
    expect(logs.length).toBeGreaterThanOrEqual(4);
    const [a, b, c, ...rest] = logs;
    aws.sqs.sendRaw(q.name, s3TestEvent(BUCKET));
    aws.sqs.sendRaw(q.name, s3EventNotification(BUCKET, a!.key, { size: a!.body.length, eTag: 'x' }));
    aws.sqs.sendRaw(q.name, snsEnvelope(s3EventNotification(BUCKET, b!.key, { size: b!.body.length, eTag: 'x' })));
    aws.sqs.sendRaw(q.name, snsEnvelope(cloudTrailNotificationMessage(BUCKET, [c!.key])));
    aws.sqs.sendRaw(q.name, cloudTrailNotificationMessage(BUCKET, rest.map((l) => l.key)));
    const bridged = synthRecords(2, { account: '111111111111', newest: Date.now() - MIN, global: true, seed: 'sqs1-eb' });
    for (const r of bridged) {
      aws.sqs.sendRaw(q.name, JSON.stringify({ version: '0', id: r.eventID, 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.iam', account: '111111111111', time: r.eventTime, region: 'us-east-1', resources: [], detail: r }));
    }
    const r = await q.sources.poll(db.store, q.id);
    expect(r.inserted).toBe(62);
    expect(r.rejected).toBe(0);
    expect(await eventsIn([...recs, ...bridged])).toBe(62);
    expect(aws.sqs.counts(q.name)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    expect(await readRejects(db.store.db, q.id, 10)).toEqual([]);
  });

  it('reads log files announced by S3 through EventBridge ("Object Created", keys not URL-encoded) and leaves other S3 events alone', async () => {
    const q = queueSource();
    const recs = synthRecords(24, { account: '111111111111', region: 'eu-west-3', newest: Date.now() - 10 * MIN, stepMs: 60_000, seed: 'sqs-eb-s3' });
    const logs = putLogs(recs, 'trail logs+eb');
    for (const l of logs) aws.sqs.sendRaw(q.name, s3EventBridgeEvent(BUCKET, l.key, { size: l.body.length, eTag: 'x', region: 'eu-west-3' }));
    aws.sqs.sendRaw(q.name, s3EventBridgeEvent(BUCKET, logs[0]!.key, { size: 0, eTag: 'x', detailType: 'Object Deleted' }));
    const r = await q.sources.poll(db.store, q.id);
    expect(r.inserted).toBe(24);
    expect(r.rejected).toBe(0);
    expect(await eventsIn(recs)).toBe(24);
    expect(aws.sqs.counts(q.name)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('a message delivered twice and a file announced twice add nothing, and the file is fetched once', async () => {
    const q = queueSource();
    const recs = synthRecords(30, { account: '111111111111', region: 'eu-central-1', newest: Date.now() - 5 * MIN, seed: 'sqs2' });
    const logs = putLogs(recs);
    const notes = logs.map((l) => s3EventNotification(BUCKET, l.key, { size: l.body.length, eTag: 'x' }));
    for (const note of [...notes, ...notes]) aws.sqs.sendRaw(q.name, note);
    aws.sqs.sendRaw(q.name, cloudTrailNotificationMessage(BUCKET, logs.map((l) => l.key)));
    const gets = () => aws.s3.requests.filter((x) => x.operation === 'GetObject' && x.status === 200).length;
    const before = gets();
    const first = await q.sources.poll(db.store, q.id);
    expect(first.inserted).toBe(30);
    // Later: the same notifications again (SQS delivers at least once).
    for (const note of notes) aws.sqs.sendRaw(q.name, note);
    const second = await q.sources.poll(db.store, q.id);
    expect(second.inserted).toBe(0);
    expect(gets() - before).toBe(logs.length);
    expect(await eventsIn(recs)).toBe(30);
    expect(aws.sqs.counts(q.name).visible + aws.sqs.counts(q.name).inFlight).toBe(0);
  });

  it('keeps malformed messages aside with their id and reason, deletes them, and stores the rest', async () => {
    const q = queueSource();
    const recs = synthRecords(10, { account: '111111111111', region: 'us-west-2', newest: midWindow(), stepMs: 100, seed: 'sqs3' });
    const [log, ...more] = putLogs(recs);
    expect(more).toEqual([]);
    const badKey = 'AWSLogs/111111111111/CloudTrail/us-west-2/2026/01/01/111111111111_CloudTrail_us-west-2_20260101T0000Z_corruptcorruptco.json.gz';
    aws.s3.putObject(BUCKET, badKey, Buffer.from([0x1f, 0x8b, 1, 2, 3, 4]));
    const garbage = aws.sqs.sendRaw(q.name, 'this is not json');
    const alien = aws.sqs.sendRaw(q.name, JSON.stringify({ detail: {}, 'detail-type': 'EC2 Instance State-change Notification', source: 'aws.ec2' }));
    aws.sqs.sendRaw(q.name, cloudTrailNotificationMessage(BUCKET, [log!.key, badKey, 'AWSLogs/111111111111/CloudTrail/us-west-2/2026/01/01/missing.json.gz']));
    const r = await q.sources.poll(db.store, q.id);
    expect(r.inserted).toBe(10);
    expect(r.rejected).toBe(4);
    expect(aws.sqs.counts(q.name)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    const rejects = await readRejects(db.store.db, q.id, 10);
    const byRef = Object.fromEntries(rejects.map((x) => [x.ref, x]));
    expect(byRef[`sqs message ${garbage}`]).toMatchObject({ reason: expect.stringMatching(/^the message is not JSON/), body: 'this is not json' });
    expect(byRef[`sqs message ${alien}`]!.reason).toMatch(/EC2 Instance State-change Notification" is not a CloudTrail event/);
    expect(byRef[`s3://${BUCKET}/${badKey}`]!.reason).toMatch(/^corrupt gzip data/);
    expect(byRef[`s3://${BUCKET}/AWSLogs/111111111111/CloudTrail/us-west-2/2026/01/01/missing.json.gz`]!.reason).toBe('the object does not exist');
  });

  it('with onMalformed: dlq, leaves a malformed message for the redrive policy and goes on', async () => {
    const dlqName = `dead-${n + 1}`;
    aws.sqs.createQueue(dlqName);
    const q = queueSource(
      { onMalformed: 'dlq', visibilityTimeout: '1s' },
      { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: `arn:aws:sqs:us-east-1:${BASE_ACCOUNT}:${dlqName}`, maxReceiveCount: 2 }) },
    );
    const recs = synthRecords(5, { account: '111111111111', region: 'ap-northeast-1', newest: midWindow(), stepMs: 100, seed: 'sqs4' });
    const [log, ...more] = putLogs(recs);
    expect(more).toEqual([]);
    aws.sqs.sendRaw(q.name, '{"not": "a notification"}');
    aws.sqs.sendRaw(q.name, cloudTrailNotificationMessage(BUCKET, [log!.key]));
    expect((await q.sources.poll(db.store, q.id)).inserted).toBe(5);
    await sleep(1100);
    await q.sources.poll(db.store, q.id); // second delivery: still malformed, still left
    await sleep(1100);
    await q.sources.poll(db.store, q.id); // past maxReceiveCount: SQS moved it to the DLQ
    expect(aws.sqs.counts(dlqName).visible).toBe(1);
    expect(aws.sqs.counts(q.name)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('when the store fails, deletes nothing; the messages come back and are stored once', async () => {
    const q = queueSource({ visibilityTimeout: '1s' });
    const recs = synthRecords(20, { account: '111111111111', region: 'sa-east-1', newest: Date.now() - 5 * MIN, seed: 'sqs5' });
    const logs = putLogs(recs);
    aws.sqs.sendRaw(q.name, cloudTrailNotificationMessage(BUCKET, logs.map((l) => l.key)));
    const broken = q.sources.context(db.store, {
      sink: {
        put: async () => {
          throw new Error('connection to the store lost');
        },
      },
    });
    const { pollOnce } = await import('../../src/sources/index.ts');
    await expect(pollOnce(broken, q.sources.specs[0]!)).rejects.toThrow(/connection to the store lost/);
    expect(aws.sqs.counts(q.name).inFlight).toBe(1);
    await sleep(1100);
    const ok = await pollOnce(q.sources.context(db.store, { sink: storeSink(db.store) }), q.sources.specs[0]!);
    expect(ok.inserted).toBe(20);
    expect(aws.sqs.counts(q.name)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('keeps a batch that takes longer than the visibility timeout invisible: another consumer does not get it meanwhile', async () => {
    const q = queueSource({ visibilityTimeout: '1s' });
    const recs = synthRecords(20, { account: '111111111111', region: 'ap-east-1', newest: Date.now() - 5 * MIN, seed: 'sqs-slow' });
    const logs = putLogs(recs);
    aws.sqs.sendRaw(q.name, cloudTrailNotificationMessage(BUCKET, logs.map((l) => l.key)));
    const { pollOnce } = await import('../../src/sources/index.ts');
    let puts = 0;
    // A store that takes 3.5 s to answer: three visibility timeouts.
    const slow = q.sources.context(db.store, {
      sink: {
        put: async (items) => {
          puts++;
          await sleep(3500);
          return storeSink(db.store).put(items);
        },
      },
    });
    const first = pollOnce(slow, q.sources.specs[0]!);
    await sleep(1800);
    // A second consumer (another worker) polls while the first is still storing.
    const second = await pollOnce(q.sources.context(db.store, { sink: storeSink(db.store) }), q.sources.specs[0]!);
    expect(second.events).toBe(0);
    expect(aws.sqs.counts(q.name)).toEqual({ visible: 0, inFlight: 1, delayed: 0 });
    const r = await first;
    expect(r.inserted).toBe(20);
    expect(puts).toBe(1);
    expect(await eventsIn(recs)).toBe(20);
    expect(aws.sqs.counts(q.name)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('a process killed (SIGKILL) after storing and before deleting: on restart nothing is lost or doubled', async () => {
    const name = `crash-${++n}`;
    const queueUrl = aws.sqs.createQueue(name);
    const recs = synthRecords(240, { account: '111111111111', region: 'eu-south-1', newest: Date.now() - 30 * MIN, stepMs: 30_000, seed: 'sqs6' });
    const logs = putLogs(recs);
    for (const l of logs) aws.sqs.sendRaw(name, s3EventNotification(BUCKET, l.key, { size: l.body.length, eTag: 'x' }));
    // The child talks to the stand-ins through this proxy, which kills it the moment it asks to delete.
    let child: ReturnType<typeof spawnCli> | undefined;
    let killedAt: number | undefined;
    const proxy = await listen(async (req) => {
      if (child && killedAt === undefined && (req.headers.get('x-amz-target') ?? '').startsWith('AmazonSQS.DeleteMessage')) {
        killedAt = await eventsIn(recs);
        child.kill('SIGKILL');
        return new Response('', { status: 503 });
      }
      return aws.handle(req);
    });
    try {
      const config = await writeConfig({ accounts: [{ id: MEMBER }], sources: [{ id: 'crashy', kind: 'sqs', queueUrl, waitSeconds: 0, visibilityTimeout: '1s', buckets: [BUCKET] }] });
      const env = { ...aws.env(), AWS_ENDPOINT_URL_SQS: proxy.url, AWS_ENDPOINT_URL_S3: proxy.url, DATABASE_URL: db.url, TRAILBOT_CONFIG: config };
      child = spawnCli(['sources', 'poll', 'crashy'], env);
      await exited(child);
      expect(child.signalCode).toBe('SIGKILL');
      expect(killedAt).toBeGreaterThan(0); // it died with events stored and its messages not deleted
      expect(aws.sqs.counts(name).inFlight).toBeGreaterThan(0);
      await sleep(1100); // the visibility timeout: the undeleted messages come back
      const again = spawnCli(['sources', 'poll', 'crashy'], { ...env, AWS_ENDPOINT_URL_SQS: aws.url, AWS_ENDPOINT_URL_S3: aws.url });
      expect(await exited(again)).toBe(0);
      await waitFor('the queue to empty', async () => aws.sqs.counts(name).visible + aws.sqs.counts(name).inFlight === 0, 5000);
      expect(await eventsIn(recs)).toBe(240);
      expect((await storedIds(db.store)).filter((id) => ids(recs).includes(id))).toEqual(ids(recs));
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await proxy.close();
    }
  });
});

describe('SQS allow-lists (buckets:, accounts:)', () => {
  const bridged = (r: CloudTrailRecord, account = r.recipientAccountId as string): string =>
    JSON.stringify({ version: '0', id: r.eventID, 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.iam', account, time: r.eventTime, region: 'us-east-1', resources: [], detail: r });
  const gets = (bucket: string, key?: string) =>
    aws.s3.requests.filter((x) => {
      const p = x.params as { bucket?: string; key?: string } | undefined;
      return x.operation === 'GetObject' && p?.bucket === bucket && (key === undefined || p.key === key);
    }).length;

  it('never fetches what another bucket or account announces: keeps the message aside with the reason, deletes it, and stores the rest', async () => {
    const q = queueSource();
    const ours = synthRecords(12, { account: MEMBER, region: 'eu-north-1', newest: Date.now() - 5 * MIN, seed: 'allow-ours' });
    const ourLogs = putLogs(ours);
    // The same trail layout, in a bucket this source was not told about.
    aws.s3.createBucket('evil-bucket');
    const planted = synthRecords(6, { account: MEMBER, region: 'eu-north-1', newest: Date.now() - 5 * MIN, seed: 'allow-planted' });
    const plantedLogs = toCloudTrailLogObjects(planted, { organizationId: 'o-a1b2c3d4e5' });
    for (const l of plantedLogs) aws.s3.putObject('evil-bucket', l.key, l.body);
    // In our bucket, but another account's folder.
    const strangers = synthRecords(6, { account: STRANGER, region: 'eu-north-1', newest: Date.now() - 5 * MIN, seed: 'allow-stranger' });
    const strangerLogs = putLogs(strangers);
    const ourEvents = synthRecords(2, { account: MEMBER, newest: Date.now() - MIN, global: true, seed: 'allow-eb-ours' });
    const [foreignEvent] = synthRecords(1, { account: STRANGER, newest: Date.now() - MIN, global: true, seed: 'allow-eb-foreign' });
    const [spoofed] = synthRecords(1, { account: STRANGER, newest: Date.now() - MIN, global: true, seed: 'allow-eb-spoofed' });

    aws.sqs.sendRaw(q.name, cloudTrailNotificationMessage(BUCKET, ourLogs.map((l) => l.key)));
    const bucketMsg = aws.sqs.sendRaw(q.name, s3EventNotification('evil-bucket', plantedLogs[0]!.key, { size: plantedLogs[0]!.body.length, eTag: 'x' }));
    const bridgedBucketMsg = aws.sqs.sendRaw(q.name, s3EventBridgeEvent('evil-bucket', plantedLogs[0]!.key, { size: plantedLogs[0]!.body.length, eTag: 'x' }));
    const accountMsg = aws.sqs.sendRaw(q.name, snsEnvelope(cloudTrailNotificationMessage(BUCKET, strangerLogs.map((l) => l.key))));
    for (const r of ourEvents) aws.sqs.sendRaw(q.name, bridged(r));
    const foreignMsg = aws.sqs.sendRaw(q.name, bridged(foreignEvent!));
    // The envelope claims our account; the record says otherwise.
    const spoofedMsg = aws.sqs.sendRaw(q.name, bridged(spoofed!, MEMBER));

    const r = await q.sources.poll(db.store, q.id);
    expect(r.inserted).toBe(14);
    expect(r.rejected).toBe(5);
    expect(await eventsIn([...ours, ...ourEvents])).toBe(14);
    expect(await eventsIn([...planted, ...strangers, foreignEvent!, spoofed!])).toBe(0);
    expect(gets('evil-bucket')).toBe(0);
    for (const l of strangerLogs) expect(gets(BUCKET, l.key)).toBe(0);
    expect(aws.sqs.counts(q.name)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });

    const byRef = Object.fromEntries((await readRejects(db.store.db, q.id, 20)).map((x) => [x.ref, x]));
    const bucketReason = new RegExp(`^bucket evil-bucket \\(s3://evil-bucket/AWSLogs/.+\\) is not in the buckets: allow-list of source ${q.id} \\(org-trail\\)`);
    expect(byRef[`sqs message ${bucketMsg}`]).toMatchObject({ reason: expect.stringMatching(bucketReason), body: expect.stringContaining('evil-bucket') });
    expect(byRef[`sqs message ${bridgedBucketMsg}`]!.reason).toMatch(bucketReason);
    expect(byRef[`sqs message ${accountMsg}`]!.reason).toMatch(new RegExp(`^account ${STRANGER} \\(from the key s3://org-trail/AWSLogs/o-a1b2c3d4e5/${STRANGER}/CloudTrail/.+\\) is not in the accounts: allow-list of source ${q.id} \\(${MEMBER}\\)`));
    expect(byRef[`sqs message ${foreignMsg}`]!.reason).toMatch(new RegExp(`^account ${STRANGER} \\(the EventBridge event's account\\) is not in the accounts: allow-list`));
    expect(byRef[`sqs message ${spoofedMsg}`]!.reason).toMatch(new RegExp(`^account ${STRANGER} \\(the event's recipientAccountId\\) is not in the accounts: allow-list`));
  });

  it("keeps aside a record of another account inside an allowed file, and stores the file's other records", async () => {
    const q = queueSource();
    const recs = synthRecords(5, { account: MEMBER, region: 'eu-west-1', newest: Date.now() - 5 * MIN, seed: 'allow-mixed' });
    const [stray] = synthRecords(1, { account: STRANGER, region: 'eu-west-1', newest: Date.now() - 5 * MIN, seed: 'allow-mixed-stray' });
    const key = `AWSLogs/${MEMBER}/CloudTrail/eu-west-1/2026/01/01/${MEMBER}_CloudTrail_eu-west-1_20260101T0000Z_mixedmixedmixed1.json.gz`;
    aws.s3.putObject(BUCKET, key, gzipSync(JSON.stringify({ Records: [...recs.slice(0, 2), stray, ...recs.slice(2)] })));
    aws.sqs.sendRaw(q.name, cloudTrailNotificationMessage(BUCKET, [key]));
    const r = await q.sources.poll(db.store, q.id);
    expect(r.inserted).toBe(5);
    expect(r.rejected).toBe(1);
    expect(await eventsIn([stray!])).toBe(0);
    const [reject, ...more] = await readRejects(db.store.db, q.id, 10);
    expect(more).toEqual([]);
    expect(reject).toMatchObject({ ref: `s3://${BUCKET}/${key}: Records[2]`, reason: expect.stringMatching(new RegExp(`^account ${STRANGER} \\(the record's recipientAccountId\\) is not in the accounts: allow-list of source ${q.id}`)) });
    expect(aws.sqs.counts(q.name)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
  });

  it('checks the account that would be stored (userIdentity.accountId when recipientAccountId is missing or not a string) and keeps aside what names none, in messages and in files', async () => {
    const q = queueSource();
    const [ok, noRecipient, numeric, anonymous] = synthRecords(4, { account: MEMBER, newest: Date.now() - MIN, global: true, seed: 'allow-stored-account' });
    const { recipientAccountId: _r1, ...a } = noRecipient!;
    const missing = { ...a, userIdentity: { ...(a.userIdentity as object), accountId: STRANGER } };
    const asNumber = { ...numeric!, recipientAccountId: Number(STRANGER), userIdentity: { ...(numeric!.userIdentity as object), accountId: STRANGER } };
    const { recipientAccountId: _r2, ...b } = anonymous!;
    const none = { ...b, userIdentity: { type: 'AWSService', invokedBy: 'cloudformation.amazonaws.com' } };
    const okMsg = aws.sqs.sendRaw(q.name, bridged(ok!));
    const missingMsg = aws.sqs.sendRaw(q.name, bridged(missing as CloudTrailRecord, MEMBER));
    const numberMsg = aws.sqs.sendRaw(q.name, bridged(asNumber as unknown as CloudTrailRecord, MEMBER));
    const noneMsg = aws.sqs.sendRaw(q.name, bridged(none as CloudTrailRecord, MEMBER));
    // The same three inside a file of our account, in our bucket.
    const inFile = synthRecords(4, { account: MEMBER, region: 'eu-west-1', newest: Date.now() - 5 * MIN, seed: 'allow-stored-file' });
    const strays = [
      { ...missing, eventID: `${inFile[1]!.eventID}-m` },
      { ...asNumber, eventID: `${inFile[1]!.eventID}-n` },
      { ...none, eventID: `${inFile[1]!.eventID}-x` },
    ];
    const key = `AWSLogs/${MEMBER}/CloudTrail/eu-west-1/2026/01/02/${MEMBER}_CloudTrail_eu-west-1_20260102T0000Z_storedaccount001.json.gz`;
    aws.s3.putObject(BUCKET, key, gzipSync(JSON.stringify({ Records: [inFile[0], ...strays, ...inFile.slice(1)] })));
    aws.sqs.sendRaw(q.name, cloudTrailNotificationMessage(BUCKET, [key]));

    const r = await q.sources.poll(db.store, q.id);
    expect(r.inserted).toBe(5);
    expect(r.rejected).toBe(6);
    expect(await eventsIn([ok!, ...inFile])).toBe(5);
    expect(await eventsIn([missing, asNumber, none, ...strays] as { eventID: string }[])).toBe(0);
    const stored = await db.store.db.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE account IS DISTINCT FROM $1 AND event_id = ANY($2::text[])", [MEMBER, [ok!, ...inFile].map((x) => x.eventID)]);
    expect(stored.rows[0]!.n).toBe(0);
    expect(aws.sqs.counts(q.name)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });

    const byRef = Object.fromEntries((await readRejects(db.store.db, q.id, 20)).map((x) => [x.ref, x]));
    expect(byRef[`sqs message ${okMsg}`]).toBeUndefined();
    const viaIdentity = (what: string) => new RegExp(`^account ${STRANGER} \\(${what}'s userIdentity\\.accountId; it has no recipientAccountId string\\) is not in the accounts: allow-list of source ${q.id} \\(${MEMBER}\\)`);
    expect(byRef[`sqs message ${missingMsg}`]).toMatchObject({ reason: expect.stringMatching(viaIdentity('the event')), body: expect.stringContaining(STRANGER) });
    expect(byRef[`sqs message ${numberMsg}`]!.reason).toMatch(viaIdentity('the event'));
    expect(byRef[`sqs message ${noneMsg}`]!.reason).toMatch(new RegExp(`^the event names no account .+ cannot be checked against the accounts: allow-list of source ${q.id}`));
    expect(byRef[`s3://${BUCKET}/${key}: Records[1]`]!.reason).toMatch(viaIdentity('the record'));
    expect(byRef[`s3://${BUCKET}/${key}: Records[2]`]!.reason).toMatch(viaIdentity('the record'));
    expect(byRef[`s3://${BUCKET}/${key}: Records[3]`]!.reason).toMatch(/^the record names no account/);
  });

  it('takes anything from a list that says "*"', async () => {
    const q = queueSource({ accounts: ['*'] });
    const [r1] = synthRecords(1, { account: STRANGER, newest: Date.now() - MIN, global: true, seed: 'allow-any' });
    aws.sqs.sendRaw(q.name, bridged(r1!));
    expect((await q.sources.poll(db.store, q.id)).inserted).toBe(1);
  });
});
