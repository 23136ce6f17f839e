// An issue and its comments as Jira's REST v3 shows them (GET issue, search, webhooks), and how
// `fields=` and `properties=` pick what is shown.
import {
  componentJson,
  issueTypeJson,
  jiraTime,
  LINK_TYPES,
  linkTypeJson,
  priorityJson,
  projectJson,
  statusById,
  statusJson,
  userJson,
} from './site.ts';
import type { JiraState, StoredComment, StoredIssue } from './state.ts';

export const ALL_FIELDS = [
  'statuscategorychangedate', 'issuetype', 'components', 'project', 'created', 'priority', 'labels', 'assignee', 'updated', 'status',
  'description', 'summary', 'creator', 'reporter', 'issuelinks', 'resolution', 'resolutiondate', 'comment',
] as const;
type IssueField = (typeof ALL_FIELDS)[number];
const NON_NAVIGABLE = new Set(['comment']);

/** What a webhook's `issue.fields` carries: every field but the comments. */
export const WEBHOOK_FIELDS: ReadonlySet<string> = new Set(ALL_FIELDS.filter((f) => f !== 'comment'));

const RESOLUTION_DONE = (base: string) => ({ self: `${base}/rest/api/3/resolution/10000`, id: '10000', description: 'Work has been completed on this issue.', name: 'Done' });

/** The issue as GET /rest/api/3/issue/{key} answers it: `fields` (all when undefined) and the `props` asked for. */
export function issueJson(s: JiraState, i: StoredIssue, fields: ReadonlySet<string> | undefined, props?: string[]): Record<string, unknown> {
  const wanted = fields ?? new Set<string>(ALL_FIELDS);
  const out: Record<string, unknown> = {
    expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
    id: i.id,
    self: `${s.base()}/rest/api/3/issue/${i.id}`,
    key: i.key,
  };
  if (props) out.properties = Object.fromEntries(props.filter((k) => i.properties.has(k)).map((k) => [k, i.properties.get(k)]));
  out.fields = Object.fromEntries(ALL_FIELDS.filter((f) => wanted.has(f)).map((f) => [f, fieldValue(s, i, f)]));
  return out;
}

export function commentJson(s: JiraState, i: StoredIssue, c: StoredComment): Record<string, unknown> {
  const base = s.base();
  const author = userJson(base, s.userById(c.authorId)!);
  return { self: `${base}/rest/api/3/issue/${i.id}/comment/${c.id}`, id: c.id, author, body: c.body, updateAuthor: author, created: jiraTime(c.created), updated: jiraTime(c.updated), jsdPublic: true };
}

/** The other end of a link, as `issuelinks` shows it. */
function linkedIssueJson(s: JiraState, i: StoredIssue): Record<string, unknown> {
  const base = s.base();
  const p = s.projectOf(i);
  const pr = s.site.priorities.find((x) => x.id === i.priorityId);
  return {
    id: i.id,
    key: i.key,
    self: `${base}/rest/api/3/issue/${i.id}`,
    fields: {
      summary: i.summary,
      status: statusJson(base, statusById(i.statusId)),
      ...(pr ? { priority: priorityJson(base, pr) } : {}),
      issuetype: issueTypeJson(base, p.issueTypes.find((t) => t.id === i.issueTypeId)!),
    },
  };
}

function fieldValue(s: JiraState, i: StoredIssue, f: IssueField): unknown {
  const base = s.base();
  const p = s.projectOf(i);
  const user = (id?: string) => (s.userById(id) ? userJson(base, s.userById(id)!) : null);
  switch (f) {
    case 'statuscategorychangedate':
      return jiraTime(i.statusCategoryChanged);
    case 'issuetype':
      return issueTypeJson(base, p.issueTypes.find((t) => t.id === i.issueTypeId)!);
    case 'components':
      return i.componentIds.map((id) => componentJson(base, p.components.find((c) => c.id === id)!));
    case 'project':
      return projectJson(base, p);
    case 'created':
      return jiraTime(i.created);
    case 'updated':
      return jiraTime(i.updated);
    case 'priority': {
      const pr = s.site.priorities.find((x) => x.id === i.priorityId);
      return pr ? priorityJson(base, pr) : null;
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
      return statusJson(base, statusById(i.statusId));
    case 'description':
      return i.description ?? null;
    case 'summary':
      return i.summary;
    case 'resolution':
      return i.resolutionDate === undefined ? null : RESOLUTION_DONE(base);
    case 'resolutiondate':
      return i.resolutionDate === undefined ? null : jiraTime(i.resolutionDate);
    case 'issuelinks':
      return s.links
        .filter((l) => l.inwardId === i.id || l.outwardId === i.id)
        .map((l) => {
          const type = LINK_TYPES.find((t) => t.id === l.typeId)!;
          const entry: Record<string, unknown> = { id: l.id, self: `${base}/rest/api/3/issueLink/${l.id}`, type: linkTypeJson(base, type) };
          // The issue named as the link's inwardIssue sees the other one as its outwardIssue, and vice versa.
          if (l.inwardId === i.id) entry.outwardIssue = linkedIssueJson(s, s.findIssue(l.outwardId)!);
          else entry.inwardIssue = linkedIssueJson(s, s.findIssue(l.inwardId)!);
          return entry;
        });
    case 'comment':
      return { comments: i.comments.map((c) => commentJson(s, i, c)), self: `${base}/rest/api/3/issue/${i.id}/comment`, maxResults: i.comments.length, total: i.comments.length, startAt: 0 };
  }
}

/** `fields=` as Jira reads it: names, `*all`, `*navigable`, `-name`; undefined when not given. */
export function parseFieldList(raw: string[] | undefined): Set<string> | undefined {
  const items = (raw ?? []).flatMap((r) => r.split(',')).map((x) => x.trim()).filter(Boolean);
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
}

/** `properties=` as Jira reads it: keys, `*all`, `-key`; undefined when not given. */
export function parsePropertyList(raw: string[] | undefined, i: StoredIssue): string[] | undefined {
  const items = (raw ?? []).flatMap((r) => r.split(',')).map((x) => x.trim()).filter(Boolean);
  if (items.length === 0) return undefined;
  const keys = new Set<string>();
  for (const it of items) if (it === '*all') for (const k of i.properties.keys()) keys.add(k);
  for (const it of items) {
    if (it.startsWith('-')) keys.delete(it.slice(1));
    else if (it !== '*all') keys.add(it);
  }
  return [...keys];
}
