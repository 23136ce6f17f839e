import { describeError, TrailbotError } from '../../errors.ts';
import { type Finding, getFinding, setFindingStatus } from '../../flows/index.ts';
import type { JiraIssueRef, JiraPort } from '../../integrations/jira/port.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { NotifyResult } from '../../runtime/pipeline.ts';
import type { Db } from '../../store/index.ts';
import { newestEvents } from '../finding-events.ts';
import { ticketComment, ticketDescription, ticketSummary } from './document.ts';
import { onClosed, type Routing, routeTicket, type TicketRoute } from './routing.ts';
import {
  claimTicket,
  currentTicket,
  insertTicket,
  markCreated,
  markFailed,
  markIntent,
  markReported,
  noteCreateAttempt,
  releaseTicket,
  setJiraState,
  sinceCreateAttempt,
  type Ticket,
  undoCreateAttempt,
} from './tickets.ts';

/**
 * The Jira side of a `notify` job: exactly one ticket per finding, whatever crashes.
 *
 * - A ticket row (state `intent`) is committed before the create request; the request carries the
 *   finding's own label `trailbot-<findingId>` and the issue property `trailbot`. A later try of a
 *   row whose create may have reached Jira first searches that label; Jira's search is eventually
 *   consistent, so while the last attempt is younger than `settleMs` and the search finds nothing,
 *   the job is retried later rather than creating. Then create, then record the key.
 * - One notify job works on a finding's ticket at a time (a lease on the row; the same job, retried
 *   after its worker died, takes its lease back at once).
 * - More events become one comment with what was not reported yet (the jobs that ask for it are
 *   coalesced per minute, see jobs.ts). A ticket closed in Jira gets, on new activity, a new ticket
 *   that links it, or is reopened (`routing:` onClosed).
 * - Without Jira configured the ticket is rendered and kept as it would be sent (state not-sent).
 */

export interface JiraNotifyOptions {
  /** undefined: Jira is not configured (tickets are kept, not sent). */
  jira: JiraPort | undefined;
  routing: Routing | undefined;
  /** JIRA_PROJECT (the default route's project). */
  project: string;
  publicUrl: string;
  /** How long a create may take to show in Jira's search (default 30 s). */
  settleMs?: number;
  /** How long a job's hold on a ticket row lasts if its worker dies and the job is never retried (default 10 min). */
  leaseMs?: number;
  /** Events listed in a description or comment (default 20; the rest are counted). */
  eventsShown?: number;
  /** More links for the description: a finding about a person gets its approval links (src/actions/approvals/proposals.ts). */
  links?: ((db: Db, f: Finding) => Promise<{ text: string; url: string }[]>) | undefined;
}

export interface JiraNotifyContext {
  db: Db;
  log: Logger;
  job: { id: string };
}

export type JiraNotifyResult = NotifyResult & { ticket: NonNullable<NotifyResult['ticket']>; key?: string | null; reason?: string };

/** The label that finds a finding's tickets in Jira (JQL on issue properties needs an app; labels do not). */
export const findingLabel = (findingId: string): string => `trailbot-${findingId}`;

/** Retry the job after `ms` (the queue honours `retryAfterMs`; without it, its backoff). */
function retryLater(message: string, ms: number): TrailbotError {
  return Object.assign(new TrailbotError('E_JIRA_UNAVAILABLE', message, { hint: 'nothing to do: the job is retried' }), { retryAfterMs: Math.max(1000, Math.ceil(ms)) });
}

const PERMANENT = new Set(['E_JIRA_REJECTED', 'E_JIRA_AUTH']);
/** Answers that say Jira did not create the issue (a 5xx or a timeout may come after it did). */
const REFUSED = new Set(['E_JIRA_RATE_LIMITED', ...PERMANENT]);
const dropped = new Set<string>();

