import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DENY_ALL_ARN } from '../../src/actions/approvals/plan.ts';
import { type Approval, approvalsOf, type AuditRecord } from '../../src/actions/approvals/store.ts';
import { currentTicket } from '../../src/actions/jira/tickets.ts';
import type { RawRecord } from '../../src/events/model.ts';
import { DEFAULT_BASE_CREDENTIALS, type Standins, startStandins } from '../../src/integrations/aws/standins/index.ts';
import { type JiraStandin, startJiraStandin } from '../../src/integrations/jira/standin/index.ts';
import { statusById } from '../../src/integrations/jira/standin/site.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';
import { needRedis } from '../helpers/services.ts';
import { record } from '../helpers/fixtures.ts';
import { Browser, startOidcProvider, type TestProvider } from '../helpers/oidc.ts';
import { dropRedisQueue, exited, uniqueName, waitFor } from './helpers.ts';

beforeAll(needRedis);

/**
 * Approvals end to end through real `trailbot serve` processes (PostgreSQL store, Redis queue, a
 * watched folder): the Jira and AWS (IAM/STS) stand-ins and a real OpenID provider run in this test's
 * process. An IAM user's CreateAccessKey calls make a finding whose ticket carries the approval links;
 * an analyst signs in, approves, and the worker is SIGKILLed while IAM holds its answer to a write it
 * made; a new serve finishes the plan with each IAM change made once. The audit lists it (`trailbot
 * audit --json`, GET /api/audit), Jira got the comment and the move, and reactivation restores the keys.
 */
const BIN = join(import.meta.dirname, '../../bin/trailbot.js');
const BASE = DEFAULT_BASE_CREDENTIALS.accountId;
const SECRET = 'approval-secret-e2e-0123456789-0123456789';
const TOKEN = 'e2e-api-token-0123456789-0123456789-abcdef';
const TEMPLATE = record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04');
const run = promisify(execFile);

