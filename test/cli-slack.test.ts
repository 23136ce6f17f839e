import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SlackStandin, startSlackStandin } from '../src/integrations/slack/standin/index.ts';
import { createTestDatabase } from './helpers/db.ts';

const BIN = join(import.meta.dirname, '../bin/trailbot.js');

function trailbot(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TRAILBOT_DATA_DIR: join(tmpdir(), 'trailbot-cli-unused'), ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('trailbot config check --connect with SLACK_BOT_TOKEN', () => {
  let slack: SlackStandin;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    slack = await startSlackStandin();
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await slack?.close();
    await db?.drop();
  });

  it('checks the token with auth.test and says whose it is', async () => {
    const r = await trailbot(['config', 'check', '--connect'], { DATABASE_URL: db.url, ...slack.env() });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Slack: the bot token works (bot user U0TRAILBOT in team T0STANDIN)');
    expect(slack.requests.filter((q) => q.method === 'auth.test')).toHaveLength(1);
  });

  it('a wrong token fails with E_SLACK_AUTH naming SLACK_BOT_TOKEN, without printing it', async () => {
    const token = 'xoxb-1111-wrong-token-for-this-workspace';
    const r = await trailbot(['config', 'check', '--connect'], { DATABASE_URL: db.url, ...slack.env(), SLACK_BOT_TOKEN: token });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/E_SLACK_AUTH: Slack refused checking the bot token \(auth\.test\): invalid_auth .*SLACK_BOT_TOKEN/);
    expect(r.stdout + r.stderr).not.toContain(token);
  });

  it('without --connect, Slack is not called', async () => {
    const before = slack.requests.length;
    const r = await trailbot(['config', 'check'], { ...slack.env() });
    expect(r.code).toBe(0);
    expect(slack.requests.length).toBe(before);
  });
});
