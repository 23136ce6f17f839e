import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DENY_ALL_ARN } from '../actions/approvals/plan.ts';
import { approvalsOf, type Approval, listAudit, reactivationOf } from '../actions/approvals/store.ts';
import { signLink } from '../actions/approvals/tokens.ts';
import { currentTicket } from '../actions/jira/tickets.ts';
import { approvalSettings } from '../actions/approvals/rules.ts';
import { readConfig } from '../config/index.ts';
import type { RawRecord } from '../events/model.ts';
import { createIamAccess, type IamAccess } from '../integrations/aws/iam-access.ts';
import { DEFAULT_BASE_CREDENTIALS, type Standins, startStandins } from '../integrations/aws/standins/index.ts';
import { type JiraStandin, startJiraStandin } from '../integrations/jira/standin/index.ts';
import { statusById } from '../integrations/jira/standin/site.ts';
import { type SlackStandin, startSlackStandin } from '../integrations/slack/standin/index.ts';
import { wirePipeline } from '../main.ts';
import { enqueue } from '../runtime/enqueue.ts';
import { createLogger } from '../runtime/logger.ts';
import { type Service, startService } from '../runtime/service.ts';
import { createSources } from '../sources/index.ts';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { record } from '../../test/helpers/fixtures.ts';
import { Browser, startOidcProvider, type TestProvider } from '../../test/helpers/oidc.ts';
import { waitFor } from '../../test/helpers/wait.ts';
import { createApprovalPages } from './approvals.ts';
import { createSignIn, SESSION_COOKIE } from './signin.ts';

/**
 * The people side of approvals, in one trailbot service (PostgreSQL store, the inline queue, its HTTP
 * server) against real parts: the Jira, Slack and AWS (IAM/STS) stand-ins through the real clients,
 * and a real OpenID provider (oidc-provider) people sign in with through a cookie-keeping browser.
 * Findings come from CreateAccessKey calls of an IAM user (ivan) and of an IAM Identity Center session
 * (rita); approvals.required is 2 here, so the two-person rule is on every approval.
 */

const BASE = DEFAULT_BASE_CREDENTIALS.accountId;
const SECRET = 'approval-secret-for-tests-0123456789-abcdef';
const ROLE = 'AWSReservedSSO_Admin_0123abcd';
const TEMPLATE = record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04');
const people = {
  ana: { email: 'ana@corp.example', name: 'Ana' },
  bob: { email: 'bob@corp.example', name: 'Bob' },
  ivan: { email: 'ivan@corp.example', name: 'Ivan' },
  eve: { email: 'eve@corp.example', name: 'Eve' },
};

let aws: Standins;
let jira: JiraStandin;
let slack: SlackStandin;
let oidc: TestProvider;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let iam: IamAccess;
let svc: Service;
let base: string;
let seq = 0;

/** CreateAccessKey calls by `identity` in the base account. */
function calls(identity: Record<string, unknown>, n = 2): RawRecord[] {
  return Array.from({ length: n }, () => {
    seq++;
    const raw = structuredClone(TEMPLATE) as RawRecord & Record<string, unknown>;
    raw.eventID = `a2a2${String(seq).padStart(4, '0')}-0fa4-46e6-9322-022e8e934f04`;
    raw.eventTime = new Date(Date.now() - 3600_000 + seq * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    raw.awsRegion = 'us-east-1';
    raw.recipientAccountId = BASE;
    raw.userIdentity = identity;
    return raw;
  });
}
const ivanCalls = () => calls({ type: 'IAMUser', principalId: 'AIDAIVAN0000000000000', arn: `arn:aws:iam::${BASE}:user/ivan`, accountId: BASE, accessKeyId: 'AKIAIVAN000000000000', userName: 'ivan' });
const ritaCalls = () =>
  calls({
    type: 'AssumedRole',
    principalId: 'AROARITA0000000000000:rita@corp.example',
    arn: `arn:aws:sts::${BASE}:assumed-role/${ROLE}/rita@corp.example`,
    accountId: BASE,
    accessKeyId: 'ASIARITA000000000000',
    sessionContext: { sessionIssuer: { type: 'Role', principalId: 'AROARITA0000000000000', arn: `arn:aws:iam::${BASE}:role/aws-reserved/sso.amazonaws.com/${ROLE}`, accountId: BASE, userName: ROLE }, attributes: { creationDate: '2024-08-01T13:00:00Z', mfaAuthenticated: 'false' } },
  });

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Every link (text and href) of an ADF document. */
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

interface Form {
  action: string;
  fields: Record<string, string>;
  button: string;
}
/** The POST forms of a page: their action, hidden fields and button text. */
function forms(html: string): Form[] {
  return [...html.matchAll(/<form method="post" action="([^"]*)">([\s\S]*?)<\/form>/g)].map((m) => ({
    action: m[1]!.replace(/&amp;/g, '&'),
    fields: Object.fromEntries([...m[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((x) => [x[1]!, x[2]!])),
    button: /<button[^>]*>([\s\S]*?)<\/button>/.exec(m[2]!)?.[1] ?? '',
  }));
}

