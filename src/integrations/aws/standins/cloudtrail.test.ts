import { randomUUID } from 'node:crypto';
import {
  CloudTrailClient,
  InvalidEventCategoryException,
  InvalidLookupAttributesException,
  InvalidMaxResultsException,
  InvalidNextTokenException,
  InvalidTimeRangeException,
  LookupEventsCommand,
  ThrottlingException,
  paginateLookupEvents,
} from '@aws-sdk/client-cloudtrail';
import type { LookupAttributeKey, LookupEventsCommandInput, EventCategory } from '@aws-sdk/client-cloudtrail';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCloudTrailStandin } from './cloudtrail.ts';
import type { CloudTrailStandin } from './cloudtrail.ts';
import { DEFAULT_BASE_CREDENTIALS } from './credentials.ts';
import { isoSeconds, rebaseRecords } from './records.ts';
import type { CloudTrailRecord } from './records.ts';
import { peakRequestsPerWindow } from './shared.ts';
import { clientConfig, loadFixtureRecords } from './testing.ts';

const ACCOUNT = DEFAULT_BASE_CREDENTIALS.accountId;
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const SEC = 1000;
const DAY = 86_400_000;

function synthetic(n: number, { region = 'eu-west-1', newest = NOW - 60 * SEC, stepMs = 7 * SEC, tieEvery = 4 } = {}): CloudTrailRecord[] {
  const out: CloudTrailRecord[] = [];
  let t = newest;
  for (let i = 0; i < n; i++) {
    out.push({
      eventVersion: '1.11',
      eventTime: isoSeconds(t),
      eventSource: i % 3 === 0 ? 's3.amazonaws.com' : 'ec2.amazonaws.com',
      eventName: i % 3 === 0 ? 'PutBucketPolicy' : 'DescribeInstances',
      awsRegion: region,
      eventID: randomUUID(),
      recipientAccountId: ACCOUNT,
      readOnly: i % 3 !== 0,
      userIdentity: { type: 'IAMUser', userName: `user${i % 5}`, accessKeyId: 'AKIAEXAMPLE000000001', accountId: ACCOUNT, arn: `arn:aws:iam::${ACCOUNT}:user/user${i % 5}` },
      requestParameters: i % 3 === 0 ? { bucketName: `bucket-${i}` } : {},
    });
    if ((i + 1) % tieEvery !== 0) t -= stepMs; // every few records share a second with the next one
  }
  return out;
}

let ct: CloudTrailStandin;
const client = (region = 'eu-west-1', extra: { maxAttempts?: number } = {}) => new CloudTrailClient(clientConfig(ct.url, { region, ...extra }));

beforeAll(async () => {
  ct = await startCloudTrailStandin({ now: NOW, throttle: false });
});
afterAll(() => ct.close());

