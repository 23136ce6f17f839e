import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AdfDoc } from '../../flows/adf.ts';
import { TrailbotError } from '../../errors.ts';
import { createJiraClient, DEFAULT_RETRY_AFTER_MS, MAX_RETRY_AFTER_MS, retryAfter } from './client.ts';
import type { CreateIssueInput, JiraPort } from './port.ts';
import { type JiraStandin, startJiraStandin } from './standin/index.ts';

const doc = (text: string): AdfDoc => ({ type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text }] }] });
const ALANA = '5b10ac8d82e05b22cc7d4ef5';

const portFor = (s: JiraStandin, over: { apiToken?: string; timeoutMs?: number } = {}): JiraPort =>
  createJiraClient({ baseUrl: s.url, email: s.credentials.email, apiToken: over.apiToken ?? s.credentials.apiToken }, { onSchemaMismatch: 'throw', timeoutMs: over.timeoutMs });

const input = (over: Partial<CreateIssueInput> = {}): CreateIssueInput => ({
  project: 'SEC',
  issueType: 'Task',
  summary: 'Root user signed in to 111122223333',
  description: doc('The root user signed in.'),
  labels: ['trailbot', 'root-activity', 'trailbot-f1'],
  ...over,
});

async function failure(p: Promise<unknown>): Promise<TrailbotError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TrailbotError);
  return e as TrailbotError;
}

