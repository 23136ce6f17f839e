import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ingestible } from '../events/model.ts';
import { normalize } from '../events/normalize.ts';
import { openStore, type Store } from '../store/index.ts';
import { at, record, records, replay } from '../../test/fixtures/flows/load.ts';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { buildReport, csvField, renderReport } from './index.ts';

const R = 'records/';
const ing = (raws: Record<string, unknown>[]): Ingestible[] => raws.map((raw) => ({ event: normalize(raw), raw }));

describe('reports over the store', () => {
  let store: Store;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    const db = await createTestDatabase('trailbot_reports');
    drop = db.drop;
    store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
    const denied = records(`${R}stratus-aws.credential-access.ec2-get-password-data.json`); // 2024-07-30
    const scpOld = replay(at(`${R}denied.json`, 0), 2, 60, '2024-07-24T10:00:00Z'); // the week before
    const scpNow = replay(at(`${R}denied.json`, 0), 3, 60, '2024-07-29T10:00:00Z');
    const change = record(`${R}writes-iam.json`, 'UploadSSHPublicKey');
    const clicksNow = replay(change, 5, 3600, '2024-07-29T08:00:00Z');
    const clicksBefore = replay(change, 2, 3600, '2024-07-22T08:00:00Z');
    const vpc = replay(record(`${R}writes-network.json`, 'CreateVpc'), 3, 600, '2024-07-30T08:00:00Z');
    const signIns = replay(at(`${R}aws-docs-examples.json`, 1), 4, 60, '2024-07-29T07:00:00Z');
    await store.ingest(ing([...denied, ...scpOld, ...scpNow, ...clicksNow, ...clicksBefore, ...vpc, ...signIns, ...records(`${R}aws-docs-examples.json`)]));
  });
  afterAll(async () => {
    await store?.close();
    await drop?.();
  });
  const week = { since: '2024-07-28T00:00:00Z', until: '2024-08-04T00:00:00Z' };

  it('denied calls: by service and action, with regions, principals and what is new since last week', async () => {
    const r = await buildReport(store, 'denied', week);
    const calls = r.sections.find((s) => s.id === 'calls')!;
    const gpd = calls.rows.find((x) => x.action === 'GetPasswordData')!;
    expect(gpd).toMatchObject({ service: 'ec2.amazonaws.com', count: 30, isNew: true });
    const scp = calls.rows.find((x) => x.action === 'DescribeTrustedAdvisorChecks')!;
    expect(scp).toMatchObject({ count: 3, isNew: false, principals: 'james@jsherz.com' });
    expect(r.sections.find((s) => s.id === 'new')!.rows.map((x) => x.action)).toEqual(expect.arrayContaining(['GetPasswordData']));
    expect(r.sections.find((s) => s.id === 'new')!.rows.map((x) => x.action)).not.toContain('DescribeTrustedAdvisorChecks');
    const md = renderReport(r, 'md');
    expect(md).toMatch(/^# Denied calls\n/);
    expect(md).toContain('| ec2.amazonaws.com | GetPasswordData | 30 |');
  });

  it('ClickOps: by person and resource, with the trend against the previous period; sign-ins left out', async () => {
    const r = await buildReport(store, 'clickops', week);
    const totals = r.sections.find((s) => s.id === 'totals')!.rows;
    expect(totals).toEqual([
      { period: 'This period', changes: 8, people: 2, resources: 2 },
      { period: 'Previous period', changes: 2, people: 1, resources: 1 },
    ]);
    const people = r.sections.find((s) => s.id === 'people')!.rows;
    expect(people).toContainEqual({ person: 'Alice', changes: 5, previous: 2, trend: '+150%', resources: 1 });
    expect(people).toContainEqual({ person: 'tester/tester', changes: 3, previous: 0, trend: 'new', resources: 1 });
    const top = r.sections.find((s) => s.id === 'resources')!.rows[0]!;
    expect(top).toMatchObject({ resource: 'arn:aws:iam::0123456789012:user/Alice', changes: 5, people: 1 });
  });

  it('inactive identities: no calls in the period, sessions of a role counted as the role', async () => {
    const r = await buildReport(store, 'inactive', { since: '2024-07-01T00:00:00Z', until: '2024-08-04T00:00:00Z' });
    const ids = r.sections[0]!.rows.map((x) => `${String(x.identity)}@${String(x.account)}`);
    expect(ids).toContain('Alice@123456789012'); // AWS docs examples from 2014
    expect(ids).not.toContain('Alice@0123456789012'); // changed things in the console in July 2024
    expect(ids).not.toContain('anaya@111122223333'); // signed in in July 2024
    expect(ids.some((x) => x.startsWith('stratus-red-team-ec2-get-password-data-role@'))).toBe(false);
    expect(r.sections[0]!.rows.find((x) => x.identity === 'Alice' && x.account === '123456789012')).toMatchObject({ kind: 'IAM user' });
    expect(r.intro).toContain('(34 days)');
  });

  it('CSV: one table, RFC 4180 quoting, formulas defused', async () => {
    const r = await buildReport(store, 'denied', week);
    const csv = renderReport(r, 'csv');
    expect(csv.split('\r\n')[0]).toBe('section,service,action,count,regions,principals,isNew,principal,account,actions');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField(-3)).toBe('-3');
    expect(csvField(null)).toBe('');
    expect(JSON.parse(renderReport(r, 'json')).kind).toBe('denied');
  });

  it('refuses an empty period with a usage error', async () => {
    await expect(buildReport(store, 'denied', { since: week.until, until: week.since })).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
