import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getExecution, recordPlan } from '../../src/actions/approvals/execute.ts';
import { DENY_ALL_ARN, proposePlan, reversePlan } from '../../src/actions/approvals/plan.ts';
import { createIamAccess, type IamAccess } from '../../src/integrations/aws/iam-access.ts';
import { DEFAULT_BASE_CREDENTIALS, type Standins, startStandins } from '../../src/integrations/aws/standins/index.ts';
import { enqueue } from '../../src/runtime/enqueue.ts';
import { openQueue } from '../../src/runtime/open.ts';
import type { JobQueue } from '../../src/runtime/queue.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { needRedis } from '../helpers/services.ts';
import { dropRedisQueue, exited, uniqueName, waitFor } from './helpers.ts';

beforeAll(needRedis);

/**
 * Issue 11: an approved deactivation carried out by a real `trailbot serve` (PostgreSQL store, Redis
 * queue, the real IAMClient and STSClient against the IAM and STS stand-ins in this process), in a
 * member account reached through `accounts[].roleName`. The stand-in carries out the second
 * UpdateAccessKey and holds its answer; the serve is SIGKILLed right then, with that step recorded as
 * running. A new serve takes the job again after the lock (TRAILBOT_JOB_LOCK 2s), checks the key
 * against the account, finds it Inactive, and finishes the rest: each IAM change made exactly once,
 * counted in the stand-in's request log. Then the reactivation, queued the same way, restores the keys.
 */