describe('LookupEvents data', () => {
  const fixture = rebaseRecords(loadFixtureRecords('stratus-records.json'), { accountId: ACCOUNT, region: 'ap-south-1', newest: NOW - DAY });

  beforeAll(() => {
    expect(ct.addRecords(fixture)).toBe(12);
    expect(ct.addRecords(fixture)).toBe(0); // duplicates are ignored
  });

  it('serves regional records newest first with the documented Event fields', async () => {
    const { Events = [], NextToken } = await client('ap-south-1').send(new LookupEventsCommand({}));
    expect(NextToken).toBeUndefined();
    expect(Events.map((e) => e.EventSource).sort()).toEqual(['cloudtrail.amazonaws.com', 'ec2.amazonaws.com', ...Array(5).fill('secretsmanager.amazonaws.com')]);
    const times = Events.map((e) => e.EventTime?.getTime() ?? 0);
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    const run = Events.find((e) => e.EventName === 'RunInstances');
    const raw = fixture.find((r) => r.eventName === 'RunInstances');
    expect(run).toMatchObject({
      EventId: raw?.eventID,
      ReadOnly: 'false',
      AccessKeyId: 'ASIA9F6MXE9HSYOXYQOS',
      EventSource: 'ec2.amazonaws.com',
      Username: 'aws-go-sdk-1722511821294449000', // the session name of the assumed role
    });
    expect(run?.EventTime).toEqual(new Date(raw?.eventTime ?? ''));
    expect(JSON.parse(run?.CloudTrailEvent ?? '{}')).toEqual(raw);
    const trail = Events.find((e) => e.EventName === 'PutEventSelectors');
    expect(trail?.Resources).toEqual([{ ResourceType: 'AWS::CloudTrail::Trail', ResourceName: raw ? (fixture.find((r) => r.eventName === 'PutEventSelectors')?.requestParameters?.trailName as string) : '' }]);
  });

  it('shows global-service events (IAM, STS) only in us-east-1', async () => {
    const east = await client('us-east-1').send(new LookupEventsCommand({}));
    expect(east.Events?.map((e) => e.EventName).sort()).toEqual(['AssumeRole', 'AssumeRole', 'AttachUserPolicy', 'CreateAccessKey', 'CreateUser']);
    const create = east.Events?.find((e) => e.EventName === 'CreateUser');
    expect(create?.Username).toBe('christophe');
    expect(create?.Resources).toContainEqual({ ResourceType: 'AWS::IAM::User', ResourceName: expect.any(String) });
    const regional = await client('ap-south-1').send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 'iam.amazonaws.com' }] }));
    expect(regional.Events).toEqual([]);
  });

  it('reports root as Username and omits an empty AccessKeyId', async () => {
    const docs = rebaseRecords(loadFixtureRecords('aws-docs-records.jsonl'), { accountId: '333333333333', newest: NOW - 2 * DAY });
    ct.addRecords(docs);
    const other = new CloudTrailClient(clientConfig(ct.url, { region: 'us-east-1' }));
    // the base key belongs to the base account: another account's events are not visible to it
    const own = await other.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'root' }] }));
    expect(own.Events).toEqual([]);
    const svcView = ct.eventsFor('333333333333', 'us-east-1');
    expect(svcView.filter((e) => e.Username === 'root').map((e) => e.EventName).sort()).toEqual(['ConsoleLogin', 'ConsoleLogin', 'EnableMFADevice']);
    expect(svcView.find((e) => e.Username === 'anaya' && e.EventName === 'ConsoleLogin')).not.toHaveProperty('AccessKeyId');
  });

  it('returns Insights events only for EventCategory insight, and never data events', async () => {
    const base = { awsRegion: 'ap-south-1', recipientAccountId: ACCOUNT, eventTime: isoSeconds(NOW - 3 * DAY), eventSource: 'ec2.amazonaws.com' };
    ct.addRecords([
      { ...base, eventID: randomUUID(), eventName: 'RunInstances', eventType: 'AwsCloudTrailInsight', eventCategory: 'Insight' },
      { ...base, eventID: randomUUID(), eventName: 'GetObject', eventSource: 's3.amazonaws.com', eventCategory: 'Data', managementEvent: false },
    ]);
    const insights = await client('ap-south-1').send(new LookupEventsCommand({ EventCategory: 'insight' }));
    expect(insights.Events?.map((e) => e.EventName)).toEqual(['RunInstances']);
    const filtered = await client('ap-south-1').send(new LookupEventsCommand({ EventCategory: 'insight', LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'RunInstances' }] }));
    expect(filtered.Events).toHaveLength(1);
    const management = await client('ap-south-1').send(new LookupEventsCommand({ StartTime: new Date(NOW - 3 * DAY), EndTime: new Date(NOW - 3 * DAY) }));
    expect(management.Events).toEqual([]);
  });

  it('filters on each lookup attribute', async () => {
    const c = client('ap-south-1');
    const count = async (AttributeKey: LookupAttributeKey, AttributeValue: string) =>
      (await c.send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey, AttributeValue }] }))).Events?.length;
    const run = fixture.find((r) => r.eventName === 'RunInstances');
    expect(await count('EventName', 'BatchGetSecretValue')).toBe(5);
    expect(await count('EventSource', 'secretsmanager.amazonaws.com')).toBe(5);
    expect(await count('ReadOnly', 'true')).toBe(5);
    expect(await count('ReadOnly', 'false')).toBe(2);
    expect(await count('Username', 'christophe')).toBe(6);
    expect(await count('AccessKeyId', 'ASIA9F6MXE9HSYOXYQOS')).toBe(1);
    expect(await count('EventId', run?.eventID ?? '')).toBe(1);
    expect(await count('ResourceType', 'AWS::CloudTrail::Trail')).toBe(1);
    expect(await count('EventName', 'NoSuchEvent')).toBe(0);
  });
});

