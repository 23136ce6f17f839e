// The Jira Cloud stand-in's state and its REST v3 routes, as one Hono app. Requests go through:
// request log → latency → injected faults → Basic auth → route; every refusal leaves through onError in
// Jira's shape, `{"errorMessages":[…],"errors":{field: message}}`.
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { adfProblem, NOT_A_DOCUMENT } from './adf.ts';
import { createFaults } from './faults.ts';
import type { Faults, HoldFault, RateLimitFault, ServerErrorFault } from './faults.ts';
import { compileJql, JqlError, parseJql, sortIssues } from './jql.ts';
import type { IndexedIssue, JqlSite } from './jql.ts';
import {
  componentJson,
  createSite,
  DEFAULT_CREDENTIALS,
  issueTypeJson,
  jiraTime,
  LINK_TYPES,
  linkTypeJson,
  priorityJson,
  projectJson,
  statusById,
  statusJson,
  STATUSES,
  TRANSITIONS,
  userJson,
} from './site.ts';
import type { JiraProject, JiraUser, Site, SiteOptions } from './site.ts';
import { createWebhooks } from './webhooks.ts';
import type { ChangelogItem, WebhookPayload, WebhookRegistration, Webhooks } from './webhooks.ts';

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

/** One request as the stand-in saw it. */
export interface JiraRequestRecord {
  seq: number;
  at: string;
  method: string;
  path: string;
  query: Record<string, string>;
  /** the body parsed as JSON when it is JSON, else the text; undefined when empty */
  body?: unknown;
  status: number;
  /** '429' or '5xx' when an injected fault answered */
  fault?: string;
  durationMs: number;
}

export interface StoredComment {
  id: string;
  authorId: string;
  body: unknown;
  created: number;
  updated: number;
}

export interface StoredIssue {
  id: string;
  key: string;
  projectId: string;
  issueTypeId: string;
  summary: string;
  description: unknown;
  labels: string[];
  priorityId?: string;
  assigneeId?: string;
  reporterId: string;
  creatorId: string;
  componentIds: string[];
  statusId: string;
  resolutionDate?: number;
  created: number;
  updated: number;
  statusCategoryChanged: number;
  properties: Map<string, unknown>;
  comments: StoredComment[];
  /** what the search index holds, oldest first; each becomes visible at `visibleAt` */
  versions: { visibleAt: number; doc: IndexedIssue }[];
}

interface StoredLink {
  id: string;
  typeId: string;
  inwardId: string;
  outwardId: string;
}

export class JiraApiError extends Error {
  readonly code = 'E_JIRA_STANDIN';
  readonly status: number;
  readonly errorMessages: string[];
  readonly errors: Record<string, string>;
  readonly headers: Record<string, string>;
  constructor(status: number, errorMessages: string[], errors: Record<string, string> = {}, headers: Record<string, string> = {}) {
    super(errorMessages[0] ?? Object.values(errors)[0] ?? `HTTP ${status}`);
    this.status = status;
    this.errorMessages = errorMessages;
    this.errors = errors;
    this.headers = headers;
  }
}

const NO_ISSUE = 'Issue does not exist or you do not have permission to see it.';
const NOT_ON_SCREEN = (f: string): string => `Field '${f}' cannot be set. It is not on the appropriate screen, or unknown.`;
const MAX_PROPERTY_CHARS = 32768;
const RESOLUTION_DONE = (base: string) => ({ self: `${base}/rest/api/3/resolution/10000`, id: '10000', description: 'Work has been completed on this issue.', name: 'Done' });
const ALL_FIELDS = [
  'statuscategorychangedate', 'issuetype', 'components', 'project', 'created', 'priority', 'labels', 'assignee', 'updated', 'status',
  'description', 'summary', 'creator', 'reporter', 'issuelinks', 'resolution', 'resolutiondate', 'comment',
] as const;
const NON_NAVIGABLE = new Set(['comment']);

export interface TransitionOptions {
  /** accountId of who does it (default: the API token's user) */
  as?: string;
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
  const requests: JiraRequestRecord[] = [];
  const issues: StoredIssue[] = [];
  const byKey = new Map<string, StoredIssue>();
  const links: StoredLink[] = [];
  const counters: Record<string, number> = {};
  let nextIssueId = 10000;
  let nextCommentId = 10000;
  let nextLinkId = 10000;
  let nextChangelogId = 10000;
  const indexed = opts.indexedProperties ?? 'all';

  const svc = {
    site,
    faults,
    webhooks,
    baseUrl: 'http://127.0.0.1',
    indexDelayMs: opts.indexDelayMs ?? 1000,
    credentials,
  } as JiraService;

  // ---- lookups -------------------------------------------------------------------------------
  const userById = (id: string | undefined): JiraUser | undefined => (id === undefined ? undefined : site.users.find((u) => u.accountId === id));
  const me = (): JiraUser => site.users.find((u) => u.email.toLowerCase() === credentials.email.toLowerCase())!;
  const projectOf = (i: StoredIssue): JiraProject => site.projects.find((p) => p.id === i.projectId)!;
  const findIssue = (keyOrId: string): StoredIssue | undefined => byKey.get(keyOrId.toUpperCase()) ?? issues.find((i) => i.id === keyOrId);
  const mustIssue = (keyOrId: string): StoredIssue => {
    const i = findIssue(keyOrId);
    if (!i) throw new JiraApiError(404, [NO_ISSUE]);
    return i;
  };
  const priorityOnScreen = (p: JiraProject): boolean => p.priorityOnScreen ?? site.priorityOnScreen;
  const base = (): string => svc.baseUrl;

