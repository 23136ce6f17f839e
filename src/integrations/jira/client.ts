import {
  type CloudClient,
  createCloudClient,
  isApiError,
  isAuthError,
  isForbiddenError,
  isNetworkError,
  isNotFoundError,
  isRateLimitError,
  isServerError,
  type SchemaMismatchBehavior,
} from 'jira.js';
import type { AdfDoc } from '../../flows/adf.ts';
import { TrailbotError } from '../../errors.ts';
import type { CreateIssueInput, JiraIssueRef, JiraIssueState, JiraPort, StatusCategory } from './port.ts';

/**
 * The real JiraPort: jira.js 6 (`createCloudClient`, Basic auth with an API token) inside, every
 * failure turned into one of the port's coded errors. Nothing else in trailbot imports jira.js.
 * Rich text is always ADF: a string would make jira.js switch to REST v2 and wiki markup, so the
 * types forbid it and a runtime guard refuses it before any request.
 */

export interface JiraClientConfig {
  /** The site, e.g. https://example.atlassian.net (JIRA_BASE_URL). */
  baseUrl: string;
  /** The API token's owner (JIRA_EMAIL). */
  email: string;
  /** JIRA_API_TOKEN; never logged. */
  apiToken: string;
}

export interface JiraClientOptions {
  /** What jira.js does with an answer its schemas do not describe: tests pass 'throw'; by default a warning in the log. */
  onSchemaMismatch?: SchemaMismatchBehavior;
  /** A call with no answer in this time fails with E_JIRA_UNAVAILABLE (default 30 s). */
  timeoutMs?: number;
  log?: { warn(obj: object, msg?: string): void };
}

/** A 429 without a usable Retry-After waits this long… */
export const DEFAULT_RETRY_AFTER_MS = 10_000;
/** …and none waits longer than this (a bad header must not park a job for a day). */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

/** Page size and page cap of findByLabel (a finding's label matches one issue, a handful at worst). */
const SEARCH_PAGE = 50;
const SEARCH_PAGES = 10;

/** Where each Jira field's value comes from in trailbot, for the hint of a 400. */
const FIELD_HINTS: Record<string, string> = {
  project: 'check JIRA_PROJECT, or routing.jira.project (and each rule\'s jira.project) in trailbot.config.yaml',
  issuetype: 'check routing.jira.issueType (default Task) in trailbot.config.yaml: the project must have that issue type',
  priority: 'check routing.jira.priorities in trailbot.config.yaml: the names must be priorities of the site',
  components: 'check routing.jira.components in trailbot.config.yaml: each must be a component of the project',
  assignee: 'check routing.jira.assignee in trailbot.config.yaml: an Atlassian account id of a user who can be assigned in the project',
  labels: 'check routing.jira.labels in trailbot.config.yaml: labels cannot contain spaces',
  reporter: 'the API token\'s user (JIRA_EMAIL) must be allowed to report issues in the project',
};

/** The ADF guard: the types already say AdfDoc, this catches an `as` cast or untyped caller. */
function assertAdf(doc: unknown, what: string): asserts doc is AdfDoc {
  const d = doc as Partial<AdfDoc> | null;
  if (typeof d !== 'object' || d === null || d.type !== 'doc' || d.version !== 1 || !Array.isArray(d.content)) {
    throw new TrailbotError('E_JIRA_REJECTED', `the ${what} is not an ADF document (got ${typeof doc === 'string' ? 'a string' : JSON.stringify(doc)?.slice(0, 60)}); nothing was sent`, {
      hint: 'a trailbot bug: Jira text must be built as ADF (src/flows/adf.ts), never a string, which jira.js would send as wiki markup to REST v2',
    });
  }
}

/** JQL string literal. */
const jqlString = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