/** The finding of `flow` whose events `who` made, once the flows raised it. */
async function findingOf(actorLike: string): Promise<string> {
  return waitFor(`the finding of ${actorLike}`, async () => {
    const r = await svc.store.db.query<{ id: string }>(
      `SELECT DISTINCT fe.finding_id AS id FROM finding_events fe JOIN events e ON e.event_id = fe.event_id WHERE e.actor_name ILIKE $1 AND fe.flow = 'access-key-created'`,
      [actorLike],
    );
    return r.rows[0]?.id;
  }, 20_000);
}

/** The ticket's approval links, once the ticket is in Jira. */
async function ticketLinks(findingId: string): Promise<{ key: string; review: string; dismiss: string; description: unknown }> {
  const key = await waitFor('the ticket', async () => {
    const t = await currentTicket(svc.store.db, findingId);
    return t?.state === 'created' ? t.key! : undefined;
  }, 20_000);
  const description = jira.issue(key)!.description;
  const links = adfLinks(description);
  return { key, review: links.find((l) => l.text.startsWith('Review deactivation of'))!.href, dismiss: links.find((l) => l.text === 'Dismiss')!.href, description };
}

const approvalOf = async (findingId: string): Promise<Approval> => (await approvalsOf(svc.store.db, findingId)).find((a) => a.kind === 'deactivate')!;
const iamWrites = (): number => aws.iam.writes().length;

beforeAll(async () => {
  aws = await startStandins({ throttle: false });
  aws.iam.createUser(BASE, 'ivan', { keys: 2, loginProfile: true });
  aws.iam.createRole(BASE, ROLE, { path: '/aws-reserved/sso.amazonaws.com/' });
  jira = await startJiraStandin({ indexDelayMs: 0 });
  slack = await startSlackStandin();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  oidc = await startOidcProvider({ redirectUri: `${base}/auth/callback`, people });
  db = await createTestDatabase('trailbot_approvals');
  const dir = mkdtempSync(join(tmpdir(), 'trailbot-approvals-'));
  writeFileSync(
    join(dir, 'trailbot.config.yaml'),
    [
      'routing:',
      '  slack: { channel: "#security" }',
      'approvals:',
      '  approvers: [ana@corp.example, bob@corp.example, ivan@corp.example]',
      '  required: 2',
      '  jiraStatus: In Progress',
      '',
    ].join('\n'),
  );
  const { SLACK_SIGNING_SECRET: _s, ...slackEnv } = slack.env();
  const config = readConfig(
    {
      DATABASE_URL: db.url,
      TRAILBOT_QUEUE: 'inline',
      PORT: String(port),
      PUBLIC_URL: base,
      LOG_LEVEL: 'silent',
      APPROVAL_SECRET: SECRET,
      OIDC_ISSUER: oidc.issuer,
      OIDC_CLIENT_ID: oidc.clientId,
      OIDC_CLIENT_SECRET: oidc.clientSecret,
      AWS_ENDPOINT_URL: aws.url,
      ...jira.env(),
      ...slackEnv,
    },
    { cwd: dir },
  );
  iam = createIamAccess({ config, credentials: { accessKeyId: DEFAULT_BASE_CREDENTIALS.accessKeyId, secretAccessKey: DEFAULT_BASE_CREDENTIALS.secretAccessKey } });
  svc = await startService({ config, role: 'all', pipeline: wirePipeline(config, createSources({ config }), { iam }), listen: port, work: { lockDurationMs: 5000 }, approvalPages: { planWaitMs: 8000 } });
  await enqueue(svc.queue, 'ingest-batch', { source: 'approvals-test', records: [...ivanCalls(), ...ritaCalls()] });
}, 60_000);

afterAll(async () => {
  await svc?.close();
  iam?.destroy();
  await oidc?.close();
  await slack?.close();
  await jira?.close();
  await aws?.close();
  await db?.drop();
});

describe('links', () => {
  it('a ticket about a person carries "Review deactivation of <who>" and "Dismiss" links (ADF link marks) to PUBLIC_URL/approvals/<token>; the Slack alert shows them too', async () => {
    const f = await findingOf('ivan');
    const { review, dismiss } = await ticketLinks(f);
    for (const url of [review, dismiss]) expect(url).toMatch(new RegExp(`^${base}/approvals/[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+$`));
    expect(review).not.toBe(dismiss);
    const a = await approvalOf(f);
    expect(a).toMatchObject({ state: 'proposed', principal: `arn:aws:iam::${BASE}:user/ivan`, required: 2 });
    // Expires in 72 h by default.
    expect(Date.parse(a.expiresAt) - Date.parse(a.createdAt)).toBeGreaterThan(71.9 * 3600_000);
    const message = await waitFor('the Slack alert', async () => slack.channels.get('security')?.messages.find((m) => m.metadata?.event_payload.finding_id === f));
    const urls = JSON.stringify(message.blocks);
    expect(urls).toContain(review);
    expect(urls).toContain(dismiss);
    expect(urls).toContain('Review deactivation of ivan');
  });
});

