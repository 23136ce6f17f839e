import { beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readConfig } from '../../../config/index.ts';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trailAccess } from './access.ts';

/** A user-group reader that counts its calls and can be made slow or broken. */
function groups(members: Record<string, string[]>) {
  const state = { calls: 0, fail: false, delayMs: 0 };
  return {
    state,
    port: {
      async usergroupMembers(id: string): Promise<string[]> {
        state.calls++;
        if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
        if (state.fail) throw new Error('E_SLACK_UNAVAILABLE: Slack answered 503');
        return members[id] ?? [];
      },
    },
  };
}

describe('who may use /trail', () => {
  it('nobody without an allow-list', async () => {
    for (const allow of [undefined, { users: [], usergroups: [], channels: [] }]) {
      const a = trailAccess({ allow });
      expect(a.configured).toBe(false);
      expect(await a.check({ userId: 'U0ANYONE', channelId: 'C0ANY' })).toEqual({ allowed: false, why: 'no-allow-list' });
    }
  });

  it('listed users, anyone in a listed channel, members of a listed user group; nobody else', async () => {
    const g = groups({ S0ANALYSTS: ['U0ANALYST'] });
    const a = trailAccess({ allow: { users: ['U0LEAD'], usergroups: ['S0ANALYSTS'], channels: ['C0SECURITY'] }, slack: g.port });
    expect(await a.check({ userId: 'U0LEAD', channelId: 'D0DM' })).toEqual({ allowed: true, by: 'user' });
    expect(await a.check({ userId: 'U0VISITOR', channelId: 'C0SECURITY' })).toEqual({ allowed: true, by: 'channel' });
    expect(await a.check({ userId: 'U0ANALYST', channelId: 'C0RANDOM' })).toEqual({ allowed: true, by: 'usergroup', usergroup: 'S0ANALYSTS' });
    expect(await a.check({ userId: 'U0VISITOR', channelId: 'C0RANDOM' })).toEqual({ allowed: false, why: 'not-listed' });
    expect(await a.check({ userId: 'U0VISITOR' })).toEqual({ allowed: false, why: 'not-listed' });
  });

  it('reads a user group once per 5 minutes, and once for many commands at the same moment', async () => {
    let now = 1_000_000;
    const g = groups({ S0ANALYSTS: ['U0ANALYST'] });
    g.state.delayMs = 20;
    const a = trailAccess({ allow: { users: [], usergroups: ['S0ANALYSTS'], channels: [] }, slack: g.port, now: () => now });
    const verdicts = await Promise.all(Array.from({ length: 50 }, (_, i) => a.check({ userId: i % 2 ? 'U0ANALYST' : 'U0OTHER' })));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(25);
    expect(g.state.calls).toBe(1);
    now += 4 * 60_000;
    await a.check({ userId: 'U0ANALYST' });
    expect(g.state.calls).toBe(1);
    now += 2 * 60_000;
    await a.check({ userId: 'U0ANALYST' });
    expect(g.state.calls).toBe(2);
  });

  it('refuses when a user group cannot be read (down, too slow), and asks again next time', async () => {
    const g = groups({ S0ANALYSTS: ['U0ANALYST'] });
    g.state.fail = true;
    const a = trailAccess({ allow: { users: ['U0LEAD'], usergroups: ['S0ANALYSTS'], channels: [] }, slack: g.port, timeoutMs: 100 });
    expect(await a.check({ userId: 'U0ANALYST' })).toMatchObject({ allowed: false, why: 'lookup-failed', detail: expect.stringContaining('S0ANALYSTS') });
    // Listed users do not depend on the lookup.
    expect(await a.check({ userId: 'U0LEAD' })).toEqual({ allowed: true, by: 'user' });
    g.state.fail = false;
    g.state.delayMs = 300;
    const t0 = performance.now();
    expect(await a.check({ userId: 'U0ANALYST' })).toMatchObject({ allowed: false, why: 'lookup-failed', detail: expect.stringContaining('longer than 100 ms') });
    expect(performance.now() - t0).toBeLessThan(250);
    g.state.delayMs = 0;
    await new Promise((r) => setTimeout(r, 300));
    expect(await a.check({ userId: 'U0ANALYST' })).toMatchObject({ allowed: true, by: 'usergroup' });
  });

  it('without a Slack client (no bot token here), says it cannot tell when only a user group could allow', async () => {
    const noToken = trailAccess({ allow: { users: ['U0LEAD'], usergroups: ['S0ANALYSTS'], channels: ['C0SECURITY'] } });
    expect(await noToken.check({ userId: 'U0ANALYST' })).toEqual({ allowed: 'unknown', why: 'no-slack-client' });
    expect(await noToken.check({ userId: 'U0LEAD' })).toEqual({ allowed: true, by: 'user' });
    expect(await noToken.check({ userId: 'U0ANALYST', channelId: 'C0SECURITY' })).toEqual({ allowed: true, by: 'channel' });
    // No user groups listed: nothing to defer, a plain no.
    expect(await trailAccess({ allow: { users: ['U0LEAD'], usergroups: [], channels: [] } }).check({ userId: 'U0ANALYST' })).toEqual({ allowed: false, why: 'not-listed' });
  });
});

