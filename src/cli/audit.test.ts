import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { audit, auditAnonymous } from '../actions/approvals/store.ts';
import { openStore } from '../store/index.ts';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { main } from './main.ts';

/**
 * `trailbot audit` prints what people outside sent: the reason of a refused sign-in is the provider's
 * `error` from the callback's query string, which anyone can send to /auth/callback once they started a
 * sign-in of their own. Terminal control sequences in it must not reach the operator's terminal.
 */

let db: Awaited<ReturnType<typeof createTestDatabase>>;
const saved = { ...process.env };

beforeAll(async () => {
  db = await createTestDatabase('trailbot_audit_cli');
  const store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  try {
    await audit(store.db, { action: 'sign-in-refused', actor: null, ip: '203.0.113.9', outcome: 'refused', detail: { reason: 'provider: \u001b]0;owned\u0007\u001b[2J\u001b[1A\rapproved\u009b31m' } });
    await audit(store.db, { action: 'refused', actor: 'ana@corp.example\u001b[8m', ip: '203.0.113.9', outcome: 'refused', target: 'arn:aws:iam::123456789012:user/ivan', detail: { reason: 'csrf' } });
    const now = Date.now(); // one minute for the three, whenever the test runs
    for (let i = 0; i < 3; i++) await auditAnonymous(store.db, { action: 'refused', actor: null, ip: '198.51.100.1', outcome: 'refused', detail: { reason: 'malformed' }, reason: 'malformed' }, now);
  } finally {
    await store.close();
  }
  process.env.DATABASE_URL = db.url;
  process.env.LOG_LEVEL = 'silent';
});

afterAll(async () => {
  process.env = saved;
  await db?.drop();
});

describe('trailbot audit', () => {
  it('prints the entries with control characters shown, not sent to the terminal', async () => {
    let out = '';
    const code = await main(['audit'], { out: (s) => (out += s), err: () => undefined, tty: false });
    expect(code).toBe(0);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    // Coalesced refusals of nobody: one line, saying how many.
    expect(lines[1]).toMatch(/refused .*198\.51\.100\.1 .*malformed, ×3 in that minute, the last at \d\d:\d\d:\d\d$/);
    // Nothing but printable text and the line ends: no ESC, BEL, CR or C1 control.
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(lines[3]).toContain('provider: \\x1b]0;owned\\x07\\x1b[2J');
    expect(lines[2]).toContain('ana@corp.example\\x1b[8m');
    // --json keeps the values as they are (JSON escapes them).
    let json = '';
    await main(['audit', '--json'], { out: (s) => (json += s), err: () => undefined, tty: false });
    expect(json).not.toMatch(/\u001b/);
    expect((JSON.parse(json) as { detail: { reason: string } }[])[2]!.detail.reason).toContain('\u001b]0;owned');
    expect((JSON.parse(json) as { count: number }[])[0]!.count).toBe(3);
  });
});
