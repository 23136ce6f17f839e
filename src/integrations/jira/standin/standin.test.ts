// Drives the real jira.js 6 client against the stand-in with onSchemaMismatch: 'throw', so every
// answer has the shape jira.js's zod schemas (generated from Jira's OpenAPI spec) expect.
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createCloudClient, isApiError, isAuthError, isNotFoundError, isRateLimitError, isServerError } from 'jira.js';
import type { CloudClient } from 'jira.js';
import { IssueLinkSchema, PrioritySchema, StatusDetailsSchema, UserDetailsSchema } from 'jira.js/cloud';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCliArgs, runCli } from './cli.ts';
import { DEFAULT_CREDENTIALS, DEFAULT_PROJECTS, startJiraStandin, verifySignature } from './index.ts';
import type { JiraStandin, JiraStandinOptions, WebhookPayload } from './index.ts';

const doc = (text: string) => ({ type: 'doc' as const, version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text }] }] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ALANA = '5b10ac8d82e05b22cc7d4ef5';

const clientFor = (s: JiraStandin, extra: { apiToken?: string; retry?: { maxAttempts: number; initialDelayMs: number } } = {}): CloudClient =>
  createCloudClient({
    host: s.url,
    auth: { type: 'basic', email: DEFAULT_CREDENTIALS.email, apiToken: extra.apiToken ?? DEFAULT_CREDENTIALS.apiToken },
    onSchemaMismatch: 'throw',
    ...(extra.retry ? { retry: extra.retry } : {}),
  });

/** The ApiError a call rejects with (fails the test if it resolves). */
async function refusal(p: Promise<unknown>): Promise<{ status: number; body: { errorMessages: string[]; errors: Record<string, string> }; error: unknown }> {
  try {
    await p;
  } catch (e) {
    if (!isApiError(e)) throw e;
    return { status: e.status, body: e.body as { errorMessages: string[]; errors: Record<string, string> }, error: e };
  }
  throw new Error('expected the call to be refused');
}

const OPTS: JiraStandinOptions = {
  indexDelayMs: 0,
  projects: [
    ...DEFAULT_PROJECTS,
    { id: '10010', key: 'OPS', name: 'Operations', issueTypes: [{ id: '10020', name: 'Task' }], components: [], priorityOnScreen: false },
  ],
};