describe('slack.trail.allow in trailbot.config.yaml', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'trailbot-allow-'));
  });
  const read = (yaml: string) => {
    writeFileSync(join(dir, 'trailbot.config.yaml'), yaml);
    return readConfig({}, { cwd: dir });
  };

  it('is read with its ids, and absent means nobody', () => {
    expect(read('slack:\n  trail:\n    allow:\n      users: [U012AB3CD]\n      usergroups: [S0614TZR7]\n      channels: [C024BE91L, G0PRIVATE]\n').slackTrail.allow).toEqual({
      users: ['U012AB3CD'],
      usergroups: ['S0614TZR7'],
      channels: ['C024BE91L', 'G0PRIVATE'],
    });
    expect(read('slack:\n  trail:\n    allow:\n      channels: [C024BE91L]\n').slackTrail.allow).toEqual({ users: [], usergroups: [], channels: ['C024BE91L'] });
    expect(read('accounts: []\n').slackTrail.allow).toBeUndefined();
  });

  it('trailbot config check says who may use /trail, and that nobody may without a list (a line, not an error)', async () => {
    const check = async (yaml: string) => {
      writeFileSync(join(dir, 'trailbot.config.yaml'), yaml);
      const { stdout } = await promisify(execFile)(process.execPath, [join(import.meta.dirname, '../../../../bin/trailbot.js'), 'config', 'check'], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TRAILBOT_DATA_DIR: join(dir, 'data') },
      });
      return stdout.split('\n').find((l) => l.includes('/trail in Slack'));
    };
    expect(await check('accounts: []\n')).toBe('  /trail in Slack: nobody may use it (no slack.trail.allow in trailbot.config.yaml: list users, usergroups or channels)');
    expect(await check('slack:\n  trail:\n    allow:\n      users: [U012AB3CD, U012AB3CE]\n      channels: [C024BE91L]\n')).toBe('  /trail in Slack: allowed to 2 users, 0 user groups, 1 channel (slack.trail.allow)');
  });

  it('names what is wrong: names instead of ids, unknown keys', () => {
    expect(() => read('slack:\n  trail:\n    allow:\n      users: ["@alana"]\n      channels: ["#security"]\n')).toThrow(
      /slack\.trail\.allow\.users\[0\]: expected a Slack user id such as U012AB3CD .*names and @handles are not ids[\s\S]*slack\.trail\.allow\.channels\[0\]: expected a Slack channel id such as C024BE91L/,
    );
    expect(() => read('slack:\n  trail:\n    allow:\n      user: [U012AB3CD]\n')).toThrow(/slack\.trail\.allow\.user: unknown setting under slack\.trail\.allow/);
    expect(() => read('slack:\n  trail:\n    allow: U012AB3CD\n')).toThrow(/expected allow: \{ users: \[U…\], usergroups: \[S…\], channels: \[C…\] \}/);
  });
});
