import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ingestible } from '../events/model.ts';
import { openStore, type Store } from '../store/index.ts';
import { at, record, records, replay, toEvent } from '../../test/fixtures/flows/load.ts';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { parseFlowsConfig } from './config.ts';
import { evaluateFlows, findingEventIds, getFinding, listFindings, setFindingStatus } from './index.ts';

function ingestibles(raws: Record<string, unknown>[]): Ingestible[] {
  return raws.map((r) => {
    const e = toEvent(r);
    return { event: e.event, raw: r };
  });
}

const config = parseFlowsConfig({ 'unauthorized-api-calls': { params: { moreThan: 4, window: '1h' } } });

describe('evaluateFlows against PostgreSQL', () => {
  let store: Store;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase('trailbot_flows');
    drop = db.drop;
    store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  });
  afterAll(async () => {
    await store?.close();
    await drop?.();
  });

  it('opens a finding, renders it, and does not double counts when the same events are evaluated again', async () => {
    const batch = ingestibles([record('records/stratus-aws.defense-evasion.vpc-remove-flow-logs.json', 'DeleteFlowLogs')]);
    await store.ingest(batch);
    const first = await evaluateFlows(store, batch, config, new Date('2024-08-01T00:00:00Z'));
    expect(first.created).toBe(1);
    const f = first.findings.find((x) => x.flow === 'logging-disabled')!;
    expect(f.count).toBe(1);
    expect(f.title).toBe('VPC flow logs turned off: christophe deleted the VPC flow log fl-0e17aa62a21d4bbfe');
    expect(f.jira.type).toBe('doc');
    expect(f.slack).toContain('*What to do next:*');

    const again = await evaluateFlows(store, batch, config);
    expect(again.created).toBe(0);
    expect(again.findings).toEqual([]);
    expect((await getFinding(store.db, f.id))!.count).toBe(1);
  });

  it('counts a threshold across batches and joins later events to the open finding, once each', async () => {
    const denied = records('records/stratus-aws.credential-access.ec2-get-password-data.json').filter((r) => r.eventName === 'GetPasswordData');
    const all = ingestibles(denied);
    await store.ingest(all);
    // Three batches: below the threshold, crossing it, then a retry of everything.
    const a = await evaluateFlows(store, all.slice(0, 3), config);
    expect(a.findings.filter((x) => x.flow === 'unauthorized-api-calls')).toEqual([]);
    const b = await evaluateFlows(store, all.slice(3, 12), config);
    const opened = b.findings.find((x) => x.flow === 'unauthorized-api-calls')!;
    expect(opened.count).toBe(12);
    const c = await evaluateFlows(store, all, config);
    const joined = c.findings.find((x) => x.flow === 'unauthorized-api-calls')!;
    expect(joined.id).toBe(opened.id);
    expect(joined.count).toBe(denied.length);
    expect(await findingEventIds(store.db, opened.id)).toHaveLength(denied.length);
    // A retried job changes nothing.
    const d = await evaluateFlows(store, all, config);
    expect(d.findings).toEqual([]);
    expect((await getFinding(store.db, opened.id))!.count).toBe(denied.length);
  });

  it('learns first-seen baselines from the store across batches', async () => {
    const cfg = parseFlowsConfig({ 'unexpected-region': { params: { learningPeriod: '1d' } } });
    const old = at('records/aws-docs-examples.json', 11); // account 123456789012, us-east-2, 2014
    const later = record('records/writes-logging.json', 'StopLogging'); // same account, us-west-2, 2019
    await store.ingest(ingestibles([old, later]));
    const r1 = await evaluateFlows(store, ingestibles([old]), cfg);
    expect(r1.findings.filter((f) => f.flow === 'unexpected-region')).toEqual([]);
    const r2 = await evaluateFlows(store, ingestibles([later]), cfg);
    const region = r2.findings.find((f) => f.flow === 'unexpected-region')!;
    expect(region.title).toContain('First activity in region us-west-2 in account 123456789012');
    expect(region.key).toBe('unexpected-region:account-region:123456789012:us-west-2');
  });

  it('lists findings changed since a time, and records status changes', async () => {
    const all = await listFindings(store.db, {});
    expect(all.length).toBeGreaterThan(0);
    const last = all[all.length - 1]!;
    expect(await listFindings(store.db, { updatedSince: last.updatedAt })).toEqual([]);
    expect(await setFindingStatus(store.db, last.id, 'acknowledged')).toBe(true);
    const changed = await listFindings(store.db, { updatedSince: last.updatedAt });
    expect(changed.map((f) => [f.id, f.status])).toEqual([[last.id, 'acknowledged']]);
  });

  it('replayed console failures cross the sign-in threshold once', async () => {
    const failed = at('records/aws-docs-examples.json', 2);
    const burst = ingestibles(replay(failed, 6, 60));
    await store.ingest(burst);
    const r = await evaluateFlows(store, burst, config);
    expect(r.findings.filter((f) => f.flow === 'console-login-failures').map((f) => f.count)).toEqual([6]);
  });
});

describe('evaluateFlows on the embedded store (PGlite)', () => {
  let dir: string;
  let store: Store;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trailbot-flows-'));
    store = await openStore({ dataDir: dir });
  });
  afterAll(async () => {
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the same SQL: a finding, then nothing new on retry', async () => {
    const batch = ingestibles([record('records/stratus-aws.persistence.iam-create-admin-user.json', 'AttachUserPolicy')]);
    await store.ingest(batch);
    const r = await evaluateFlows(store, batch, config);
    expect(r.findings.map((f) => f.flow)).toContain('admin-policy-attached');
    expect((await evaluateFlows(store, batch, config)).findings).toEqual([]);
  });
});