describe('Jira stand-in, driven by jira.js', () => {
  let s: JiraStandin;
  let jira: CloudClient;
  beforeAll(async () => {
    s = await startJiraStandin(OPTS);
    jira = clientFor(s);
  });
  afterAll(() => s.close());

  const create = (fields: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
    jira.issues.createIssue({
      fields: { project: { key: 'SEC' }, issuetype: { name: 'Task' }, summary: 'Root user signed in', description: doc('It happened.'), ...fields },
      ...extra,
    } as Parameters<CloudClient['issues']['createIssue']>[0]);

  it('authenticates Basic email:token; anything else is a 401 with a body', async () => {
    const me = await jira.myself.getCurrentUser();
    expect(me).toMatchObject({ emailAddress: DEFAULT_CREDENTIALS.email, accountType: 'atlassian', active: true });
    const info = await jira.serverInfo.getServerInfo();
    expect(info).toMatchObject({ deploymentType: 'Cloud', baseUrl: s.url });
    expect(info.serverTime).toBeInstanceOf(Date);
    const r = await refusal(clientFor(s, { apiToken: 'wrong' }).myself.getCurrentUser());
    expect(r.status).toBe(401);
    expect(isAuthError(r.error)).toBe(true);
    expect(r.body.errorMessages[0]).toMatch(/authenticated/);
  });

  it('creates an issue with every field trailbot sets, and reads it back', async () => {
    const created = await create(
      { labels: ['trailbot', 'root-login'], priority: { name: 'High' }, assignee: { accountId: ALANA }, components: [{ name: 'IAM' }] },
      { properties: [{ key: 'trailbot', value: { findingId: 'f-1', flow: 'root-login' } }] },
    );
    expect(created.key).toMatch(/^SEC-\d+$/);
    expect(created.self).toBe(`${s.url}/rest/api/3/issue/${created.id}`);
    const issue = await jira.issues.getIssue({ issueIdOrKey: created.key, properties: ['trailbot'] });
    const f = issue.fields!;
    expect(f.summary).toBe('Root user signed in');
    expect(f.description).toEqual(doc('It happened.'));
    expect(f.labels).toEqual(['trailbot', 'root-login']);
    expect(f.status).toMatchObject({ name: 'To Do', statusCategory: { key: 'new' } });
    expect(f.priority).toMatchObject({ name: 'High' });
    expect(f.assignee).toMatchObject({ accountId: ALANA });
    expect(f.issuetype).toMatchObject({ name: 'Task', subtask: false });
    expect(f.project).toMatchObject({ key: 'SEC' });
    expect(f.components).toEqual([expect.objectContaining({ name: 'IAM' })]);
    expect(new Date(f.created as string).getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(issue.properties).toEqual({ trailbot: { findingId: 'f-1', flow: 'root-login' } });
    // The nested objects have exactly the keys Jira's spec describes (strict, unlike the client's loose parse).
    StatusDetailsSchema.strict().parse(f.status);
    PrioritySchema.strict().parse(f.priority);
    UserDetailsSchema.strict().parse(f.assignee);
    // fields= limits the answer
    const slim = await jira.issues.getIssue({ issueIdOrKey: created.key, fields: ['summary', 'status'] });
    expect(Object.keys(slim.fields!).sort()).toEqual(['status', 'summary']);
    // a default priority when none is sent
    const plain = await jira.issues.getIssue({ issueIdOrKey: (await create()).key, fields: ['priority'] });
    expect(plain.fields!.priority).toMatchObject({ name: 'Medium' });
  });

  it('checks the create request as Jira does', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ project: { key: 'NOPE' } }, 'project', /valid project/],
      [{ issuetype: { name: 'Epic' } }, 'issuetype', /issue type selected is invalid/],
      [{ summary: '' }, 'summary', /must specify a summary/],
      [{ summary: 'two\nlines' }, 'summary', /newline/],
      [{ summary: 'x'.repeat(256) }, 'summary', /less than 255/],
      [{ labels: ['has space'] }, 'labels', /contains spaces/],
      [{ priority: { name: 'Urgent' } }, 'priority', /not valid/],
      [{ components: [{ name: 'Nope' }] }, 'components', /not valid/],
      [{ assignee: { accountId: 'nobody' } }, 'assignee', /does not exist/],
      [{ customfield_10099: 'x' }, 'customfield_10099', /not on the appropriate screen, or unknown/],
      [{ project: { key: 'OPS' }, priority: { name: 'High' } }, 'priority', /^Field 'priority' cannot be set\. It is not on the appropriate screen, or unknown\.$/],
    ];
    for (const [fields, field, message] of cases) {
      const r = await refusal(create(fields));
      expect(r.status, field).toBe(400);
      expect(r.body.errors[field], field).toMatch(message);
    }
    const noSummary = await refusal(jira.issues.createIssue({ fields: { project: { key: 'SEC' }, issuetype: { name: 'Task' } } } as never));
    expect(noSummary.body.errors.summary).toMatch(/must specify a summary/);
    const bigProperty = await refusal(create({}, { properties: [{ key: 'trailbot', value: 'x'.repeat(40_000) }] }));
    expect(bigProperty.status).toBe(400);
  });

  it('validates every ADF document against the published schema and names the problem', async () => {
    const badDocs: [unknown, RegExp][] = [
      [{ type: 'doc', version: 1, content: [{ type: 'paragraf', content: [] }] }, /\/content\/0: unknown node type "paragraf"/],
      [{ type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: '' }] }] }, /\/content\/0\/content\/0\/text/],
      [{ type: 'doc', version: 1, content: [{ type: 'text', text: 'bare' }] }, /"text" node is not allowed inside "doc"/],
      [{ type: 'doc', content: [] }, /version/],
    ];
    for (const [description, problem] of badDocs) {
      const r = await refusal(create({ description }));
      expect(r.status).toBe(400);
      expect(r.body.errors.description).toMatch(/Operation value must be an Atlassian Document/);
      expect(r.body.errors.description).toMatch(problem);
    }
    const key = (await create()).key;
    const r = await refusal(jira.issueComments.addComment({ issueIdOrKey: key, body: { type: 'doc', version: 1, content: [{ type: 'heading', content: [] }] } as never }));
    expect(r.status).toBe(400);
    expect(r.body.errors.comment).toMatch(/attrs/);
  });

  it('answers 404 on /rest/api/2, so a string description or comment (which jira.js sends there) is caught', async () => {
    const before = s.requests.length;
    const r = await refusal(create({ description: 'plain text, not ADF' }));
    expect(r.status).toBe(404);
    expect(isNotFoundError(r.error)).toBe(true);
    expect(r.body.errorMessages[0]).toMatch(/send an ADF document/);
    expect(s.requests.slice(before).map((x) => `${x.method} ${x.path}`)).toEqual(['POST /rest/api/2/issue']);
    const key = (await create()).key;
    const c = await refusal(jira.issueComments.addComment({ issueIdOrKey: key, body: 'h2. wiki markup' }));
    expect(c.status).toBe(404);
    expect(s.requests.at(-1)!.path).toBe(`/rest/api/2/issue/${key}/comment`);
  });

  it('answers a missing issue with Jira\'s 404', async () => {
    const r = await refusal(jira.issues.getIssue({ issueIdOrKey: 'SEC-9999' }));
    expect(r.status).toBe(404);
    expect(r.body).toEqual({ errorMessages: ['Issue does not exist or you do not have permission to see it.'], errors: {} });
  });

  it('stores, lists and deletes issue properties', async () => {
    const key = (await create()).key;
    await jira.issueProperties.setIssueProperty({ issueIdOrKey: key, propertyKey: 'trailbot', body: { findingId: 'f-2' } });
    expect(s.requests.at(-1)!.status).toBe(201);
    await jira.issueProperties.setIssueProperty({ issueIdOrKey: key, propertyKey: 'trailbot', body: { findingId: 'f-2', seen: 2 } });
    expect(s.requests.at(-1)!.status).toBe(200);
    expect(await jira.issueProperties.getIssueProperty({ issueIdOrKey: key, propertyKey: 'trailbot' })).toEqual({ key: 'trailbot', value: { findingId: 'f-2', seen: 2 } });
    const keys = await jira.issueProperties.getIssuePropertyKeys({ issueIdOrKey: key });
    expect(keys.keys?.map((k) => k.key)).toEqual(['trailbot']);
    await jira.issueProperties.deleteIssueProperty({ issueIdOrKey: key, propertyKey: 'trailbot' });
    const gone = await refusal(jira.issueProperties.getIssueProperty({ issueIdOrKey: key, propertyKey: 'trailbot' }));
    expect(gone.status).toBe(404);
    const big = await refusal(jira.issueProperties.setIssueProperty({ issueIdOrKey: key, propertyKey: 'big', body: { s: 'x'.repeat(32_768) } }));
    expect(big.status).toBe(400);
  });

  it('adds comments and pages through them', async () => {
    const key = (await create()).key;
    const first = await jira.issueComments.addComment({ issueIdOrKey: key, body: doc('First look: the key was used from a new ASN.') });
    expect(first).toMatchObject({ id: expect.any(String), author: { emailAddress: DEFAULT_CREDENTIALS.email }, body: doc('First look: the key was used from a new ASN.') });
    expect(first.created).toBeInstanceOf(Date);
    for (const n of [2, 3]) await jira.issueComments.addComment({ issueIdOrKey: key, body: doc(`Update ${n}`) });
    const page = await jira.issueComments.getComments({ issueIdOrKey: key, startAt: 1, maxResults: 1 });
    expect(page).toMatchObject({ startAt: 1, maxResults: 1, total: 3 });
    expect(page.comments?.map((c) => c.body)).toEqual([doc('Update 2')]);
  });

  it('runs the workflow: To Do → In Progress → Done, and Reopen', async () => {
    const key = (await create()).key;
    const ids = async () => (await jira.issues.getTransitions({ issueIdOrKey: key })).transitions!.map((t) => `${t.id}:${t.name}→${t.to?.name}/${t.to?.statusCategory?.key}`);
    expect(await ids()).toEqual(['11:Start Progress→In Progress/indeterminate']);
    expect(await jira.issues.doTransition({ issueIdOrKey: key, transition: { id: '11' } })).toBeUndefined();
    expect(await ids()).toEqual(['21:Done→Done/done']);
    const bad = await refusal(jira.issues.doTransition({ issueIdOrKey: key, transition: { id: '31' } }));
    expect(bad.status).toBe(400);
    expect(bad.body.errorMessages[0]).toMatch(/Transition id '31' is not valid/);
    await jira.issues.doTransition({ issueIdOrKey: key, transition: { id: '21' } });
    const done = await jira.issues.getIssue({ issueIdOrKey: key, fields: ['status', 'resolution', 'resolutiondate'] });
    expect(done.fields).toMatchObject({ status: { name: 'Done', statusCategory: { key: 'done' } }, resolution: { name: 'Done' } });
    expect(done.fields!.resolutiondate).toEqual(expect.any(String));
    await jira.issues.doTransition({ issueIdOrKey: key, transition: { id: '31' } });
    const reopened = await jira.issues.getIssue({ issueIdOrKey: key, fields: ['status', 'resolution'] });
    expect(reopened.fields).toMatchObject({ status: { name: 'To Do' }, resolution: null });
  });

  it('links issues; both sides show the link', async () => {
    const a = (await create({ summary: 'Access key used from a new country' })).key;
    const b = (await create({ summary: 'Same key, earlier' })).key;
    await jira.issueLinks.linkIssues({ type: { name: 'Relates' }, inwardIssue: { key: a }, outwardIssue: { key: b } });
    const la = (await jira.issues.getIssue({ issueIdOrKey: a, fields: ['issuelinks'] })).fields!.issuelinks as unknown[];
    const lb = (await jira.issues.getIssue({ issueIdOrKey: b, fields: ['issuelinks'] })).fields!.issuelinks as unknown[];
    expect(la).toEqual([expect.objectContaining({ type: expect.objectContaining({ name: 'Relates' }), outwardIssue: expect.objectContaining({ key: b }) })]);
    expect(lb).toEqual([expect.objectContaining({ inwardIssue: expect.objectContaining({ key: a }) })]);
    IssueLinkSchema.parse(la[0]);
    const unknown = await refusal(jira.issueLinks.linkIssues({ type: { name: 'Causes' }, inwardIssue: { key: a }, outwardIssue: { key: b } }));
    expect(unknown.status).toBe(404);
  });

  it('assigns, and edits fields and labels', async () => {
    const key = (await create({ labels: ['trailbot'] })).key;
    await jira.issues.assignIssue({ issueIdOrKey: key, accountId: ALANA });
    await jira.issues.editIssue({ issueIdOrKey: key, fields: { summary: 'Renamed' }, update: { labels: [{ add: 'closed-by-trailbot' }] } });
    const i = await jira.issues.getIssue({ issueIdOrKey: key, fields: ['assignee', 'summary', 'labels'] });
    expect(i.fields).toMatchObject({ assignee: { accountId: ALANA }, summary: 'Renamed', labels: ['trailbot', 'closed-by-trailbot'] });
  });

  describe('JQL search (/rest/api/3/search/jql)', () => {
    let keys: string[];
    beforeAll(async () => {
      keys = [];
      for (const [n, labels] of [[1, ['trailbot', 'jqlset']], [2, ['trailbot', 'jqlset', 'iam']], [3, ['jqlset']]] as const) {
        const c = await create({ summary: `JQL case ${n}`, labels: [...labels] }, { properties: [{ key: 'trailbot', value: { findingId: `jql-${n}`, tags: ['a', `t${n}`] } }] });
        keys.push(c.key);
        await sleep(2); // distinct `created`
      }
      await jira.issues.doTransition({ issueIdOrKey: keys[0]!, transition: { id: '11' } });
      await jira.issues.doTransition({ issueIdOrKey: keys[0]!, transition: { id: '21' } });
      await jira.issues.doTransition({ issueIdOrKey: keys[1]!, transition: { id: '11' } });
    });
    const found = async (jql: string) => (await jira.issueSearch.searchAndReconsileIssuesUsingJql({ jql, fields: ['key'] })).issues!.map((i) => i.key);

    it('supports the clauses trailbot uses', async () => {
      const [k1, k2, k3] = keys;
      expect(await found('project = SEC AND labels = jqlset ORDER BY created DESC')).toEqual([k3, k2, k1]);
      expect(await found('labels = jqlset ORDER BY created ASC')).toEqual([k1, k2, k3]);
      expect(await found('labels in (iam, nothing) AND project = "SEC"')).toEqual([k2]);
      expect(await found('issue.property[trailbot].findingId = "jql-2"')).toEqual([k2]);
      expect(await found('issue.property[trailbot].tags = t3')).toEqual([k3]);
      expect(await found('labels = jqlset AND statusCategory != Done ORDER BY created DESC')).toEqual([k3, k2]);
      expect(await found('labels = jqlset AND status = "In Progress"')).toEqual([k2]);
      expect(await found(`key = ${k1}`)).toEqual([k1]);
      expect(await found(`key = ${k1} OR (labels = jqlset AND NOT labels = trailbot) ORDER BY key ASC`)).toEqual([k1, k3]);
      expect(await found('labels = jqlset AND labels != trailbot')).toEqual([k3]);
      expect(await found('labels = jqlset AND summary ~ "case 2"')).toEqual([k2]);
    });

    it('returns only ids by default, pages with nextPageToken, and takes POST too', async () => {
      const r = await jira.issueSearch.searchAndReconsileIssuesUsingJql({ jql: 'labels = jqlset ORDER BY created ASC' });
      expect(r.issues).toEqual(keys.map((k) => ({ id: s.issue(k)!.id })));
      const p1 = await jira.issueSearch.searchAndReconsileIssuesUsingJqlPost({ jql: 'labels = jqlset ORDER BY created ASC', maxResults: 2, fields: ['summary', 'status'] });
      expect(p1.isLast).toBe(false);
      expect(p1.issues!.map((i) => i.fields!.summary)).toEqual(['JQL case 1', 'JQL case 2']);
      const p2 = await jira.issueSearch.searchAndReconsileIssuesUsingJqlPost({ jql: 'labels = jqlset ORDER BY created ASC', maxResults: 2, fields: ['summary'], nextPageToken: p1.nextPageToken! });
      expect(p2).toMatchObject({ isLast: true, issues: [{ key: keys[2], fields: { summary: 'JQL case 3' } }] });
      expect(p2.nextPageToken).toBeUndefined();
      const wrongQuery = await refusal(jira.issueSearch.searchAndReconsileIssuesUsingJql({ jql: 'labels = other', nextPageToken: p1.nextPageToken! }));
      expect(wrongQuery.status).toBe(400);
    });

    it('refuses what it does not understand with a 400 that says why; the old /search is 410', async () => {
      const cases: [string, RegExp][] = [
        ['labels = ', /Expecting either a value/],
        ['project = SEC AND', /Expecting a field name/],
        ['foo = bar', /Field 'foo' does not exist/],
        ['project = NOPE', /The value 'NOPE' does not exist for the field 'project'/],
        ['status = "Blocked"', /does not exist for the field 'status'/],
        ['labels ~ x', /operator '~' is not supported by the 'labels' field/],
        ['project = SEC ORDER BY votes', /Not able to sort using field 'votes'/],
        ['ORDER BY created DESC', /Unbounded JQL queries are not allowed/],
        ['assignee in membersOf("x")', /Unable to find JQL function 'membersOf\(\)'/],
      ];
      for (const [jql, message] of cases) {
        const r = await refusal(jira.issueSearch.searchAndReconsileIssuesUsingJql({ jql }));
        expect(r.status, jql).toBe(400);
        expect(r.body.errorMessages[0], jql).toMatch(message);
      }
      const auth = `Basic ${Buffer.from(`${DEFAULT_CREDENTIALS.email}:${DEFAULT_CREDENTIALS.apiToken}`).toString('base64')}`;
      const old = await fetch(`${s.url}/rest/api/3/search?jql=project=SEC`, { headers: { authorization: auth } });
      expect(old.status).toBe(410);
      expect(((await old.json()) as { errorMessages: string[] }).errorMessages[0]).toMatch(/search\/jql/);
    });

    it('is eventually consistent: a new issue or a property change is found only after indexDelayMs', async () => {
      s.indexDelayMs = 300;
      try {
        const c = await create({ labels: ['eventual'] }, { properties: [{ key: 'trailbot', value: { findingId: 'ev-1' } }] });
        expect(await found('labels = eventual')).toEqual([]);
        // reconcileIssues asks for read-after-write on named issues, as in Jira
        const rec = await jira.issueSearch.searchAndReconsileIssuesUsingJqlPost({ jql: 'labels = eventual', fields: ['key'], reconcileIssues: [Number(c.id)] });
        expect(rec.issues!.map((i) => i.key)).toEqual([c.key]);
        await sleep(350);
        expect(await found('labels = eventual')).toEqual([c.key]);
        await jira.issueProperties.setIssueProperty({ issueIdOrKey: c.key, propertyKey: 'trailbot', body: { findingId: 'ev-2' } });
        expect(await found('issue.property[trailbot].findingId = "ev-2"')).toEqual([]);
        expect(await found('issue.property[trailbot].findingId = "ev-1"')).toEqual([c.key]); // the index still has the old value
        await sleep(350);
        expect(await found('issue.property[trailbot].findingId = "ev-2"')).toEqual([c.key]);
      } finally {
        s.indexDelayMs = 0;
      }
    });
  });

  describe('faults', () => {
    it('a 429 surfaces as RateLimitError with retryAfterMs, and only for matching requests', async () => {
      s.faults.rateLimit({ count: 1, retryAfterSeconds: 3, match: { method: 'POST', path: '/rest/api/3/issue' } });
      await jira.myself.getCurrentUser(); // does not match
      const r = await refusal(create());
      expect(r.status).toBe(429);
      expect(isRateLimitError(r.error)).toBe(true);
      expect((r.error as { retryAfterMs?: number }).retryAfterMs).toBe(3000);
      const rec = s.requests.at(-1)!;
      expect(rec).toMatchObject({ method: 'POST', path: '/rest/api/3/issue', status: 429, fault: '429' });
      expect((rec.body as { fields: { summary: string } }).fields.summary).toBe('Root user signed in');
      await create(); // the fault is used up
    });

    it('5xx: ServerError without retries; jira.js retries 503 when asked to', async () => {
      s.faults.serverError({ count: 1, status: 500 });
      const r = await refusal(jira.myself.getCurrentUser());
      expect(r.status).toBe(500);
      expect(isServerError(r.error)).toBe(true);
      s.faults.serverError({ count: 2, status: 503 });
      const retrying = clientFor(s, { retry: { maxAttempts: 3, initialDelayMs: 5 } });
      const before = s.requests.length;
      expect(await retrying.myself.getCurrentUser()).toMatchObject({ emailAddress: DEFAULT_CREDENTIALS.email });
      expect(s.requests.slice(before).map((x) => x.status)).toEqual([503, 503, 200]);
    });

    it('adds latency to every request', async () => {
      s.faults.latency(60);
      try {
        const t0 = performance.now();
        await jira.serverInfo.getServerInfo();
        expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
      } finally {
        s.faults.latency(0);
      }
    });

    it('holds the answer to a matching request after carrying it out, until the time is up or clear()', async () => {
      s.faults.hold({ ms: 60_000, match: { method: 'POST', path: '/rest/api/3/issue' } });
      const before = s.issues().length;
      let answered = false;
      const pending = create({ summary: 'Held create' }).then((r) => {
        answered = true;
        return r;
      });
      for (let i = 0; i < 100 && s.faults.holding === 0; i++) await sleep(10);
      expect(s.faults.holding).toBe(1);
      // Jira has done the work; the client is still waiting for the answer.
      expect(s.issues()).toHaveLength(before + 1);
      expect(s.issues().at(-1)!.summary).toBe('Held create');
      await jira.serverInfo.getServerInfo(); // not matching: answered at once
      expect(answered).toBe(false);
      s.faults.clear();
      expect((await pending).key).toBe(s.issues().at(-1)!.key);
      expect(s.faults.holding).toBe(0);
      s.faults.hold({ ms: 30 });
      const t0 = performance.now();
      await jira.serverInfo.getServerInfo();
      expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
    });

    it('takes faults over HTTP from the CLI admin route', async () => {
      const res = await fetch(`${s.url}/__standin/faults`, { method: 'POST', body: JSON.stringify({ rateLimit: { count: 1, retryAfterSeconds: 2 } }) });
      expect(res.status).toBe(200);
      const r = await refusal(jira.serverInfo.getServerInfo());
      expect(r.status).toBe(429);
      expect((r.error as { retryAfterMs?: number }).retryAfterMs).toBe(2000);
    });
  });
});

