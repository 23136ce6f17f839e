import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peakRequestsPerWindow, type Standins, startStandins } from '../../src/integrations/aws/standins/index.ts';
import { clientConfig } from '../../src/integrations/aws/standins/testing.ts';
import type { Sources } from '../../src/sources/index.ts';
import { readCursors } from '../../src/sources/state.ts';
import { formatStatus, sourcesStatus } from '../../src/sources/status.ts';
import { records } from '../helpers/fixtures.ts';
import { BASE_ACCOUNT, MIN, SEC, storedIds, synthRecords, testConfig, testSources, testStore, type TestDb } from './helpers.ts';

const DAY_MS = 86_400_000;

/**
 * The LookupEvents poller against the CloudTrail, STS stand-ins with the real SDK clients, the real
 * 2-per-second throttle, and a real PostgreSQL store (whose limiter table paces the requests).
 */
const MEMBER = '111111111111';
const now = Date.now();

let aws: Standins;
let db: TestDb;
const open: Sources[] = [];

function sources(src: Record<string, unknown>[], accounts: string[] = []): Sources {
  const s = testSources(testConfig({ sources: src, accounts, endpoint: aws.url }));
  open.push(s);
  return s;
}

// Older than the head's 15-minute overlap, so a second poll re-reads none of them.
const regional = synthRecords(120, { account: BASE_ACCOUNT, region: 'eu-west-1', newest: now - 40 * MIN, seed: 'a' });
const member = synthRecords(30, { account: MEMBER, region: 'eu-west-1', newest: now - 41 * MIN, seed: 'b', user: 'maria' });
const global = synthRecords(20, { account: BASE_ACCOUNT, newest: now - 42 * MIN, global: true, seed: 'c' });
const memberGlobal = synthRecords(10, { account: MEMBER, newest: now - 43 * MIN, global: true, seed: 'd' });
// Elsewhere: a region the source does not name.
const elsewhere = synthRecords(15, { account: BASE_ACCOUNT, region: 'sa-east-1', newest: now - 2 * MIN, seed: 'e' });

beforeAll(async () => {
  aws = await startStandins({ accounts: [MEMBER], records: [...regional, ...member, ...global, ...memberGlobal, ...elsewhere] });
  db = await testStore();
});
afterAll(async () => {
  for (const s of open) await s.close();
  await aws?.close();
  await db?.close();
});

const ids = (recs: { eventID: string }[]): string[] => recs.map((r) => r.eventID).sort();

