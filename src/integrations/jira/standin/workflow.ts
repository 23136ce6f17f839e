// The workflow's moves, through the API or as a person would make them in the UI: a transition (with
// its resolution), an assignment, and the walk to Done. Each reaches the index and sends its webhook.
import { changelogItem, emitUpdated } from './events.ts';
import { JiraApiError } from './http.ts';
import { statusById, TRANSITIONS } from './site.ts';
import type { JiraUser } from './site.ts';
import type { ChangelogItem } from './webhooks.ts';
import type { JiraState, StoredIssue } from './state.ts';

export interface TransitionOptions {
  /** accountId of who does it (default: the API token's user) */
  as?: string;
}

/** Runs the transition `transitionId` if it leaves from the issue's status, else Jira's 400. */
export function transition(s: JiraState, i: StoredIssue, transitionId: string, actor: JiraUser): void {
  const t = TRANSITIONS.find((x) => x.id === transitionId && x.from.includes(i.statusId));
  if (!t) throw new JiraApiError(400, [`Transition id '${transitionId}' is not valid for this issue.`]);
  const from = statusById(i.statusId);
  const to = statusById(t.to);
  const items: ChangelogItem[] = [];
  const now = s.clock();
  if (to.category === 'done' && i.resolutionDate === undefined) {
    i.resolutionDate = now;
    items.push(changelogItem('resolution', null, null, '10000', 'Done'));
  } else if (to.category !== 'done' && i.resolutionDate !== undefined) {
    i.resolutionDate = undefined;
    items.push(changelogItem('resolution', '10000', 'Done', null, null));
  }
  items.push(changelogItem('status', from.id, from.name, to.id, to.name));
  if (from.category !== to.category) i.statusCategoryChanged = now;
  i.statusId = to.id;
  s.touch(i);
  emitUpdated(s, i, actor, 'issue_generic', items);
}

/** Walks the workflow to a Done status, one transition (and one webhook) a step. */
export function closeIssue(s: JiraState, i: StoredIssue, actor: JiraUser): void {
  for (let step = 0; step < TRANSITIONS.length && statusById(i.statusId).category !== 'done'; step++) {
    const next = TRANSITIONS.filter((t) => t.from.includes(i.statusId) && t.name !== 'Reopen');
    const toward = next.find((t) => statusById(t.to).category === 'done') ?? next[0];
    if (!toward) break;
    transition(s, i, toward.id, actor);
  }
}

/** Assigns the issue to `accountId` (null unassigns); nothing happens when it already is. */
export function assign(s: JiraState, i: StoredIssue, accountId: string | null, actor: JiraUser): void {
  const prev = s.userById(i.assigneeId);
  const next = accountId === null ? undefined : s.userById(accountId);
  if (accountId !== null && !next) throw new JiraApiError(404, [`The user with account ID '${accountId}' does not exist.`]);
  if (prev?.accountId === next?.accountId) return;
  i.assigneeId = next?.accountId;
  s.touch(i);
  emitUpdated(s, i, actor, 'issue_assigned', [changelogItem('assignee', prev?.accountId ?? null, prev?.displayName ?? null, next?.accountId ?? null, next?.displayName ?? null)]);
}

/** Who a helper acts as: the user `o.as`, or the API token's user. */
export function actorOf(s: JiraState, o?: TransitionOptions): JiraUser {
  if (!o?.as) return s.me();
  const u = s.userById(o.as);
  if (!u) throw new Error(`no user with accountId ${o.as}`);
  return u;
}
