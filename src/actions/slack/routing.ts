import { type Severity, SEVERITIES } from '../../flows/define.ts';
import { NOTIFY_WINDOW_MS } from '../../runtime/jobs.ts';
import { durationMs } from '../../time.ts';
import { matchingRule, type RoutedFinding, type Routing } from '../jira/routing.ts';

/**
 * Which Slack channel a finding is posted to, from the `routing:` section it shares with Jira
 * (parsed and validated by src/actions/jira/routing.ts). Pure: no I/O, no environment.
 *
 * - No channel configured (neither `routing.slack.channel` nor the matching rule's): no message.
 * - The first rule that matches the finding (flow, account, severity) decides: `slack: false` means no
 *   message; its `channel` / `minSeverity` replace the defaults'.
 * - Below `minSeverity` (default low: Slack is for awareness, so more goes there than becomes a
 *   ticket, whose default is medium), no message.
 */

export const DEFAULT_SLACK_MIN_SEVERITY: Severity = 'low';

export interface SlackRoute {
  /** `#name` or a channel id, as configured. */
  channel: string;
}

export function routeMessage(f: RoutedFinding, routing: Routing | undefined): SlackRoute | null {
  const rule = matchingRule(f, routing);
  if (rule?.slack === false) return null;
  const r = { ...(routing?.slack ?? {}), ...(rule?.slack ?? {}) };
  if (!r.channel) return null;
  const min = r.minSeverity ?? DEFAULT_SLACK_MIN_SEVERITY;
  if (SEVERITIES.indexOf(f.severity) < SEVERITIES.indexOf(min)) return null;
  return { channel: r.channel };
}

/** Whether any finding can be posted at all (a channel somewhere in the routing). */
export function slackRouted(routing: Routing | undefined): boolean {
  return Boolean(routing?.slack?.channel) || Boolean(routing?.rules?.some((r) => r.slack !== false && r.slack?.channel));
}

/** How long a finding's new events are gathered into one thread reply (routing.slack.replyEvery, default 1 minute). */
export function replyEveryMs(routing: Routing | undefined): number {
  const s = routing?.slack?.replyEvery;
  return (s === undefined ? undefined : durationMs(s)) ?? NOTIFY_WINDOW_MS;
}

/** What `trailbot config check` says about findings and reports in Slack. */
export function describeSlackAlerts(routing: Routing | undefined, reports: readonly { id: string; slack?: { channel: string } | undefined }[], botToken: boolean): string {
  const parts: string[] = [];
  const base = routing?.slack;
  if (base?.channel) parts.push(`findings to ${base.channel} (${base.minSeverity ?? DEFAULT_SLACK_MIN_SEVERITY} and up)`);
  const ruled = [...new Set((routing?.rules ?? []).flatMap((r) => (r.slack !== false && r.slack?.channel ? [r.slack.channel] : [])))];
  if (ruled.length) parts.push(`rules to ${ruled.join(', ')}`);
  const delivered = reports.filter((r) => r.slack?.channel).map((r) => `${r.id} → ${r.slack!.channel}`);
  if (delivered.length) parts.push(`reports ${delivered.join(', ')}`);
  if (parts.length === 0) return 'off (no channel under routing.slack or reports[].slack)';
  return `${parts.join('; ')}${botToken ? '' : ' — but nothing is posted: set SLACK_BOT_TOKEN where the workers run'}`;
}