async function firstAccount(db: Db, findingId: string): Promise<string | null> {
  const r = await db.query<{ account: string | null }>(
    `SELECT e.account FROM finding_events fe JOIN events e ON e.event_id = fe.event_id AND e.time = fe.time WHERE fe.finding_id = $1 ORDER BY fe.time, fe.event_id LIMIT 1`,
    [findingId],
  );
  return r.rows[0]?.account ?? null;
}

/** The account of each finding's first event (null when it names none), in one query. */
export async function firstAccounts(db: Db, findingIds: readonly string[]): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  if (findingIds.length === 0) return out;
  const r = await db.query<{ finding_id: string; account: string | null }>(
    `SELECT DISTINCT ON (fe.finding_id) fe.finding_id, e.account FROM finding_events fe JOIN events e ON e.event_id = fe.event_id AND e.time = fe.time
     WHERE fe.finding_id = ANY($1::text[]) ORDER BY fe.finding_id, fe.time, fe.event_id`,
    [findingIds],
  );
  for (const row of r.rows) out.set(row.finding_id, row.account);
  return out;
}

/** The route of a finding's ticket, or null when it gets none (below the minimum severity, …). */
export async function routeOf(db: Db, f: Pick<Finding, 'id' | 'flow' | 'severity'>, opts: Pick<JiraNotifyOptions, 'routing' | 'project'>): Promise<TicketRoute | null> {
  return routeTicket({ flow: f.flow, severity: f.severity, account: await firstAccount(db, f.id) }, opts.routing, { project: opts.project });
}

/** routeOf for many findings at once (one query for their accounts): what evaluate-flows asks for each batch. */
export async function routesOf(db: Db, fs: readonly Pick<Finding, 'id' | 'flow' | 'severity'>[], opts: Pick<JiraNotifyOptions, 'routing' | 'project'>): Promise<Map<string, TicketRoute | null>> {
  const accounts = await firstAccounts(db, fs.map((f) => f.id));
  return new Map(fs.map((f) => [f.id, routeTicket({ flow: f.flow, severity: f.severity, account: accounts.get(f.id) ?? null }, opts.routing, { project: opts.project })]));
}