describe('the Jira client against the stand-in', () => {
  let s: JiraStandin;
  let jira: JiraPort;
  beforeAll(async () => {
    s = await startJiraStandin({ indexDelayMs: 0 });
    jira = portFor(s);
  });
  afterAll(() => s.close());
  beforeEach(() => s.faults.clear());

  it('creates an issue with ADF, labels, priority, assignee, components and the trailbot property, over REST v3', async () => {
    const r = await jira.create(
      input({ priority: 'High', assignee: ALANA, components: ['CloudTrail'], properties: [{ key: 'trailbot', value: { findingId: 'f1', key: 'root:1' } }] }),
    );
    expect(r.key).toMatch(/^SEC-\d+$/);
    expect(r.url).toBe(`${s.url}/browse/${r.key}`);
    const stored = s.issue(r.key)!;
    expect(stored.id).toBe(r.id);
    expect(stored.description).toEqual(doc('The root user signed in.'));
    expect(stored.labels).toEqual(['trailbot', 'root-activity', 'trailbot-f1']);
    expect(stored.priorityId).toBe('2');
    expect(stored.assigneeId).toBe(ALANA);
    expect(stored.componentIds).toEqual(['10102']);
    expect(stored.properties.get('trailbot')).toEqual({ findingId: 'f1', key: 'root:1' });
    const post = s.requests.filter((q) => q.method === 'POST' && q.path.startsWith('/rest/api/'));
    expect(post.at(-1)!.path).toBe('/rest/api/3/issue');
  });

  it('finds issues by label, newest first, in the project only when asked', async () => {
    const a = await jira.create(input({ labels: ['trailbot', 'trailbot-f2'] }));
    const b = await jira.create(input({ labels: ['trailbot', 'trailbot-f2'] }));
    expect((await jira.findByLabel('trailbot-f2', 'SEC')).map((x) => x.key)).toEqual([b.key, a.key]);
    expect((await jira.findByLabel('trailbot-f2')).map((x) => x.key)).toEqual([b.key, a.key]);
    expect(await jira.findByLabel('trailbot-nothing', 'SEC')).toEqual([]);
    const q = s.requests.filter((x) => x.path === '/rest/api/3/search/jql').at(-1)!;
    expect(q.method).toBe('POST');
    expect((q.body as { jql: string }).jql).toBe('labels = "trailbot-nothing" AND project = "SEC" ORDER BY created DESC');
  });

  it('reads an issue: status, its category, assignee and labels; undefined when there is none', async () => {
    const r = await jira.create(input({ assignee: ALANA }));
    expect(await jira.get(r.key)).toEqual({
      id: r.id,
      key: r.key,
      url: r.url,
      status: 'To Do',
      statusCategory: 'new',
      assignee: { accountId: ALANA, displayName: 'Alana Ruiz', email: 'alana@corp.example' },
      labels: ['trailbot', 'root-activity', 'trailbot-f1'],
    });
    expect(await jira.get('SEC-99999')).toBeUndefined();
  });

  it('comments in ADF', async () => {
    const r = await jira.create(input());
    const c = await jira.comment(r.key, doc('3 more events since 10:00'));
    expect(c.id).toMatch(/^\d+$/);
    expect(s.issue(r.key)!.comments.map((x) => x.body)).toEqual([doc('3 more events since 10:00')]);
  });

  it('reopens a done issue through a transition to a not-done status; an open one stays as it is', async () => {
    const r = await jira.create(input());
    expect(await jira.reopen(r.key)).toBe(true); // already open: nothing moves (not to In Progress)
    expect((await jira.get(r.key))!.status).toBe('To Do');
    s.closeIssue(r.key, { as: ALANA });
    expect((await jira.get(r.key))!.statusCategory).toBe('done');
    expect(await jira.reopen(r.key)).toBe(true);
    expect(await jira.get(r.key)).toMatchObject({ status: 'To Do', statusCategory: 'new' });
    expect((await failure(jira.reopen('SEC-99999'))).code).toBe('E_JIRA_REJECTED');
  });

  it('links two issues: "from relates to to"', async () => {
    const a = await jira.create(input());
    const b = await jira.create(input());
    await jira.link(b.key, a.key);
    const links = s.issueJson(b.key).fields as { issuelinks: { type: { name: string }; outwardIssue?: { key: string } }[] };
    expect(links.issuelinks).toMatchObject([{ type: { name: 'Relates' }, outwardIssue: { key: a.key } }]);
    expect((await failure(jira.link(b.key, a.key, 'No Such Link'))).code).toBe('E_JIRA_REJECTED');
  });

  it('never sends a string as rich text (it would go to REST v2 as wiki markup)', async () => {
    const before = s.requests.length;
    // @ts-expect-error the port takes ADF only
    const e = await failure(jira.create(input({ description: 'h2. wiki markup' })));
    expect(e.code).toBe('E_JIRA_REJECTED');
    expect(e.message).toMatch(/not an ADF document \(got a string\); nothing was sent/);
    // @ts-expect-error the port takes ADF only
    expect((await failure(jira.comment('SEC-1', 'plain'))).code).toBe('E_JIRA_REJECTED');
    expect(s.requests.length).toBe(before);
  });

  describe('errors', () => {
    it('a 429 is E_JIRA_RATE_LIMITED with the Retry-After in ms, and is not retried by the client', async () => {
      s.faults.rateLimit({ count: 1, retryAfterSeconds: 3, match: { method: 'POST', path: '/rest/api/3/issue' } });
      const e = await failure(jira.create(input()));
      expect(e.code).toBe('E_JIRA_RATE_LIMITED');
      expect(e.retryAfterMs).toBe(3000);
      expect(s.requests.filter((q) => q.fault === '429')).toHaveLength(1);
      expect(s.faults.pending).toEqual([]);
    });

    it('a Retry-After is clamped: none → the default, a huge one → the cap', () => {
      expect(retryAfter(undefined)).toBe(DEFAULT_RETRY_AFTER_MS);
      expect(retryAfter(Number.NaN)).toBe(DEFAULT_RETRY_AFTER_MS);
      expect(retryAfter(86_400_000)).toBe(MAX_RETRY_AFTER_MS);
      expect(retryAfter(1500)).toBe(1500);
    });

    it('a 5xx is E_JIRA_UNAVAILABLE', async () => {
      s.faults.serverError({ count: 1, status: 503 });
      const e = await failure(jira.get('SEC-1'));
      expect(e.code).toBe('E_JIRA_UNAVAILABLE');
      expect(e.message).toMatch(/503/);
    });

    it('no server at the URL, or no answer in time, is E_JIRA_UNAVAILABLE', async () => {
      const free = await new Promise<number>((resolve) => {
        const srv = createServer().listen(0, '127.0.0.1', () => {
          const p = (srv.address() as { port: number }).port;
          srv.close(() => resolve(p));
        });
      });
      const gone = createJiraClient({ baseUrl: `http://127.0.0.1:${free}`, email: s.credentials.email, apiToken: 'x' }, { onSchemaMismatch: 'throw' });
      const e = await failure(gone.get('SEC-1'));
      expect(e.code).toBe('E_JIRA_UNAVAILABLE');
      expect(e.hint).toMatch(/JIRA_BASE_URL/);
      s.faults.latency(500);
      try {
        const slow = await failure(portFor(s, { timeoutMs: 50 }).get('SEC-1'));
        expect(slow.code).toBe('E_JIRA_UNAVAILABLE');
        expect(slow.message).toMatch(/did not answer .* within 50 ms/);
      } finally {
        s.faults.latency(0);
      }
    });

    it('an unknown project is E_JIRA_REJECTED naming the field, with a hint at JIRA_PROJECT', async () => {
      const e = await failure(jira.create(input({ project: 'NOPE' })));
      expect(e.code).toBe('E_JIRA_REJECTED');
      expect(e.message).toMatch(/project: Specify a valid project ID or key/);
      expect(e.hint).toMatch(/JIRA_PROJECT/);
    });

    it('an unknown issue type is E_JIRA_REJECTED with a hint at routing.jira.issueType', async () => {
      const e = await failure(jira.create(input({ issueType: 'Epic' })));
      expect(e.code).toBe('E_JIRA_REJECTED');
      expect(e.message).toMatch(/issuetype: The issue type selected is invalid/);
      expect(e.hint).toMatch(/routing\.jira\.issueType/);
    });

    it('an unknown component or assignee names its routing setting', async () => {
      const e = await failure(jira.create(input({ components: ['Nope'], assignee: 'nobody-at-all' })));
      expect(e.message).toMatch(/components: .*assignee: |assignee: .*components: /);
      expect(e.hint).toMatch(/routing\.jira\.components/);
      expect(e.hint).toMatch(/routing\.jira\.assignee/);
    });

    it('bad credentials are E_JIRA_AUTH with a hint at JIRA_EMAIL / JIRA_API_TOKEN, and the token is nowhere in the error', async () => {
      const token = 'ATATT-wrong-secret-token-value';
      const e = await failure(portFor(s, { apiToken: token }).create(input()));
      expect(e.code).toBe('E_JIRA_AUTH');
      expect(e.hint).toMatch(/JIRA_EMAIL and JIRA_API_TOKEN/);
      expect(`${e.message} ${e.hint} ${String((e.cause as Error).message)}`).not.toContain(token);
    });
  });
});

describe('the Jira client on a site without priority on the create screen', () => {
  let s: JiraStandin;
  beforeAll(async () => {
    s = await startJiraStandin({ indexDelayMs: 0, priorityOnScreen: false });
  });
  afterAll(() => s.close());

  it('creates the issue without priority and says so through onFieldDropped', async () => {
    const dropped: [string, string][] = [];
    const r = await portFor(s).create(input({ priority: 'High' }), { onFieldDropped: (f, why) => dropped.push([f, why]) });
    expect(s.issue(r.key)!.priorityId).toBeUndefined();
    expect(dropped).toEqual([['priority', "Field 'priority' cannot be set. It is not on the appropriate screen, or unknown."]]);
    expect(s.requests.filter((q) => q.path === '/rest/api/3/issue' && q.method === 'POST').map((q) => q.status)).toEqual([400, 201]);
  });

  it('does not drop priority when other fields are wrong too: the whole refusal is reported', async () => {
    const e = await failure(portFor(s).create(input({ priority: 'High', issueType: 'Epic' })));
    expect(e.code).toBe('E_JIRA_REJECTED');
    expect(e.message).toMatch(/issuetype/);
  });
});
