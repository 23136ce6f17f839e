import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisLimiter } from '../../src/integrations/aws/limiter.ts';
import { peakRequestsPerWindow, type RequestRecord, type Standins, startStandins } from '../../src/integrations/aws/standins/index.ts';
import { BASE_CLIENT_CREDENTIALS } from '../../src/integrations/aws/standins/testing.ts';
import { createSources } from '../../src/sources/index.ts';
import { readCursors } from '../../src/sources/state.ts';
import { BASE_ACCOUNT, exited, MIN, spawnCli, storedIds, synthRecords, TEST_REDIS_URL, testConfig, testStore, type TestDb, uniquePrefix, waitFor, writeConfig } from './helpers.ts';
import { needRedis } from '../helpers/services.ts';

beforeAll(needRedis);

/**
 * The poller as real processes (the `trailbot sources poll` command), against the stand-ins' real
 * 2-per-second throttle: killed mid-backfill and restarted; and two at once, with live lookups from
 * a third process, all sharing the Redis limiter.
 */
let aws: Standins;
let db: TestDb;

beforeAll(async () => {
  aws = await startStandins({});
  db = await testStore();
});
afterAll(async () => {
  await aws?.close();
  await db?.close();
});

const sorted = (a: string[]): string[] => [...a].sort();
const lookupIds = (account: string, region: string): string[] => aws.cloudtrail.eventsFor(account, region).map((e) => e.EventId);
const allRequests = { include: (r: RequestRecord) => r.accountId !== undefined }; // throttled ones too

async function env(prefix: string, sourcesDoc: Record<string, unknown>[]): Promise<Record<string, string>> {
  const config = await writeConfig({ sources: sourcesDoc });
  return { ...aws.env(), DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, TRAILBOT_CONFIG: config, LOG_LEVEL: 'silent', TRAILBOT_QUEUE_NAME: prefix.replace(/[^a-z0-9]/g, '') };
}

