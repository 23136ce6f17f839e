import type { AdfDoc } from '../../flows/adf.ts';

/**
 * The narrow interface trailbot's ticket work (src/actions/jira) uses to talk to Jira. The real
 * implementation (client.ts) has jira.js inside; tests drive it against the Jira stand-in
 * (standin/). Nothing outside src/integrations/jira imports jira.js.
 *
 * Errors: every method throws a TrailbotError whose code says what to do:
 * - E_JIRA_RATE_LIMITED: Jira answered 429; `retryAfterMs` (from Retry-After / X-RateLimit-Reset)
 *   says when to try again. The queue retries the job after that delay, not before.
 * - E_JIRA_UNAVAILABLE: 5xx or a network error; retried with backoff.
 * - E_JIRA_REJECTED: a 4xx that retrying cannot fix (unknown project, issue type or field); the
 *   message names the Jira field and the hint the trailbot setting to fix. Fails the job at once.
 * - E_JIRA_AUTH: 401/403; the hint names JIRA_EMAIL / JIRA_API_TOKEN. Fails the job at once.
 */

export interface JiraIssueRef {
  id: string;
  key: string;
  /** The issue in Jira's web UI: <JIRA_BASE_URL>/browse/<key>. */
  url: string;
}

export interface CreateIssueInput {
  project: string;
  issueType: string;
  /** One line, at most 255 characters. */
  summary: string;
  /** Always an ADF document (a string would make jira.js post to API v2). */
  description: AdfDoc;
  labels: string[];
  /** A priority name; dropped (and the caller told through `onFieldDropped`) when the site refuses the field. */
  priority?: string | undefined;
  /** An Atlassian account id. */
  assignee?: string | undefined;
  /** Component names. */
  components?: string[] | undefined;
  /** Issue properties set in the create request itself (e.g. `trailbot` = {findingId, key}). */
  properties?: { key: string; value: unknown }[] | undefined;
}

export type StatusCategory = 'new' | 'indeterminate' | 'done';

export interface JiraIssueState {
  id: string;
  key: string;
  url: string;
  status: string;
  statusCategory: StatusCategory;
  assignee: { accountId: string; displayName?: string | undefined; email?: string | undefined } | null;
  labels: string[];
}

export interface JiraPort {
  /** Creates the issue; with `priority` refused by the site, creates it without and calls `onFieldDropped('priority', why)`. */
  create(input: CreateIssueInput, opts?: { onFieldDropped?: (field: string, why: string) => void }): Promise<JiraIssueRef>;
  /** Issues carrying this label (in the project when given), newest first, through POST /rest/api/3/search/jql (eventually consistent). */
  findByLabel(label: string, project?: string): Promise<JiraIssueRef[]>;
  /** The issue, or undefined when it does not exist (404). */
  get(key: string): Promise<JiraIssueState | undefined>;
  comment(key: string, body: AdfDoc): Promise<{ id: string }>;
  /** Moves a done issue back to a not-done status through a transition whose target is not done; false when no such transition exists. */
  reopen(key: string): Promise<boolean>;
  /**
   * Moves the issue to the status named `status` (case-insensitive) through a transition whose target
   * has that name: `moved`; `already` when it has that status; `unavailable` when no transition from
   * where it is leads there (the workflow decides).
   */
  transitionTo(key: string, status: string): Promise<'moved' | 'already' | 'unavailable'>;
  /** The id of the newest of the issue's last 100 comments whose text contains `marker`, if any (a retry after a lost answer looks before commenting again). */
  findComment(key: string, marker: string): Promise<string | undefined>;
  /** Links two issues ("Relates" unless given): `from` relates to `to`. */
  link(fromKey: string, toKey: string, type?: string): Promise<void>;
  browseUrl(key: string): string;
}
