import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTicket } from '../../src/actions/jira/tickets.ts';
import { type JiraStandin, startJiraStandin } from '../../src/integrations/jira/standin/index.ts';
import { enqueue, ingestFileInput } from '../../src/runtime/enqueue.ts';
import { openQueue } from '../../src/runtime/open.ts';
import type { JobQueue } from '../../src/runtime/queue.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { needRedis } from '../helpers/services.ts';
import { record } from '../helpers/fixtures.ts';
import { type Backend, dropRedisQueue, exited, uniqueName, waitFor } from './helpers.ts';

beforeAll(needRedis);

/**
 * Issue 9: a worker killed after Jira created the ticket and before trailbot recorded its key must
 * not give the finding a second ticket. Real processes, the real jira.js client against the Jira
 * stand-in, a real SIGKILL at exactly that point (the fixture kills itself when the create request
 * has been answered), then a fresh worker: the notify job is taken again, searches the finding's
 * label before creating, finds the ticket and records it. Still one ticket.
 */
const WORKER = join(import.meta.dirname, 'fixtures/jira-worker.ts');

function spawnJiraWorker(backend: Backend, queue: string, databaseUrl: string, jiraEnv: Record<string, string>, kill: boolean): Promise<ChildProcess> {
  const child = spawn(process.execPath, [WORKER, backend, queue, databaseUrl, TEST_REDIS_URL, JSON.stringify(jiraEnv), kill ? '1' : '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.once('exit', (code, signal) => reject(new Error(`jira worker exited (${code ?? signal}) before it was ready: ${err}`)));
  });
}

describe.each(['redis', 'inline'] as const)('on the %s queue', (backend) => {
  const name = uniqueName(`jc${backend[0]}`);
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: Store | undefined;
  let queue: JobQueue | undefined;
  let jira: JiraStandin;
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    jira = await startJiraStandin({ indexDelayMs: 0 });
    dir = await mkdtemp(join(tmpdir(), 'trailbot-jira-crash-'));
  });
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await exited(c);
    }
    await queue?.close();
    await store?.close();
    await db?.drop();
    await jira?.close();
    await rm(dir, { recursive: true, force: true });
    if (backend === 'redis') await dropRedisQueue(name);
  });

  it('a worker SIGKILLed between the create request and recording it, then restarted: one ticket', { timeout: 90_000 }, async () => {
    const file = join(dir, 'trail.json');
    await writeFile(file, JSON.stringify({ Records: [record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04')] }));
    const first = await spawnJiraWorker(backend, name, db.url, jira.env(), true);
    children.push(first);
    store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
    queue = await openQueue({ queue: { backend, name, concurrency: 1 }, redisUrl: TEST_REDIS_URL, databaseUrl: db.url }, store);
    await enqueue(queue, 'ingest-file', await ingestFileInput(file));
    await exited(first);
    expect(first.signalCode).toBe('SIGKILL');
    // Jira has the ticket; trailbot's row is still the intent.
    expect(jira.issues()).toHaveLength(1);
    const findingId = (await store.db.query<{ id: string }>("SELECT id FROM findings WHERE flow = 'access-key-created'")).rows[0]!.id;
    expect(await currentTicket(store.db, findingId)).toMatchObject({ state: 'intent', attempts: 1, key: null });

    const second = await spawnJiraWorker(backend, name, db.url, jira.env(), false);
    children.push(second);
    const t = await waitFor('the ticket to be recorded', async () => {
      const x = await currentTicket(store!.db, findingId);
      return x?.state === 'created' ? x : undefined;
    }, 30_000);
    expect(t.key).toBe(jira.issues()[0]!.key);
    expect(jira.issues()).toHaveLength(1);
    expect(jira.requests.filter((r) => r.method === 'POST' && r.path === '/rest/api/3/issue')).toHaveLength(1);
  });
});
