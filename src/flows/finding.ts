import type { AdfDoc } from './adf.ts';
import type { FlowKind, Severity } from './define.ts';

export type FindingStatus = 'open' | 'acknowledged' | 'resolved';
export const FINDING_STATUSES: readonly FindingStatus[] = ['open', 'acknowledged', 'resolved'];

/**
 * A finding: what the Slack and Jira integrations consume. `id` is unique per occurrence and safe
 * as a job id (hex, no `:`); `key` (`flow:group`) is stable across occurrences of the same problem.
 */
export interface Finding {
  id: string;
  key: string;
  flow: string;
  kind: FlowKind;
  severity: Severity;
  status: FindingStatus;
  title: string;
  /** One paragraph: the first event in a sentence, and how often it happened. */
  summary: string;
  /** Plain text: who/what/where/how/when, how often, why it matters, what to do next. */
  body: string;
  /** Slack mrkdwn, escaped. */
  slack: string;
  /** Jira description, Atlassian Document Format. */
  jira: AdfDoc;
  count: number;
  firstSeen: string;
  lastSeen: string;
  eventIds: string[];
  /** When the store last changed it (store only). */
  updatedAt?: string;
  /** Its place in the findings feed: pass as `after` to read the changes after this one (store only). */
  cursor?: string;
}

/** The `trailbot detect --json` line for a finding. */
export function findingJson(f: Finding): Record<string, unknown> {
  return {
    flow: f.flow,
    severity: f.severity,
    key: f.key,
    title: f.title,
    summary: f.summary,
    count: f.count,
    firstSeen: f.firstSeen,
    lastSeen: f.lastSeen,
    eventIds: f.eventIds,
  };
}
