import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ingestible } from '../events/model.ts';
import { openStore, spanOf, type Store } from '../store/index.ts';
import { firstEvent, newestEvents } from '../actions/finding-events.ts';
import { at, record, records, replay, toEvent } from '../../test/fixtures/flows/load.ts';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { parseFlowsConfig } from './config.ts';
import { evaluateFlows, findingEventIds, findingsPage, getFinding, listFindings, setFindingStatus } from './index.ts';

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

  it('finds in the worker what it finds in memory for events with sub-second times, and reads their findings\' events back', async () => {
    // The worker's path (main.ts): the job's events read back from the store with their span, then the
    // flows. A sub-second time must come back as stored, or the request-reading flows do not get the
    // record (no finding: the snapshot looks unshared) and a finding's events are not found by id and time.
    const cfg = parseFlowsConfig({});
    const raws = [record('records/stratus-aws.exfiltration.ec2-share-ebs-snapshot.json', 'ModifySnapshotAttribute'), record('records/stratus-aws.defense-evasion.vpc-remove-flow-logs.json', 'DeleteFlowLogs')].map(
      // A year after the fixtures' own (a finding of its own), a quarter of a second past the second.
      (r, i) => ({ ...r, eventID: `sub-second-${i}`, eventTime: String(r.eventTime).replace('2024-', '2025-').replace('Z', '.250Z') }),
    );
    const batch = ingestibles(raws);
    const ids = batch.map((b) => b.event.eventId);
    await store.ingest(batch);
    const read = await store.events(ids, spanOf(batch.map((b) => b.event.time)));
    expect(read).toEqual(batch.map((b) => b.event).sort((a, b) => a.time!.localeCompare(b.time!)));
    const r = await evaluateFlows(store, read, cfg);
    expect(r.findings.map((f) => f.flow).sort()).toEqual(['ebs-snapshot-shared', 'logging-disabled']);
    for (const f of r.findings) {
      const first = await firstEvent(store.db, f.id);
      expect(first?.eventId, f.flow).toBe(ids[f.flow === 'ebs-snapshot-shared' ? 0 : 1]);
      expect((await newestEvents(store.db, f.id, 5)).map((e) => e.eventId), f.flow).toEqual([first!.eventId]);
    }
    // finding_events keeps each event's own time: the joins on (event_id, time) find every one.
    const joined = await store.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM finding_events fe JOIN events e ON e.event_id = fe.event_id AND e.time = fe.time WHERE fe.event_id = ANY($1::text[])',
      [ids],
    );
    expect(joined.rows[0]!.n).toBe(2);
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

  /** Reads the feed from `after` to its end, a page of `limit` at a time. */
  async function drain(after: string | undefined, limit: number): Promise<{ ids: string[]; next: string; pages: number }> {
    const ids: string[] = [];
    let cursor = after;
    for (let pages = 1; pages < 100; pages++) {
      const page = await findingsPage(store.db, { after: cursor, limit });
      expect(typeof page.next).toBe('string');
      ids.push(...page.findings.map((f) => f.id));
      if (page.findings.length === 0) return { ids, next: page.next, pages };
      cursor = page.next;
    }
    throw new Error('the feed never ended');
  }

  it('pages the feed with a cursor: findings sharing one updated_at across page boundaries come through once each, and paging ends', async () => {
    const all = await listFindings(store.db, {});
    expect(all.length).toBeGreaterThanOrEqual(4);
    // Every finding changed at the very same instant: a time cursor cannot split them into pages.
    const same = new Date('2024-09-01T00:00:00Z');
    for (const f of all) await setFindingStatus(store.db, f.id, 'open', same);
    const { ids, next, pages } = await drain(undefined, 2);
    expect(ids.sort()).toEqual(all.map((f) => f.id).sort());
    expect(pages).toBe(Math.ceil(all.length / 2) + 1); // the last one empty
    // At the end the cursor stays put: polling again returns nothing and the same cursor.
    const again = await findingsPage(store.db, { after: next, limit: 2 });
    expect(again).toEqual({ findings: [], next });
  });

  it('shows an old finding changed after the reader\'s cursor on the next poll, once', async () => {
    const end = await drain(undefined, 500);
    const oldest = end.ids[0]!;
    expect(await setFindingStatus(store.db, oldest, 'resolved')).toBe(true);
    const next = await drain(end.next, 500);
    expect(next.ids).toEqual([oldest]);
    expect((await drain(next.next, 500)).ids).toEqual([]);
  });

  it('filters on updated_since as a time (microseconds kept) alongside the cursor', async () => {
    const all = await listFindings(store.db, {});
    const last = all[all.length - 1]!;
    expect(last.updatedAt).toMatch(/\.\d{6}Z$/);
    expect(await listFindings(store.db, { updatedSince: last.updatedAt })).toEqual([]);
  });

  it('refuses a cursor it did not make', async () => {
    await expect(findingsPage(store.db, { after: 'yesterday' })).rejects.toMatchObject({ code: 'E_USAGE', hint: expect.stringMatching(/next/) });
  });

  it('does not let a reader skip a change committed late by a concurrent writer (two connections, one transaction held open)', async () => {
    const start = await drain(undefined, 500);
    const [a, b] = (await listFindings(store.db, {})).slice(0, 2);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let inside!: () => void;
    const entered = new Promise<void>((r) => {
      inside = r;
    });
    // Writer A changes a finding and keeps its transaction open.
    const writerA = store.db.transaction(async (tx) => {
      await setFindingStatus(tx, a!.id, 'acknowledged');
      inside();
      await gate;
    });
    await entered;
    // Writer B, on another connection, changes another finding meanwhile.
    let bDone = false;
    const writerB = setFindingStatus(store.db, b!.id, 'acknowledged').then(() => {
      bDone = true;
    });
    await new Promise((r) => setTimeout(r, 200));
    // The reader polls while A is still open: whatever it gets, its cursor must not pass A's change.
    const during = await drain(start.next, 500);
    release();
    await Promise.all([writerA, writerB]);
    expect(bDone).toBe(true);
    const after = await drain(during.next, 500);
    expect([...during.ids, ...after.ids].sort()).toEqual([a!.id, b!.id].sort());
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

  it('pages the feed with a cursor here too, and a status change shows on the next poll', async () => {
    const first = await findingsPage(store.db, { limit: 1 });
    expect(first.findings).toHaveLength(1);
    const rest = await findingsPage(store.db, { after: first.next, limit: 500 });
    const end = rest.findings.length ? rest.next : first.next;
    expect((await findingsPage(store.db, { after: end })).findings).toEqual([]);
    const id = first.findings[0]!.id;
    expect(await setFindingStatus(store.db, id, 'resolved')).toBe(true);
    const changed = await findingsPage(store.db, { after: end });
    expect(changed.findings.map((f) => [f.id, f.status])).toEqual([[id, 'resolved']]);
    expect(Number(changed.next)).toBeGreaterThan(Number(end));
  });
});
