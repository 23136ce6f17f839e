import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { allIngestible } from '../../test/helpers/fixtures.ts';
import { openStore, type Store } from '../store/index.ts';
import { getReport, listReports, runScheduledReport } from './scheduled.ts';

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  await store.ingest(allIngestible());
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

describe('scheduled reports', () => {
  const schedules = [{ id: 'weekly-denied', kind: 'denied' as const }, { id: 'monthly-clickops', kind: 'clickops' as const, period: '3650d' }];

  it('builds the configured report for the period ending now and keeps it once, however often the job runs', async () => {
    const now = new Date('2024-08-05T08:00:30Z');
    const first = await runScheduledReport(store, schedules, { report: 'weekly-denied' }, now);
    expect(first).toMatchObject({ created: true, kind: 'denied', since: '2024-07-29T08:00:00.000Z', until: '2024-08-05T08:00:00.000Z' });
    expect(first.rows).toBeGreaterThan(0);
    const retried = await runScheduledReport(store, schedules, { report: 'weekly-denied' }, new Date('2024-08-05T08:00:50Z'));
    expect(retried).toMatchObject({ id: first.id, created: false });
    const kept = await getReport(store, first.id);
    expect(kept?.report.kind).toBe('denied');
    expect(kept?.report.sections.some((s) => s.rows.length > 0)).toBe(true);
  });

  it('honours a configured period and an explicit range, and lists what it kept, newest first', async () => {
    const c = await runScheduledReport(store, schedules, { report: 'monthly-clickops' }, new Date('2025-01-01T00:00:00Z'));
    expect(c.since).toBe('2015-01-04T00:00:00.000Z'); // 3650 days: ten years less three leap days
    const explicit = await runScheduledReport(store, schedules, { report: 'weekly-denied', since: '2019-01-01T00:00:00Z', until: '2020-01-01T00:00:00Z' });
    expect([explicit.since, explicit.until]).toEqual(['2019-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z']);
    const list = await listReports(store);
    expect(list.map((r) => r.id)).toEqual(expect.arrayContaining([c.id, explicit.id]));
    expect((await listReports(store, { reportId: 'monthly-clickops' })).map((r) => r.id)).toEqual([c.id]);
  });

  it('covers the period ending at the scheduled fire time, not at the time of a retry a day later', async () => {
    const firedAt = '2024-08-12T08:00:00.042Z';
    const onTime = await runScheduledReport(store, schedules, { report: 'weekly-denied', at: firedAt }, new Date('2024-08-12T08:00:01Z'));
    expect(onTime).toMatchObject({ since: '2024-08-05T08:00:00.000Z', until: '2024-08-12T08:00:00.000Z' });
    const retried = await runScheduledReport(store, schedules, { report: 'weekly-denied', at: firedAt }, new Date('2024-08-13T09:30:00Z'));
    expect(retried).toMatchObject({ id: onTime.id, created: false, since: onTime.since, until: onTime.until });
  });

  it('refuses a report that is not configured, naming the ones that are', async () => {
    await expect(runScheduledReport(store, schedules, { report: 'nope' })).rejects.toThrow(/no report "nope" is configured/);
  });
});
