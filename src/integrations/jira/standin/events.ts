// What a write tells the registered webhooks (delivery and signing: webhooks.ts): `jira:issue_created`
// with the new issue, `jira:issue_updated` with the issue and a changelog of what changed.
import { userJson } from './site.ts';
import type { JiraUser } from './site.ts';
import { issueJson, WEBHOOK_FIELDS } from './issue-json.ts';
import type { JiraState, StoredIssue } from './state.ts';
import type { ChangelogItem, WebhookPayload } from './webhooks.ts';

/** One changelog entry: a Jira field's old and new value (id and display text). */
export const changelogItem = (field: string, from: string | null, fromString: string | null, to: string | null, toText: string | null): ChangelogItem => ({
  field,
  fieldtype: 'jira',
  fieldId: field,
  from,
  fromString,
  to,
  toString: toText,
});

export function emitCreated(s: JiraState, i: StoredIssue, actor: JiraUser, now: number): void {
  s.webhooks.emit({
    timestamp: now,
    webhookEvent: 'jira:issue_created',
    issue_event_type_name: 'issue_created',
    user: userJson(s.base(), actor),
    issue: issueJson(s, i, WEBHOOK_FIELDS) as WebhookPayload['issue'],
  });
}

/** `jira:issue_updated` for a change of `items` (nothing when there are none). */
export function emitUpdated(s: JiraState, i: StoredIssue, actor: JiraUser, type: WebhookPayload['issue_event_type_name'], items: ChangelogItem[]): void {
  if (items.length === 0) return;
  s.webhooks.emit({
    timestamp: s.clock(),
    webhookEvent: 'jira:issue_updated',
    issue_event_type_name: type,
    user: userJson(s.base(), actor),
    issue: issueJson(s, i, WEBHOOK_FIELDS) as WebhookPayload['issue'],
    changelog: { id: s.nextId('changelog'), items },
  });
}