const BIN = join(import.meta.dirname, '../../bin/trailbot.js');
const MEMBER = '111111111111';
const ROLE = 'TrailbotResponder';

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('trailbot serve carrying out an approved deactivation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'trailbot-remediate-'));
  const queueName = uniqueName('rem');
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: Store;
  let queue: JobQueue;
  let aws: Standins;
  let access: IamAccess;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('trailbot_remediate');
    store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
    queue = await openQueue({ queue: { backend: 'redis', name: queueName, concurrency: 1 }, redisUrl: TEST_REDIS_URL, databaseUrl: db.url }, store);
    aws = await startStandins({ accounts: [MEMBER], roleName: ROLE, throttle: false });
    const config = { aws: { endpoints: { default: aws.url } }, accounts: [{ id: MEMBER, roleName: ROLE }], sources: [] } as never;
    access = createIamAccess({ config, credentials: { accessKeyId: DEFAULT_BASE_CREDENTIALS.accessKeyId, secretAccessKey: DEFAULT_BASE_CREDENTIALS.secretAccessKey } });
    writeFileSync(join(dir, 'trailbot.config.yaml'), `accounts:\n  - id: "${MEMBER}"\n    roleName: ${ROLE}\n`);
  }, 30_000);
  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
      await exited(c);
    }
    access?.destroy();
    await queue?.close();
    await store?.close();
    await db?.drop();
    await aws?.close();
    await dropRedisQueue(queueName);
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  async function serve(): Promise<ChildProcess> {
    const env = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      NODE_ENV: 'test',
      DATABASE_URL: db.url,
      REDIS_URL: TEST_REDIS_URL,
      TRAILBOT_QUEUE_NAME: queueName,
      TRAILBOT_CONFIG: join(dir, 'trailbot.config.yaml'),
      TRAILBOT_JOB_LOCK: '2s',
      PORT: String(await freePort()),
      LOG_LEVEL: 'info',
      ...aws.env(),
    };
    const child = spawn(process.execPath, [BIN, 'serve'], { env, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let err = '';
    child.stdout!.resume();
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    await waitFor('trailbot serve to start', async () => err.includes('Stop with Ctrl-C') || (child.exitCode !== null && Promise.reject(new Error(err))), 30_000, 100);
    return child;
  }

  it('SIGKILLed in the middle of the plan, then restarted: the plan finishes with each IAM change made once; the reactivation restores the keys', { timeout: 90_000 }, async () => {
    const seeded = aws.iam.createUser(MEMBER, 'mallory', { keys: 2, loginProfile: true });
    const [k1, k2] = seeded.accessKeys.map((k) => k.accessKeyId) as [string, string];
    // What the approval side does: the dry run from the live account, the approved plan recorded, the job queued.
    const plan = await proposePlan(await access.forAccount(MEMBER), { kind: 'iam-user', account: MEMBER, userName: 'mallory', arn: null, name: 'mallory', email: null });
    expect(aws.iam.writes()).toHaveLength(0);
    await recordPlan(store.db, 'appr-crash-1', plan);

    // The second key's change is made, then its answer held: the serve dies waiting for it.
    aws.iam.faults.hold({ ms: 60_000, match: { action: 'UpdateAccessKey', params: (p) => p.AccessKeyId === k2 } });
    const first = await serve();
    await enqueue(queue, 'remediate', { approvalId: 'appr-crash-1' });
    await waitFor('the second key change to be held', async () => aws.iam.faults.holding === 1, 30_000);
    first.kill('SIGKILL');
    await exited(first);
    aws.iam.faults.clear();

    expect(aws.iam.user(MEMBER, 'mallory')!.accessKeys.map((k) => k.status)).toEqual(['Inactive', 'Inactive']);
    const mid = (await getExecution(store.db, 'appr-crash-1'))!;
    expect(mid.steps.map((s) => [s.id, s.state])).toEqual([
      [`key-${k1}-inactive`, 'done'],
      [`key-${k2}-inactive`, 'running'],
      ['login-profile-delete', 'pending'],
      ['deny-all-attach', 'pending'],
    ]);

    const second = await serve();
    const done = await waitFor('the plan to finish', async () => {
      const e = await getExecution(store.db, 'appr-crash-1');
      return e?.state === 'done' ? e : undefined;
    }, 30_000);
    expect(done.steps.map((s) => [s.state, s.outcome])).toEqual([
      ['done', 'changed'],
      ['done', 'changed'],
      ['done', 'changed'],
      ['done', 'changed'],
    ]);
    expect(done.steps[1]!.attempts).toBe(2);
    const state = aws.iam.user(MEMBER, 'mallory')!;
    expect(state.accessKeys.map((k) => k.status)).toEqual(['Inactive', 'Inactive']);
    expect(state.loginProfile).toBeNull();
    expect(state.attachedPolicies).toEqual([DENY_ALL_ARN]);
    // Each change once, all of them in the member account (through the assumed role).
    const writes = aws.iam.writes();
    expect(writes.map((w) => [w.operation, (w.params as Record<string, string>).AccessKeyId ?? null])).toEqual([
      ['UpdateAccessKey', k1],
      ['UpdateAccessKey', k2],
      ['DeleteLoginProfile', null],
      ['AttachUserPolicy', null],
    ]);
    expect(new Set(writes.map((w) => w.accountId))).toEqual(new Set([MEMBER]));

    // The reactivation, approved the same way: keys Active, the deny detached; the password does not come back.
    const back = reversePlan(plan, done.steps, { approvalId: 'appr-crash-1' });
    await recordPlan(store.db, 'appr-crash-1-back', back);
    await enqueue(queue, 'remediate', { approvalId: 'appr-crash-1-back' });
    await waitFor('the reactivation', async () => (await getExecution(store.db, 'appr-crash-1-back'))?.state === 'done', 30_000);
    const after = aws.iam.user(MEMBER, 'mallory')!;
    expect(after.accessKeys.map((k) => k.status)).toEqual(['Active', 'Active']);
    expect(after.attachedPolicies).toEqual([]);
    expect(after.loginProfile).toBeNull();
    expect(back.notes.some((n) => n.includes('cannot come back'))).toBe(true);
    second.kill('SIGTERM');
    expect(await exited(second)).toBe(0);
  });
});
