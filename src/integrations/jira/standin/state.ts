// The Jira stand-in's state, as one object every route and helper is given: the site, the issues and
// their links, the request log, the ids, and the search index each write reaches `indexDelayMs` later.
import type { Faults } from './faults.ts';
import { JiraApiError, NO_ISSUE } from './http.ts';
import type { JiraRequestRecord, Route } from './http.ts';
import type { IndexedIssue, JqlSite } from './jql.ts';
import { STATUSES, statusById, statusJson } from './site.ts';
import type { JiraProject, JiraUser, Site } from './site.ts';
import type { Webhooks } from './webhooks.ts';

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

export interface StoredLink {
  id: string;
  typeId: string;
  inwardId: string;
  outwardId: string;
}

export type IdKind = 'issue' | 'comment' | 'link' | 'changelog';

export interface JiraState {
  readonly site: Site;
  readonly credentials: { email: string; apiToken: string };
  readonly clock: () => number;
  readonly faults: Faults;
  readonly webhooks: Webhooks;
  /** every request in arrival order (the live array) */
  readonly requests: JiraRequestRecord[];
  /** oldest first */
  readonly issues: StoredIssue[];
  readonly links: StoredLink[];
  /** the site URL in `self` links */
  base(): string;
  /** a new id of that kind (each counts from 10000) */
  nextId(kind: IdKind): string;
  /** the project's next issue key (SEC-1, SEC-2, …) */
  nextKey(project: JiraProject): string;
  add(i: StoredIssue): void;
  findIssue(keyOrId: string): StoredIssue | undefined;
  /** the issue, or Jira's 404 */
  mustIssue(keyOrId: string): StoredIssue;
  projectOf(i: StoredIssue): JiraProject;
  userById(id: string | undefined): JiraUser | undefined;
  /** the API token's user */
  me(): JiraUser;
  priorityOnScreen(p: JiraProject): boolean;
  /** Every write calls this: the new state reaches the index `indexDelayMs` later. */
  touch(i: StoredIssue, o?: { updated?: boolean }): void;
  /** the issue as the index holds it now */
  indexDoc(i: StoredIssue): IndexedIssue;
  /** the newest indexed version of the issue visible at `now`, if any */
  searchable(i: StoredIssue, now: number): IndexedIssue | undefined;
  /** what JQL is checked against */
  jqlSite(): JqlSite;
  /** makes every write so far visible to search now */
  reindex(): void;
}

/** A route of the stand-in's REST API or control paths. */
export type JiraRoute = Route<JiraState>;

export interface JiraStateOptions {
  site: Site;
  credentials: { email: string; apiToken: string };
  clock: () => number;
  faults: Faults;
  webhooks: Webhooks;
  indexedProperties: 'all' | ReadonlyArray<{ propertyKey: string; path: string }>;
  /** read on each use: the listener sets the URL after creation, a test may change the delay */
  live: { readonly baseUrl: string; readonly indexDelayMs: number };
}

export function createJiraState(o: JiraStateOptions): JiraState {
  const { site, credentials, clock, live } = o;
  const issues: StoredIssue[] = [];
  const byKey = new Map<string, StoredIssue>();
  const counters: Record<string, number> = {};
  const ids: Record<IdKind, number> = { issue: 10000, comment: 10000, link: 10000, changelog: 10000 };
  const indexed = o.indexedProperties;

  const userById = (id: string | undefined): JiraUser | undefined => (id === undefined ? undefined : site.users.find((u) => u.accountId === id));
  const projectOf = (i: StoredIssue): JiraProject => site.projects.find((p) => p.id === i.projectId)!;
  const findIssue = (keyOrId: string): StoredIssue | undefined => byKey.get(keyOrId.toUpperCase()) ?? issues.find((i) => i.id === keyOrId);

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

  return {
    site,
    credentials,
    clock,
    faults: o.faults,
    webhooks: o.webhooks,
    requests: [],
    issues,
    links: [],
    base: () => live.baseUrl,
    nextId: (kind) => String(ids[kind]++),
    nextKey: (project) => `${project.key}-${(counters[project.key] = (counters[project.key] ?? 0) + 1)}`,
    add(i) {
      issues.push(i);
      byKey.set(i.key, i);
    },
    findIssue,
    mustIssue(keyOrId) {
      const i = findIssue(keyOrId);
      if (!i) throw new JiraApiError(404, [NO_ISSUE]);
      return i;
    },
    projectOf,
    userById,
    me: () => site.users.find((u) => u.email.toLowerCase() === credentials.email.toLowerCase())!,
    priorityOnScreen: (p) => p.priorityOnScreen ?? site.priorityOnScreen,
    touch(i, { updated = true } = {}) {
      const now = clock();
      if (updated) i.updated = now;
      i.versions.push({ visibleAt: now + live.indexDelayMs, doc: indexDoc(i) });
      const visible = i.versions.filter((v) => v.visibleAt <= now);
      if (visible.length > 1) i.versions = i.versions.slice(i.versions.indexOf(visible.at(-1)!));
    },
    indexDoc,
    searchable(i, now) {
      let doc: IndexedIssue | undefined;
      for (const v of i.versions) if (v.visibleAt <= now) doc = v.doc;
      return doc;
    },
    jqlSite: () => ({
      projects: site.projects,
      statuses: STATUSES.map((s) => ({ id: s.id, name: s.name })),
      statusCategories: STATUSES.map((s) => statusJson('', s).statusCategory as { id: number; key: string; name: string }),
      issueTypes: site.projects.flatMap((p) => p.issueTypes),
      priorities: site.priorities,
      propertyIndexed: (key, path) => indexed === 'all' || indexed.some((x) => x.propertyKey === key && x.path === path.join('.')),
    }),
    reindex() {
      const now = clock();
      for (const i of issues) {
        const last = i.versions.at(-1);
        if (last) i.versions = [{ visibleAt: now, doc: last.doc }];
      }
    },
  };
}
