// The Jira Cloud stand-in as one Hono app. Requests go through: request log → latency → injected
// faults → Basic auth → route; every refusal leaves through onError in Jira's shape,
// `{"errorMessages":[…],"errors":{field: message}}` (http.ts). The endpoints are tables in routes/, one
// entry each; the state they share is state.ts.
import { Hono } from 'hono';
import { createFaults } from './faults.ts';
import type { Faults } from './faults.ts';
import { basicAuth, errorAnswer, JiraApiError, notFoundAnswer } from './http.ts';
import type { JiraEnv, JiraRequestRecord } from './http.ts';
import { issueJson } from './issue-json.ts';
import { ADMIN_ROUTES, REST_ROUTES } from './routes/index.ts';
import { createSite, DEFAULT_CREDENTIALS, statusById, TRANSITIONS } from './site.ts';
import type { Site, SiteOptions } from './site.ts';
import { createJiraState } from './state.ts';
import type { JiraRoute, StoredIssue } from './state.ts';
import { createWebhooks } from './webhooks.ts';
import type { WebhookRegistration, Webhooks } from './webhooks.ts';
import { actorOf, assign, closeIssue, transition } from './workflow.ts';
import type { TransitionOptions } from './workflow.ts';

export { JiraApiError } from './http.ts';
export type { JiraRequestRecord } from './http.ts';
export type { StoredComment, StoredIssue } from './state.ts';
export type { TransitionOptions } from './workflow.ts';

export interface JiraServiceOptions extends SiteOptions {
  /** the API token's owner and the token (default DEFAULT_CREDENTIALS) */
  credentials?: { email: string; apiToken: string };
  /** how long after a write an issue (or its change) becomes visible to JQL search; 0 = at once (default 1000) */
  indexDelayMs?: number;
  /** the stand-in's clock for timestamps and the search index (default Date.now) */
  clock?: () => number;
  webhooks?: WebhookRegistration[];
  /**
   * Which `issue.property[key].path` JQL can see. Real Jira indexes only what an app declares
   * (a Forge `jira:entityProperty` / Connect `jiraEntityProperties` module); a plain API-token client
   * cannot declare any. `'all'` (default) indexes everything; a list mimics a site with those modules;
   * `[]` is a site with none, where such clauses match nothing.
   */
  indexedProperties?: 'all' | ReadonlyArray<{ propertyKey: string; path: string }>;
}

export interface JiraService {
  readonly site: Site;
  readonly faults: Faults;
  readonly webhooks: Webhooks;
  /** every request in arrival order, including refused and faulted ones (a fresh array on each read) */
  readonly requests: JiraRequestRecord[];
  /** the site URL used in `self` links (set by the listener) */
  baseUrl: string;
  indexDelayMs: number;
  readonly credentials: { email: string; apiToken: string };
  handle(req: Request): Promise<Response>;
  /** an issue by key or id, as stored (live object: read, don't write) */
  issue(keyOrId: string): StoredIssue | undefined;
  /** all issues, oldest first */
  issues(): StoredIssue[];
  /** the issue as GET /rest/api/3/issue/{key} would answer it */
  issueJson(keyOrId: string): Record<string, unknown>;
  /** run a workflow transition by id or name, as a person would in the UI (webhook included) */
  transition(keyOrId: string, transitionIdOrName: string, o?: TransitionOptions): void;
  /** walk the workflow to Done, as a person would (one webhook per step) */
  closeIssue(keyOrId: string, o?: TransitionOptions): void;
  /** assign (or with null unassign), as a person would (webhook included) */
  assign(keyOrId: string, accountId: string | null, o?: TransitionOptions): void;
  /** make every write so far visible to search now */
  reindex(): void;
}

let requestSeq = 0;

export function createJiraService(opts: JiraServiceOptions = {}): JiraService {
  const credentials = opts.credentials ?? { ...DEFAULT_CREDENTIALS };
  const site = createSite(opts, credentials.email);
  const clock = opts.clock ?? Date.now;
  const faults = createFaults(clock);
  const webhooks = createWebhooks(opts.webhooks);
  const svc = {
    site,
    faults,
    webhooks,
    baseUrl: 'http://127.0.0.1',
    indexDelayMs: opts.indexDelayMs ?? 1000,
    credentials,
  } as JiraService;
  const s = createJiraState({ site, credentials, clock, faults, webhooks, indexedProperties: opts.indexedProperties ?? 'all', live: svc });

  const app = new Hono<JiraEnv>();
  app.onError(errorAnswer);
  app.notFound(notFoundAnswer);

  // The request log (every request, faulted and refused ones included), latency, and held answers.
  app.use('*', async (c, next) => {
    const started = performance.now();
    const url = new URL(c.req.url);
    const text = c.req.method === 'GET' || c.req.method === 'HEAD' ? '' : await c.req.text();
    let body: unknown;
    if (text !== '') {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    const record: JiraRequestRecord = {
      seq: ++requestSeq,
      at: new Date(clock()).toISOString(),
      method: c.req.method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      ...(body !== undefined ? { body } : {}),
      status: 0,
      durationMs: 0,
    };
    s.requests.push(record);
    c.set('record', record);
    if (faults.latencyMs > 0 && !url.pathname.startsWith('/__standin/')) await new Promise((r) => setTimeout(r, faults.latencyMs));
    await next();
    record.status = c.res.status;
    if (!record.fault && url.pathname.startsWith('/rest/')) await faults.held(c.req.method, url.pathname);
    record.durationMs = performance.now() - started;
  });

  const mount = (routes: readonly JiraRoute[]) => {
    for (const r of routes) app.on([r.method].flat(), r.path, (c) => r.handle(c, s));
  };
  mount(ADMIN_ROUTES);

  // Jira's API: an injected fault answers first, then Basic auth (serverInfo also answers anonymously).
  app.use('/rest/*', async (c, next) => {
    const fault = faults.take(c.req.method, c.req.path);
    if (fault) {
      c.get('record').fault = fault.status === 429 ? '429' : '5xx';
      return fault;
    }
    const who = basicAuth(c.req.raw, credentials);
    const anonymousOk = c.req.path === '/rest/api/3/serverInfo';
    if (who === 'invalid' || (who === 'anonymous' && !anonymousOk)) {
      throw new JiraApiError(401, ['Client must be authenticated to access this resource.'], {}, { 'www-authenticate': 'Basic realm="protected-area"' });
    }
    c.set('user', s.me());
    await next();
  });
  mount(REST_ROUTES);

  // ---- the object API tests use ---------------------------------------------------------------
  Object.defineProperty(svc, 'requests', { get: () => [...s.requests], enumerable: true });
  svc.handle = async (req) => app.fetch(req);
  svc.issue = (k) => s.findIssue(k);
  svc.issues = () => [...s.issues];
  svc.issueJson = (k) => issueJson(s, s.mustIssue(k), undefined);
  svc.transition = (k, t, o) => {
    const i = s.mustIssue(k);
    const tr = TRANSITIONS.find((x) => (x.id === t || x.name.toLowerCase() === t.toLowerCase()) && x.from.includes(i.statusId));
    if (!tr) throw new Error(`${i.key} is ${statusById(i.statusId).name}: no transition ${t} from there`);
    transition(s, i, tr.id, actorOf(s, o));
  };
  svc.closeIssue = (k, o) => {
    const i = s.mustIssue(k);
    closeIssue(s, i, actorOf(s, o));
  };
  svc.assign = (k, id, o) => assign(s, s.mustIssue(k), id, actorOf(s, o));
  svc.reindex = () => s.reindex();
  return svc;
}