describe('LookupEvents validation', () => {
  const expectError = async (input: LookupEventsCommandInput, type: new (...args: never[]) => Error) => {
    const err = await client('sa-east-1').send(new LookupEventsCommand(input)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(type);
    expect((err as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(400);
  };

  it('accepts at most one lookup attribute with an allowed key and a 1–2000 character value', async () => {
    await expectError(
      { LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'A' }, { AttributeKey: 'Username', AttributeValue: 'b' }] },
      InvalidLookupAttributesException,
    );
    await expectError({ LookupAttributes: [{ AttributeKey: 'Region' as LookupAttributeKey, AttributeValue: 'x' }] }, InvalidLookupAttributesException);
    await expectError({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: '' }] }, InvalidLookupAttributesException);
    await expectError({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'x'.repeat(2001) }] }, InvalidLookupAttributesException);
    await expect(client('sa-east-1').send(new LookupEventsCommand({ LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'x'.repeat(2000) }] }))).resolves.toMatchObject({ Events: [] });
    await expectError({ EventCategory: 'insight', LookupAttributes: [{ AttributeKey: 'Username', AttributeValue: 'x' }] }, InvalidLookupAttributesException);
  });

  it('checks MaxResults, the time range and the event category', async () => {
    await expectError({ MaxResults: 0 }, InvalidMaxResultsException);
    await expectError({ MaxResults: 51 }, InvalidMaxResultsException);
    await expectError({ StartTime: new Date(NOW - 10 * SEC), EndTime: new Date(NOW - 20 * SEC) }, InvalidTimeRangeException);
    await expectError({ EventCategory: 'management' as EventCategory }, InvalidEventCategoryException);
    await expectError({ NextToken: 'not-a-token' }, InvalidNextTokenException);
  });
});

describe('LookupEvents pagination and time window', () => {
  const region = 'eu-west-1';
  const records = synthetic(123, { region });

  beforeAll(() => {
    ct.addRecords(records);
    ct.addRecords(synthetic(3, { region, newest: NOW - 91 * DAY })); // beyond the 90-day window
    ct.addRecords(synthetic(2, { region, newest: NOW + 3600 * SEC })); // "in the future" for the stand-in's clock
  });

  it('returns every event exactly once, newest first, through the SDK paginator', async () => {
    const pages: number[] = [];
    const ids: string[] = [];
    let last = Infinity;
    for await (const page of paginateLookupEvents({ client: client(region), pageSize: 10 }, {})) {
      pages.push(page.Events?.length ?? 0);
      for (const e of page.Events ?? []) {
        const t = e.EventTime?.getTime() ?? 0;
        expect(t).toBeLessThanOrEqual(last);
        last = t;
        ids.push(e.EventId ?? '');
      }
    }
    expect(pages).toEqual([...Array(12).fill(10), 3]);
    expect(new Set(ids).size).toBe(123);
    expect(new Set(ids)).toEqual(new Set(records.map((r) => r.eventID)));
  });

  it('paginates a filtered lookup with the default page size', async () => {
    const ids: string[] = [];
    for await (const page of paginateLookupEvents({ client: client(region) }, { LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'DescribeInstances' }] })) {
      ids.push(...(page.Events ?? []).map((e) => e.EventId ?? ''));
    }
    expect(ids.length).toBe(records.filter((r) => r.eventName === 'DescribeInstances').length);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keeps pages stable when newer events arrive mid-pagination', async () => {
    const c = client(region);
    const first = await c.send(new LookupEventsCommand({ MaxResults: 50 }));
    const extra = synthetic(5, { region, newest: NOW - SEC, stepMs: 0 });
    ct.addRecords(extra);
    const seen = new Set(first.Events?.map((e) => e.EventId));
    let token = first.NextToken;
    while (token) {
      const page = await c.send(new LookupEventsCommand({ MaxResults: 50, NextToken: token }));
      for (const e of page.Events ?? []) {
        expect(seen.has(e.EventId)).toBe(false);
        seen.add(e.EventId);
      }
      token = page.NextToken;
    }
    expect(seen.size).toBe(123);
    const fresh = await c.send(new LookupEventsCommand({ MaxResults: 5 }));
    expect(fresh.Events?.map((e) => e.EventId).sort()).toEqual(extra.map((r) => r.eventID).sort());
  });

  it('refuses a NextToken sent with different parameters', async () => {
    const c = client(region);
    const input: LookupEventsCommandInput = { MaxResults: 5, LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 'ec2.amazonaws.com' }], StartTime: new Date(NOW - DAY) };
    const first = await c.send(new LookupEventsCommand(input));
    expect(first.NextToken).toBeDefined();
    await expect(c.send(new LookupEventsCommand({ ...input, NextToken: first.NextToken }))).resolves.toMatchObject({ Events: expect.any(Array) });
    for (const changed of [
      { MaxResults: 6 },
      { LookupAttributes: [{ AttributeKey: 'EventSource' as const, AttributeValue: 's3.amazonaws.com' }] },
      { StartTime: new Date(NOW - 2 * DAY) },
      { EndTime: new Date(NOW) },
    ]) {
      await expect(c.send(new LookupEventsCommand({ ...input, ...changed, NextToken: first.NextToken }))).rejects.toBeInstanceOf(InvalidNextTokenException);
    }
    // a token is also bound to its account-region
    await expect(client('us-west-2').send(new LookupEventsCommand({ ...input, NextToken: first.NextToken }))).rejects.toBeInstanceOf(InvalidNextTokenException);
  });

  it('treats StartTime and EndTime as inclusive epoch seconds', async () => {
    const target = records[40];
    const t = new Date(target.eventTime);
    const same = records.filter((r) => r.eventTime === target.eventTime).map((r) => r.eventID).sort();
    const { Events = [] } = await client(region).send(new LookupEventsCommand({ StartTime: t, EndTime: t }));
    expect(Events.map((e) => e.EventId).sort()).toEqual(same);
    const body = ct.requests.at(-1)?.params as { StartTime: unknown };
    expect(typeof body.StartTime).toBe('number');
  });

  it('moves the 90-day window with the configurable clock', async () => {
    const c = client(region);
    const count = async () => {
      let n = 0;
      for await (const page of paginateLookupEvents({ client: c }, {})) n += page.Events?.length ?? 0;
      return n;
    };
    expect(await count()).toBe(128);
    ct.setNow(NOW + 2 * 3600 * SEC); // the two "future" events are now in the past
    expect(await count()).toBe(130);
    ct.setNow(NOW + 90 * DAY); // everything older than NOW has aged out
    expect(await count()).toBe(2);
    ct.setNow(NOW);
  });
});

