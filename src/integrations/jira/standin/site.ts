// The Jira site a stand-in pretends to be: projects, users, priorities, the workflow and link types,
// with defaults close to a fresh Jira Cloud company-managed Software project. Also how each of them is
// shown on the wire (the small objects Jira nests inside an issue).

export interface JiraUser {
  accountId: string;
  email: string;
  displayName: string;
  /** 'atlassian' for people, 'app' for bots and integrations */
  accountType?: 'atlassian' | 'app';
  active?: boolean;
  timeZone?: string;
}

export interface JiraComponent {
  id: string;
  name: string;
}

export interface JiraIssueType {
  id: string;
  name: string;
  description?: string;
}

export interface JiraProject {
  id: string;
  key: string;
  name: string;
  issueTypes: JiraIssueType[];
  components: JiraComponent[];
  /** false: `priority` is not on this project's create/edit screen (typical of team-managed projects). Default: the site's `priorityOnScreen`. */
  priorityOnScreen?: boolean;
}

export interface JiraPriority {
  id: string;
  name: string;
}

export type StatusCategoryKey = 'new' | 'indeterminate' | 'done';

export interface JiraStatus {
  id: string;
  name: string;
  category: StatusCategoryKey;
}

export interface JiraTransition {
  id: string;
  name: string;
  /** status ids the transition leaves from */
  from: string[];
  to: string;
}

export interface JiraLinkType {
  id: string;
  name: string;
  inward: string;
  outward: string;
}

export interface SiteOptions {
  projects?: JiraProject[];
  users?: JiraUser[];
  priorities?: JiraPriority[];
  /** name of the priority an issue gets when the create request names none (default Medium) */
  defaultPriority?: string;
  /** false: no project has `priority` on its screens unless the project says otherwise (default true) */
  priorityOnScreen?: boolean;
}

export const DEFAULT_CREDENTIALS = { email: 'trailbot@example.com', apiToken: 'ATATT3xFfGF0-standin-api-token' } as const;

export const DEFAULT_USERS: readonly JiraUser[] = [
  { accountId: '712020:5f1e0c3a-7d52-4a0e-9a57-0c1d2e3f4a5b', email: DEFAULT_CREDENTIALS.email, displayName: 'trailbot', accountType: 'atlassian' },
  { accountId: '5b10ac8d82e05b22cc7d4ef5', email: 'alana@corp.example', displayName: 'Alana Ruiz' },
  { accountId: '5b10a2844c20165700ede21g', email: 'sam@corp.example', displayName: 'Sam Okafor' },
];

export const DEFAULT_PROJECTS: readonly JiraProject[] = [
  {
    id: '10000',
    key: 'SEC',
    name: 'Security',
    issueTypes: [
      { id: '10001', name: 'Task', description: 'A small, distinct piece of work.' },
      { id: '10004', name: 'Bug', description: 'A problem or error.' },
    ],
    components: [
      { id: '10100', name: 'AWS' },
      { id: '10101', name: 'IAM' },
      { id: '10102', name: 'CloudTrail' },
    ],
  },
];

export const DEFAULT_PRIORITIES: readonly JiraPriority[] = [
  { id: '1', name: 'Highest' },
  { id: '2', name: 'High' },
  { id: '3', name: 'Medium' },
  { id: '4', name: 'Low' },
  { id: '5', name: 'Lowest' },
];

/** The simplified workflow: To Do → In Progress → Done, and Done → To Do by "Reopen". */
export const STATUSES: readonly JiraStatus[] = [
  { id: '10000', name: 'To Do', category: 'new' },
  { id: '3', name: 'In Progress', category: 'indeterminate' },
  { id: '10001', name: 'Done', category: 'done' },
];

export const TRANSITIONS: readonly JiraTransition[] = [
  { id: '11', name: 'Start Progress', from: ['10000'], to: '3' },
  { id: '21', name: 'Done', from: ['3'], to: '10001' },
  { id: '31', name: 'Reopen', from: ['10001'], to: '10000' },
];

export const LINK_TYPES: readonly JiraLinkType[] = [
  { id: '10000', name: 'Blocks', inward: 'is blocked by', outward: 'blocks' },
  { id: '10001', name: 'Cloners', inward: 'is cloned by', outward: 'clones' },
  { id: '10002', name: 'Duplicate', inward: 'is duplicated by', outward: 'duplicates' },
  { id: '10003', name: 'Relates', inward: 'relates to', outward: 'relates to' },
];

const CATEGORIES: Record<StatusCategoryKey, { id: number; colorName: string; name: string }> = {
  new: { id: 2, colorName: 'blue-gray', name: 'To Do' },
  indeterminate: { id: 4, colorName: 'yellow', name: 'In Progress' },
  done: { id: 3, colorName: 'green', name: 'Done' },
};

