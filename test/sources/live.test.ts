import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { limiterKeyFor } from '../../src/integrations/aws/cloudtrail.ts';
import { memoryLimiter } from '../../src/integrations/aws/limiter.ts';
import { type Standins, startStandins } from '../../src/integrations/aws/standins/index.ts';
import { BASE_CLIENT_CREDENTIALS } from '../../src/integrations/aws/standins/testing.ts';
import { createSources, type Sources } from '../../src/sources/index.ts';
import { describePartial } from '../../src/sources/live.ts';
import { storeSink } from '../../src/sources/sink.ts';
import { unwrap } from '../../src/events/envelopes.ts';
import { BASE_ACCOUNT, MIN, synthRecords, testConfig, testStore, type TestDb } from './helpers.ts';

/**
 * Live lookup for /trail: one person, every account-region at once, by user name and by each access
 * key the store knows for them; merged newest first without duplicates; what did not answer is named.
 */
const MEMBER = '111111111111';
const STRANGER = '999999999999';
const KEY = 'AKIAMARIA00000000001';
let aws: Standins;
let db: TestDb;
let sources: Sources;
const limiter = memoryLimiter();
const now = Date.now();

const hers = synthRecords(6, { account: BASE_ACCOUNT, region: 'eu-west-1', newest: now - 2 * MIN, user: 'maria', accessKeyId: KEY, seed: 'live-a' });
const inMember = synthRecords(3, { account: MEMBER, region: 'eu-west-1', newest: now - 3 * MIN, user: 'maria', accessKeyId: 'AKIAMARIA00000000002', seed: 'live-b' });
const global = synthRecords(2, { account: BASE_ACCOUNT, newest: now - MIN, global: true, user: 'maria', accessKeyId: KEY, seed: 'live-c' });
// Her key under the name she had before a rename: only the access-key question finds these.
const renamed = synthRecords(2, { account: BASE_ACCOUNT, region: 'eu-west-1', newest: now - 10 * MIN, user: 'maria.old', accessKeyId: KEY, seed: 'live-d' });
const someoneElse = synthRecords(5, { account: BASE_ACCOUNT, region: 'eu-west-1', newest: now - MIN, user: 'omar', accessKeyId: 'AKIAOMAR000000000001', seed: 'live-e' });

beforeAll(async () => {
  aws = await startStandins({ accounts: [MEMBER], records: [...hers, ...inMember, ...global, ...renamed, ...someoneElse] });
  db = await testStore();
  // The store has seen maria use her key before (so the lookup asks about it too).
  await storeSink(db.store).put([...unwrap(hers[5], { file: 'earlier' })]);
  sources = createSources({
    config: testConfig({ sources: [{ id: 'org', kind: 'lookup', regions: ['eu-west-1'], roleName: 'TrailbotReader' }], accounts: [BASE_ACCOUNT, MEMBER, STRANGER], endpoint: aws.url }),
    credentials: BASE_CLIENT_CREDENTIALS,
    limiter,
  });
});
afterAll(async () => {
  await sources?.close();
  await aws?.close();
  await db?.close();
});

describe('live lookup', () => {
  it('asks every account-region by user name and by each known access key, merges newest first, and names what was denied', async () => {
    const r = await sources.live(db.store, { who: 'maria', timeoutMs: 8000 });
    const expected = [...hers, ...inMember, ...global, ...renamed].sort((a, b) => (a.eventTime < b.eventTime ? 1 : a.eventTime > b.eventTime ? -1 : a.eventID < b.eventID ? -1 : 1));
    expect(r.events.map((e) => e.eventId)).toEqual(expected.map((e) => e.eventID));
    expect(new Set(r.events.map((e) => e.eventId)).size).toBe(r.events.length);
    // 3 accounts × (eu-west-1, us-east-1) × (Username maria, AccessKeyId of hers)
    expect(r.queries).toHaveLength(12);
    expect(r.queries.filter((q) => q.attribute === 'AccessKeyId').map((q) => q.value)).toEqual(Array(6).fill(KEY));
    expect(r.partial.map((q) => [q.account, q.status])).toEqual(Array(4).fill([STRANGER, 'denied']));
    expect(r.note).toBe(`Partial: 2 of 6 account-regions did not answer in full (access denied: ${STRANGER}/eu-west-1, ${STRANGER}/us-east-1); events from there may be missing.`);
    expect(r.stored).toBe(0);
    expect(await db.store.count()).toBe(1); // nothing stored unless asked
  });

  it('says which account-regions were throttled when the budget is busy until the time limit', async () => {
    // The base account's eu-west-1 budget is taken (a backfill, another tool) for longer than the lookup may wait.
    // (Generous times: on a loaded machine the other account-regions must still answer within the limit.)
    await limiter.penalize(limiterKeyFor(BASE_ACCOUNT, 'eu-west-1'), 30_000);
    const t0 = performance.now();
    const r = await sources.live(db.store, { who: 'maria', timeoutMs: 4000, storeFound: true });
    expect(performance.now() - t0).toBeLessThan(10_000); // ends at the limit, not when the budget frees (30 s)
    const throttled = r.partial.filter((q) => q.status === 'throttled');
    expect(new Set(throttled.map((q) => `${q.account}/${q.region}`))).toEqual(new Set([`${BASE_ACCOUNT}/eu-west-1`]));
    expect(r.note).toMatch(new RegExp(`throttled: ${BASE_ACCOUNT}/eu-west-1`));
    // What did answer is there (and stored, as asked).
    expect(r.events.map((e) => e.eventId).sort()).toEqual([...inMember, ...global].map((e) => e.eventID).sort());
    expect(r.stored).toBe(5);
  });

  it('describes a complete answer plainly', () => {
    expect(describePartial(4, 2, [])).toBe('Complete: 4 account-regions answered every question.');
    expect(describePartial(0, 2, [])).toMatch(/configure a source of kind lookup/);
  });
});