export function createJiraNotifier(opts: JiraNotifyOptions) {
  const settleMs = opts.settleMs ?? 30_000;
  const leaseMs = opts.leaseMs ?? 600_000;
  const shown = opts.eventsShown ?? 20;

  async function content(db: Db, f: Finding, route: TicketRoute, generation: number) {
    const events = await newestEvents(db, f.id, shown);
    return {
      project: route.project,
      issueType: route.issueType,
      labels: [...new Set([...route.labels, findingLabel(f.id)])],
      priority: route.priority,
      summary: ticketSummary(f),
      description: ticketDescription({ finding: f, events, totalEvents: f.count, publicUrl: opts.publicUrl, links: opts.links ? await opts.links(db, f) : undefined }),
      generation,
    };
  }

  /** Holds the row for this job, or asks for a retry while another job has it. */
  async function claim(ctx: JiraNotifyContext, t: Pick<Ticket, 'findingId' | 'generation'>): Promise<void> {
    if (!(await claimTicket(ctx.db, t.findingId, t.generation, ctx.job.id, leaseMs))) {
      throw retryLater(`another notify job is working on the ticket of finding ${t.findingId}`, 5000);
    }
  }

  /**
   * A new ticket row for the finding (generation `generation`), held by this job; or the existing
   * row when another job wrote it first (then claimed, or a retry is asked for).
   */
  async function newRow(ctx: JiraNotifyContext, f: Finding, route: TicketRoute, generation: number, linksKey: string | undefined): Promise<Ticket> {
    const c = await content(ctx.db, f, route, generation);
    const state = opts.jira ? 'intent' : 'not-sent';
    await insertTicket(ctx.db, {
      findingId: f.id,
      ...c,
      state,
      linksKey,
      reportedCount: f.count,
      reportedLastSeen: f.lastSeen,
      leaseJob: state === 'intent' ? ctx.job.id : undefined,
      leaseMs,
    });
    const t = (await currentTicket(ctx.db, f.id))!;
    if (t.state === 'intent') await claim(ctx, t);
    return t;
  }

  /** Sends an intent row to Jira exactly once: search first when an earlier attempt may have created it. */
  async function send(ctx: JiraNotifyContext, t: Ticket): Promise<JiraIssueRef> {
    const jira = opts.jira!;
    const { findingId, generation } = t;
    if (t.attempts > 0) {
      // A create may have reached Jira and its answer been lost (a crash, a timeout): look before creating.
      // Earlier generations carry the same label; their keys are known and left out.
      const known = new Set((await ctx.db.query<{ jira_key: string }>('SELECT jira_key FROM tickets WHERE finding_id = $1 AND jira_key IS NOT NULL', [findingId])).rows.map((r) => r.jira_key));
      const hit = (await jira.findByLabel(findingLabel(findingId), t.project)).find((x) => !known.has(x.key));
      if (hit) {
        await markCreated(ctx.db, findingId, generation, hit);
        ctx.log.info({ findingId, key: hit.key }, `Jira ticket ${hit.key} of finding ${findingId} found by its label after an interrupted create; recorded, not created again`);
        return hit;
      }
      const since = await sinceCreateAttempt(ctx.db, findingId, generation);
      if (since !== null && since < settleMs) {
        throw retryLater(`the last create of the ticket of finding ${findingId} was ${Math.round(since / 1000)} s ago and Jira's search may not show it yet; looking again before creating`, settleMs - since);
      }
    }
    await noteCreateAttempt(ctx.db, findingId, generation);
    let ref: JiraIssueRef;
    try {
      ref = await jira.create(
        {
          project: t.project,
          issueType: t.issueType,
          summary: t.summary,
          description: t.description,
          labels: t.labels,
          priority: t.priority ?? undefined,
          properties: [{ key: 'trailbot', value: { findingId, key: (await getFinding(ctx.db, findingId))?.key ?? null } }],
        },
        {
          onFieldDropped: (field, why) => {
            if (dropped.has(`${t.project}/${field}`)) return;
            dropped.add(`${t.project}/${field}`);
            ctx.log.warn({ field, project: t.project }, `Jira refused the ${field} field in project ${t.project} (${why}); tickets are created without it (routing: in trailbot.config.yaml sets it)`);
          },
        },
      );
    } catch (e) {
      // Jira answered and made nothing: a later try need not search first nor wait for the search to settle.
      if (e instanceof TrailbotError && REFUSED.has(e.code)) await undoCreateAttempt(ctx.db, findingId, generation, t);
      throw e;
    }
    await markCreated(ctx.db, findingId, generation, ref);
    if (t.linksKey) {
      try {
        await jira.link(ref.key, t.linksKey);
      } catch (e) {
        ctx.log.warn({ err: e, key: ref.key, links: t.linksKey }, `could not link ${ref.key} to ${t.linksKey}: ${describeError(e)}`);
      }
    }
    return ref;
  }

  /** Sends the row; a refusal that retrying cannot fix marks it failed (the finding then shows no ticket). */
  async function sendOrFail(ctx: JiraNotifyContext, t: Ticket): Promise<JiraIssueRef> {
    try {
      return await send(ctx, t);
    } catch (e) {
      if (e instanceof TrailbotError && PERMANENT.has(e.code)) {
        await markFailed(ctx.db, t.findingId, t.generation, describeError(e));
        throw new TrailbotError(e.code, `the Jira ticket of finding ${t.findingId} was not created: ${e.message}`, { hint: e.hint, cause: e });
      }
      throw e;
    }
  }

  /** Adds one comment with the events Jira was not told about yet. */
  async function comment(ctx: JiraNotifyContext, f: Finding, t: Ticket): Promise<void> {
    const events = await newestEvents(ctx.db, f.id, shown, t.reportedLastSeen);
    const doc = ticketComment({ finding: f, events, totalEvents: Math.max(f.count - t.reportedCount, events.length), publicUrl: opts.publicUrl });
    await opts.jira!.comment(t.key!, doc);
    await markReported(ctx.db, f.id, t.generation, { count: f.count, lastSeen: f.lastSeen, commented: true });
  }

  return async function notifyJira(ctx: JiraNotifyContext, p: { findingId: string; action: 'open' | 'update' | 'resolve' }): Promise<JiraNotifyResult> {
    const f = await getFinding(ctx.db, p.findingId);
    if (!f) return { ticket: 'unchanged', reason: 'no such finding (removed by housekeeping?)' };
    const route = await routeOf(ctx.db, f, opts);
    if (!route) return { ticket: 'unchanged', reason: 'the routing gives this finding no ticket' };
    let t = await currentTicket(ctx.db, f.id);
    try {
      if (!t) {
        t = await newRow(ctx, f, route, 1, undefined);
        if (t.state === 'not-sent') return { ticket: 'not-sent', key: null };
      } else {
        if (!opts.jira) {
          // Kept, not sent: what it holds stays as it would have been sent; what it covers moves on.
          if (t.state === 'not-sent' && f.count > t.reportedCount) await markReported(ctx.db, f.id, t.generation, { count: f.count, lastSeen: f.lastSeen, commented: false });
          return { ticket: 'unchanged', key: t.key, reason: 'Jira is not configured' };
        }
        if (t.state === 'intent') await claim(ctx, t);
        else if (t.state === 'failed' || t.state === 'not-sent') {
          // Tried again after a refusal (the setting fixed), or Jira configured since: sent as routed now.
          await claim(ctx, t);
          const c = await content(ctx.db, f, route, t.generation);
          await markIntent(ctx.db, f.id, t.generation, c);
          await markReported(ctx.db, f.id, t.generation, { count: f.count, lastSeen: f.lastSeen, commented: false });
          t = (await currentTicket(ctx.db, f.id))!;
        }
      }
      if (t.state === 'intent') {
        const ref = await sendOrFail(ctx, t);
        return { ticket: 'created', key: ref.key };
      }
      // A ticket in Jira: new events become one comment; a closed ticket follows the closed rule.
      if (f.count <= t.reportedCount) return { ticket: 'unchanged', key: t.key };
      await claim(ctx, t);
      const jira = opts.jira!;
      const state = await jira.get(t.key!);
      if (state) await setJiraState(ctx.db, t.key!, { status: state.status, statusCategory: state.statusCategory, assignee: state.assignee });
      if (state && state.statusCategory !== 'done') {
        await comment(ctx, f, t);
        return { ticket: 'updated', key: t.key };
      }
      if (state && onClosed(opts.routing) === 'reopen' && (await jira.reopen(t.key!))) {
        await setJiraState(ctx.db, t.key!, { status: 'To Do', statusCategory: 'new' });
        await comment(ctx, f, t);
        if (f.status === 'resolved') await setFindingStatus(ctx.db, f.id, 'open');
        return { ticket: 'updated', key: t.key, reason: `${t.key} was closed in Jira: reopened` };
      }
      // Closed (or deleted) in Jira: a new ticket, the next generation, that links the old one.
      await releaseTicket(ctx.db, t.findingId, t.generation, ctx.job.id);
      const old = t;
      t = await newRow(ctx, f, route, old.generation + 1, state ? old.key! : undefined);
      if (f.status === 'resolved') await setFindingStatus(ctx.db, f.id, 'open');
      if (t.state !== 'intent') return { ticket: 'unchanged', key: t.key };
      const ref = await sendOrFail(ctx, t);
      return { ticket: 'created', key: ref.key, reason: `${old.key} was closed in Jira: a new ticket links it` };
    } finally {
      if (t) await releaseTicket(ctx.db, t.findingId, t.generation, ctx.job.id).catch(() => undefined);
    }
  };
}
