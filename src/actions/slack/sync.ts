import type { Finding } from '../../flows/index.ts';
import { notifyUpdateOptions } from '../../runtime/jobs.ts';
import type { JobContext } from '../../runtime/pipeline.ts';
import type { Db } from '../../store/index.ts';
import type { Routing } from '../jira/routing.ts';
import { messagesOf } from './messages.ts';
import { replyEveryMs, routeMessage, slackRouted } from './routing.ts';

/** The account of each finding's first event (what routing rules match on), in one query. */
async function firstAccounts(db: Db, findingIds: readonly string[]): Promise<Map<string, string | null>> {
  const r = await db.query<{ finding_id: string; account: string | null }>(
    `SELECT DISTINCT ON (fe.finding_id) fe.finding_id, e.account FROM finding_events fe JOIN events e ON e.event_id = fe.event_id AND e.time = fe.time
     WHERE fe.finding_id = ANY($1::text[]) ORDER BY fe.finding_id, fe.time, fe.event_id`,
    [findingIds],
  );
  return new Map(r.rows.map((x) => [x.finding_id, x.account]));
}

/**
 * The Slack part of the catch-up (the `tickets-sync` job, every minute: src/actions/jira/sync.ts
 * hands it each page of the findings feed it reads). For each changed finding it enqueues the
 * `notify` job (target slack) that is missing:
 *
 * - open: a routed, unresolved finding with no message (evaluate-flows' enqueue was lost);
 * - update: a message whose thread is behind the finding's events (one job per window, the same
 *   key as evaluate-flows', so work already queued is not added twice);
 * - resolve: a message whose "Resolved" state differs from the finding's (its ticket closed or
 *   reopened in Jira: the webhook changes the finding, which puts it in the feed).
 *
 * The feed's cursor is the tickets pass's: when Slack is configured on a store with a history, only
 * findings that change from then on are posted, not every finding ever raised.
 */
export async function syncSlackPage(ctx: Pick<JobContext, 'enqueue' | 'store'>, findings: readonly Finding[], opts: { routing: Routing | undefined; enabled: boolean }): Promise<{ opened: number; updated: number; resolved: number }> {
  const out = { opened: 0, updated: 0, resolved: 0 };
  if (!opts.enabled || findings.length === 0) return out;
  const db: Db = ctx.store.db;
  const messages = await messagesOf(db, findings.map((f) => f.id));
  const missing = findings.filter((f) => !messages.has(f.id) && f.status !== 'resolved');
  const accounts = missing.length && slackRouted(opts.routing) ? await firstAccounts(db, missing.map((f) => f.id)) : new Map<string, string | null>();
  for (const f of findings) {
    const m = messages.get(f.id);
    if (!m) {
      if (f.status === 'resolved' || !accounts.has(f.id)) continue;
      if (!routeMessage({ flow: f.flow, severity: f.severity, account: accounts.get(f.id) ?? null }, opts.routing)) continue;
      if (!(await ctx.enqueue('notify', { target: 'slack', findingId: f.id, action: 'open' })).duplicate) out.opened++;
      continue;
    }
    if (m.state !== 'posted') continue; // intent: its job is still being tried; failed: waits for `jobs retry`
    if (f.count > m.reportedCount) {
      const o = notifyUpdateOptions(f.id, Date.now(), replyEveryMs(opts.routing), 'slack');
      if (!(await ctx.enqueue('notify', { target: 'slack', findingId: f.id, action: 'update' }, o)).duplicate) out.updated++;
    }
    if ((f.status === 'resolved') !== m.shownResolved) {
      if (!(await ctx.enqueue('notify', { target: 'slack', findingId: f.id, action: 'resolve' }, { key: `slack-resolve-${f.id}-${f.cursor ?? f.updatedAt ?? ''}` })).duplicate) out.resolved++;
    }
  }
  return out;
}