/** The `errors` and `errorMessages` of a Jira error body, as one line, and the fields named. */
function jiraProblems(body: unknown): { text: string; fields: string[] } {
  const b = (typeof body === 'object' && body !== null ? body : {}) as { errorMessages?: unknown; errors?: unknown };
  const messages = Array.isArray(b.errorMessages) ? b.errorMessages.filter((m): m is string => typeof m === 'string') : [];
  const errors = typeof b.errors === 'object' && b.errors !== null ? Object.entries(b.errors as Record<string, unknown>) : [];
  const parts = [...messages, ...errors.map(([f, m]) => `${f}: ${String(m)}`)];
  if (parts.length === 0 && typeof body === 'string' && body.trim()) parts.push(body.trim().slice(0, 300));
  return { text: parts.join('; '), fields: errors.map(([f]) => f) };
}

/** Clamps a Retry-After to [0, MAX_RETRY_AFTER_MS]; none (or nonsense) is the default. */
export function retryAfter(ms: number | undefined): number {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return DEFAULT_RETRY_AFTER_MS;
  return Math.min(Math.round(ms), MAX_RETRY_AFTER_MS);
}

export function createJiraClient(cfg: JiraClientConfig, opts: JiraClientOptions = {}): JiraPort {
  const site = cfg.baseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const onSchemaMismatch: SchemaMismatchBehavior =
    opts.onSchemaMismatch ?? (opts.log ? (report) => opts.log?.warn({ endpoint: report.endpoint, issues: report.issues }, 'Jira answered in a shape jira.js does not describe; used as is') : 'warn');
  let jira: CloudClient;
  try {
    jira = createCloudClient({ host: site, auth: { type: 'basic', email: cfg.email, apiToken: cfg.apiToken }, onSchemaMismatch });
  } catch (e) {
    throw new TrailbotError('E_CONFIG_INVALID', `the Jira settings are not usable: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`, {
      hint: 'JIRA_BASE_URL must be the site URL (https://<site>.atlassian.net) and JIRA_EMAIL an e-mail address',
    });
  }
  const browseUrl = (key: string): string => `${site}/browse/${encodeURIComponent(key)}`;
  const ref = (r: { id?: string | undefined; key?: string | undefined }): JiraIssueRef => ({ id: String(r.id), key: String(r.key), url: browseUrl(String(r.key)) });

  /** Any jira.js failure → the port's coded errors. `what` says what trailbot was doing, for the message. */
  const toTrailbotError = (e: unknown, what: string): TrailbotError => {
    if (e instanceof TrailbotError) return e;
    if (isRateLimitError(e)) {
      const ms = retryAfter(e.retryAfterMs);
      return new TrailbotError('E_JIRA_RATE_LIMITED', `Jira rate-limited ${what} (429); retry in ${Math.ceil(ms / 1000)} s`, {
        hint: 'the job is retried after the delay Jira asked for; many of these mean other clients share the API token\'s budget',
        retryAfterMs: ms,
        cause: e,
      });
    }
    if (isAuthError(e) || isForbiddenError(e)) {
      const forbidden = isForbiddenError(e);
      return new TrailbotError('E_JIRA_AUTH', `Jira refused ${what}: ${forbidden ? '403 forbidden' : '401 not authenticated'}${jiraProblems(e.body).text ? ` (${jiraProblems(e.body).text})` : ''}`, {
        hint: forbidden
          ? 'the user of JIRA_EMAIL lacks a permission in the project (browse, create, comment, transition or link issues)'
          : 'check JIRA_EMAIL and JIRA_API_TOKEN (an API token from id.atlassian.com of that same user) and JIRA_BASE_URL',
        cause: e,
      });
    }
    if (isServerError(e)) {
      return new TrailbotError('E_JIRA_UNAVAILABLE', `Jira failed ${what}: ${e.status} ${e.statusText}`.trim(), { hint: `Jira at ${site} had a problem on its side; the job is retried`, cause: e });
    }
    if (isNetworkError(e)) {
      return new TrailbotError('E_JIRA_UNAVAILABLE', `cannot reach Jira at ${site} for ${what}${e.code ? ` (${e.code})` : ''}`, {
        hint: 'check JIRA_BASE_URL and that this host can reach it; the job is retried',
        cause: e,
      });
    }
    if (isApiError(e)) {
      const p = jiraProblems(e.body);
      const hints = p.fields.map((f) => FIELD_HINTS[f]).filter(Boolean);
      if (isNotFoundError(e)) hints.push('the issue may have been deleted or moved, or JIRA_EMAIL cannot see it');
      return new TrailbotError('E_JIRA_REJECTED', `Jira rejected ${what} (${e.status}): ${p.text || e.statusText || 'no reason given'}`, {
        hint: hints.length ? hints.join('; ') : 'retrying will not help; check the Jira settings (JIRA_PROJECT, routing: in trailbot.config.yaml)',
        cause: e,
      });
    }
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return new TrailbotError('E_JIRA_UNAVAILABLE', `Jira answered ${what} unexpectedly: ${message}`, { hint: 'the job is retried', cause: e });
  };

  /** Runs one jira.js call with the timeout and the error mapping. */
  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new TrailbotError('E_JIRA_UNAVAILABLE', `Jira at ${site} did not answer ${what} within ${timeoutMs} ms`, { hint: 'the job is retried' })),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([fn(), late]);
    } catch (e) {
      throw toTrailbotError(e, what);
    } finally {
      clearTimeout(timer);
    }
  };

  const createOnce = (input: CreateIssueInput, withPriority: boolean) =>
    call(`creating an issue in ${input.project}`, () =>
      jira.issues.createIssue({
        fields: {
          project: { key: input.project },
          issuetype: { name: input.issueType },
          summary: input.summary,
          description: input.description,
          labels: input.labels,
          ...(withPriority && input.priority ? { priority: { name: input.priority } } : {}),
          ...(input.assignee ? { assignee: { accountId: input.assignee } } : {}),
          ...(input.components?.length ? { components: input.components.map((name) => ({ name })) } : {}),
        },
        ...(input.properties?.length ? { properties: input.properties.map((p) => ({ key: p.key, value: p.value })) } : {}),
      }),
    );

  const port: JiraPort = {
    browseUrl,

    async create(input, o = {}) {
      assertAdf(input.description, 'description');
      try {
        return ref(await createOnce(input, true));
      } catch (e) {
        const refused = e instanceof TrailbotError && e.code === 'E_JIRA_REJECTED' && input.priority ? priorityRefusal(e) : undefined;
        if (refused === undefined) throw e;
        o.onFieldDropped?.('priority', refused);
        return ref(await createOnce(input, false));
      }
    },

    async findByLabel(label, project) {
      const jql = `labels = ${jqlString(label)}${project ? ` AND project = ${jqlString(project)}` : ''} ORDER BY created DESC`;
      const out: JiraIssueRef[] = [];
      let nextPageToken: string | undefined;
      for (let page = 0; page < SEARCH_PAGES; page++) {
        const r = await call(`searching issues labelled ${label}`, () =>
          jira.issueSearch.searchAndReconsileIssuesUsingJqlPost({ jql, fields: ['id', 'key'], maxResults: SEARCH_PAGE, ...(nextPageToken ? { nextPageToken } : {}) }),
        );
        for (const i of r.issues ?? []) if (i.key) out.push(ref(i));
        nextPageToken = r.nextPageToken ?? undefined;
        if (r.isLast !== false || !nextPageToken) break;
      }
      return out;
    },

    async get(key) {
      try {
        const i = await call(`reading ${key}`, () => jira.issues.getIssue({ issueIdOrKey: key, fields: ['status', 'assignee', 'labels'] }));
        const f = (i.fields ?? {}) as {
          status?: { name?: string; statusCategory?: { key?: string } };
          assignee?: { accountId?: string; displayName?: string; emailAddress?: string } | null;
          labels?: string[];
        };
        const cat = f.status?.statusCategory?.key;
        return {
          id: String(i.id),
          key: String(i.key),
          url: browseUrl(String(i.key)),
          status: f.status?.name ?? '',
          statusCategory: (cat === 'done' || cat === 'indeterminate' ? cat : 'new') as StatusCategory,
          assignee: f.assignee?.accountId ? { accountId: f.assignee.accountId, displayName: f.assignee.displayName, email: f.assignee.emailAddress } : null,
          labels: f.labels ?? [],
        } satisfies JiraIssueState;
      } catch (e) {
        if (e instanceof TrailbotError && isNotFoundError(e.cause)) return undefined;
        throw e;
      }
    },

    async comment(key, body) {
      assertAdf(body, 'comment');
      const c = await call(`commenting on ${key}`, () => jira.issueComments.addComment({ issueIdOrKey: key, body: { ...body } }));
      return { id: String(c.id) };
    },

    async reopen(key) {
      const now = await port.get(key);
      if (!now) throw new TrailbotError('E_JIRA_REJECTED', `cannot reopen ${key}: Jira has no such issue`, { hint: 'the issue may have been deleted or moved, or JIRA_EMAIL cannot see it' });
      if (now.statusCategory !== 'done') return true; // already open: a retry after a reopen that worked
      const t = await call(`reading the transitions of ${key}`, () => jira.issues.getTransitions({ issueIdOrKey: key }));
      const open = (t.transitions ?? []).filter((x) => x.id && x.to?.statusCategory?.key && x.to.statusCategory.key !== 'done');
      // Back to a "to do" status rather than "in progress" when the workflow offers both.
      const pick = open.find((x) => x.to?.statusCategory?.key === 'new') ?? open[0];
      if (!pick?.id) return false;
      await call(`reopening ${key}`, () => jira.issues.doTransition({ issueIdOrKey: key, transition: { id: pick.id! } }));
      return true;
    },

    async transitionTo(key, status) {
      const now = await port.get(key);
      if (!now) throw new TrailbotError('E_JIRA_REJECTED', `cannot move ${key} to ${status}: Jira has no such issue`, { hint: 'the issue may have been deleted or moved, or JIRA_EMAIL cannot see it' });
      const want = status.trim().toLowerCase();
      if (now.status.toLowerCase() === want) return 'already';
      const t = await call(`reading the transitions of ${key}`, () => jira.issues.getTransitions({ issueIdOrKey: key }));
      const pick = (t.transitions ?? []).find((x) => x.id && x.to?.name?.toLowerCase() === want);
      if (!pick?.id) return 'unavailable';
      await call(`moving ${key} to ${status}`, () => jira.issues.doTransition({ issueIdOrKey: key, transition: { id: pick.id! } }));
      return 'moved';
    },

    async findComment(key, marker) {
      const r = await call(`reading the comments of ${key}`, () => jira.issueComments.getComments({ issueIdOrKey: key, orderBy: '-created', maxResults: 100 }));
      const hit = (r.comments ?? []).find((c) => adfText(c.body).includes(marker));
      return hit?.id ? String(hit.id) : undefined;
    },

    async link(fromKey, toKey, type = 'Relates') {
      // Jira reads `inwardIssue` as the subject: {inwardIssue: A, outwardIssue: B, Blocks} is "A blocks B".
      await call(`linking ${fromKey} to ${toKey}`, () => jira.issueLinks.linkIssues({ type: { name: type }, inwardIssue: { key: fromKey }, outwardIssue: { key: toKey } }));
    },
  };
  return port;
}

/** Every text of an ADF document (or node), joined: what findComment looks in. */
function adfText(node: unknown): string {
  if (!node || typeof node !== 'object') return '';
  const n = node as { text?: unknown; content?: unknown };
  return `${typeof n.text === 'string' ? n.text : ''}${Array.isArray(n.content) ? n.content.map(adfText).join(' ') : ''}`;
}

/** When a 400 is only about `priority` (not on the screen, or unknown), why; otherwise undefined. */
function priorityRefusal(e: TrailbotError): string | undefined {
  const cause = e.cause as { status?: number; body?: unknown } | undefined;
  if (cause?.status !== 400) return undefined;
  const body = (cause.body ?? {}) as { errors?: Record<string, unknown>; errorMessages?: unknown[] };
  const fields = Object.keys(body.errors ?? {});
  if (fields.length !== 1 || fields[0] !== 'priority' || (body.errorMessages?.length ?? 0) > 0) return undefined;
  return String(body.errors!.priority);
}
