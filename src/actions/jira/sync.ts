import { type Finding, findingsPage } from '../../flows/index.ts';
import { notifyUpdateOptions } from '../../runtime/jobs.ts';
import type { JobContext } from '../../runtime/pipeline.ts';
import { type JiraNotifyOptions, routeOf } from './notify.ts';
import { commentEveryMs } from './routing.ts';
import { saveSyncCursor, syncCursor, ticketsOf } from './tickets.ts';

/**
 * The tickets catch-up (the `tickets-sync` job, every minute). `evaluate-flows` enqueues `notify`
 * right after the findings commit; a worker that dies in between would lose the ticket. This pass
 * follows the findings feed from a cursor kept in the store (findingsPage: every change once, in
 * commit order) and enqueues `notify` for each changed finding whose ticket is missing (open) or
 * behind its events (update). Its enqueues have the same job ids as evaluate-flows' (jobs.ts), so
 * work already queued is not added twice. The cursor moves only after the page's jobs are queued.
 *
 * Why a feed pass rather than the flows outbox: the outbox row is gone once the flows have run, and
 * a retried evaluate-flows changes nothing (its events are already joined), so it would not know
 * which findings still need their notify.
 */
export async function syncTickets(
  ctx: JobContext,
  opts: Pick<JiraNotifyOptions, 'routing' | 'project'>,
  pageSize = 500,
  /** The other catch-ups that follow the same feed (Slack messages: src/actions/slack/sync.ts), given each page. */
  also?: (findings: Finding[]) => Promise<Record<string, number>>,
): Promise<{ findings: number; opened: number; updated: number; cursor: string; also?: Record<string, number> }> {
  let cursor = await syncCursor(ctx.store.db);
  let findings = 0;
  let opened = 0;
  let updated = 0;
  const more: Record<string, number> = {};
  for (let pages = 0; pages < 100; pages++) {
    const page = await findingsPage(ctx.store.db, { after: cursor, limit: pageSize });
    if (also) for (const [k, n] of Object.entries(await also(page.findings))) more[k] = (more[k] ?? 0) + n;
    const tickets = await ticketsOf(ctx.store.db, page.findings.map((f) => f.id));
    for (const f of page.findings) {
      findings++;
      const t = tickets.get(f.id);
      if (!t && f.status === 'resolved') continue;
      if (t && (t.state === 'intent' || t.state === 'failed' || f.count <= t.reportedCount)) continue;
      if (!(await routeOf(ctx.store.db, f, opts))) continue;
      if (!t) {
        if (!(await ctx.enqueue('notify', { target: 'jira', findingId: f.id, action: 'open' })).duplicate) opened++;
      } else if (!(await ctx.enqueue('notify', { target: 'jira', findingId: f.id, action: 'update' }, notifyUpdateOptions(f.id, Date.now(), commentEveryMs(opts.routing)))).duplicate) updated++;
    }
    await saveSyncCursor(ctx.store.db, page.next);
    cursor = page.next;
    if (page.findings.length < pageSize) break;
  }
  if (opened + updated > 0) ctx.log.info({ opened, updated }, 'tickets catch-up: notify enqueued for findings whose ticket was missing or behind');
  if (Object.values(more).some((n) => n > 0)) ctx.log.info(more, 'catch-up: notify enqueued for findings whose Slack message was missing or behind');
  return { findings, opened, updated, cursor: cursor ?? '0', ...(also ? { also: more } : {}) };
}
