import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfig } from '../src/config/index.ts';
import type { TrailbotError } from '../src/errors.ts';
import { parseSources } from '../src/sources/config.ts';

/**
 * The one time grammar (src/time.ts) as people meet it: CLI options, trailbot.config.yaml durations,
 * and the reports' cron patterns and time zones checked by `trailbot config check`.
 */

const BIN = join(import.meta.dirname, '../bin/trailbot.js');

function trailbot(args: string[], cwd: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TRAILBOT_DATA_DIR: join(cwd, 'data'), ...env } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const dir = (yaml?: string): string => {
  const d = mkdtempSync(join(tmpdir(), 'trailbot-times-'));
  if (yaml !== undefined) writeFileSync(join(d, 'trailbot.config.yaml'), yaml);
  return d;
};

function configError(yaml: string): string {
  try {
    readConfig({}, { cwd: dir(yaml) });
  } catch (e) {
    expect((e as TrailbotError).code).toBe('E_CONFIG_INVALID');
    return (e as TrailbotError).message;
  }
  throw new Error('expected the configuration to be refused');
}

describe('CLI times', () => {
  it.each([
    [['trail', 'x', '--since', '99999999999d'], /E_USAGE: --since "99999999999d" is longer than 3650d/],
    [['trail', 'x', '--since', '2024-08-01 junk'], /E_USAGE: --since "2024-08-01 junk" is not a time/],
    [['trail', 'x', '--since', '2024-02-30'], /E_USAGE: --since "2024-02-30" is not a time/],
    [['trail', 'x', '--since', '2024-08-02', '--until', '2024-08-01'], /E_USAGE: --since "2024-08-02" \(2024-08-02T00:00:00.000Z\) is after --until "2024-08-01"/],
    [['search', '--until', '99999999999d'], /E_USAGE: --until "99999999999d" is longer than 3650d/],
    [['report', 'denied', '--since', '2024-08-01 junk'], /E_USAGE: --since "2024-08-01 junk" is not a time/],
    [['report', 'denied', '--since', '2024-08-02', '--until', '2024-08-01'], /E_USAGE: --since "2024-08-02" .* is after --until "2024-08-01"/],
    [['sources', 'poll', '--max-run', '99999999999d'], /E_USAGE: --max-run "99999999999d" is longer than/],
    [['sources', 'poll', '--max-run', '1.5m'], /E_USAGE: --max-run "1.5m" is not a duration/],
    [['sources', 'lookup', 'x', '--timeout', '99999999999d'], /E_USAGE: --timeout "99999999999d" is longer than/],
  ])('%j exits 2 with a clear message', async (args, message) => {
    const r = await trailbot(args, dir());
    expect(r.stderr).toMatch(message);
    expect(r.code).toBe(2);
  });
});

describe('config durations', () => {
  it('takes the same durations as the CLI: backfill: 2w, every: 1h30m', () => {
    const c = readConfig({}, { cwd: dir('sources:\n  - id: bucket\n    kind: s3\n    bucket: my-trail\n    backfill: 2w\n    every: 1h30m\n') });
    const [s] = parseSources(c);
    expect(s).toMatchObject({ id: 'bucket', backfill: 14 * 86_400_000 });
    expect(c.sources[0]!.every).toBe('1h30m');
  });

  it('refuses durations out of bounds, naming the setting, never crashing', () => {
    // The runtime's own fields (every, period) are checked first; each source's kind-specific ones once those pass.
    const top = configError('sources:\n  - id: look\n    kind: lookup\n    regions: [eu-west-1]\n    every: 99999999999d\nreports:\n  - id: weekly\n    kind: denied\n    pattern: "0 8 * * 1"\n    period: 2024-08-01 junk\n');
    expect(top).toContain('sources[0].every: every "99999999999d" is longer than 3650d, the most it can be');
    expect(top).toContain('reports[0].period: period "2024-08-01 junk" is not a duration');
    const kinds = configError('sources:\n  - id: bucket\n    kind: s3\n    bucket: my-trail\n    backfill: 99999999999d\n  - id: look\n    kind: lookup\n    regions: [eu-west-1]\n    backfill: 91d\n');
    expect(kinds).toContain('sources[0].backfill (bucket): backfill "99999999999d" is longer than 3650d');
    expect(kinds).toContain('sources[1].backfill (look): backfill "91d" is longer than 90d, the most it can be (use a duration from 1m to 90d, e.g. 90d)');
  });
});

describe('config: report schedules', () => {
  it('checks cron patterns and time zones when the configuration is read, naming the report', () => {
    const m = configError(
      'reports:\n  - id: weekly\n    kind: denied\n    pattern: "0 25 * * 1"\n  - id: daily\n    kind: denied\n    pattern: "0 8 * * *"\n    tz: Mars/Olympus\n  - id: fine\n    kind: denied\n    pattern: "0 8 * * 1-5"\n    tz: Europe/Paris\n',
    );
    expect(m).toMatch(/reports\[0\]\.pattern: report weekly: "0 25 \* \* 1" is not a cron pattern \(.*25.*\)/);
    expect(m).toMatch(/reports\[1\]\.tz: report daily: "Mars\/Olympus" is not a time zone/);
    expect(m).not.toContain('fine');
  });

  it('refuses a schedule that fires more often than once a minute (a 6-field pattern whose seconds field matches more than one second)', () => {
    const m = configError(
      'reports:\n  - id: every-second\n    kind: denied\n    pattern: "* * * * * *"\n  - id: twice\n    kind: denied\n    pattern: "0,30 * * * * *"\n  - id: at-five\n    kind: denied\n    pattern: "5 * * * * *"\n  - id: minutely\n    kind: denied\n    pattern: "* * * * *"\n',
    );
    expect(m).toMatch(/^2 settings are wrong:/);
    expect(m).toContain('reports[0].pattern: report every-second: "* * * * * *" fires every second (60 times a minute); a report runs at most once a minute: put one second in the first field, e.g. 0 * * * * *, or use 5 fields');
    expect(m).toContain('reports[1].pattern: report twice: "0,30 * * * * *" fires 2 times a minute');
    expect(m).not.toContain('at-five');
    expect(m).not.toContain('minutely');
  });

  it('`trailbot config check` exits 2 naming the report and what is wrong', async () => {
    const bad = await trailbot(['config', 'check'], dir('reports:\n  - id: weekly\n    kind: denied\n    pattern: "0 8 31 2 *"\n    tz: Mars/Olympus\n'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/E_CONFIG_INVALID/);
    expect(bad.stderr).toMatch(/reports\[0\]\.pattern: report weekly: "0 8 31 2 \*" is not a cron pattern/);
    expect(bad.stderr).toMatch(/reports\[0\]\.tz: report weekly: "Mars\/Olympus" is not a time zone/);
    const often = await trailbot(['config', 'check'], dir('reports:\n  - id: flood\n    kind: denied\n    pattern: "* * * * * *"\n'));
    expect(often.code).toBe(2);
    expect(often.stderr).toMatch(/reports\[0\]\.pattern: report flood: "\* \* \* \* \* \*" fires every second/);

    const good = await trailbot(['config', 'check'], dir('sources:\n  - id: bucket\n    kind: s3\n    bucket: my-trail\n    backfill: 2w\nreports:\n  - id: weekly\n    kind: denied\n    pattern: "0 8 * * 1"\n    tz: Europe/Paris\n    period: 2w\n'));
    expect(good.stderr).toBe('');
    expect(good.code).toBe(0);
  });
});