describe('authentication', () => {
  it('rejects an unknown access key and a wrong secret like AWS', async () => {
    const unknown = new CloudTrailClient(clientConfig(ct.url, { credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' } }));
    await expect(unknown.send(new LookupEventsCommand({}))).rejects.toMatchObject({ name: 'UnrecognizedClientException', $metadata: { httpStatusCode: 400 } });
    const wrong = new CloudTrailClient(clientConfig(ct.url, { credentials: { accessKeyId: DEFAULT_BASE_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' } }));
    await expect(wrong.send(new LookupEventsCommand({}))).rejects.toMatchObject({ name: 'InvalidSignatureException' });
  });
});

describe('throttling', () => {
  let limited: CloudTrailStandin;
  beforeAll(async () => {
    limited = await startCloudTrailStandin({ now: NOW, records: synthetic(3, { region: 'us-east-2' }) });
  });
  afterAll(() => limited.close());

  it('rejects a third request within one second per account-region with ThrottlingException', async () => {
    const c = new CloudTrailClient(clientConfig(limited.url, { region: 'us-east-2', maxAttempts: 1 }));
    const other = new CloudTrailClient(clientConfig(limited.url, { region: 'us-west-1', maxAttempts: 1 }));
    await c.send(new LookupEventsCommand({}));
    await c.send(new LookupEventsCommand({}));
    const err = await c.send(new LookupEventsCommand({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottlingException);
    expect(err).toMatchObject({ message: 'Rate exceeded', $metadata: { httpStatusCode: 400 } });
    await expect(other.send(new LookupEventsCommand({}))).resolves.toBeDefined(); // another region has its own limit

    const log = limited.requests.filter((r) => r.region === 'us-east-2');
    expect(log.map((r) => [r.status, r.errorType ?? null])).toEqual([
      [200, null],
      [200, null],
      [400, 'ThrottlingException'],
    ]);
    expect(log[2].accountId).toBe(ACCOUNT);
    expect(log[2].timeMs - log[0].timeMs).toBeLessThan(1000);

    await new Promise((r) => setTimeout(r, 1000 - (performance.now() - log[0].timeMs) + 20));
    await expect(c.send(new LookupEventsCommand({}))).resolves.toBeDefined();
  });

  it("lets the SDK's standard retry get through, never exceeding 2 requests/second", async () => {
    // default retry strategy (standard mode, throttling back-off); more attempts than the default 3 so the random
    // back-off cannot exhaust them all within one throttle window
    const c = new CloudTrailClient(clientConfig(limited.url, { region: 'eu-north-1', maxAttempts: 6 }));
    const results = await Promise.all([1, 2, 3, 4].map(() => c.send(new LookupEventsCommand({}))));
    expect(results).toHaveLength(4);
    const log = limited.requests.filter((r) => r.region === 'eu-north-1');
    expect(log.filter((r) => r.errorType === 'ThrottlingException').length).toBeGreaterThan(0);
    expect(log.filter((r) => r.status === 200)).toHaveLength(4);
    for (const peak of peakRequestsPerWindow(limited.requests).values()) expect(peak).toBeLessThanOrEqual(2);
  });
});
