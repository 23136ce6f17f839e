import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { JiraIssueEventOutcome } from '../actions/jira/issue-events.ts';
import { asTrailbotError, type ErrorCode } from '../errors.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { type JobQueue, withTimeout } from '../runtime/queue.ts';
import type { Store } from '../store/index.ts';
import { forRequests } from '../store/requests.ts';
import { createApi, UPLOAD_TYPES } from './api.ts';
import { type AuthOptions, auth, isOpen, JSON_BODY, type SessionCheck, sameOrigin } from './auth.ts';
import { createDashboard, wantsHtml } from './dashboard.ts';
import { jiraWebhook, type WebhookIssueEvent } from './jira-webhook.ts';
import { requestLog } from './request-log.ts';
import { VERSION } from '../version.ts';

export type Role = 'web' | 'worker' | 'all';

export interface AppDeps {
  store: Store;
  queue: JobQueue;
  metrics: Metrics;
  log: Logger;
  role: Role;
  version?: string;
  /** How long /readyz waits for each dependency. */
  readyTimeoutMs?: number;
  /** Longest one API query may run (statement_timeout) before the answer is 503 E_QUERY_TIMEOUT. */
  queryTimeoutMs?: number;
  /** Who may call /api (no tokens and no sign-in: this machine only), and the origins it is reached under (PUBLIC_URL). */
  auth?: AuthOptions;
  /** The ids of the configured reports: POST /api/jobs refuses a report job for any other at once (none given: not checked). */
  reportIds?: readonly string[];
  /** JIRA_WEBHOOK_SECRET: POST /jira/webhook checks each delivery's signature with it (none: the route refuses all). */
  jiraWebhookSecret?: string | undefined;
  /** What a verified Jira issue event does (src/actions/jira/issue-events.ts); none: every event is 'unknown'. */
  onJiraIssueEvent?: (e: WebhookIssueEvent) => Promise<JiraIssueEventOutcome>;
  /** POST /slack/events, Slack's commands and interactivity (createSlackEvents in src/http/slack-events.ts), mounted at /slack on web and all; none: no such route. */
  slackEvents?: Hono | undefined;
  /** The approval pages (/approvals/<token>, src/http/approvals.ts) and sign-in (/auth/…, src/http/signin.ts), on web and all; none: no such routes. */
  approvals?: { pages: Hono; auth: Hono } | undefined;
  /** The OIDC session (src/http/signin.ts) that opens the dashboard's pages to a browser besides a bearer token; none: tokens only (or, with no tokens either, this machine only). */
  dashboardSession?: SessionCheck | undefined;
}

const STATUS: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  E_USAGE: 400,
  E_INPUT_SHAPE: 400,
  E_INPUT_NOT_JSON: 400,
  E_RECORD_INVALID: 400,
  E_STORE_UNAVAILABLE: 503,
  E_QUEUE: 503,
  E_QUERY_TIMEOUT: 503,
  E_UNAUTHORIZED: 401,
  E_FORBIDDEN: 403,
  E_NOT_FOUND: 404,
  E_TOO_LARGE: 413,
  E_CONTENT_TYPE: 415,
  E_APPROVAL_LINK: 400,
  E_APPROVAL_REFUSED: 403,
  E_SIGNIN: 401,
};

/** Errors thrown as HTTPException(status) get the code of their status. */
const CODE_OF_STATUS: Record<number, ErrorCode> = { 401: 'E_UNAUTHORIZED', 403: 'E_FORBIDDEN', 404: 'E_NOT_FOUND', 413: 'E_TOO_LARGE', 415: 'E_CONTENT_TYPE' };

/** What to do, for errors that do not say it themselves. Every error body carries a hint. */
const HINT: Partial<Record<ErrorCode, string>> = {
  E_USAGE: 'check the parameters: they use snake_case, and times take 7d, 2024-08-01 or an ISO time (README.md, "Running trailbot as a service")',
  E_NOT_FOUND: 'check the path and the id: GET / lists the API on the web role; /healthz, /readyz and /metrics answer on every role',
  E_UNAUTHORIZED: "send Authorization: Bearer <token> with one of the tokens in the server's TRAILBOT_API_TOKENS",
  E_STORE_UNAVAILABLE: 'try again shortly; /readyz says which dependency is down',
  E_QUEUE: 'try again shortly; /readyz says which dependency is down',
  E_TOO_LARGE: 'send less: POST /api/ingest takes one file of at most 64 MiB, POST /api/jobs a job of at most 1 MiB',
  E_CONTENT_TYPE: 'send Content-Type: application/json (a trail file to POST /api/ingest: application/octet-stream)',
  E_INPUT_NOT_JSON: 'send a JSON body with Content-Type: application/json',
};
const INTERNAL_HINT = 'the server log has the details; try again, and report it if it persists';