function calls(user: string, n: number): RawRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const raw = structuredClone(TEMPLATE) as RawRecord & Record<string, unknown>;
    raw.eventID = `e2ea${String(i).padStart(4, '0')}-0fa4-46e6-9322-022e8e934f04`;
    raw.eventTime = new Date(Date.now() - 600_000 + i * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    raw.awsRegion = 'us-east-1';
    raw.recipientAccountId = BASE;
    raw.userIdentity = { type: 'IAMUser', principalId: 'AIDAOLGA000000000000', arn: `arn:aws:iam::${BASE}:user/${user}`, accountId: BASE, accessKeyId: 'AKIAOLGA000000000000', userName: user };
    return raw;
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

function adfLinks(node: unknown, out: { text: string; href: string }[] = []): { text: string; href: string }[] {
  const n = node as { text?: string; marks?: { type: string; attrs?: { href?: string } }[]; content?: unknown[] };
  const href = n?.marks?.find((m) => m.type === 'link')?.attrs?.href;
  if (href && n.text) out.push({ text: n.text, href });
  for (const c of n?.content ?? []) adfLinks(c, out);
  return out;
}
const adfText = (node: unknown): string => {
  const n = node as { text?: string; content?: unknown[] };
  return `${n?.text ?? ''}${(n?.content ?? []).map(adfText).join(' ')}`;
};
function approveForm(html: string): { action: string; fields: Record<string, string> } {
  const m = [...html.matchAll(/<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/g)].find((x) => /<button[^>]*>[^<]*Approve/.test(x[2]!));
  if (!m) throw new Error(`no Approve form on the page: ${html.slice(0, 500)}`);
  return { action: m[1]!, fields: Object.fromEntries([...m[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((x) => [x[1]!, x[2]!])) };
}

interface Serve {
  child: ChildProcess;
  out: () => string;
}

const dir = mkdtempSync(join(tmpdir(), 'trailbot-approvals-e2e-'));
const queue = uniqueName('ae2e');
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let aws: Standins;
let jira: JiraStandin;
let oidc: TestProvider;
let port = 0;
let base = '';
const serves: Serve[] = [];

function env(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    NODE_ENV: 'test',
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    TRAILBOT_QUEUE_NAME: queue,
    TRAILBOT_CONFIG: join(dir, 'trailbot.config.yaml'),
    TRAILBOT_JOB_LOCK: '2s',
    TRAILBOT_API_TOKENS: TOKEN,
    PORT: String(port),
    PUBLIC_URL: base,
    LOG_LEVEL: 'info',
    APPROVAL_SECRET: SECRET,
    OIDC_ISSUER: oidc.issuer,
    OIDC_CLIENT_ID: oidc.clientId,
    OIDC_CLIENT_SECRET: oidc.clientSecret,
    ...aws.env(),
    ...jira.env(),
  };
}

async function serve(): Promise<Serve> {
  const child = spawn(process.execPath, [BIN, 'serve'], { env: env(), cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor('trailbot serve to start', async () => err.includes('Stop with Ctrl-C') || (child.exitCode !== null && Promise.reject(new Error(err + out))), 30_000, 100);
  const s = { child, out: () => out + err };
  serves.push(s);
  return s;
}

const approvalOf = async (findingId: string, kind: Approval['kind'] = 'deactivate'): Promise<Approval | undefined> => (await approvalsOf(store.db, findingId)).find((a) => a.kind === kind);

beforeAll(async () => {
  db = await createTestDatabase('trailbot_approvals_e2e');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  aws = await startStandins({ throttle: false });
  aws.iam.createUser(BASE, 'olga', { keys: 2, loginProfile: true });
  jira = await startJiraStandin({ indexDelayMs: 0 });
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  oidc = await startOidcProvider({ redirectUri: `${base}/auth/callback`, people: { ana: { email: 'ana@corp.example' } } });
  mkdirSync(join(dir, 'drop'));
  mkdirSync(join(dir, 'staging'));
  writeFileSync(
    join(dir, 'trailbot.config.yaml'),
    'sources:\n  - { id: drop, kind: folder, path: ./drop, every: 1s, settle: 0s }\napprovals:\n  approvers: [ana@corp.example]\n  jiraStatus: In Progress\n',
  );
}, 60_000);

afterAll(async () => {
  for (const s of serves) {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
    await exited(s.child);
  }
  await store?.close();
  await oidc?.close();
  await jira?.close();
  await aws?.close();
  await db?.drop();
  await dropRedisQueue(queue);
  rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe('approvals through trailbot serve', () => {
  it('sign in, approve, SIGKILL mid-plan, restart: the plan finishes with each IAM change once; audit, Jira and reactivation follow', async () => {
    let s = await serve();
    writeFileSync(join(dir, 'staging', 'trail.json'), JSON.stringify({ Records: calls('olga', 2) }));
    renameSync(join(dir, 'staging', 'trail.json'), join(dir, 'drop', 'trail.json'));
    const findingId = await waitFor('the finding', async () => (await store.db.query<{ id: string }>(`SELECT id FROM findings WHERE flow = 'access-key-created'`)).rows[0]?.id, 30_000);
    const key = await waitFor('the ticket', async () => {
      const t = await currentTicket(store.db, findingId);
      return t?.state === 'created' ? t.key! : undefined;
    }, 30_000);
    const review = adfLinks(jira.issue(key)!.description).find((l) => l.text === 'Review deactivation of olga')!.href;
    expect(review).toMatch(new RegExp(`^${base}/approvals/`));

    // Sign in through the provider, coming back to the approval page.
    const ana = new Browser();
    const { url, res } = await ana.signIn(base, 'ana', new URL(review).pathname);
    expect(url).toBe(review);
    const form = approveForm(await res.text());
    // IAM carries out the login profile's deletion, and its answer is held: the worker dies waiting.
    aws.iam.faults.hold({ count: 1, ms: 60_000, match: { action: 'DeleteLoginProfile' } });
    expect((await ana.fetch(`${base}${form.action}`, { form: form.fields, headers: { origin: base } })).status).toBe(303);
    await waitFor('IAM to hold the answer', async () => aws.iam.faults.holding === 1, 20_000);
    expect(aws.iam.user(BASE, 'olga')!.loginProfile).toBeNull();
    s.child.kill('SIGKILL');
    await exited(s.child);
    aws.iam.faults.clear();
    expect((await approvalOf(findingId))!.state).toBe('approved');

    s = await serve();
    const done = await waitFor('the plan to finish', async () => {
      const a = await approvalOf(findingId);
      return a?.state === 'done' ? a : undefined;
    }, 30_000);
    const olga = aws.iam.user(BASE, 'olga')!;
    expect(olga.accessKeys.map((k) => k.status)).toEqual(['Inactive', 'Inactive']);
    expect(olga.loginProfile).toBeNull();
    expect(olga.attachedPolicies).toEqual([DENY_ALL_ARN]);
    // Each IAM change made once, across the kill and the restart.
    const writes = aws.iam.writes().filter((w) => (w.params as Record<string, string>).UserName === 'olga').map((w) => w.operation).sort();
    expect(writes).toEqual(['AttachUserPolicy', 'DeleteLoginProfile', 'UpdateAccessKey', 'UpdateAccessKey']);

    // The audit log, from the CLI (on the store) and from the API (bearer token).
    const { stdout } = await run(process.execPath, [BIN, 'audit', '--json', '--approval', done.id], { env: env(), cwd: dir });
    const cli = (JSON.parse(stdout) as AuditRecord[]).map((e) => `${e.action}:${e.actor ?? '-'}`);
    for (const e of ['proposed:trailbot', 'viewed:ana@corp.example', 'approved:ana@corp.example', 'executed:trailbot']) expect(cli).toContain(e);
    const viewed = (JSON.parse(stdout) as AuditRecord[]).find((e) => e.action === 'viewed' && e.actor === 'ana@corp.example')!;
    expect(viewed.ip).toMatch(/127\.0\.0\.1/);
    expect((await fetch(`${base}/api/audit?approval=${done.id}`)).status).toBe(401);
    const api = (await (await fetch(`${base}/api/audit?approval=${done.id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { entries: AuditRecord[] };
    expect(api.entries.map((e) => e.seq)).toEqual((JSON.parse(stdout) as AuditRecord[]).map((e) => e.seq));

    // Jira: the comment (who, when, each step and its result) and the move to In Progress.
    await waitFor('the Jira comment and move', async () => jira.issue(key)!.comments.length > 0 && statusById(jira.issue(key)!.statusId).name === 'In Progress', 20_000);
    const comment = jira.issue(key)!.comments.at(-1)!.body;
    expect(adfText(comment)).toContain('ana@corp.example approved the deactivation of olga');
    expect(jira.issue(key)!.comments).toHaveLength(1);
    const reactivate = adfLinks(comment).find((l) => l.text === 'Reactivate olga')!.href;

    // Reactivation, approved the same way: the keys come back.
    const page = await (await ana.fetch(reactivate)).text();
    expect(page).toContain('cannot come back');
    const r = approveForm(page);
    expect((await ana.fetch(`${base}${r.action}`, { form: r.fields, headers: { origin: base } })).status).toBe(303);
    await waitFor('the keys back to Active', async () => aws.iam.user(BASE, 'olga')!.accessKeys.every((k) => k.status === 'Active'), 20_000);
    expect(aws.iam.user(BASE, 'olga')!.attachedPolicies).toEqual([]);
    // Neither the secret nor a link's token is ever logged (the request log shows /approvals/***).
    const logs = serves.map((x) => x.out()).join('');
    expect(logs).toContain('"path":"/approvals/***"');
    for (const t of [review, reactivate]) expect(logs).not.toContain(t.slice(t.lastIndexOf('/') + 1).split('.')[1]);
    expect(logs).not.toContain(SECRET);
  }, 120_000);
});
