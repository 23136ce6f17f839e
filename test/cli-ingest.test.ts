import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../src/config/index.ts';
import { wirePipeline } from '../src/main.ts';
import { startService } from '../src/runtime/service.ts';
import { createSources } from '../src/sources/index.ts';
import { openStore } from '../src/store/index.ts';
import { createTestDatabase } from './helpers/db.ts';
import { waitFor } from './helpers/wait.ts';

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
  eventTime: '2026-01-15T12:00:00Z',
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