describe('GET /approvals/<token>', () => {
  it('shows the finding, the target and the exact plan read from the live account, one Approve form and a separate Dismiss form; it changes nothing', async () => {
    const f = await findingOf('ivan');
    const { review } = await ticketLinks(f);
    const before = iamWrites();
    const keys = aws.iam.user(BASE, 'ivan')!.accessKeys.map((k) => k.accessKeyId);
    const b = new Browser();
    const res = await b.fetch(review, { headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'.*form-action 'self'.*frame-ancestors 'none'/);
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    expect(html).not.toMatch(/<script/i);
    expect(html).toContain('Deactivate ivan?');
    for (const k of keys) expect(html).toContain(`Set access key ${k} of IAM user ivan to Inactive`);
    expect(html).toContain('Delete the console password (login profile) of IAM user ivan');
    expect(html).toContain(DENY_ALL_ARN);
    expect(html).toContain('cannot be undone');
    const all = forms(html);
    const approve = all.filter((x) => x.button.includes('Approve'));
    expect(approve).toHaveLength(1);
    expect(approve[0]!.button).toBe('Approve deactivation of ivan');
    expect(all.filter((x) => x.button === 'Dismiss')).toHaveLength(1);
    expect(approve[0]!.fields).toHaveProperty('csrf');
    // Nobody signed in: the page links to the sign-in, coming back here.
    expect(html.replace(/&#x3D;/g, '=')).toContain(`/auth/login?next=${encodeURIComponent(new URL(review).pathname)}`);
    // Views by unfurlers and people alike change nothing.
    await b.fetch(review);
    expect(iamWrites()).toBe(before);
    expect((await approvalOf(f)).state).toBe('proposed');
    expect((await listAudit(svc.store.db, { approvalId: (await approvalOf(f)).id, action: 'viewed' }))[0]).toMatchObject({ actor: null, outcome: 'ok' });
  });

  it('refuses a tampered, expired or wrong-finding link, on GET and on POST, and changes nothing', async () => {
    const ivan = await findingOf('ivan');
    const rita = await findingOf('%rita%');
    const { review } = await ticketLinks(ivan);
    await ticketLinks(rita);
    const a = await approvalOf(ivan);
    const r = await approvalOf(rita);
    const token = review.slice(review.lastIndexOf('/') + 1);
    const [body, sig] = token.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const flip = (s: string) => `${s.slice(0, -2)}${s.at(-2) === 'A' ? 'B' : 'A'}${s.at(-1)}`;
    const tampered = [
      `${flip(body)}.${sig}`,
      `${Buffer.from(JSON.stringify({ ...claims, e: claims.e + 86400 })).toString('base64url')}.${sig}`,
      `${body}.${flip(sig)}`,
      `${body}`,
    ];
    const expired = signLink(SECRET, { approval: a.id, finding: ivan, action: 'deactivate', principal: a.principal, expiresAt: Date.now() - 1000 });
    const wrongFinding = signLink(SECRET, { approval: a.id, finding: rita, action: 'deactivate', principal: a.principal, expiresAt: Date.now() + 3600_000 });
    const wrongPrincipal = signLink(SECRET, { approval: a.id, finding: ivan, action: 'deactivate', principal: r.principal, expiresAt: Date.now() + 3600_000 });
    const before = iamWrites();
    const b = new Browser();
    await b.signIn(base, 'ana');
    for (const [t, status, words] of [
      ...tampered.map((t) => [t, 400, 'This link is not valid'] as const),
      [expired, 410, 'This link expired'] as const,
      [wrongFinding, 404, 'does not belong to this finding'] as const,
      [wrongPrincipal, 404, 'does not belong to this finding'] as const,
    ]) {
      const get = await b.fetch(`${base}/approvals/${t}`);
      expect(get.status, t).toBe(status);
      const html = await get.text();
      expect(html).toContain(words);
      expect(forms(html).filter((x) => x.button.includes('Approve'))).toHaveLength(0);
      const post = await b.fetch(`${base}/approvals/${t}`, { form: { csrf: 'x', decision: 'approve', plan: 'x' }, headers: { origin: base } });
      expect(post.status, t).toBe(status);
    }
    expect(iamWrites()).toBe(before);
    expect((await approvalOf(ivan)).state).toBe('proposed');
    expect((await approvalOf(ivan)).approvedBy).toEqual([]);
    const refusals = await listAudit(svc.store.db, { action: 'refused', limit: 200 });
    const reasons = refusals.map((x) => (x.detail as { reason: string }).reason);
    for (const reason of ['signature', 'malformed', 'expired', 'wrong-finding']) expect(reasons).toContain(reason);
  });

  it('refuses a POST without a session, with a bad CSRF token, from a page of another site, from someone not an approver, or from the target themselves: nothing changes', async () => {
    const f = await findingOf('ivan');
    const { review } = await ticketLinks(f);
    const before = iamWrites();
    const post = async (b: Browser, fields: Record<string, string>, origin = base) => b.fetch(review, { form: fields, headers: { origin } });
    const formOf = async (b: Browser) => forms(await (await b.fetch(review)).text()).find((x) => x.button.includes('Approve'))!.fields;

    // No session: a form fetched anonymously, posted as it is.
    const anon = new Browser();
    const anonForm = await formOf(anon);
    const r1 = await post(anon, anonForm);
    expect(r1.status).toBe(401);
    expect(await r1.text()).toContain('Sign in first');

    // Signed in, but a CSRF token of another session or none.
    const ana = new Browser();
    await ana.signIn(base, 'ana');
    const good = await formOf(ana);
    expect((await post(ana, { ...good, csrf: anonForm.csrf ?? '' })).status).toBe(403);
    expect((await post(ana, { ...good, csrf: 'A'.repeat(43) })).status).toBe(403);
    const { csrf: _c, ...noCsrf } = good;
    expect((await post(ana, noCsrf)).status).toBe(403);
    // The right form, sent by a page of another site.
    expect((await post(ana, good, 'https://evil.example')).status).toBe(403);
    // Not a form of the page at all.
    expect((await post(ana, { ...good, pad: 'x'.repeat(20_000) })).status).toBe(413);

    // Someone who may not approve.
    const eve = new Browser();
    await eve.signIn(base, 'eve');
    const r4 = await post(eve, await formOf(eve));
    expect(r4.status).toBe(403);
    expect(await r4.text()).toContain('eve@corp.example is not among the approvers');

    // The target themselves (an approver, but ivan@corp.example is IAM user ivan).
    const ivan = new Browser();
    await ivan.signIn(base, 'ivan');
    const r5 = await post(ivan, await formOf(ivan));
    expect(r5.status).toBe(403);
    expect(await r5.text()).toContain('nobody approves their own deactivation');

    // A copy of an approver's cookie stops working when they sign out (the session is ended on the server).
    const gone = new Browser();
    await gone.signIn(base, 'bob');
    const goneForm = await formOf(gone);
    const copy = new Browser();
    copy.setCookie(base, SESSION_COOKIE, gone.cookie(base, SESSION_COOKIE)!);
    expect((await gone.fetch(`${base}/auth/logout`, { form: {}, headers: { origin: base } })).status).toBe(303);
    const r6 = await post(copy, goneForm);
    expect(r6.status).toBe(401);
    expect(await r6.text()).toContain('Sign in first');

    expect(iamWrites()).toBe(before);
    const a = await approvalOf(f);
    expect(a.state).toBe('proposed');
    expect(a.approvedBy).toEqual([]);
    const reasons = (await listAudit(svc.store.db, { approvalId: a.id, action: 'refused' })).map((x) => [x.actor, (x.detail as { reason: string }).reason]);
    expect(reasons).toEqual(
      expect.arrayContaining([
        [null, 'no-session'],
        ['ana@corp.example', 'csrf'],
        ['ana@corp.example', 'cross-site'],
        ['eve@corp.example', 'not-an-approver'],
        ['ivan@corp.example', 'self'],
      ]),
    );
  });
});

describe('the audit log under anonymous load', () => {
  it('what nobody signed in sends is coalesced: junk links and views make one row per address and reason a minute, with a count', async () => {
    const f = await findingOf('ivan');
    const { review } = await ticketLinks(f);
    const a = await approvalOf(f);
    const sum = (rows: { count: number }[]) => rows.reduce((n, r) => n + r.count, 0);
    const junk = async () => (await listAudit(svc.store.db, { action: 'refused', limit: 5000 })).filter((r) => r.actor === null && (r.detail as { reason: string }).reason === 'malformed');
    const views = async () => (await listAudit(svc.store.db, { approvalId: a.id, action: 'viewed', limit: 5000 })).filter((r) => r.actor === null);
    const [junk0, views0] = [await junk(), await views()];
    for (let i = 0; i < 40; i++) expect((await new Browser().fetch(`${base}/approvals/junk${i}`)).status).toBe(400);
    for (let i = 0; i < 10; i++) expect((await new Browser().fetch(review)).status).toBe(200);
    const [junk1, views1] = [await junk(), await views()];
    // At most one new row each (two if the minute turned meanwhile), and the counts say how many came.
    expect(junk1.length - junk0.length).toBeLessThanOrEqual(2);
    expect(sum(junk1) - sum(junk0)).toBe(40);
    expect(views1.length - views0.length).toBeLessThanOrEqual(2);
    expect(sum(views1) - sum(views0)).toBe(10);
    expect(junk1[0]).toMatchObject({ ip: '127.0.0.1', outcome: 'refused' });
    expect(junk1[0]!.count).toBeGreaterThan(1);
  });
});

describe('trailbot itself', () => {
  it("a finding about trailbot's own IAM user (its credentials, STS GetCallerIdentity) gets a page that says it will not deactivate it, and no Approve form", async () => {
    await enqueue(svc.queue, 'ingest-batch', {
      source: 'approvals-test',
      records: calls({ type: 'IAMUser', principalId: 'AIDATRAILBOT000000000', arn: `arn:aws:iam::${BASE}:user/trailbot`, accountId: BASE, accessKeyId: DEFAULT_BASE_CREDENTIALS.accessKeyId, userName: 'trailbot' }),
    });
    const f = await findingOf('trailbot');
    const { review } = await ticketLinks(f);
    const before = iamWrites();
    const ana = new Browser();
    await ana.signIn(base, 'ana');
    const html = (await (await ana.fetch(review)).text()).replace(/&#x27;/g, "'");
    expect(html).toContain('trailbot will not deactivate this identity.');
    expect(html).toContain(`trailbot is trailbot itself in account ${BASE} (IAM user trailbot, whose keys trailbot's credentials are`);
    expect(html).not.toContain('could not be read from the account just now');
    expect(forms(html).filter((x) => x.button.includes('Approve'))).toHaveLength(0);
    expect(iamWrites()).toBe(before);
  });
});

describe('approving', () => {
  it('two approvers approve: the plan is carried out in IAM, the audit lists it, Jira gets the comment and the transition, Slack the reply; the link then works no more; reactivation restores the keys', async () => {
    const f = await findingOf('ivan');
    const { key, review } = await ticketLinks(f);
    const path = new URL(review).pathname;
    const ana = new Browser();
    const { url } = await ana.signIn(base, 'ana', path);
    expect(url).toBe(review);
    const page = await (await ana.fetch(review)).text();
    expect(page).toContain('Signed in as <strong>ana@corp.example</strong>');
    const approve = forms(page).find((x) => x.button.includes('Approve'))!;
    const first = await ana.fetch(`${base}${approve.action}`, { form: approve.fields, headers: { origin: base } });
    expect(first.status).toBe(303);
    // One approval of two: nothing happens yet, and ana cannot be the second.
    let a = await approvalOf(f);
    expect(a).toMatchObject({ state: 'proposed', approvedBy: [{ email: 'ana@corp.example' }] });
    const waiting = await (await ana.fetch(review)).text();
    expect(waiting).toContain('waiting for a second approver');
    const again = await ana.fetch(review, { form: forms(waiting).find((x) => x.button.includes('Approve'))!.fields, headers: { origin: base } });
    expect(again.status).toBe(403);
    expect(await again.text()).toContain('has approved this already');
    expect(aws.iam.user(BASE, 'ivan')!.accessKeys.map((k) => k.status)).toEqual(['Active', 'Active']);

    const bob = new Browser();
    await bob.signIn(base, 'bob');
    const second = forms(await (await bob.fetch(review)).text()).find((x) => x.button.includes('Approve'))!;
    expect((await bob.fetch(review, { form: second.fields, headers: { origin: base } })).status).toBe(303);
    a = await waitFor('the deactivation to be carried out', async () => {
      const x = await approvalOf(f);
      return x.state === 'done' ? x : undefined;
    }, 20_000);
    expect(a).toMatchObject({ decidedBy: 'bob@corp.example', approvedBy: [{ email: 'ana@corp.example' }, { email: 'bob@corp.example' }] });
    const ivan = aws.iam.user(BASE, 'ivan')!;
    expect(ivan.accessKeys.map((k) => k.status)).toEqual(['Inactive', 'Inactive']);
    expect(ivan.loginProfile).toBeNull();
    expect(ivan.attachedPolicies).toEqual([DENY_ALL_ARN]);
    const writes = aws.iam.writes().filter((w) => (w.params as Record<string, string>).UserName === 'ivan').map((w) => w.operation);
    expect(writes.sort()).toEqual(['AttachUserPolicy', 'DeleteLoginProfile', 'UpdateAccessKey', 'UpdateAccessKey']);

    // The audit log: proposed, viewed, approved twice, executed, told.
    const log = (await listAudit(svc.store.db, { approvalId: a.id, limit: 500 })).map((x) => `${x.action}:${x.actor ?? '-'}`);
    for (const e of ['proposed:trailbot', 'viewed:ana@corp.example', 'approved:ana@corp.example', 'approved:bob@corp.example', 'executed:trailbot']) expect(log).toContain(e);

    // Jira: a comment with who, when, each step and its result; the ticket moved to In Progress.
    await waitFor('the Jira comment', async () => jira.issue(key)!.comments.length > 0 && statusById(jira.issue(key)!.statusId).name === 'In Progress');
    const comment = adfText(jira.issue(key)!.comments.at(-1)!.body);
    expect(comment).toContain('ana@corp.example and bob@corp.example approved the deactivation of ivan');
    expect(comment).toContain('Delete the console password (login profile) of IAM user ivan: done');
    expect(comment).toMatch(/trailbot approval [0-9a-f]{12}-done/);
    const reactivateUrl = adfLinks(jira.issue(key)!.comments.at(-1)!.body).find((l) => l.text === 'Reactivate ivan')!.href;
    expect(reactivateUrl).toMatch(new RegExp(`^${base}/approvals/`));
    // Slack: a reply in the finding's thread.
    const reply = await waitFor('the Slack reply', async () =>
      slack.channels.get('security')?.messages.find((m) => m.metadata?.event_payload.finding_id === f)?.replies.find((x) => x.metadata?.event_type === 'trailbot_approval'),
    );
    expect(JSON.stringify(reply.blocks)).toContain('approved the deactivation of ivan');

    // The link is spent: the page shows what was done; a POST is refused and changes nothing.
    const done = await (await bob.fetch(review)).text();
    expect(done).toContain('every step is carried out');
    expect(forms(done).filter((x) => x.button.includes('Approve'))).toHaveLength(0);
    expect(done).toContain('Reactivate ivan');
    const before = iamWrites();
    const reused = await bob.fetch(review, { form: second.fields, headers: { origin: base } });
    expect(reused.status).toBe(409);
    expect(await reused.text()).toContain('This link was used already');
    expect(iamWrites()).toBe(before);

    // Reactivation, approved the same way by two people: the keys come back, the deny goes; the password does not.
    const rpage = await (await ana.fetch(reactivateUrl)).text();
    expect(rpage).toContain('Reactivate ivan?');
    expect(rpage).toContain('cannot come back');
    for (const who of [ana, bob]) {
      const form = forms(await (await who.fetch(reactivateUrl)).text()).find((x) => x.button.includes('Approve'))!;
      expect(form.button).toBe('Approve reactivation of ivan');
      expect((await who.fetch(reactivateUrl, { form: form.fields, headers: { origin: base } })).status).toBe(303);
    }
    await waitFor('the reactivation', async () => aws.iam.user(BASE, 'ivan')!.accessKeys.every((k) => k.status === 'Active'), 20_000);
    expect(aws.iam.user(BASE, 'ivan')!.attachedPolicies).toEqual([]);
    expect(aws.iam.user(BASE, 'ivan')!.loginProfile).toBeNull();
    await waitFor('the reactivation comment', async () => jira.issue(key)!.comments.some((c) => adfText(c.body).includes('approved the reactivation of ivan')));
  });

  it('a reactivation that expired or was dismissed can be proposed again by an approver from the deactivation\'s page (even once its link expired): CSRF-checked, approver rules, audited, never two live; a GET changes nothing', async () => {
    aws.iam.createUser(BASE, 'rex', { keys: 1 });
    await enqueue(svc.queue, 'ingest-batch', {
      source: 'approvals-test',
      records: calls({ type: 'IAMUser', principalId: 'AIDAREX00000000000000', arn: `arn:aws:iam::${BASE}:user/rex`, accountId: BASE, accessKeyId: 'AKIAREX0000000000000', userName: 'rex' }),
    });
    const f = await findingOf('rex');
    const { review } = await ticketLinks(f);
    const [ana, bob, eve] = [new Browser(), new Browser(), new Browser()];
    await ana.signIn(base, 'ana');
    await bob.signIn(base, 'bob');
    await eve.signIn(base, 'eve');
    const approveAs = async (b: Browser, url: string) => {
      const form = forms(await (await b.fetch(url)).text()).find((x) => x.button.includes('Approve'))!;
      expect((await b.fetch(url, { form: form.fields, headers: { origin: base } })).status).toBe(303);
    };
    for (const b of [ana, bob]) await approveAs(b, review);
    const a = await waitFor('the deactivation', async () => ((await approvalOf(f)).state === 'done' ? approvalOf(f) : undefined), 20_000);
    expect(aws.iam.user(BASE, 'rex')!.accessKeys[0]!.status).toBe('Inactive');
    const reactivations = async () => (await approvalsOf(svc.store.db, f)).filter((x) => x.kind === 'reactivate');
    const first = await waitFor('the reactivation proposal', () => reactivationOf(svc.store.db, a.id));
    // While the reactivation's link works, the page links to it and offers nothing more.
    let page = await (await ana.fetch(review)).text();
    expect(page).toContain('Reactivate rex');
    expect(forms(page).filter((x) => x.button.includes('again'))).toHaveLength(0);

    // 72 h later: the reactivation expired unused, and so did the deactivation's own link.
    await svc.store.db.query(`UPDATE approvals SET expires_at = now() - interval '1 minute' WHERE id = $1`, [first.id]);
    const late = `${base}/approvals/${signLink(SECRET, { approval: a.id, finding: f, action: 'deactivate', principal: a.principal, expiresAt: Date.now() - 1000 })}`;
    const anon = await new Browser().fetch(late);
    expect(anon.status).toBe(410);
    expect(await anon.text()).toContain('Sign in to see what became of it');
    page = (await (await ana.fetch(late)).text()).replace(/&#x27;/g, "'");
    expect(page).toContain('every step is carried out');
    expect(page).toContain('The reactivation link expired on');
    expect(page).not.toContain(`href="${base}/approvals/`);
    const again = forms(page).find((x) => x.button === 'Propose the reactivation of rex again')!;
    expect(again.fields).toMatchObject({ decision: 'reactivate-again', csrf: expect.any(String) });
    // Nobody signed in: no form, a way to sign in. Looking changes nothing.
    const anonPage = await (await new Browser().fetch(review)).text();
    expect(forms(anonPage).filter((x) => x.button.includes('again'))).toHaveLength(0);
    expect(anonPage).toContain('to propose the reactivation again');
    expect(await reactivations()).toHaveLength(1);

    // Refused, changing nothing: another site, no session, a bad CSRF token, someone not an approver, an approve decision on the expired link.
    expect((await ana.fetch(late, { form: again.fields, headers: { origin: 'https://evil.example' } })).status).toBe(403);
    expect((await new Browser().fetch(late, { form: again.fields, headers: { origin: base } })).status).toBe(410);
    expect((await new Browser().fetch(review, { form: again.fields, headers: { origin: base } })).status).toBe(401);
    expect((await bob.fetch(late, { form: again.fields, headers: { origin: base } })).status).toBe(403);
    const evePage = await (await eve.fetch(late)).text();
    const eveForm = forms(evePage).find((x) => x.button.includes('again'))!;
    const refusedEve = await eve.fetch(late, { form: eveForm.fields, headers: { origin: base } });
    expect(refusedEve.status).toBe(403);
    expect(await refusedEve.text()).toContain('eve@corp.example is not among the approvers');
    expect((await ana.fetch(late, { form: { ...again.fields, decision: 'approve' }, headers: { origin: base } })).status).toBe(410);
    expect(await reactivations()).toHaveLength(1);

    // ana proposes it again: a fresh, live proposal; posting the form twice makes no second one.
    expect((await ana.fetch(late, { form: again.fields, headers: { origin: base } })).status).toBe(303);
    expect((await ana.fetch(late, { form: again.fields, headers: { origin: base } })).status).toBe(409);
    let all = await reactivations();
    expect(all.map((x) => [x.round, x.state])).toEqual([[1, 'proposed'], [2, 'proposed']]);
    const second = all[1]!;
    expect(Date.parse(second.expiresAt)).toBeGreaterThan(Date.now() + 71 * 3600_000);
    const proposed = (await listAudit(svc.store.db, { approvalId: second.id, action: 'proposed' }))[0]!;
    expect(proposed).toMatchObject({ actor: 'ana@corp.example', ip: '127.0.0.1', detail: { kind: 'reactivate', reverses: a.id, round: 2, again: true, previous: { id: first.id, state: 'expired' } } });
    expect((await listAudit(svc.store.db, { approvalId: a.id, action: 'refused', limit: 50 })).map((x) => (x.detail as { reason: string }).reason)).toEqual(expect.arrayContaining(['live', 'csrf', 'cross-site', 'not-an-approver', 'expired']));

    // Dismissed this time: it can be proposed again once more (by bob), and that one is approved and carried out.
    const dismiss = `${base}/approvals/${signLink(SECRET, { approval: second.id, finding: f, action: 'dismiss', principal: a.principal, expiresAt: Date.parse(second.expiresAt) })}`;
    const d = forms(await (await ana.fetch(dismiss)).text()).find((x) => x.button === 'Dismiss')!;
    expect((await ana.fetch(dismiss, { form: d.fields, headers: { origin: base } })).status).toBe(303);
    page = (await (await bob.fetch(review)).text()).replace(/&#x27;/g, "'");
    expect(page).toContain('The reactivation of rex was dismissed by ana@corp.example');
    const bobAgain = forms(page).find((x) => x.button.includes('again'))!;
    expect((await bob.fetch(review, { form: bobAgain.fields, headers: { origin: base } })).status).toBe(303);
    all = await reactivations();
    expect(all.map((x) => [x.round, x.state])).toEqual([[1, 'proposed'], [2, 'dismissed'], [3, 'proposed']]);
    page = await (await bob.fetch(review)).text();
    const link = /<a href="([^"]+)">Reactivate rex<\/a>/.exec(page)![1]!.replace(/&amp;/g, '&');
    for (const b of [ana, bob]) await approveAs(b, link);
    await waitFor('the reactivation', async () => aws.iam.user(BASE, 'rex')!.accessKeys[0]!.status === 'Active', 20_000);
    // Carried out: nothing more to propose.
    page = await (await ana.fetch(review)).text();
    expect(forms(page).filter((x) => x.button.includes('again'))).toHaveLength(0);
  });

  it('a partial failure is shown as it is: what was done, what was NOT and why; the plan card no longer says nothing was changed; both approvers named', async () => {
    aws.iam.createUser(BASE, 'paula', { keys: 1, loginProfile: true });
    aws.iam.faults.deny('iam:DeleteLoginProfile');
    try {
      await enqueue(svc.queue, 'ingest-batch', {
        source: 'approvals-test',
        records: calls({ type: 'IAMUser', principalId: 'AIDAPAULA000000000000', arn: `arn:aws:iam::${BASE}:user/paula`, accountId: BASE, accessKeyId: 'AKIAPAULA00000000000', userName: 'paula' }),
      });
      const f = await findingOf('paula');
      const { review } = await ticketLinks(f);
      for (const who of ['ana', 'bob']) {
        const b = new Browser();
        await b.signIn(base, who);
        const form = forms(await (await b.fetch(review)).text()).find((x) => x.button.includes('Approve'))!;
        expect((await b.fetch(review, { form: form.fields, headers: { origin: base } })).status).toBe(303);
      }
      await waitFor('the deactivation to end', async () => ((await approvalOf(f)).state === 'partial' ? true : undefined), 20_000);
      const html = (await (await new Browser().fetch(review)).text()).replace(/&#x27;/g, "'");
      expect(html).toContain('Partly done: approved by ana@corp.example and bob@corp.example');
      expect(html).toMatch(/Delete the console password \(login profile\) of IAM user paula: NOT done: E_IAM_DENIED/);
      expect(html).toMatch(/Set access key \S+ of IAM user paula to Inactive: done/);
      // The approved plan's card says when it was read, not that nothing has been changed: things were.
      expect(html).not.toContain('nothing has been changed');
      expect(aws.iam.user(BASE, 'paula')!.loginProfile).not.toBeNull();
    } finally {
      aws.iam.faults.clear();
    }
  });

  it('a role session: the page says who else uses the role and offers to revoke older sessions; Dismiss changes nothing and is told', async () => {
    const f = await findingOf('%rita%');
    const { key, dismiss, review } = await ticketLinks(f);
    const ana = new Browser();
    await ana.signIn(base, 'ana');
    const html = await (await ana.fetch(review)).text();
    expect(html).toContain('Deactivate rita@corp.example?');
    expect(html).toContain('Who else uses the role');
    expect(html).toContain('deny every action to the session rita@corp.example only');
    expect(html).toContain('name="revoke" value="1"');
    const before = iamWrites();
    const dpage = await (await ana.fetch(dismiss)).text();
    const d = forms(dpage);
    expect(d.filter((x) => x.button.includes('Approve'))).toHaveLength(0);
    expect((await ana.fetch(dismiss, { form: d.find((x) => x.button === 'Dismiss')!.fields, headers: { origin: base } })).status).toBe(303);
    expect((await approvalOf(f)).state).toBe('dismissed');
    expect(iamWrites()).toBe(before);
    // Both links of the proposal are spent now.
    const approve = forms(html).find((x) => x.button.includes('Approve'))!;
    expect((await ana.fetch(review, { form: approve.fields, headers: { origin: base } })).status).toBe(409);
    await waitFor('the dismissal comment', async () => jira.issue(key)!.comments.some((c) => adfText(c.body).includes('ana@corp.example dismissed the proposed deactivation of rita@corp.example')));
    expect(statusById(jira.issue(key)!.statusId).name).toBe('To Do');
  });
});

describe('without OIDC', () => {
  it('refuses to approve, with a page saying what to configure', async () => {
    const f = await findingOf('%rita%');
    const { review } = await ticketLinks(f);
    const signIn = createSignIn({ oidc: undefined, secret: SECRET, publicUrl: base, groupsClaim: 'groups', db: svc.store.db, log: createLogger({ level: 'silent' }) });
    const pages = createApprovalPages({ db: svc.store.db, queue: svc.queue, log: createLogger({ level: 'silent' }), secret: SECRET, publicUrl: base, settings: approvalSettings(undefined), signIn });
    const path = `/${review.slice(review.lastIndexOf('/') + 1)}`;
    const res = await pages.request(path, { method: 'POST', body: new URLSearchParams({ decision: 'approve' }), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(res.status).toBe(403);
    const text = await res.text();
    expect(text).toContain('Approving needs sign-in, which is not set up');
    expect(text).toContain('OIDC_ISSUER');
  });
});
