import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawRecord } from '../events/model.ts';
import { openStore, type Store } from '../store/index.ts';
import { call, iamUser } from '../../test/fixtures/flows/build.ts';
import { toEvent } from '../../test/fixtures/flows/load.ts';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { compileFlows, type CompiledFlows } from './compile.ts';
import { parseFlowsConfig } from './config.ts';
import { defineFlow } from './define.ts';
import { Detector } from './detector.ts';
import { fold, loadRequest, matchEvents } from './engine/index.ts';
import { byActor } from './match.ts';
import { applyChanges, loadSnapshot, lockFindings } from './store.ts';

/**
 * Threshold flows that count distinct values (`distinctBy`), and keys that read the request: a
 * probe flow counting the secrets one principal reads (more than 2 within 1h), grouped by region
 * read from the request's ARN, so both reads of the record are exercised.
 */
const probe = defineFlow({
  id: 'probe-distinct',
  kind: 'threshold',
  severity: 'high',
  description: 'Probe: many secrets read.',
  runbook: 'None.',
  params: { moreThan: 2, window: '1h' },
  dedupPeriod: '1h',
  allow: [],
  actions: ['GetSecretValue', 'BatchGetSecretValue'],
  needsRequest: true,
  match: (e) => e.service === 'secretsmanager.amazonaws.com',
  key: (e, _p, env) => `${byActor(e)}|${env.request(e).str('secretId')?.split(':')[3] ?? e.region ?? ''}`,
  distinctBy: (e, _p, env) => (e.action === 'BatchGetSecretValue' ? env.request(e).strings('secretIdList') : env.request(e).str('secretId')),
});

const compiled = (moreThan = 2): CompiledFlows => compileFlows(parseFlowsConfig({}), [{ ...probe, params: { ...probe.params, moreThan } }]);

function read(secret: string | null, minute: number, who = 'alice'): RawRecord {
  return call({
    source: 'secretsmanager.amazonaws.com',
    name: 'GetSecretValue',
    identity: iamUser(who),
    time: new Date(Date.UTC(2024, 5, 3, 9, minute)).toISOString().replace('.000Z', 'Z'),
    request: secret === null ? {} : { secretId: `arn:aws:secretsmanager:eu-west-1:111122223333:secret:${secret}` },
  });
}

function batch(secrets: string[], minute: number): RawRecord {
  return call({
    source: 'secretsmanager.amazonaws.com',
    name: 'BatchGetSecretValue',
    time: new Date(Date.UTC(2024, 5, 3, 9, minute)).toISOString().replace('.000Z', 'Z'),
    request: { secretIdList: secrets.map((s) => `arn:aws:secretsmanager:eu-west-1:111122223333:secret:${s}`) },
  });
}

function detect(raws: RawRecord[], c = compiled(), batchSize = raws.length) {
  const d = new Detector(parseFlowsConfig({}), c);
  for (let i = 0; i < raws.length; i += batchSize) d.push(raws.slice(i, i + batchSize).map(toEvent));
  return d.findings();
}

