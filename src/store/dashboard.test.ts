import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRecords } from '../../bench/lib/generate/index.ts';
import { createTestDatabase } from '../../test/helpers/db.ts';
import type { RawRecord, TrailEvent } from '../events/model.ts';
import { normalize } from '../events/normalize.ts';
import { isConsoleChange } from '../flows/housekeeping.ts';
import { buildReport } from '../reports/index.ts';
import { clickOps } from './dashboard.ts';
import { openStore, type Store } from './index.ts';

/**
 * ClickOps is one definition: the dashboard's charts count exactly the events the `clickops` flow's
 * isConsoleChange accepts and the monthly ClickOps report counts (real PostgreSQL, a month of generated
 * trail with its sign-ins, housekeeping calls, denied and failed console writes).
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let events: TrailEvent[];

beforeAll(async () => {
  db = await createTestDatabase('trailbot_clickops');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  const generated = [...generateRecords({ count: 6000, start: new Date('2025-03-03T00:00:00Z'), days: 28, seed: 5 })].map((raw) => ({ event: normalize(raw as RawRecord), raw: raw as RawRecord }));
  await store.ingest(generated);
  events = generated.map((g) => g.event);
});

afterAll(async () => {
  await store?.close();
  await db?.drop();
});

describe('ClickOps counts', () => {
  it('the charts, the clickops flow and the monthly report count the same changes', async () => {
    const until = Date.parse('2025-03-30T12:00:00.500Z');
    const d = await clickOps(store.db, until);
    const since = Date.parse(d.since);
    const inWindow = (e: TrailEvent) => Date.parse(e.time!) >= since && Date.parse(e.time!) <= until;
    const changes = events.filter((e) => inWindow(e) && isConsoleChange(e));
    expect(changes.length).toBeGreaterThan(10);
    expect(d.total).toBe(changes.length);

    // What the definition leaves out is there to be left out: sign-ins, housekeeping, denied and failed attempts.
    const console = events.filter((e) => inWindow(e) && e.via === 'console' && e.readOnly !== true);
    expect(console.some((e) => e.outcome === 'success' && !isConsoleChange(e))).toBe(true);
    expect(console.some((e) => e.outcome !== 'success')).toBe(true);

    const report = await buildReport(store, 'clickops', { since: d.since, until: new Date(until + 1).toISOString() });
    const current = report.sections.find((s) => s.id === 'totals')!.rows[0]!;
    expect(current.changes).toBe(d.total);

    const byPerson = new Map<string, number>();
    for (const e of changes) {
      const who = e.actor.email ?? e.actor.name ?? '';
      byPerson.set(who, (byPerson.get(who) ?? 0) + 1);
    }
    const top = [...byPerson.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
    expect(d.byPerson.map((c) => c.n)).toEqual(top.map(([, n]) => n));
    expect(d.perDay).toHaveLength(30);
    expect(d.perDay.reduce((a, b) => a + b.n, 0)).toBe(d.total);
  });
});