describe('LookupEvents poller', () => {
  const spec = { id: 'org-lookup', kind: 'lookup', regions: ['eu-west-1'], roleName: 'TrailbotReader', backfill: '1d' };

  it('backfills every account × region (members through AssumeRole), global services from us-east-1 only', async () => {
    const s = sources([spec], [BASE_ACCOUNT, MEMBER]);
    const r = await s.poll(db.store, 'org-lookup');
    expect(r.parts.map((p) => [p.part, p.state]).sort()).toEqual([
      [`${MEMBER}/eu-west-1`, 'caught-up'],
      [`${MEMBER}/us-east-1`, 'caught-up'],
      [`${BASE_ACCOUNT}/eu-west-1`, 'caught-up'],
      [`${BASE_ACCOUNT}/us-east-1`, 'caught-up'],
    ]);
    expect(await storedIds(db.store)).toEqual(ids([...regional, ...member, ...global, ...memberGlobal]));
    expect(r.inserted).toBe(180);

    // The member account was read with keys from AssumeRole into its TrailbotReader role.
    const assumed = aws.sts.requests.filter((q) => q.operation === 'AssumeRole' && q.status === 200);
    expect(assumed.length).toBeGreaterThanOrEqual(1);
    const memberCalls = aws.cloudtrail.requests.filter((q) => q.accountId === MEMBER);
    expect(memberCalls.length).toBeGreaterThan(0);
    expect(memberCalls.every((q) => q.accessKeyId?.startsWith('ASIA'))).toBe(true);
    // Every page answered: NextToken always came back with the same parameters.
    expect(aws.cloudtrail.requests.filter((q) => q.status !== 200)).toEqual([]);
    const pages = aws.cloudtrail.requests.filter((q) => q.accountId === BASE_ACCOUNT && q.region === 'eu-west-1');
    expect(pages).toHaveLength(3); // 120 events, 50 a page
    const [first, ...rest] = pages.map((q) => q.params as Record<string, unknown>);
    for (const p of rest) expect({ ...p, NextToken: undefined }).toEqual({ ...first, NextToken: undefined });
    expect(Math.max(...peakRequestsPerWindow(aws.cloudtrail.requests).values())).toBeLessThanOrEqual(2);
  });

  it('resumes from its cursor: the next poll reads only the new minutes (with the overlap), late events included, nothing doubled', async () => {
    const s = sources([spec], [BASE_ACCOUNT, MEMBER]);
    const before = aws.cloudtrail.requests.length;
    const fresh = synthRecords(7, { account: BASE_ACCOUNT, region: 'eu-west-1', newest: Date.now() - SEC, stepMs: 100, seed: 'f' });
    // Shown by CloudTrail only now, though it happened before the last poll ended (within the overlap).
    const late = synthRecords(1, { account: MEMBER, region: 'eu-west-1', newest: Date.now() - 4 * MIN, seed: 'g' });
    aws.cloudtrail.addRecords([...fresh, ...late]);
    const r = await s.poll(db.store, 'org-lookup');
    expect(r.inserted).toBe(8);
    expect(await storedIds(db.store)).toEqual(ids([...regional, ...member, ...global, ...memberGlobal, ...fresh, ...late]));
    // One request per account-region: the head window, not the backfill again.
    const reqs = aws.cloudtrail.requests.slice(before);
    expect(reqs).toHaveLength(4);
    for (const q of reqs) expect((q.params as { StartTime: number }).StartTime * 1000).toBeGreaterThan(now - 20 * MIN);
  });

  it('stops at its time limit and carries on where it stopped (the low edge of the window)', async () => {
    const many = synthRecords(250, { account: BASE_ACCOUNT, region: 'ap-southeast-2', newest: Date.now() - 30 * MIN, stepMs: 2 * SEC, seed: 'h' });
    aws.cloudtrail.addRecords(many);
    const s = sources([{ id: 'sydney', kind: 'lookup', regions: ['ap-southeast-2'], skipGlobal: true, backfill: '1d' }]);
    const first = await s.poll(db.store, 'sydney', { deadline: Date.now() + 600 });
    expect(first.more).toBe(true);
    expect(first.parts[0]!.state).toBe('more');
    const [c] = await readCursors(db.store.db, 'sydney');
    expect(c!.tailLow).not.toBeNull();
    expect(c!.tailLow!).toBeLessThan(c!.tailTo!);
    expect(first.inserted).toBeGreaterThanOrEqual(100);
    expect(first.inserted).toBeLessThan(250);
    const second = await s.poll(db.store, 'sydney');
    expect(second.more).toBe(false);
    expect(first.inserted + second.inserted).toBe(250);
    // The page at the low edge is read again (its last second may continue on the next page): little else.
    expect(second.duplicates).toBeLessThanOrEqual(50);
    const stored = await db.store.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE region = 'ap-southeast-2'`);
    expect(stored.rows[0]!.n).toBe(250);
  });

  it('backs off on ThrottlingException from someone else using the budget, and still reads everything', async () => {
    const recs = synthRecords(200, { account: BASE_ACCOUNT, region: 'ca-central-1', newest: Date.now() - MIN, seed: 'i' });
    aws.cloudtrail.addRecords(recs);
    const other = new CloudTrailClient(clientConfig(aws.url, { region: 'ca-central-1', maxAttempts: 1 }));
    let stop = false;
    // Another tool (the console, a script) taking the account-region's whole budget (2 calls in a
    // second) in bursts, every 2.5 s: trailbot's first call meets a full window for certain, and later
    // ones now and then; it must back off and still get everything, in the gaps the other tool leaves.
    const burst = () => Promise.all([1, 2].map(() => other.send(new LookupEventsCommand({ MaxResults: 1 })).catch(() => undefined)));
    await burst();
    const noisy = (async () => {
      while (!stop) {
        await new Promise((r) => setTimeout(r, 2500));
        if (!stop) await burst();
      }
    })();
    const s = sources([{ id: 'canada', kind: 'lookup', regions: ['ca-central-1'], skipGlobal: true, backfill: '1d' }]);
    try {
      const r = await s.poll(db.store, 'canada');
      expect(r.parts[0]!.state).toBe('caught-up');
      expect(r.inserted).toBe(200);
    } finally {
      stop = true;
      await noisy;
      other.destroy();
    }
    const [c] = await readCursors(db.store.db, 'canada');
    expect(c!.throttled).toBeGreaterThan(0);
    expect(c!.events).toBe(200);
  }, 60_000);

  it('stops at maxRun when CloudTrail throttles every request, keeping what it read and saying why', async () => {
    const recs = synthRecords(120, { account: BASE_ACCOUNT, region: 'eu-south-1', newest: Date.now() - MIN, seed: 'throttled' });
    aws.cloudtrail.addRecords(recs);
    const s = sources([{ id: 'throttled', kind: 'lookup', regions: ['eu-south-1'], skipGlobal: true, backfill: '1d', maxRun: '2s' }]);
    let pages = 0;
    try {
      // The first page goes through; from then on every request is answered ThrottlingException.
      const r = await s.poll(db.store, 'throttled', {
        onProgress: () => {
          if (pages++ === 0) aws.cloudtrail.setThrottle({ limit: 0, windowMs: 1000 });
        },
      });
      const part = r.parts[0]!;
      expect(part.state).toBe('more');
      expect(r.more).toBe(true);
      expect(part.inserted).toBe(50);
      expect(part.error).toMatch(/throttl/i);
      expect(part.error).toMatch(/time limit|maxRun/);
    } finally {
      aws.cloudtrail.setThrottle({ limit: 2, windowMs: 1000 });
    }
    const [c] = await readCursors(db.store.db, 'throttled');
    expect(c!.throttled).toBeGreaterThan(0);
    expect(c!.events).toBe(50);
    // Once CloudTrail answers again, the next poll carries on from where it stopped.
    const again = await s.poll(db.store, 'throttled', { deadline: Date.now() + 20_000 });
    expect(again.parts[0]!.state).toBe('caught-up');
    expect(again.inserted).toBe(70);
  }, 30_000);

  it('with insights: true, also reads CloudTrail Insights events on a cursor of their own; without it, none', async () => {
    // The real Insights record of test/fixtures/records/insights.json, moved into the 90 days and
    // into an account-region of its own, three times (a start, an end, another start).
    const insight = records('insights.json')[0]!;
    const region = 'ap-northeast-2';
    const insights = [0, 1, 2].map((i) => ({
      ...insight,
      eventID: `0e1f0000-0000-4000-8000-00000000000${i}`,
      eventTime: new Date(now - (30 + i) * MIN).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      awsRegion: region,
      recipientAccountId: BASE_ACCOUNT,
    }));
    const calls = synthRecords(5, { account: BASE_ACCOUNT, region, newest: now - 20 * MIN, seed: 'ins' });
    aws.cloudtrail.addRecords([...insights, ...calls] as never);
    const base = { kind: 'lookup', regions: [region], skipGlobal: true, backfill: '1d' };
    const without = await sources([{ ...base, id: 'no-insights' }]).poll(db.store, 'no-insights');
    expect(without.parts.map((p) => p.part)).toEqual([`${BASE_ACCOUNT}/${region}`]);
    expect(without.inserted).toBe(5);
    const withInsights = await sources([{ ...base, id: 'with-insights', insights: true }]).poll(db.store, 'with-insights');
    expect(withInsights.parts.map((p) => [p.part, p.state]).sort()).toEqual([
      [`${BASE_ACCOUNT}/${region}`, 'caught-up'],
      [`${BASE_ACCOUNT}/${region}/insights`, 'caught-up'],
    ]);
    expect(withInsights.inserted).toBe(3); // the 5 calls were stored by the first source
    const stored = await db.store.search({ eventSource: 'autoscaling.amazonaws.com', eventName: 'CompleteLifecycleAction', since: new Date(now - DAY_MS).toISOString(), limit: 10 });
    expect(stored.events.map((e) => e.eventId).sort()).toEqual(insights.map((r) => r.eventID).sort());
    expect(stored.events.every((e) => e.eventType === 'AwsCloudTrailInsight' && e.eventCategory === 'Insight')).toBe(true);
    const cursors = await readCursors(db.store.db, 'with-insights');
    expect(cursors.map((c) => [c.part, c.events]).sort()).toEqual([
      [`${BASE_ACCOUNT}/${region}`, 0],
      [`${BASE_ACCOUNT}/${region}/insights`, 3],
    ]);
  });

  it('reports an account it cannot enter, and reads the others', async () => {
    aws.cloudtrail.addRecords(synthRecords(60, { account: BASE_ACCOUNT, region: 'eu-north-1', newest: Date.now() - 30 * MIN, seed: 'j' }));
    const s = sources([{ id: 'with-stranger', kind: 'lookup', regions: ['eu-north-1'], skipGlobal: true, roleName: 'TrailbotReader', backfill: '1d' }], [BASE_ACCOUNT, '999999999999']);
    const r = await s.poll(db.store, 'with-stranger');
    const bad = r.parts.find((p) => p.part === '999999999999/eu-north-1')!;
    expect(bad.state).toBe('failed');
    expect(bad.error).toMatch(/E_SOURCE: cannot assume arn:aws:iam::999999999999:role\/TrailbotReader: AccessDenied/);
    expect(bad.error).toMatch(/trusts trailbot's account/);
    expect(r.parts.find((p) => p.part === `${BASE_ACCOUNT}/eu-north-1`)!.state).toBe('caught-up');

    const status = (await sourcesStatus(db.store, s.specs)).filter((x) => x.source === 'with-stranger');
    const text = formatStatus(status);
    expect(text).toMatch(/^SOURCE +KIND +LAST EVENT +LAG +EVENTS +ERRORS +STATE/);
    expect(text).toMatch(/with-stranger +lookup .* last error: 999999999999\/eu-north-1: E_SOURCE: cannot assume/);
    expect(text).toMatch(/ {2}123456789012\/eu-north-1 +\d{4}-\d\d-\d\dT[\d:]+Z +\d+s +60 +0 +backfill done/);
    expect(text).toMatch(/ {2}999999999999\/eu-north-1 +— +— +0 +1 +not polled yet; last error: E_SOURCE: cannot assume/);
    const st = status.find((x) => x.source === 'with-stranger')!;
    expect(st.errors).toBe(1);
    expect(st.events).toBe(60);
    expect(st.lagSeconds).toBeLessThan(60);
  });

  it('refuses a bad source setting with every problem named', () => {
    expect(() => sources([{ id: 'x', kind: 'lookup', regions: ['mars-1'], backfill: '200d', colour: 'red' }])).toThrow(
      /3 source settings are wrong:\n {2}sources\[0\]\.regions\[0\] \(x\): expected an AWS Region[^\n]*\n {2}sources\[0\]\.backfill \(x\): backfill "200d" is longer than 90d, the most it can be \(use a duration from 1m to 90d[^\n]*\n {2}sources\[0\] \(x\): unknown setting colour/,
    );
  });
});