describe('distinctBy: thresholds on distinct values', () => {
  it('does not fire on many reads of the same two secrets, and fires on the third distinct one', () => {
    const same = Array.from({ length: 20 }, (_, i) => read(i % 2 ? 'db-a' : 'db-b', i));
    expect(detect(same)).toEqual([]);
    const f = detect([...same, read('db-c', 21)]);
    expect(f).toHaveLength(1);
    expect(f[0]!.count).toBe(21); // every read in the window joins
  });

  it('counts exactly: 2 distinct is not more than 2, 3 is', () => {
    expect(detect([read('a', 0), read('b', 1)])).toEqual([]);
    expect(detect([read('a', 0), read('b', 1), read('c', 2)])).toHaveLength(1);
    expect(detect([read('a', 0), read('b', 1), read('c', 2)], compiled(3))).toEqual([]);
  });

  it('counts within the window only', () => {
    expect(detect([read('a', 0), read('b', 30), read('c', 61)])).toEqual([]);
    expect(detect([read('a', 0), read('b', 30), read('c', 59)])).toHaveLength(1);
  });

  it('counts every value one event names (BatchGetSecretValue of three secrets)', () => {
    expect(detect([batch(['a', 'b', 'c'], 0)])).toHaveLength(1);
    expect(detect([batch(['a', 'b'], 0), read('a', 1), read('b', 2)])).toEqual([]);
  });

  it('lets an event naming no value join an open finding without counting towards one', () => {
    expect(detect([read(null, 0), read(null, 1), read('a', 2), read('b', 3)])).toEqual([]);
    const f = detect([read('a', 0), read('b', 1), read('c', 2), read(null, 3)]);
    expect(f.map((x) => x.count)).toEqual([4]);
  });

  it('groups by the key read from the request (the secret’s region) and by principal', () => {
    const other = read('c', 2);
    (other.requestParameters as Record<string, string>).secretId = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:c';
    expect(detect([read('a', 0), read('b', 1), other])).toEqual([]);
    expect(detect([read('a', 0), read('b', 1), read('c', 2, 'bob')])).toEqual([]);
  });

  it('keeps counting right after a batch that arrived late (an earlier event after a later one)', () => {
    expect(detect([read('b', 10), read('a', 0), read('c', 20)], compiled(), 1).map((x) => x.count)).toEqual([3]);
    expect(detect([read('b', 10), read('a', 0), read('a', 30), read('b', 40)], compiled(), 1)).toEqual([]);
  });

  it('counts the same whatever the batch sizes and the order within batches', () => {
    const events = [read('a', 0), read('a', 5), read('b', 10), read('b', 15), read('c', 20), read('d', 80), read('e', 85), read('a', 90), read('f', 100)];
    const shape = (f: ReturnType<typeof detect>) => f.map((x) => `${x.firstSeen} ${x.count}`);
    const one = shape(detect(events));
    expect(one).toEqual(['2024-06-03T09:00:00Z 5', '2024-06-03T10:20:00Z 4']);
    for (const size of [1, 2, 4]) {
      const batches: RawRecord[] = [];
      for (let i = 0; i < events.length; i += size) batches.push(...events.slice(i, i + size).reverse());
      expect(shape(detect(batches, compiled(), size))).toEqual(one);
    }
  });
});

describe('distinctBy against PostgreSQL: the values are kept with the hits', () => {
  let store: Store;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase('trailbot_distinct');
    drop = db.drop;
    store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  });
  afterAll(async () => {
    await store?.close();
    await drop?.();
  });

  /** What evaluateFlows does, with the probe flow's compiled catalog. */
  async function evaluate(c: CompiledFlows, raws: RawRecord[]): Promise<{ opened: number; joined: number }> {
    const items = raws.map(toEvent);
    const env = c.env(new Map(items.map((x) => [x.event.eventId, x.raw!])));
    const { matches } = matchEvents(c, items, env);
    const req = loadRequest(matches);
    return store.db.transaction(async (tx) => {
      const at = await lockFindings(tx);
      const ch = fold(matches, await loadSnapshot(tx, req), env, { keepEvents: false });
      await applyChanges(tx, c, ch, at);
      return { opened: ch.newFindings.length, joined: ch.joins.length };
    });
  }

  it('counts distinct values across batches loaded back from the store, once each on a retry', async () => {
    const c = compiled();
    const first = [read('s1', 0), read('s1', 1), read('s2', 2)];
    expect(await evaluate(c, first)).toEqual({ opened: 0, joined: 0 });
    const rows = await store.db.query<{ distinct_values: string[] | null }>("SELECT distinct_values FROM flow_hits WHERE flow = 'probe-distinct' ORDER BY time");
    expect(rows.rows.map((r) => r.distinct_values)).toEqual([
      ['arn:aws:secretsmanager:eu-west-1:111122223333:secret:s1'],
      ['arn:aws:secretsmanager:eu-west-1:111122223333:secret:s1'],
      ['arn:aws:secretsmanager:eu-west-1:111122223333:secret:s2'],
    ]);
    // Another read of s1 and s2: still two secrets.
    expect(await evaluate(c, [read('s2', 3), read('s1', 4)])).toEqual({ opened: 0, joined: 0 });
    // A third secret, in a batch of its own: the window's values come from the store.
    const third = [batch(['s3'], 5)];
    expect(await evaluate(c, third)).toEqual({ opened: 1, joined: 6 });
    expect(await evaluate(c, [...first, ...third])).toEqual({ opened: 0, joined: 0 });
    // A read with no secret named is stored without values.
    await evaluate(c, [read(null, 6)]);
    const last = await store.db.query<{ distinct_values: string[] | null }>("SELECT distinct_values FROM flow_hits WHERE flow = 'probe-distinct' ORDER BY time DESC LIMIT 1");
    expect(last.rows[0]!.distinct_values).toBeNull();
  });
});
