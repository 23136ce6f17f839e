import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/helpers/db.ts';
import { openStore, type Store } from '../../store/index.ts';
import { addressKey, ANONYMOUS_ROWS_PER_MINUTE, audit, auditAnonymous, listAudit } from './store.ts';

/** The audit log against PostgreSQL: anonymous refusals and views coalesced, the rest kept one by one. */

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;

beforeAll(async () => {
  db = await createTestDatabase('trailbot_audit');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
});
afterAll(async () => {
  await store?.close();
  await db?.drop();
});

const T = Date.parse('2026-03-01T10:00:05Z');
const refusal = (ip: string, reason = 'malformed') => ({ action: 'refused' as const, actor: null, ip, userAgent: 'curl', outcome: 'refused', detail: { reason, method: 'GET' }, reason });

describe('auditAnonymous', () => {
  it('one row per (action, address, reason) a minute, counting every one; a new minute, address or reason starts a row', async () => {
    const seqs = async () => (await listAudit(store.db, { action: 'refused', limit: 1000 })).length;
    const rows0 = await seqs();
    for (let i = 0; i < 50; i++) await auditAnonymous(store.db, refusal('198.51.100.7'), T + i * 100);
    expect(await seqs()).toBe(rows0 + 1);
    const [row] = await listAudit(store.db, { action: 'refused', limit: 1 });
    expect(row).toMatchObject({ actor: null, ip: '198.51.100.7', count: 50, detail: { reason: 'malformed', method: 'GET', coalesced: { by: '198.51.100.7', minute: '2026-03-01T10:00:00.000Z' } } });
    expect(row!.lastAt).not.toBeNull();
    await auditAnonymous(store.db, refusal('198.51.100.7'), T + 60_000);
    await auditAnonymous(store.db, refusal('198.51.100.8'), T);
    await auditAnonymous(store.db, refusal('198.51.100.7', 'signature'), T);
    expect(await seqs()).toBe(rows0 + 4);
    // Entries of a signed-in person, decisions and actions are never coalesced.
    for (let i = 0; i < 3; i++) await audit(store.db, { action: 'refused', actor: 'eve@corp.example', ip: '198.51.100.7', outcome: 'refused', detail: { reason: 'not-an-approver' } });
    const eve = (await listAudit(store.db, { action: 'refused', limit: 3 })).map((r) => [r.actor, r.count, r.lastAt]);
    expect(eve).toEqual([['eve@corp.example', 1, null], ['eve@corp.example', 1, null], ['eve@corp.example', 1, null]]);
  });

  it('an IPv6 client counts by its /64; past ANONYMOUS_ROWS_PER_MINUTE rows in a minute, new addresses share one row', async () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::5')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(addressKey(null)).toBe('-');
    const t = Date.parse('2026-03-01T11:00:00Z');
    for (let i = 1; i <= 20; i++) await auditAnonymous(store.db, refusal(`2001:db8:1:2::${i.toString(16)}`), t);
    const six = (await listAudit(store.db, { action: 'refused', limit: 1 }))[0]!;
    expect(six).toMatchObject({ ip: '2001:db8:1:2::1', count: 20, detail: { coalesced: { by: '2001:db8:1:2::/64' } } });

    const u = Date.parse('2026-03-01T12:00:00Z');
    const before = (await listAudit(store.db, { limit: 10_000 })).length;
    for (let i = 0; i < ANONYMOUS_ROWS_PER_MINUTE + 30; i++) await auditAnonymous(store.db, refusal(`10.${i >> 8}.${i & 255}.1`), u);
    const rows = (await listAudit(store.db, { limit: 10_000 })).slice(0, -before);
    expect(rows).toHaveLength(ANONYMOUS_ROWS_PER_MINUTE + 1);
    expect(rows[0]).toMatchObject({ count: 30, detail: { coalesced: { by: 'many addresses' } } });
  }, 30_000);

  it('the counts only grow: the table refuses lowering one, rewriting a row, deleting or truncating (the log stays append-only)', async () => {
    const fails = (sql: string) => expect(store.db.query(sql)).rejects.toThrow(/only counts up|append-only/);
    await fails(`UPDATE audit_repeats SET count = 1 WHERE count > 1`);
    await fails(`UPDATE audit_repeats SET reason = 'other'`);
    await fails(`UPDATE audit_repeats SET seq = NULL`);
    await fails(`DELETE FROM audit_repeats`);
    await fails(`TRUNCATE audit_repeats`);
    await fails(`DELETE FROM audit_log`);
  });
});