/**
 * The HTTP side: probes and metrics on every role; the read-only JSON API on web (later: Slack,
 * Jira, approvals and the dashboard, each a sub-app mounted with app.route). All errors leave
 * through one onError as `{ error: { code, message, hint } }`.
 */
export function createApp(deps: AppDeps): Hono {
  const { store, queue, metrics, log, role, version = VERSION, readyTimeoutMs = 2000, auth: access } = deps;
  const app = new Hono();
  app.use(requestLog({ log }));

  app.get('/healthz', (c) => c.json({ status: 'ok', role, version }));

  app.get('/readyz', async (c) => {
    const check = async (what: string, p: () => Promise<unknown>): Promise<string> => {
      try {
        await withTimeout(p(), readyTimeoutMs, `no answer in ${readyTimeoutMs} ms`);
        return 'ok';
      } catch (e) {
        log.warn({ dependency: what, err: e }, `${what} is not reachable`);
        return `down: ${asTrailbotError(e).message}`;
      }
    };
    const [s, q] = await Promise.all([check('store', () => store.db.query('SELECT 1')), check('queue', () => queue.ping())]);
    const body = { status: s === 'ok' && q === 'ok' ? 'ready' : 'not ready', store: s, queue: q, queueBackend: queue.backend, storeKind: store.db.kind };
    return c.json(body, body.status === 'ready' ? 200 : 503);
  });

  app.get('/metrics', async (c) => {
    const text = await metrics.registry.metrics();
    return c.text(text, 200, { 'content-type': metrics.registry.contentType });
  });

  if (role !== 'worker') {
    // Pages of other sites first (a foreign Origin or Host, a body a form could send), then who is asking.
    app.use('/api/*', sameOrigin({ loopbackHost: isOpen(access), origins: access?.origins, bodyTypes: (path) => (path === '/api/ingest' ? UPLOAD_TYPES : JSON_BODY) }));
    app.use('/api/*', auth(access)); // also matches /api itself
    // Every API query under a statement_timeout; searches bounded (src/store/requests.ts).
    app.route('/api', createApi({ store: forRequests(store, { timeoutMs: deps.queryTimeoutMs }), queue, reportIds: deps.reportIds }));
    // Outside /api: Jira cannot send a bearer token; each delivery is signed with the webhook's secret instead.
    app.route('/jira', jiraWebhook({ secret: deps.jiraWebhookSecret, onIssueEvent: deps.onJiraIssueEvent ?? (async () => 'unknown'), log }));
    // Outside /api too: Slack posts forms with no bearer token; each request carries Slack's v0 signature instead.
    if (deps.slackEvents) app.route('/slack', deps.slackEvents);
    // Outside /api too: pages people open from tickets and alerts, signed in with the company's provider (HTML, not JSON).
    if (deps.approvals) {
      app.route('/approvals', deps.approvals.pages);
      app.route('/auth', deps.approvals.auth);
    }
    // The dashboard (src/http/dashboard.ts): pages for browsers at /, /events/<id>, /clickops, /findings, /audit,
    // under the API's access rules (the session opens them too). A client asking for JSON at / gets the links below.
    app.get('/', (c, next) => (wantsHtml(c) ? next() : c.json({
        name: 'trailbot',
        version,
        links: { health: '/healthz', ready: '/readyz', metrics: '/metrics', trail: '/api/trail?who=<person>', events: '/api/events?event_name=<action>', jobs: '/api/jobs?state=failed', dashboard: '/' },
      })),
    );
    const dashboardAuth: AuthOptions = { ...access, session: deps.dashboardSession };
    app.route('/', createDashboard({ store: forRequests(store, { timeoutMs: deps.queryTimeoutMs }), auth: dashboardAuth, signIn: deps.dashboardSession !== undefined }));
  }

  app.notFound((c) => c.json({ error: { code: 'E_NOT_FOUND', message: `no route ${c.req.method} ${c.req.path}`, hint: HINT.E_NOT_FOUND } }, 404));

  app.onError((err, c) => {
    if (err instanceof HTTPException) {
      const code: ErrorCode = err.status >= 500 ? 'E_INTERNAL' : (CODE_OF_STATUS[err.status] ?? 'E_USAGE');
      if (err.status === 401) c.header('WWW-Authenticate', 'Bearer realm="trailbot"');
      return c.json({ error: { code, message: err.message, hint: HINT[code] ?? INTERNAL_HINT } }, err.status);
    }
    const e = asTrailbotError(err);
    const status = STATUS[e.code] ?? 500;
    if (status >= 500) log.error({ err }, 'request failed');
    if (status === 401) c.header('WWW-Authenticate', 'Bearer realm="trailbot"');
    // Internal errors say what happened in the log, not to the caller.
    const message = status === 500 ? 'internal error (see the server log)' : e.message;
    const hint = status === 500 ? INTERNAL_HINT : (e.hint ?? HINT[e.code] ?? INTERNAL_HINT);
    return c.json({ error: { code: e.code, message, hint } }, status);
  });
  return app;
}