describe('the LookupEvents poller as processes', () => {
  it('killed (SIGKILL) mid-backfill and restarted: the stored events equal the stand-in’s, none twice', async () => {
    const regional = synthRecords(600, { account: BASE_ACCOUNT, region: 'eu-west-1', newest: Date.now() - 20 * MIN, stepMs: 60_000, seed: 'kill' });
    const global = synthRecords(60, { account: BASE_ACCOUNT, newest: Date.now() - 30 * MIN, global: true, seed: 'kill-g' });
    aws.cloudtrail.addRecords([...regional, ...global]);
    const prefix = uniquePrefix();
    const e = await env(prefix, [{ id: 'backfill', kind: 'lookup', regions: ['eu-west-1'], backfill: '2d' }]);
    const args = ['sources', 'poll', 'backfill', '--until-done', '--lease-ms', '1500', '--limiter-prefix', prefix];

    const first = spawnCli(args, e);
    const count = async () => (await db.store.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE region = 'eu-west-1'`)).rows[0]!.n;
    await waitFor('part of the backfill to be stored', async () => (await count()) >= 200 || first.exitCode !== null, 20_000);
    first.kill('SIGKILL');
    await exited(first);
    const atKill = await count();
    expect(atKill).toBeGreaterThanOrEqual(200);
    expect(atKill).toBeLessThan(600); // really mid-backfill
    const [c] = (await readCursors(db.store.db, 'backfill')).filter((x) => x.part.endsWith('eu-west-1'));
    expect(c!.tailLow).not.toBeNull(); // the backfill's place, kept in the store

    const second = spawnCli(args, e);
    expect(await exited(second)).toBe(0);
    expect(second.output()).toMatch(/backfill \(lookup\): \d+ events read, \d+ new/);

    const expected = sorted([...lookupIds(BASE_ACCOUNT, 'eu-west-1'), ...lookupIds(BASE_ACCOUNT, 'us-east-1')]);
    const stored = (await db.store.db.query<{ event_id: string }>(`SELECT event_id FROM events WHERE region IN ('eu-west-1', 'us-east-1') ORDER BY event_id`)).rows.map((r) => r.event_id);
    expect(stored).toEqual(expected);
    expect(stored.length).toBe(660);
    const dup = await db.store.db.query<{ n: number }>('SELECT count(*)::int - count(DISTINCT event_id)::int AS n FROM events');
    expect(dup.rows[0]!.n).toBe(0);
    // Across the kill and the restart, the account-region never got more than 2 requests in a second.
    expect(Math.max(...peakRequestsPerWindow(aws.cloudtrail.requests, allRequests).values())).toBeLessThanOrEqual(2);

    // What an operator sees.
    const status = spawnCli(['sources', 'status'], e);
    expect(await exited(status)).toBe(0);
    expect(status.output()).toMatch(/^SOURCE +KIND +LAST EVENT +LAG +EVENTS +ERRORS +STATE\nbackfill +lookup +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ +\d+s +660 +0 +backfill done\n {2}123456789012\/eu-west-1 .* 600 +0 +backfill done\n {2}123456789012\/us-east-1 .* 60 +0 +backfill done\n$/);
  });

  it('two poller processes and live lookups from a third: no account-region over 2 requests in any second, and a backfill of N events takes about N/100 s', async () => {
    const N = 500;
    const regions = ['eu-central-1', 'ap-south-1', 'us-west-2', 'ca-central-1'];
    for (const region of regions) aws.cloudtrail.addRecords(synthRecords(N, { account: BASE_ACCOUNT, region, newest: Date.now() - 20 * MIN, stepMs: 60_000, seed: `two-${region}` }));
    const prefix = uniquePrefix();
    const doc = [{ id: 'pair', kind: 'lookup', regions, skipGlobal: true, backfill: '2d' }];
    const e = await env(prefix, doc);
    const since = aws.cloudtrail.requests.length;
    const args = ['sources', 'poll', 'pair', '--until-done', '--lease-ms', '1500', '--limiter-prefix', prefix];
    const started = performance.now();
    const workers = [spawnCli(args, e), spawnCli(args, e)];
    // A third process's share of the same budget: a /trail lookup, through the same Redis limiter.
    const limiter = redisLimiter({ url: TEST_REDIS_URL, prefix });
    const live = createSources({ config: testConfig({ sources: doc, endpoint: aws.url }), credentials: BASE_CLIENT_CREDENTIALS, limiter });
    await new Promise((r) => setTimeout(r, 1500));
    const answer = await live.live(db.store, { who: 'user1', timeoutMs: 8000, maxPages: 1 });
    expect(answer.queries.length).toBeGreaterThanOrEqual(4);
    // Answered everywhere (user1 has more events than the one page asked for: "truncated", not refused).
    expect(answer.partial.map((q) => q.status).filter((s) => s !== 'truncated')).toEqual([]);
    expect(answer.events.length).toBe(50);
    const codes = await Promise.all(workers.map(exited));
    const elapsed = (performance.now() - started) / 1000;
    await live.close();
    expect(codes).toEqual([0, 0]);

    const reqs = aws.cloudtrail.requests.slice(since);
    const throttledReqs = reqs.filter((r) => r.errorType === 'ThrottlingException');
    for (const t of throttledReqs) {
      const near = reqs.filter((r) => r.region === t.region && Math.abs(r.timeMs - t.timeMs) < 1500).map((r) => `${(r.timeMs - t.timeMs).toFixed(1)} ${r.status} ${r.accessKeyId} ${r.attempt} ${r.invocationId} ${(JSON.stringify(r.params) ?? '').slice(0, 200)}`);
      console.log(`THROTTLED ${t.region}:\n  ${near.join('\n  ')}`);
    }
    expect(throttledReqs).toEqual([]);
    const peaks = peakRequestsPerWindow(reqs, allRequests);
    expect([...peaks.keys()].sort()).toEqual(regions.map((r) => `cloudtrail:${BASE_ACCOUNT}/${r}`).sort());
    expect(Math.max(...peaks.values())).toBeLessThanOrEqual(2);

    // Per account-region: from its first request to its last, N events at 50 a page, 2 pages a second.
    const ideal = N / 100;
    const lines: string[] = [];
    for (const region of regions) {
      const mine = reqs.filter((r) => r.region === region && r.status === 200 && (r.params as { LookupAttributes?: unknown }).LookupAttributes === undefined);
      const backfillPages = mine.slice(0, Math.ceil(N / 50));
      const span = (backfillPages.at(-1)!.timeMs - backfillPages[0]!.timeMs) / 1000 + 0.5;
      const first = backfillPages[0]!.timeMs;
      const last = backfillPages.at(-1)!.timeMs;
      const used = reqs.filter((r) => r.region === region && r.timeMs >= first && r.timeMs <= last).length;
      lines.push(
        `${region}: ${N} events in ${span.toFixed(2)} s (ideal ${ideal.toFixed(2)} s, ${((ideal / span) * 100).toFixed(0)}% of the 2/s × 50 ceiling; ` +
          `${used - backfillPages.length} of the ${used} requests in that time were the live lookup's)`,
      );
      expect(span).toBeGreaterThanOrEqual(ideal * 0.85);
      expect(span).toBeLessThanOrEqual(ideal * 2);
    }
    console.log(`backfill by 2 processes over ${regions.length} account-regions, ${elapsed.toFixed(1)} s in all:\n  ${lines.join('\n  ')}`);
    for (const region of regions) {
      const inStore = (await db.store.db.query<{ event_id: string }>('SELECT event_id FROM events WHERE region = $1 ORDER BY event_id', [region])).rows.map((r) => r.event_id);
      expect(inStore).toEqual(sorted(lookupIds(BASE_ACCOUNT, region)));
    }
    expect((await storedIds(db.store)).length).toBeGreaterThan(4 * N);
  });
});
