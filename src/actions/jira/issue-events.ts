import { getFinding, setFindingStatus } from '../../flows/index.ts';
import type { JiraIssueState, StatusCategory } from '../../integrations/jira/port.ts';
import type { Db } from '../../store/index.ts';
import { currentTicket, type JiraEventPosition, setJiraState } from './tickets.ts';

/** What the Jira webhook route (src/http/jira-webhook.ts) hands over from one verified issue event. */
export interface JiraIssueEvent {
  key: string;
  statusCategory?: StatusCategory | undefined;
  status?: string | undefined;
  /** undefined: the event says nothing about it; null: unassigned. */
  assignee?: JiraIssueState['assignee'] | undefined;
  /** The delivery's `timestamp` and `changelog.id`: an event older than one already applied is ignored. */
  position?: JiraEventPosition | undefined;
}

export type JiraIssueEventOutcome = 'updated' | 'stale' | 'unknown';

/**
 * Keeps a finding in step with its ticket: records the status and assignee on the ticket row; the
 * finding's current ticket done → the finding is resolved, moved out of done (reopened) → open
 * again. An older ticket of the finding (a new one links it) changes only its own row. A key
 * trailbot did not create is 'unknown' (the route answers 200 and changes nothing); an event older than
 * one already applied to the ticket is 'stale' (Jira's deliveries can arrive out of order) and changes nothing.
 */
export async function onJiraIssueEvent(db: Db, ev: JiraIssueEvent): Promise<JiraIssueEventOutcome> {
  const r = await setJiraState(db, ev.key, { status: ev.status, statusCategory: ev.statusCategory, assignee: ev.assignee }, ev.position);
  if (!r) return 'unknown';
  if (!r.applied) return 'stale';
  const t = r.ticket;
  if (!ev.statusCategory) return 'updated';
  const current = await currentTicket(db, t.findingId);
  if (current?.generation !== t.generation) return 'updated';
  const f = await getFinding(db, t.findingId);
  if (!f) return 'updated';
  if (ev.statusCategory === 'done' && f.status !== 'resolved') await setFindingStatus(db, f.id, 'resolved');
  else if (ev.statusCategory !== 'done' && f.status === 'resolved') await setFindingStatus(db, f.id, 'open');
  return 'updated';
}