  // ---- the search index ----------------------------------------------------------------------
  const indexDoc = (i: StoredIssue): IndexedIssue => {
    const p = projectOf(i);
    const s = statusById(i.statusId);
    const t = p.issueTypes.find((x) => x.id === i.issueTypeId)!;
    const pr = site.priorities.find((x) => x.id === i.priorityId);
    const cat = statusJson('', s).statusCategory as { id: number; key: string; name: string };
    return {
      id: i.id,
      key: i.key,
      project: { id: p.id, key: p.key, name: p.name },
      issueType: { id: t.id, name: t.name },
      status: { id: s.id, name: s.name },
      statusCategory: { id: cat.id, key: cat.key, name: cat.name },
      priority: pr ? { id: pr.id, name: pr.name } : undefined,
      labels: [...i.labels],
      assignee: i.assigneeId,
      reporter: i.reporterId,
      summary: i.summary,
      created: i.created,
      updated: i.updated,
      properties: structuredClone(Object.fromEntries(i.properties)),
    };
  };
  /** Every write calls this: the new state reaches the index `indexDelayMs` later. */
  const touch = (i: StoredIssue, { updated = true } = {}): void => {
    const now = clock();
    if (updated) i.updated = now;
    i.versions.push({ visibleAt: now + svc.indexDelayMs, doc: indexDoc(i) });
    const visible = i.versions.filter((v) => v.visibleAt <= now);
    if (visible.length > 1) i.versions = i.versions.slice(i.versions.indexOf(visible.at(-1)!));
  };
  const searchable = (i: StoredIssue, now: number): IndexedIssue | undefined => {
    let doc: IndexedIssue | undefined;
    for (const v of i.versions) if (v.visibleAt <= now) doc = v.doc;
    return doc;
  };
  const jqlSite = (): JqlSite => ({
    projects: site.projects,
    statuses: STATUSES.map((s) => ({ id: s.id, name: s.name })),
    statusCategories: STATUSES.map((s) => statusJson('', s).statusCategory as { id: number; key: string; name: string }),
    issueTypes: site.projects.flatMap((p) => p.issueTypes),
    priorities: site.priorities,
    propertyIndexed: (key, path) => indexed === 'all' || indexed.some((x) => x.propertyKey === key && x.path === path.join('.')),
  });

  // ---- representations -----------------------------------------------------------------------
  const linkedIssueJson = (i: StoredIssue): Record<string, unknown> => {
    const p = projectOf(i);
    const pr = site.priorities.find((x) => x.id === i.priorityId);
    return {
      id: i.id,
      key: i.key,
      self: `${base()}/rest/api/3/issue/${i.id}`,
      fields: {
        summary: i.summary,
        status: statusJson(base(), statusById(i.statusId)),
        ...(pr ? { priority: priorityJson(base(), pr) } : {}),
        issuetype: issueTypeJson(base(), p.issueTypes.find((t) => t.id === i.issueTypeId)!),
      },
    };
  };
  const commentJson = (i: StoredIssue, c: StoredComment): Record<string, unknown> => {
    const author = userJson(base(), userById(c.authorId)!);
    return { self: `${base()}/rest/api/3/issue/${i.id}/comment/${c.id}`, id: c.id, author, body: c.body, updateAuthor: author, created: jiraTime(c.created), updated: jiraTime(c.updated), jsdPublic: true };
  };
  const fieldValue = (i: StoredIssue, f: (typeof ALL_FIELDS)[number]): unknown => {
    const p = projectOf(i);
    const user = (id?: string) => (userById(id) ? userJson(base(), userById(id)!) : null);
    switch (f) {
      case 'statuscategorychangedate':
        return jiraTime(i.statusCategoryChanged);
      case 'issuetype':
        return issueTypeJson(base(), p.issueTypes.find((t) => t.id === i.issueTypeId)!);
      case 'components':
        return i.componentIds.map((id) => componentJson(base(), p.components.find((c) => c.id === id)!));
      case 'project':
        return projectJson(base(), p);
      case 'created':
        return jiraTime(i.created);
      case 'updated':
        return jiraTime(i.updated);
      case 'priority': {
        const pr = site.priorities.find((x) => x.id === i.priorityId);
        return pr ? priorityJson(base(), pr) : null;
      }
      case 'labels':
        return [...i.labels];
      case 'assignee':
        return user(i.assigneeId);
      case 'reporter':
        return user(i.reporterId);
      case 'creator':
        return user(i.creatorId);
      case 'status':
        return statusJson(base(), statusById(i.statusId));
      case 'description':
        return i.description ?? null;
      case 'summary':
        return i.summary;
      case 'resolution':
        return i.resolutionDate === undefined ? null : RESOLUTION_DONE(base());
      case 'resolutiondate':
        return i.resolutionDate === undefined ? null : jiraTime(i.resolutionDate);
      case 'issuelinks':
        return links
          .filter((l) => l.inwardId === i.id || l.outwardId === i.id)
          .map((l) => {
            const type = LINK_TYPES.find((t) => t.id === l.typeId)!;
            const entry: Record<string, unknown> = { id: l.id, self: `${base()}/rest/api/3/issueLink/${l.id}`, type: linkTypeJson(base(), type) };
            // The issue named as the link's inwardIssue sees the other one as its outwardIssue, and vice versa.
            if (l.inwardId === i.id) entry.outwardIssue = linkedIssueJson(findIssue(l.outwardId)!);
            else entry.inwardIssue = linkedIssueJson(findIssue(l.inwardId)!);
            return entry;
          });
      case 'comment':
        return { comments: i.comments.map((c) => commentJson(i, c)), self: `${base()}/rest/api/3/issue/${i.id}/comment`, maxResults: i.comments.length, total: i.comments.length, startAt: 0 };
    }
  };