export interface Site {
  projects: JiraProject[];
  users: JiraUser[];
  priorities: JiraPriority[];
  defaultPriority: JiraPriority;
  priorityOnScreen: boolean;
}

export function createSite(opts: SiteOptions = {}, credentialsEmail: string = DEFAULT_CREDENTIALS.email): Site {
  const users = (opts.users ?? DEFAULT_USERS).map((u) => ({ ...u }));
  if (!users.some((u) => u.email.toLowerCase() === credentialsEmail.toLowerCase())) {
    users.unshift({ accountId: `712020:standin-${credentialsEmail.replace(/[^a-z0-9]/gi, '-')}`, email: credentialsEmail, displayName: credentialsEmail.split('@')[0]! });
  }
  const priorities = (opts.priorities ?? DEFAULT_PRIORITIES).map((p) => ({ ...p }));
  const wanted = opts.defaultPriority ?? 'Medium';
  const defaultPriority = priorities.find((p) => p.name === wanted) ?? priorities[Math.floor(priorities.length / 2)]!;
  return {
    projects: (opts.projects ?? DEFAULT_PROJECTS).map((p) => ({ ...p, issueTypes: [...p.issueTypes], components: [...p.components] })),
    users,
    priorities,
    defaultPriority,
    priorityOnScreen: opts.priorityOnScreen ?? true,
  };
}

/** Jira's timestamp format: `2026-01-15T09:30:00.000+0000`. */
export const jiraTime = (ms: number): string => new Date(ms).toISOString().replace('Z', '+0000');

const avatar = (base: string, seed: string): Record<string, string> => ({
  '48x48': `${base}/secure/useravatar?size=large&ownerId=${encodeURIComponent(seed)}`,
  '24x24': `${base}/secure/useravatar?size=small&ownerId=${encodeURIComponent(seed)}`,
  '16x16': `${base}/secure/useravatar?size=xsmall&ownerId=${encodeURIComponent(seed)}`,
  '32x32': `${base}/secure/useravatar?size=medium&ownerId=${encodeURIComponent(seed)}`,
});

/** A user as Jira nests it (assignee, reporter, comment author). */
export function userJson(base: string, u: JiraUser): Record<string, unknown> {
  return {
    self: `${base}/rest/api/3/user?accountId=${encodeURIComponent(u.accountId)}`,
    accountId: u.accountId,
    emailAddress: u.email,
    avatarUrls: avatar(base, u.accountId),
    displayName: u.displayName,
    active: u.active ?? true,
    timeZone: u.timeZone ?? 'Etc/UTC',
    accountType: u.accountType ?? 'atlassian',
  };
}

export function statusJson(base: string, s: JiraStatus): Record<string, unknown> {
  const c = CATEGORIES[s.category];
  return {
    self: `${base}/rest/api/3/status/${s.id}`,
    description: '',
    iconUrl: `${base}/`,
    name: s.name,
    id: s.id,
    statusCategory: { self: `${base}/rest/api/3/statuscategory/${c.id}`, id: c.id, key: s.category, colorName: c.colorName, name: c.name },
  };
}

export function priorityJson(base: string, p: JiraPriority): Record<string, unknown> {
  return { self: `${base}/rest/api/3/priority/${p.id}`, iconUrl: `${base}/images/icons/priorities/${p.name.toLowerCase()}.svg`, name: p.name, id: p.id };
}

export function issueTypeJson(base: string, t: JiraIssueType): Record<string, unknown> {
  return {
    self: `${base}/rest/api/3/issuetype/${t.id}`,
    id: t.id,
    description: t.description ?? '',
    iconUrl: `${base}/rest/api/2/universal_avatar/view/type/issuetype/avatar/10318?size=medium`,
    name: t.name,
    subtask: false,
    avatarId: 10318,
    hierarchyLevel: 0,
  };
}

export function projectJson(base: string, p: JiraProject): Record<string, unknown> {
  return {
    self: `${base}/rest/api/3/project/${p.id}`,
    id: p.id,
    key: p.key,
    name: p.name,
    projectTypeKey: 'software',
    simplified: false,
    avatarUrls: avatar(base, `project-${p.id}`),
  };
}

export function componentJson(base: string, c: JiraComponent): Record<string, unknown> {
  return { self: `${base}/rest/api/3/component/${c.id}`, id: c.id, name: c.name };
}

export function linkTypeJson(base: string, t: JiraLinkType): Record<string, unknown> {
  return { id: t.id, name: t.name, inward: t.inward, outward: t.outward, self: `${base}/rest/api/3/issueLinkType/${t.id}` };
}

export const statusById = (id: string): JiraStatus => STATUSES.find((s) => s.id === id)!;
