import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../src/config/index.ts';
import { wirePipeline } from '../src/main.ts';
import { startService } from '../src/runtime/service.ts';
import { createSources } from '../src/sources/index.ts';
import { openStore } from '../src/store/index.ts';
import { createTestDatabase } from './helpers/db.ts';
import { exited, waitFor } from './helpers/wait.ts';

/**
 * `trailbot ingest` as an operator runs it: a real child process. What it stores must reach the
 * flows (the next worker's outbox drainer evaluates it).
 */
const BIN = join(import.meta.dirname, '../bin/trailbot.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function trailbot(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

const deleteUser = {
  eventVersion: '1.09',
  // An hour ago: within store.retention, so the store-maintenance job the service runs at start cannot
  // delete it before the outbox drainer has it evaluated (a fixed date had fallen past the 90 days).
  eventTime: new Date(Date.now() - 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  eventSource: 'iam.amazonaws.com',
  eventName: 'DeleteUser',
  awsRegion: 'us-east-1',
  sourceIPAddress: '203.0.113.7',
  userAgent: 'aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64',
  eventID: '5f0c7a52-1b6e-4d1a-9c3e-cli-ingest-flows',
  eventType: 'AwsApiCall',
  readOnly: false,
  recipientAccountId: '111111111111',
  requestParameters: { userName: 'old-contractor' },
  userIdentity: { type: 'IAMUser', principalId: 'AIDAEXAMPLE', arn: 'arn:aws:iam::111111111111:user/maria', accountId: '111111111111', userName: 'maria' },
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trailbot-cli-ingest-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('trailbot ingest reaches the flows', () => {
  it('records what it stored in the flows outbox; the next worker with flows evaluates it into a finding', { timeout: 60_000 }, async () => {
    const db = await createTestDatabase();
    const file = join(dir, 'delete-user.json');
    await writeFile(file, JSON.stringify({ Records: [deleteUser] }));
    try {
      const r = await trailbot(['ingest', file], { DATABASE_URL: db.url, TRAILBOT_DATA_DIR: join(dir, 'unused') });
      expect(r.stderr).toMatch(/1 events new/);
      expect(r.code).toBe(0);

      const config = readConfig({ DATABASE_URL: db.url, TRAILBOT_QUEUE: 'inline', TRAILBOT_QUEUE_NAME: 'cli-ingest', LOG_LEVEL: 'silent' }, { cwd: dir });
      const sources = createSources({ config });
      // The drainer's default waits 10 s before it takes a row (its own ingest enqueues it meanwhile); shortened here.
      const service = await startService({ config, role: 'all', listen: false, pipeline: wirePipeline(config, sources), outbox: { everyMs: 100, minAgeMs: 0 } });
      try {
        const finding = await waitFor('the finding of the CLI-ingested DeleteUser', async () => {
          const f = await service.store.db.query<{ flow: string }>("SELECT flow FROM findings WHERE flow = 'iam-user-created-or-deleted'");
          return f.rows[0];
        }, 20_000);
        expect(finding.flow).toBe('iam-user-created-or-deleted');
        await waitFor('the outbox to be empty', async () => (await service.store.db.query('SELECT 1 FROM flow_outbox')).rowCount === 0, 10_000);
      } finally {
        await service.close();
        await sources.close();
      }
    } finally {
      await db.drop();
    }
  });

  it('writes the outbox row with the events, in their transaction', async () => {
    // The store the CLI opens for ingest writes the outbox row in the events' transaction.
    const db = await createTestDatabase();
    try {
      const file = join(dir, 'delete-user-2.json');
      await writeFile(file, JSON.stringify({ Records: [{ ...deleteUser, eventID: `${deleteUser.eventID}-2` }] }));
      expect((await trailbot(['ingest', '-q', file], { DATABASE_URL: db.url, TRAILBOT_DATA_DIR: join(dir, 'unused') })).code).toBe(0);
      const s = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
      try {
        const rows = await s.outbox.pending({ minAgeMs: 0 });
        expect(rows.map((x) => x.eventIds)).toEqual([[`${deleteUser.eventID}-2`]]);
      } finally {
        await s.close();
      }
    } finally {
      await db.drop();
    }
  });
});

describe('trailbot ingest stopped by Ctrl-C or SIGTERM', () => {
  const records = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ ...deleteUser, eventName: 'GetUser', eventID: `${prefix}-${i}` }));

  /**
   * Four log files, then a pipe nobody writes to (the command waits on it, as on a slow disk or
   * stdin). Four files load ahead of the one being parsed, so the pipe is opened only once the first
   * file is loaded and parsed: when the test's writer gets through, that file is in hand. Then the signal.
   */
  async function interrupted(signal: 'SIGINT' | 'SIGTERM'): Promise<{ code: number | null; stderr: string; dataDir: string; read: string[] }> {
    const run = await mkdtemp(join(dir, `${signal}-`));
    const dataDir = join(run, 'data');
    const files: string[] = [];
    const read: string[] = [];
    for (let f = 0; f < 4; f++) {
      const file = join(run, `${f}.json`);
      const recs = records(`${signal}-${f}`, 3);
      await writeFile(file, JSON.stringify({ Records: recs }));
      files.push(file);
      read.push(...recs.map((r) => r.eventID));
    }
    const fifo = join(run, 'pipe.json');
    execFileSync('mkfifo', [fifo]);
    const child = spawn(process.execPath, [BIN, 'ingest', ...files, fifo], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TRAILBOT_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const writer = await open(fifo, 'w');
    try {
      expect(existsSync(join(dataDir, 'trailbot.lock'))).toBe(true);
      process.kill(child.pid!, signal);
      await waitFor('the command to take the signal', async () => stderr.includes(`trailbot: ${signal}:`) || child.exitCode !== null, 20_000);
    } finally {
      // A read blocked on a pipe holds one of Node's threads, and no Node process can exit before it
      // returns: the pipe's end lets it. The command has stopped reading by now, so the pipe is not read.
      await writer.close();
    }
    return { code: await exited(child), stderr, dataDir, read };
  }

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('on %s: stores what it read, prints what it stored and what it did not, releases the lock and exits %i', { timeout: 90_000 }, async (signal, status) => {
    const r = await interrupted(signal);
    expect(r.code, r.stderr).toBe(status);
    expect(r.stderr).toContain(`trailbot: ${signal}: storing what was read, then stopping (again to quit at once)`);
    const m = /trailbot: stopped by (SIG\w+): ingested (\d+) files: (\d+) events new, 0 duplicate, 0 rejected in [\d.]+ s; (\d+) files? (?:was|were) not read \(ingesting the same paths again adds only what is missing\)/.exec(r.stderr);
    expect(m, r.stderr).not.toBeNull();
    const [, by, files, inserted, unread] = m!;
    expect(by).toBe(signal);
    expect(Number(files)).toBeGreaterThanOrEqual(1);
    expect(Number(files) + Number(unread)).toBe(5);
    expect(Number(inserted)).toBe(Number(files) * 3);
    expect(existsSync(join(r.dataDir, 'trailbot.lock'))).toBe(false);
    // What it said it stored is in the store (which the next command opens: the lock is gone).
    const search = await trailbot(['search', '--event-name', 'GetUser', '--since', '2020-01-01', '--limit', '1000', '--json'], { TRAILBOT_DATA_DIR: r.dataDir });
    expect(search.code, search.stderr).toBe(0);
    const ids = (JSON.parse(search.stdout) as { events: { eventId: string }[] }).events.map((e) => e.eventId).sort();
    expect(ids).toEqual(r.read.slice(0, Number(inserted)).sort());
  });

  it('does not wait for the end of stdin once stopped', { timeout: 90_000 }, async () => {
    const run = await mkdtemp(join(dir, 'stdin-'));
    const dataDir = join(run, 'data');
    const file = join(run, 'a.json');
    await writeFile(file, JSON.stringify({ Records: records('stdin', 2) }));
    // stdin stays open and silent: the command waits on it until the signal.
    const child = spawn(process.execPath, [BIN, 'ingest', file, '-'], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TRAILBOT_DATA_DIR: dataDir }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    try {
      await waitFor('the store to be opened', async () => existsSync(join(dataDir, 'trailbot.lock')) || child.exitCode !== null, 30_000);
      process.kill(child.pid!, 'SIGINT');
      expect(await exited(child), stderr).toBe(130);
      expect(stderr).toMatch(/trailbot: stopped by SIGINT: ingested \d files: \d events new, .*; ((1 file was|2 files were) not read|no file was read)/);
      expect(existsSync(join(dataDir, 'trailbot.lock'))).toBe(false);
    } finally {
      child.stdin!.end();
    }
  });
});