describe('webhooks', () => {
  const SECRET = 'jira-webhook-secret-0000';
  let s: JiraStandin;
  let received: { headers: Record<string, string | string[] | undefined>; raw: string }[];
  let receiver: ReturnType<typeof createServer>;
  beforeAll(async () => {
    received = [];
    receiver = createServer((req, res) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      req.on('end', () => {
        received.push({ headers: req.headers, raw });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/jira/webhook`;
    s = await startJiraStandin({ indexDelayMs: 0, webhooks: [{ url, secret: SECRET, events: ['jira:issue_updated'] }] });
  });
  afterAll(async () => {
    await s.close();
    await new Promise((r) => receiver.close(r));
  });

  it('closing an issue as a person would sends signed jira:issue_updated webhooks with the changelog', async () => {
    const jira = clientFor(s);
    const { key } = await jira.issues.createIssue({ fields: { project: { key: 'SEC' }, issuetype: { name: 'Task' }, summary: 'Webhook me', description: doc('x') } });
    s.closeIssue(key, { as: ALANA });
    await s.webhooks.settled();
    expect(received).toHaveLength(2);
    for (const r of received) {
      const header = r.headers['x-hub-signature'] as string;
      expect(header).toBe(`sha256=${createHmac('sha256', SECRET).update(r.raw).digest('hex')}`);
      expect(verifySignature(SECRET, r.raw, header)).toBe(true);
      expect(verifySignature('another-secret-0000', r.raw, header)).toBe(false);
    }
    const last = JSON.parse(received[1]!.raw) as WebhookPayload;
    expect(last).toMatchObject({
      webhookEvent: 'jira:issue_updated',
      issue_event_type_name: 'issue_generic',
      user: { accountId: ALANA },
      issue: { key, fields: { status: { name: 'Done', statusCategory: { key: 'done' } } } },
    });
    expect(last.timestamp).toEqual(expect.any(Number));
    expect(last.changelog!.items).toEqual([
      { field: 'resolution', fieldtype: 'jira', fieldId: 'resolution', from: null, fromString: null, to: '10000', toString: 'Done' },
      { field: 'status', fieldtype: 'jira', fieldId: 'status', from: '3', fromString: 'In Progress', to: '10001', toString: 'Done' },
    ]);
    // an assignment through the API is an update too; issue_created was not subscribed
    await jira.issues.assignIssue({ issueIdOrKey: key, accountId: ALANA });
    await s.webhooks.settled();
    const assigned = JSON.parse(received[2]!.raw) as WebhookPayload;
    expect(assigned).toMatchObject({ issue_event_type_name: 'issue_assigned', changelog: { items: [{ field: 'assignee', to: ALANA, toString: 'Alana Ruiz' }] } });
    expect(s.webhooks.deliveries.every((d) => d.status === 200)).toBe(true);
  });
});

describe('configuration', () => {
  it('a site without property indexing matches no issue.property clause, as Jira does for undeclared properties', async () => {
    const s = await startJiraStandin({ indexDelayMs: 0, indexedProperties: [{ propertyKey: 'trailbot', path: 'flow' }] });
    try {
      const jira = clientFor(s);
      await jira.issues.createIssue({
        fields: { project: { key: 'SEC' }, issuetype: { name: 'Bug' }, summary: 'x', labels: ['l'] },
        properties: [{ key: 'trailbot', value: { findingId: 'f-9', flow: 'root-login' } }],
      });
      const q = async (jql: string) => (await jira.issueSearch.searchAndReconsileIssuesUsingJql({ jql })).issues!.length;
      expect(await q('issue.property[trailbot].findingId = "f-9"')).toBe(0);
      expect(await q('issue.property[trailbot].flow = "root-login"')).toBe(1);
      expect(await q('labels = l')).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('the CLI parses its options, starts the stand-in and prints the env for trailbot', async () => {
    expect(parseCliArgs(['--help'])).toBe('help');
    expect(() => parseCliArgs(['--project', 'lower-case!'])).toThrow(/--project/);
    expect(() => parseCliArgs(['--webhook-secret', 'short', '--webhook-url', 'http://x'])).toThrow(/16 characters/);
    const lines: string[] = [];
    const s = await runCli(['--port', '0', '--project', 'OPS', '--index-delay', '0', '--indexed-properties', 'trailbot.findingId'], (l) => lines.push(l));
    try {
      expect(lines).toContain(`export JIRA_BASE_URL=${s!.url}`);
      expect(lines).toContain('export JIRA_PROJECT=OPS');
      expect(lines).toContain(`export JIRA_API_TOKEN=${DEFAULT_CREDENTIALS.apiToken}`);
      const c = await clientFor(s!).issues.createIssue({ fields: { project: { key: 'OPS' }, issuetype: { name: 'Task' }, summary: 'from the CLI' } });
      expect(c.key).toBe('OPS-1');
    } finally {
      await s!.close();
    }
  });
});