  /** `fields=` as Jira reads it: names, `*all`, `*navigable`, `-name`; undefined when not given. */
  const parseFieldList = (raw: string[] | undefined): Set<string> | undefined => {
    const items = (raw ?? []).flatMap((r) => r.split(',')).map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) return undefined;
    const out = new Set<string>();
    for (const it of items) {
      if (it === '*all') for (const f of ALL_FIELDS) out.add(f);
      else if (it === '*navigable') for (const f of ALL_FIELDS) if (!NON_NAVIGABLE.has(f)) out.add(f);
    }
    for (const it of items) {
      if (it.startsWith('-')) out.delete(it.slice(1));
      else if (!it.startsWith('*')) out.add(it);
    }
    return out;
  };
  const parsePropertyList = (raw: string[] | undefined, i: StoredIssue): string[] | undefined => {
    const items = (raw ?? []).flatMap((r) => r.split(',')).map((s) => s.trim()).filter(Boolean);
    if (items.length === 0) return undefined;
    const keys = new Set<string>();
    for (const it of items) if (it === '*all') for (const k of i.properties.keys()) keys.add(k);
    for (const it of items) {
      if (it.startsWith('-')) keys.delete(it.slice(1));
      else if (it !== '*all') keys.add(it);
    }
    return [...keys];
  };
  const issueJson = (i: StoredIssue, fields: Set<string> | undefined, props?: string[]): Record<string, unknown> => {
    const wanted = fields ?? new Set<string>(ALL_FIELDS);
    const out: Record<string, unknown> = {
      expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
      id: i.id,
      self: `${base()}/rest/api/3/issue/${i.id}`,
      key: i.key,
    };
    if (props) out.properties = Object.fromEntries(props.filter((k) => i.properties.has(k)).map((k) => [k, i.properties.get(k)]));
    out.fields = Object.fromEntries(ALL_FIELDS.filter((f) => wanted.has(f)).map((f) => [f, fieldValue(i, f)]));
    return out;
  };

  // ---- webhooks ------------------------------------------------------------------------------
  const emitUpdated = (i: StoredIssue, actor: JiraUser, type: WebhookPayload['issue_event_type_name'], items: ChangelogItem[]): void => {
    if (items.length === 0) return;
    webhooks.emit({
      timestamp: clock(),
      webhookEvent: 'jira:issue_updated',
      issue_event_type_name: type,
      user: userJson(base(), actor),
      issue: issueJson(i, new Set(ALL_FIELDS.filter((f) => f !== 'comment'))) as WebhookPayload['issue'],
      changelog: { id: String(nextChangelogId++), items },
    });
  };
  const item = (field: string, from: string | null, fromString: string | null, to: string | null, toText: string | null): ChangelogItem => ({
    field,
    fieldtype: 'jira',
    fieldId: field,
    from,
    fromString,
    to,
    toString: toText,
  });

  // ---- field checks shared by create and edit ------------------------------------------------
  type Changes = {
    summary?: string;
    description?: unknown;
    labels?: string[];
    priorityId?: string | null;
    assigneeId?: string | null;
    reporterId?: string;
    componentIds?: string[];
  };
  const EDITABLE = new Set(['summary', 'description', 'labels', 'priority', 'assignee', 'reporter', 'components']);

  const checkFields = (fields: Record<string, unknown>, project: JiraProject, errors: Record<string, string>, creating: boolean): Changes => {
    const ch: Changes = {};
    for (const [k, v] of Object.entries(fields)) {
      if (k === 'project' || k === 'issuetype') {
        if (!creating) errors[k] = NOT_ON_SCREEN(k);
        continue;
      }
      if (!EDITABLE.has(k)) {
        errors[k] = NOT_ON_SCREEN(k);
        continue;
      }
      switch (k) {
        case 'summary':
          if (v === null || v === undefined || (typeof v === 'string' && v.trim() === '')) errors.summary = 'You must specify a summary of the issue.';
          else if (typeof v !== 'string') errors.summary = 'Operation value must be a string';
          else if (/[\r\n]/.test(v)) errors.summary = 'The summary is invalid because it contains newline characters.';
          else if (v.length > 255) errors.summary = 'Summary must be less than 255 characters.';
          else ch.summary = v;
          break;
        case 'description': {
          if (v === null) {
            ch.description = null;
            break;
          }
          if (v === null || typeof v !== 'object' || Array.isArray(v)) {
            errors.description = NOT_A_DOCUMENT;
            break;
          }
          const problem = adfProblem(v);
          if (problem) errors.description = `${NOT_A_DOCUMENT}. The document is not valid ADF: ${problem}`;
          else ch.description = structuredClone(v);
          break;
        }
        case 'labels': {
          const labels = checkLabels(v, errors);
          if (labels) ch.labels = labels;
          break;
        }
        case 'priority': {
          if (!priorityOnScreen(project)) {
            errors.priority = NOT_ON_SCREEN('priority');
            break;
          }
          const ref = (v ?? {}) as { id?: unknown; name?: unknown };
          const pr = site.priorities.find((p) => (ref.id !== undefined && p.id === String(ref.id)) || (ref.id === undefined && p.name === ref.name));
          if (!pr) errors.priority = ref.id !== undefined ? `Specify a valid 'id' or 'name' for Priority` : `Priority name '${String(ref.name)}' is not valid`;
          else ch.priorityId = pr.id;
          break;
        }
        case 'assignee':
        case 'reporter': {
          if (v === null) {
            if (k === 'assignee') ch.assigneeId = null;
            else errors.reporter = 'Reporter is required.';
            break;
          }
          const id = (v as { accountId?: unknown }).accountId;
          if (typeof id !== 'string' || !userById(id)) errors[k] = `The user with account ID '${String(id)}' does not exist.`;
          else if (k === 'assignee') ch.assigneeId = id;
          else ch.reporterId = id;
          break;
        }
        case 'components': {
          if (!Array.isArray(v)) {
            errors.components = 'data was not an array';
            break;
          }
          const ids: string[] = [];
          for (const c of v as { id?: unknown; name?: unknown }[]) {
            const found = project.components.find((x) => (c?.id !== undefined ? x.id === String(c.id) : x.name === c?.name));
            if (!found) {
              errors.components = c?.id !== undefined ? `Component with id '${String(c.id)}' does not exist.` : `Component name '${String(c?.name)}' is not valid`;
              break;
            }
            ids.push(found.id);
          }
          if (!errors.components) ch.componentIds = ids;
          break;
        }
      }
    }
    return ch;
  };
  const checkLabels = (v: unknown, errors: Record<string, string>): string[] | undefined => {
    if (!Array.isArray(v)) {
      errors.labels = 'data was not an array';
      return undefined;
    }
    for (const l of v) {
      if (typeof l !== 'string') errors.labels = 'Operation value must be a string';
      else if (l === '') errors.labels = 'The label must not be empty.';
      else if (/\s/.test(l)) errors.labels = `The label '${l}' contains spaces which is invalid.`;
      else if (l.length > 255) errors.labels = `The label '${l}' exceeds the maximum length for a single label of 255 characters.`;
      if (errors.labels) return undefined;
    }
    return [...new Set(v as string[])];
  };
  /** `update: { labels: [{add}|{remove}|{set}] }` — the only verb-style field trailbot needs. */
  const applyUpdate = (update: unknown, current: string[], errors: Record<string, string>): string[] | undefined => {
    if (update === undefined || update === null) return undefined;
    if (typeof update !== 'object') {
      errors.update = 'data was not an object';
      return undefined;
    }
    let labels: string[] | undefined;
    for (const [k, ops] of Object.entries(update)) {
      if (k !== 'labels') {
        errors[k] = NOT_ON_SCREEN(k);
        continue;
      }
      labels = [...current];
      for (const op of (Array.isArray(ops) ? ops : []) as Record<string, unknown>[]) {
        if ('set' in op) labels = checkLabels(op.set, errors) ?? labels;
        else if ('add' in op) labels = [...new Set([...labels, ...(checkLabels([op.add], errors) ?? [])])];
        else if ('remove' in op) labels = labels.filter((l) => l !== op.remove);
        else errors.labels = `Unsupported operation for labels: ${Object.keys(op).join(', ')}`;
      }
    }
    return labels;
  };
  const checkProperty = (key: unknown, value: unknown): void => {
    if (typeof key !== 'string' || key === '' || key.length > 255) throw new JiraApiError(400, ['The property key must be between 1 and 255 characters long.']);
    if (value === undefined) throw new JiraApiError(400, ['The property value must be a valid, non-empty JSON value.']);
    if (JSON.stringify(value).length > MAX_PROPERTY_CHARS) throw new JiraApiError(400, [`The property '${key}' has a value exceeding ${MAX_PROPERTY_CHARS} characters.`]);
  };

  // ---- workflow ------------------------------------------------------------------------------
  const doTransition = (i: StoredIssue, transitionId: string, actor: JiraUser): void => {
    const t = TRANSITIONS.find((x) => x.id === transitionId && x.from.includes(i.statusId));
    if (!t) throw new JiraApiError(400, [`Transition id '${transitionId}' is not valid for this issue.`]);
    const from = statusById(i.statusId);
    const to = statusById(t.to);
    const items: ChangelogItem[] = [];
    const now = clock();
    if (to.category === 'done' && i.resolutionDate === undefined) {
      i.resolutionDate = now;
      items.push(item('resolution', null, null, '10000', 'Done'));
    } else if (to.category !== 'done' && i.resolutionDate !== undefined) {
      i.resolutionDate = undefined;
      items.push(item('resolution', '10000', 'Done', null, null));
    }
    items.push(item('status', from.id, from.name, to.id, to.name));
    if (from.category !== to.category) i.statusCategoryChanged = now;
    i.statusId = to.id;
    touch(i);
    emitUpdated(i, actor, 'issue_generic', items);
  };
  const doAssign = (i: StoredIssue, accountId: string | null, actor: JiraUser): void => {
    const prev = userById(i.assigneeId);
    const next = accountId === null ? undefined : userById(accountId);
    if (accountId !== null && !next) throw new JiraApiError(404, [`The user with account ID '${accountId}' does not exist.`]);
    if (prev?.accountId === next?.accountId) return;
    i.assigneeId = next?.accountId;
    touch(i);
    emitUpdated(i, actor, 'issue_assigned', [item('assignee', prev?.accountId ?? null, prev?.displayName ?? null, next?.accountId ?? null, next?.displayName ?? null)]);
  };
  const actorOf = (o?: TransitionOptions): JiraUser => {
    if (!o?.as) return me();
    const u = userById(o.as);
    if (!u) throw new Error(`no user with accountId ${o.as}`);
    return u;
  };

  // ---- request helpers -----------------------------------------------------------------------
  const readJson = async (c: Context): Promise<unknown> => {
    const text = await c.req.text();
    if (text.trim() === '') throw new JiraApiError(400, ['No content to map due to end-of-input']);
    try {
      return JSON.parse(text) as unknown;
    } catch (e) {
      throw new JiraApiError(400, [`Unexpected character in JSON: ${(e as Error).message}`]);
    }
  };
  const readObject = async (c: Context): Promise<Record<string, unknown>> => {
    const body = await readJson(c);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new JiraApiError(400, ['Request body must be a JSON object.']);
    return body as Record<string, unknown>;
  };
  const queryList = (c: Context, name: string): string[] | undefined => c.req.queries(name);
  const intParam = (raw: unknown, name: string, dflt: number): number => {
    if (raw === undefined || raw === null || raw === '') return dflt;
    const n = Number(raw);
    if (!Number.isInteger(n)) throw new JiraApiError(400, [`The value '${String(raw)}' is not a valid number for the parameter '${name}'.`]);
    return n;
  };

  const authUser = (req: Request): JiraUser | 'anonymous' | undefined => {
    const h = req.headers.get('authorization');
    if (!h) return 'anonymous';
    const m = /^Basic\s+(\S+)$/i.exec(h);
    if (!m) return undefined;
    const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return undefined;
    const email = decoded.slice(0, colon);
    const token = decoded.slice(colon + 1);
    if (email.toLowerCase() !== credentials.email.toLowerCase() || token !== credentials.apiToken) return undefined;
    return me();
  };

  // ---- the app -------------------------------------------------------------------------------
  const app = new Hono<{ Variables: { user: JiraUser; record: JiraRequestRecord } }>();

  app.onError((err, c) => {
    if (err instanceof JiraApiError) return c.json({ errorMessages: err.errorMessages, errors: err.errors }, err.status as 400, err.headers);
    if (err instanceof JqlError) return c.json({ errorMessages: [err.message], errors: {} }, 400);
    return c.json({ errorMessages: [`Internal server error in the stand-in: ${err.message}`], errors: {} }, 500);
  });
  app.notFound((c) => c.json({ errorMessages: [`No resource for ${c.req.method} ${c.req.path} in the stand-in.`], errors: {} }, 404));

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
    requests.push(record);
    c.set('record', record);
    if (faults.latencyMs > 0 && !url.pathname.startsWith('/__standin/')) await new Promise((r) => setTimeout(r, faults.latencyMs));
    await next();
    record.status = c.res.status;
    if (!record.fault && url.pathname.startsWith('/rest/')) await faults.held(c.req.method, url.pathname);
    record.durationMs = performance.now() - started;
  });

  // Test/CLI control, not part of Jira: no auth, never faulted.
  const admin = new Hono();
  admin.get('/requests', (c) => c.json(requests));
  admin.get('/issues', (c) => c.json(issues.map((i) => ({ key: i.key, id: i.id, summary: i.summary, status: statusById(i.statusId).name, labels: i.labels, properties: Object.fromEntries(i.properties) }))));
  admin.post('/faults', async (c) => {
    const b = (await readObject(c)) as {
      rateLimit?: RateLimitFault & { path?: string; method?: string };
      serverError?: ServerErrorFault & { path?: string; method?: string };
      hold?: HoldFault & { path?: string; method?: string };
      latencyMs?: number;
    };
    const match = (f: { path?: string; method?: string }) => (f.path || f.method ? { path: f.path, method: f.method } : undefined);
    if (b.rateLimit) faults.rateLimit({ ...b.rateLimit, match: match(b.rateLimit) });
    if (b.serverError) faults.serverError({ ...b.serverError, match: match(b.serverError) });
    if (b.hold) faults.hold({ ...b.hold, match: match(b.hold) });
    if (b.latencyMs !== undefined) faults.latency(b.latencyMs);
    return c.json({ pending: faults.pending, latencyMs: faults.latencyMs });
  });
  admin.delete('/faults', (c) => {
    faults.clear();
    return c.body(null, 204);
  });
  admin.post('/issues/:key/close', async (c) => {
    const b = (await c.req.text()) ? ((await readObject(c)) as { as?: string }) : {};
    svc.closeIssue(c.req.param('key'), { as: b.as });
    return c.json(issueJson(mustIssue(c.req.param('key')), undefined));
  });
  admin.post('/webhooks', async (c) => {
    const b = (await readObject(c)) as unknown as WebhookRegistration;
    if (typeof b.url !== 'string') throw new JiraApiError(400, ['url is required']);
    webhooks.register({ url: b.url, secret: b.secret, events: b.events });
    return c.body(null, 204);
  });
  admin.post('/reindex', (c) => {
    svc.reindex();
    return c.body(null, 204);
  });
  app.route('/__standin', admin);

  app.use('/rest/*', async (c, next) => {
    const fault = faults.take(c.req.method, c.req.path);
    if (fault) {
      c.get('record').fault = fault.status === 429 ? '429' : '5xx';
      return fault;
    }
    const who = authUser(c.req.raw);
    const anonymousOk = c.req.path === '/rest/api/3/serverInfo';
    if (who === undefined || (who === 'anonymous' && !anonymousOk)) {
      throw new JiraApiError(401, ['Client must be authenticated to access this resource.'], {}, { 'www-authenticate': 'Basic realm="protected-area"' });
    }
    c.set('user', who === 'anonymous' ? me() : who);
    await next();
  });

  app.all('/rest/api/2/*', () => {
    throw new JiraApiError(404, [
      'The stand-in serves only /rest/api/3. jira.js sends a rich-text field given as a string (wiki markup) to /rest/api/2; send an ADF document instead.',
    ]);
  });

  app.on(['GET', 'POST'], '/rest/api/3/search', () => {
    throw new JiraApiError(410, [
      'The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046',
    ]);
  });

  app.get('/rest/api/3/myself', (c) => {
    const u = c.get('user');
    return c.json({
      ...userJson(base(), u),
      locale: 'en_US',
      groups: { size: 1, items: [] },
      applicationRoles: { size: 1, items: [] },
      expand: 'groups,applicationRoles',
    });
  });

  app.get('/rest/api/3/serverInfo', (c) =>
    c.json({
      baseUrl: base(),
      displayUrl: base(),
      version: '1001.0.0-SNAPSHOT',
      versionNumbers: [1001, 0, 0],
      deploymentType: 'Cloud',
      buildNumber: 100290,
      buildDate: '2026-01-05T00:00:00.000+0000',
      serverTime: jiraTime(clock()),
      scmInfo: 'standin',
      serverTitle: 'Jira (trailbot stand-in)',
      defaultLocale: { locale: 'en_US' },
      serverTimeZone: 'Etc/UTC',
    }),
  );

  app.post('/rest/api/3/issue', async (c) => {
    const body = await readObject(c);
    const fields = body.fields as Record<string, unknown> | undefined;
    if (!fields || typeof fields !== 'object') throw new JiraApiError(400, [], { project: 'Specify a valid project ID or key', summary: 'You must specify a summary of the issue.', issuetype: 'Specify an issue type' });
    const errors: Record<string, string> = {};
    const pref = (fields.project ?? {}) as { key?: unknown; id?: unknown };
    const project = site.projects.find((p) => (pref.id !== undefined ? p.id === String(pref.id) : typeof pref.key === 'string' && p.key === pref.key.toUpperCase()));
    if (!project) {
      errors.project = 'Specify a valid project ID or key';
      throw new JiraApiError(400, [], errors);
    }
    const tref = fields.issuetype as { name?: unknown; id?: unknown } | undefined;
    const issueType = tref ? project.issueTypes.find((t) => (tref.id !== undefined ? t.id === String(tref.id) : t.name === tref.name)) : undefined;
    if (!tref) errors.issuetype = 'Specify an issue type';
    else if (!issueType) errors.issuetype = 'The issue type selected is invalid.';
    if (!('summary' in fields)) errors.summary = 'You must specify a summary of the issue.';
    const ch = checkFields(fields, project, errors, true);
    const updLabels = applyUpdate(body.update, ch.labels ?? [], errors);
    const props = (body.properties ?? []) as { key?: unknown; value?: unknown }[];
    if (!Array.isArray(props)) throw new JiraApiError(400, ['properties must be an array of {key, value}.']);
    for (const p of props) checkProperty(p.key, p.value);
    if (body.transition !== undefined) errors.transition = 'The stand-in does not run a transition on create; create, then POST /transitions.';
    if (Object.keys(errors).length > 0) throw new JiraApiError(400, [], errors);

    const now = clock();
    const n = (counters[project.key] = (counters[project.key] ?? 0) + 1);
    const i: StoredIssue = {
      id: String(nextIssueId++),
      key: `${project.key}-${n}`,
      projectId: project.id,
      issueTypeId: issueType!.id,
      summary: ch.summary!,
      description: ch.description ?? null,
      labels: updLabels ?? ch.labels ?? [],
      priorityId: ch.priorityId ?? (priorityOnScreen(project) ? site.defaultPriority.id : undefined),
      assigneeId: ch.assigneeId ?? undefined,
      reporterId: ch.reporterId ?? c.get('user').accountId,
      creatorId: c.get('user').accountId,
      componentIds: ch.componentIds ?? [],
      statusId: STATUSES[0]!.id,
      created: now,
      updated: now,
      statusCategoryChanged: now,
      properties: new Map(props.map((p) => [p.key as string, structuredClone(p.value)])),
      comments: [],
      versions: [],
    };
    issues.push(i);
    byKey.set(i.key, i);
    touch(i);
    webhooks.emit({
      timestamp: now,
      webhookEvent: 'jira:issue_created',
      issue_event_type_name: 'issue_created',
      user: userJson(base(), c.get('user')),
      issue: issueJson(i, new Set(ALL_FIELDS.filter((f) => f !== 'comment'))) as WebhookPayload['issue'],
    });
    return c.json({ id: i.id, key: i.key, self: `${base()}/rest/api/3/issue/${i.id}` }, 201);
  });

  app.get('/rest/api/3/issue/:key', (c) => {
    const i = mustIssue(c.req.param('key'));
    return c.json(issueJson(i, parseFieldList(queryList(c, 'fields')), parsePropertyList(queryList(c, 'properties'), i)));
  });

  app.put('/rest/api/3/issue/:key', async (c) => {
    const i = mustIssue(c.req.param('key'));
    const body = await readObject(c);
    const errors: Record<string, string> = {};
    const ch = checkFields((body.fields ?? {}) as Record<string, unknown>, projectOf(i), errors, false);
    const labels = applyUpdate(body.update, ch.labels ?? i.labels, errors);
    if (Object.keys(errors).length > 0) throw new JiraApiError(400, [], errors);
    const actor = c.get('user');
    const items: ChangelogItem[] = [];
    if (ch.summary !== undefined && ch.summary !== i.summary) {
      items.push(item('summary', null, i.summary, null, ch.summary));
      i.summary = ch.summary;
    }
    if (ch.description !== undefined) {
      items.push(item('description', null, null, null, null));
      i.description = ch.description;
    }
    const newLabels = labels ?? ch.labels;
    if (newLabels && newLabels.join(' ') !== i.labels.join(' ')) {
      items.push(item('labels', null, i.labels.join(' '), null, newLabels.join(' ')));
      i.labels = newLabels;
    }
    if (ch.priorityId !== undefined && ch.priorityId !== i.priorityId) {
      const [a, b] = [site.priorities.find((p) => p.id === i.priorityId), site.priorities.find((p) => p.id === ch.priorityId)];
      items.push(item('priority', a?.id ?? null, a?.name ?? null, b?.id ?? null, b?.name ?? null));
      i.priorityId = ch.priorityId ?? undefined;
    }
    if (ch.componentIds !== undefined) {
      i.componentIds = ch.componentIds;
      items.push(item('Component', null, null, null, null));
    }
    if (ch.reporterId !== undefined) i.reporterId = ch.reporterId;
    if (items.length > 0 || ch.reporterId !== undefined) touch(i);
    emitUpdated(i, actor, 'issue_updated', items);
    if (ch.assigneeId !== undefined) doAssign(i, ch.assigneeId, actor);
    return c.body(null, 204);
  });

  app.put('/rest/api/3/issue/:key/assignee', async (c) => {
    const i = mustIssue(c.req.param('key'));
    const body = await readObject(c);
    const id = body.accountId === '-1' ? null : (body.accountId as string | null | undefined);
    if (id === undefined) throw new JiraApiError(400, [], { accountId: 'Specify an accountId, or null to unassign.' });
    doAssign(i, id, c.get('user'));
    return c.body(null, 204);
  });

  // Issue properties
  app.get('/rest/api/3/issue/:key/properties', (c) => {
    const i = mustIssue(c.req.param('key'));
    return c.json({ keys: [...i.properties.keys()].map((k) => ({ self: `${base()}/rest/api/3/issue/${i.id}/properties/${encodeURIComponent(k)}`, key: k })) });
  });
  app.get('/rest/api/3/issue/:key/properties/:prop', (c) => {
    const i = mustIssue(c.req.param('key'));
    const k = c.req.param('prop');
    if (!i.properties.has(k)) throw new JiraApiError(404, [`The property with key '${k}' does not exist.`]);
    return c.json({ key: k, value: i.properties.get(k) });
  });
  app.put('/rest/api/3/issue/:key/properties/:prop', async (c) => {
    const i = mustIssue(c.req.param('key'));
    const k = c.req.param('prop');
    const value = await readJson(c);
    checkProperty(k, value);
    const existed = i.properties.has(k);
    i.properties.set(k, value);
    touch(i, { updated: false });
    return c.body(null, existed ? 200 : 201);
  });
  app.delete('/rest/api/3/issue/:key/properties/:prop', (c) => {
    const i = mustIssue(c.req.param('key'));
    const k = c.req.param('prop');
    if (!i.properties.delete(k)) throw new JiraApiError(404, [`The property with key '${k}' does not exist.`]);
    touch(i, { updated: false });
    return c.body(null, 204);
  });

  // Comments
  app.post('/rest/api/3/issue/:key/comment', async (c) => {
    const i = mustIssue(c.req.param('key'));
    const body = await readObject(c);
    if (body.body === undefined || body.body === null) throw new JiraApiError(400, [], { comment: 'Comment body can not be empty!' });
    if (typeof body.body !== 'object' || Array.isArray(body.body)) throw new JiraApiError(400, [], { comment: NOT_A_DOCUMENT });
    const problem = adfProblem(body.body);
    if (problem) throw new JiraApiError(400, [], { comment: `${NOT_A_DOCUMENT}. The document is not valid ADF: ${problem}` });
    const now = clock();
    const comment: StoredComment = { id: String(nextCommentId++), authorId: c.get('user').accountId, body: structuredClone(body.body), created: now, updated: now };
    i.comments.push(comment);
    touch(i);
    return c.json(commentJson(i, comment), 201);
  });
  app.get('/rest/api/3/issue/:key/comment', (c) => {
    const i = mustIssue(c.req.param('key'));
    const startAt = Math.max(0, intParam(c.req.query('startAt'), 'startAt', 0));
    const maxResults = Math.max(0, intParam(c.req.query('maxResults'), 'maxResults', 5000));
    const order = c.req.query('orderBy');
    const all = order === '-created' ? [...i.comments].reverse() : i.comments;
    return c.json({ comments: all.slice(startAt, startAt + maxResults).map((x) => commentJson(i, x)), maxResults, total: all.length, startAt });
  });
  app.get('/rest/api/3/issue/:key/comment/:id', (c) => {
    const i = mustIssue(c.req.param('key'));
    const comment = i.comments.find((x) => x.id === c.req.param('id'));
    if (!comment) throw new JiraApiError(404, [`Can not find a comment for the id: ${c.req.param('id')}.`]);
    return c.json(commentJson(i, comment));
  });

  // Transitions
  app.get('/rest/api/3/issue/:key/transitions', (c) => {
    const i = mustIssue(c.req.param('key'));
    const only = c.req.query('transitionId');
    const list = TRANSITIONS.filter((t) => t.from.includes(i.statusId) && (only === undefined || t.id === only));
    return c.json({
      expand: 'transitions',
      transitions: list.map((t) => ({
        id: t.id,
        name: t.name,
        to: statusJson(base(), statusById(t.to)),
        hasScreen: false,
        isGlobal: false,
        isInitial: false,
        isAvailable: true,
        isConditional: false,
        looped: false,
      })),
    });
  });
  app.post('/rest/api/3/issue/:key/transitions', async (c) => {
    const i = mustIssue(c.req.param('key'));
    const body = await readObject(c);
    const id = (body.transition as { id?: unknown } | undefined)?.id;
    if (id === undefined || id === null) throw new JiraApiError(400, ["Missing 'transition' identifier"]);
    const update = body.update as { comment?: { add?: { body?: unknown } }[] } | undefined;
    const commentBodies = (update?.comment ?? []).map((x) => x.add?.body);
    for (const b of commentBodies) {
      const problem = adfProblem(b);
      if (problem) throw new JiraApiError(400, [], { comment: `${NOT_A_DOCUMENT}. The document is not valid ADF: ${problem}` });
    }
    doTransition(i, String(id), c.get('user'));
    for (const b of commentBodies) {
      const now = clock();
      i.comments.push({ id: String(nextCommentId++), authorId: c.get('user').accountId, body: structuredClone(b), created: now, updated: now });
    }
    return c.body(null, 204);
  });

  // Links
  app.post('/rest/api/3/issueLink', async (c) => {
    const body = await readObject(c);
    const tref = (body.type ?? {}) as { name?: unknown; id?: unknown };
    const type = LINK_TYPES.find((t) => (tref.id !== undefined ? t.id === String(tref.id) : t.name === tref.name));
    if (!type) throw new JiraApiError(404, [`No issue link type with name '${String(tref.name ?? tref.id)}' found.`]);
    const ref = (r: unknown): StoredIssue => {
      const x = (r ?? {}) as { key?: unknown; id?: unknown };
      const found = findIssue(String(x.key ?? x.id ?? ''));
      if (!found) throw new JiraApiError(404, [NO_ISSUE]);
      return found;
    };
    const inward = ref(body.inwardIssue);
    const outward = ref(body.outwardIssue);
    if (inward.id === outward.id) throw new JiraApiError(400, ['You cannot link an issue to itself.']);
    if (!links.some((l) => l.typeId === type.id && l.inwardId === inward.id && l.outwardId === outward.id)) {
      links.push({ id: String(nextLinkId++), typeId: type.id, inwardId: inward.id, outwardId: outward.id });
    }
    if (body.comment !== undefined) {
      const cb = (body.comment as { body?: unknown }).body;
      const problem = adfProblem(cb);
      if (problem) throw new JiraApiError(400, [], { comment: `${NOT_A_DOCUMENT}. The document is not valid ADF: ${problem}` });
      const now = clock();
      inward.comments.push({ id: String(nextCommentId++), authorId: c.get('user').accountId, body: structuredClone(cb), created: now, updated: now });
    }
    return c.body(null, 201);
  });

  // Search
  const search = (c: Context, p: { jql?: unknown; nextPageToken?: unknown; maxResults?: unknown; fields?: string[]; properties?: string[]; reconcileIssues?: unknown[] }) => {
    const jql = typeof p.jql === 'string' ? p.jql : '';
    const query = parseJql(jql);
    if (!query.where) throw new JiraApiError(400, ['Unbounded JQL queries are not allowed here. Please add a search restriction to your query.']);
    const now = clock();
    const user = c.get('user') as JiraUser;
    const match = compileJql(query, jqlSite(), { currentUser: user.accountId, now });
    const reconcile = new Set((p.reconcileIssues ?? []).map(String));
    const docs: IndexedIssue[] = [];
    for (const i of issues) {
      const doc = reconcile.has(i.id) ? indexDoc(i) : searchable(i, now);
      if (doc && match(doc)) docs.push(doc);
    }
    const sorted = sortIssues(docs, query.orderBy, (id) => site.priorities.findIndex((x) => x.id === id));
    const fieldSet = parseFieldList(p.fields);
    const idOnly = !fieldSet || (fieldSet.size === 1 && fieldSet.has('id'));
    const cap = idOnly ? 5000 : 100;
    const requested = intParam(p.maxResults, 'maxResults', 50);
    if (requested < 0) throw new JiraApiError(400, ["The value of 'maxResults' must be 0 or greater."]);
    const pageSize = Math.min(requested === 0 ? 50 : requested, cap);
    const fingerprint = createHash('sha256').update(jql).digest('base64url').slice(0, 16);
    let offset = 0;
    if (p.nextPageToken !== undefined && p.nextPageToken !== null && p.nextPageToken !== '') {
      try {
        const t = JSON.parse(Buffer.from(String(p.nextPageToken), 'base64url').toString('utf8')) as { o: number; q: string };
        if (t.q !== fingerprint || !Number.isInteger(t.o) || t.o < 0) throw new Error('mismatch');
        offset = t.o;
      } catch {
        throw new JiraApiError(400, ['The provided next page token is invalid or expired.']);
      }
    }
    const page = sorted.slice(offset, offset + pageSize);
    const isLast = offset + pageSize >= sorted.length;
    const out: Record<string, unknown> = {
      issues: page.map((d) => {
        const i = findIssue(d.id)!;
        if (idOnly && !p.properties?.length) return { id: i.id };
        const json = issueJson(i, idOnly ? new Set() : fieldSet, parsePropertyList(p.properties, i));
        return json;
      }),
      isLast,
    };
    if (!isLast) out.nextPageToken = Buffer.from(JSON.stringify({ o: offset + pageSize, q: fingerprint })).toString('base64url');
    return c.json(out);
  };
  app.get('/rest/api/3/search/jql', (c) =>
    search(c, {
      jql: c.req.query('jql'),
      nextPageToken: c.req.query('nextPageToken'),
      maxResults: c.req.query('maxResults'),
      fields: queryList(c, 'fields'),
      properties: queryList(c, 'properties'),
      reconcileIssues: queryList(c, 'reconcileIssues')?.flatMap((x) => x.split(',')),
    }),
  );
  app.post('/rest/api/3/search/jql', async (c) => {
    const b = await readObject(c);
    const strings = (v: unknown, name: string): string[] | undefined => {
      if (v === undefined || v === null) return undefined;
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new JiraApiError(400, [`'${name}' must be an array of strings.`]);
      return v as string[];
    };
    return search(c, {
      jql: b.jql,
      nextPageToken: b.nextPageToken,
      maxResults: b.maxResults,
      fields: strings(b.fields, 'fields'),
      properties: strings(b.properties, 'properties'),
      reconcileIssues: Array.isArray(b.reconcileIssues) ? b.reconcileIssues : undefined,
    });
  });

  // ---- the service object --------------------------------------------------------------------
  Object.defineProperty(svc, 'requests', { get: () => [...requests], enumerable: true });
  svc.handle = async (req) => app.fetch(req);
  svc.issue = (k) => findIssue(k);
  svc.issues = () => [...issues];
  svc.issueJson = (k) => issueJson(mustIssue(k), undefined);
  svc.transition = (k, t, o) => {
    const i = mustIssue(k);
    const tr = TRANSITIONS.find((x) => (x.id === t || x.name.toLowerCase() === t.toLowerCase()) && x.from.includes(i.statusId));
    if (!tr) throw new Error(`${i.key} is ${statusById(i.statusId).name}: no transition ${t} from there`);
    doTransition(i, tr.id, actorOf(o));
  };
  svc.closeIssue = (k, o) => {
    const i = mustIssue(k);
    const actor = actorOf(o);
    for (let step = 0; step < TRANSITIONS.length && statusById(i.statusId).category !== 'done'; step++) {
      const next = TRANSITIONS.filter((t) => t.from.includes(i.statusId) && t.name !== 'Reopen');
      const toward = next.find((t) => statusById(t.to).category === 'done') ?? next[0];
      if (!toward) break;
      doTransition(i, toward.id, actor);
    }
  };
  svc.assign = (k, id, o) => doAssign(mustIssue(k), id, actorOf(o));
  svc.reindex = () => {
    const now = clock();
    for (const i of issues) {
      const last = i.versions.at(-1);
      if (last) i.versions = [{ visibleAt: now, doc: last.doc }];
    }
  };
  return svc;
}
