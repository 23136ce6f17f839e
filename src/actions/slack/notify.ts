import { describeError, TrailbotError } from '../../errors.ts';
import { type Finding, getFinding } from '../../flows/index.ts';
import type { SlackPort } from '../../integrations/slack/port.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { NotifyResult } from '../../runtime/pipeline.ts';
import type { Db } from '../../store/index.ts';
import { firstEvent, newestEvents } from '../finding-events.ts';
import type { Routing } from '../jira/routing.ts';
import { currentTicket } from '../jira/tickets.ts';
import { findingMessage, replyMessage, whoOf } from './blocks.ts';
import {
  claimMessage,
  insertIntent,
  markFailed,
  markIntent,
  markPosted,
  markReplied,
  markShown,
  messageOf,
  noteReplyAttempt,
  notePostAttempt,
  releaseMessage,
  sinceLastReply,
  type SlackMessageRow,
  undoPostAttempt,
  undoReplyAttempt,
} from './messages.ts';
import { replyEveryMs, routeMessage, type SlackRoute } from './routing.ts';

/**
 * The Slack side of a `notify` job: one message per finding in its routed channel, whatever crashes.
 *
 * - open: a message row (state `intent`) is committed before chat.postMessage; the message carries
 *   the finding id in its metadata (`trailbot_finding`). A later try of a row whose post may have
 *   reached Slack first looks for that message in the channel (conversations.history) and records
 *   it instead of posting again. Then post, then record the channel and `ts`.
 * - update: the finding's new events become ONE thread reply ("N more events, newest …"), at most
 *   one per `routing.slack.replyEvery` (default 1 minute): the jobs asking for it are coalesced per
 *   window (jobs.ts), and a job that comes less than a window after the last reply waits for the
 *   window (retried later without using an attempt). Replies carry metadata too
 *   (`trailbot_finding_update` with the count they bring the thread to), so a retry after a crash
 *   between the reply and its record finds it in the thread instead of replying twice.
 * - Every action also brings the first message in step (chat.update) when what it shows changed:
 *   the "Open ticket" button once the finding's Jira ticket exists, "Resolved" once it is resolved.
 * - One job works on a finding's message at a time (a lease on the row; the same job, retried after
 *   its worker died, takes its lease back at once).
 * - Without SLACK_BOT_TOKEN nothing is posted (the job says so); without a routed channel, neither.
 */

/** The metadata event types of trailbot's messages (Slack: letters, digits and _). */
export const FINDING_EVENT = 'trailbot_finding';
export const REPLY_EVENT = 'trailbot_finding_update';

export interface SlackNotifyOptions {
  /** undefined: Slack is not configured (SLACK_BOT_TOKEN): nothing is posted. */
  slack: SlackPort | undefined;
  routing: Routing | undefined;
  publicUrl: string;
  /** How long a job's hold on a message row lasts if its worker dies and the job is never retried (default 10 min). */
  leaseMs?: number;
  /** Events listed in a thread reply (default 5; the rest are counted). */
  eventsShown?: number;
  /** Link buttons under the message: a finding about a person gets its approval links (src/actions/approvals/proposals.ts). */
  links?: ((db: Db, f: Finding) => Promise<{ text: string; url: string }[]>) | undefined;
}

export interface SlackNotifyContext {
  db: Db;
  log: Logger;
  job: { id: string };
}

export type SlackMessageAction = 'posted' | 'replied' | 'updated' | 'unchanged';
export type SlackNotifyResult = NotifyResult & { message: SlackMessageAction; channel?: string | null; ts?: string | null; reason?: string };

/** Retry the job after `ms` without using an attempt (the queue honours `retryAfterMs`). */
function retryLater(message: string, ms: number): TrailbotError {
  return new TrailbotError('E_SLACK_UNAVAILABLE', message, { hint: 'nothing to do: the job is retried', retryAfterMs: Math.max(1000, Math.ceil(ms)) });
}

/** Refusals retrying cannot fix: the message is marked failed and the job fails at once. */
const PERMANENT = new Set(['E_SLACK_REJECTED', 'E_SLACK_AUTH']);
/** Answers that say Slack posted nothing (a 5xx or a timeout may come after it did). */
const REFUSED = new Set(['E_SLACK_RATE_LIMITED', ...PERMANENT]);
const refused = (e: unknown): boolean => e instanceof TrailbotError && REFUSED.has(e.code);

/** Where a finding is posted, or null when it gets no message. */
export async function slackRouteOf(db: Db, f: Pick<Finding, 'id' | 'flow' | 'severity'>, routing: Routing | undefined, account?: string | null): Promise<SlackRoute | null> {
  return routeMessage({ flow: f.flow, severity: f.severity, account: account === undefined ? ((await firstEvent(db, f.id))?.account ?? null) : account }, routing);
}

/** A Slack ts a little before `iso` (conversations.history's `oldest`): clocks differ. */
function tsBefore(iso: string, marginMs = 300_000): string {
  return ((Date.parse(iso) - marginMs) / 1000).toFixed(6);
}

export function createSlackNotifier(opts: SlackNotifyOptions) {
  const leaseMs = opts.leaseMs ?? 600_000;
  const shown = opts.eventsShown ?? 5;
  const windowMs = replyEveryMs(opts.routing);

  /** The first message as it should read now. */
  async function render(db: Db, f: Finding): Promise<{ message: ReturnType<typeof findingMessage>; ticket: string | null; resolved: boolean }> {
    const first = await firstEvent(db, f.id);
    const t = await currentTicket(db, f.id);
    const ticket = t?.state === 'created' && t.key && t.url ? { key: t.key, url: t.url } : null;
    const resolved = f.status === 'resolved';
    const links = opts.links ? await opts.links(db, f) : undefined;
    const message = findingMessage({ finding: f, account: first?.account ?? null, actor: whoOf(first?.actor), ticket, resolved, publicUrl: opts.publicUrl, links });
    return { message, ticket: ticket?.key ?? null, resolved };
  }

  async function claim(ctx: SlackNotifyContext, findingId: string): Promise<void> {
    if (!(await claimMessage(ctx.db, findingId, ctx.job.id, leaseMs))) throw retryLater(`another notify job is working on the Slack message of finding ${findingId}`, 5000);
  }

  /** A failure retrying cannot fix marks the message failed (the catch-up leaves it; `jobs retry` tries it again). */
  async function failFor(ctx: SlackNotifyContext, findingId: string, e: unknown, what: string): Promise<never> {
    if (e instanceof TrailbotError && PERMANENT.has(e.code)) {
      await markFailed(ctx.db, findingId, describeError(e));
      throw new TrailbotError(e.code, `the Slack ${what} of finding ${findingId} was not posted: ${e.message}`, { hint: e.hint, cause: e });
    }
    throw e;
  }

  /** Posts an intent row's first message exactly once: looks for it first when an earlier attempt may have posted it. */
  async function post(ctx: SlackNotifyContext, f: Finding, m: SlackMessageRow): Promise<SlackNotifyResult> {
    const slack = opts.slack!;
    if (m.attempts > 0) {
      // A post may have reached Slack and its answer been lost (a crash, a timeout): look before posting.
      const [hit] = await slack.findByMetadata(m.channel, FINDING_EVENT, { finding_id: f.id }, tsBefore(m.createdAt));
      if (hit) {
        await markPosted(ctx.db, f.id, hit);
        ctx.log.info({ findingId: f.id, channel: hit.channel, ts: hit.ts }, `Slack message of finding ${f.id} found by its metadata after an interrupted post; recorded, not posted again`);
        // What it shows may be behind (posted before the ticket, say): the caller brings it in step.
        return { message: 'posted', channel: hit.channel, ts: hit.ts, reason: 'found after an interrupted post' };
      }
    }
    const r = await render(ctx.db, f);
    const before = { attempts: m.attempts, intentAt: m.intentAt };
    await notePostAttempt(ctx.db, f.id, { reportedCount: f.count, reportedLastSeen: f.lastSeen, shownTicket: r.ticket, shownResolved: r.resolved });
    let posted: Awaited<ReturnType<typeof slack.post>>;
    try {
      posted = await slack.post(m.channel, r.message, { metadata: { eventType: FINDING_EVENT, payload: { finding_id: f.id, flow: f.flow } } });
    } catch (e) {
      // Slack answered and posted nothing: a later try need not look for it first.
      if (refused(e)) await undoPostAttempt(ctx.db, f.id, before);
      return failFor(ctx, f.id, e, 'message');
    }
    await markPosted(ctx.db, f.id, posted);
    return { message: 'posted', channel: posted.channel, ts: posted.ts };
  }

  /** Updates the first message when its ticket button or resolved state is behind. */
  async function refresh(ctx: SlackNotifyContext, f: Finding, m: SlackMessageRow): Promise<boolean> {
    const r = await render(ctx.db, f);
    if (r.ticket === m.shownTicket && r.resolved === m.shownResolved) return false;
    try {
      await opts.slack!.update(m.channelId!, m.ts!, r.message);
    } catch (e) {
      // A message deleted in Slack (or a channel archived) cannot be updated: the thread carries on.
      if (e instanceof TrailbotError && e.code === 'E_SLACK_REJECTED') {
        ctx.log.warn({ findingId: f.id, channel: m.channelId }, `the Slack message of finding ${f.id} could not be updated: ${e.message}`);
        await markShown(ctx.db, f.id, { ticket: r.ticket, resolved: r.resolved });
        return false;
      }
      throw e;
    }
    await markShown(ctx.db, f.id, { ticket: r.ticket, resolved: r.resolved });
    return true;
  }

  /** One thread reply with the events the thread was not told about yet (at most one per window). */
  async function reply(ctx: SlackNotifyContext, f: Finding, m: SlackMessageRow): Promise<boolean> {
    const slack = opts.slack!;
    let row = m;
    if (row.replyUpto !== null && row.replyAttempts > 0) {
      // A reply may have reached the thread before its answer was lost: look before replying again.
      const [hit] = await slack.findByMetadata(row.channelId!, REPLY_EVENT, { finding_id: f.id, upto: String(row.replyUpto) }, row.ts!, { threadTs: row.ts! });
      if (hit) {
        const lastSeen = typeof hit.payload.last_seen === 'string' ? hit.payload.last_seen : f.lastSeen;
        await markReplied(ctx.db, f.id, { count: row.replyUpto, lastSeen });
        ctx.log.info({ findingId: f.id, ts: hit.ts }, `Slack reply of finding ${f.id} found in its thread after an interrupted post; recorded, not posted again`);
        row = (await messageOf(ctx.db, f.id))!;
        if (f.count <= row.reportedCount) return true;
      }
    }
    const since = await sinceLastReply(ctx.db, f.id);
    if (since !== null && since < windowMs) {
      throw retryLater(`the thread of finding ${f.id} had a reply ${Math.round(since / 1000)} s ago; the new events go in the next one (routing.slack.replyEvery)`, windowMs - since);
    }
    const events = await newestEvents(ctx.db, f.id, shown, row.reportedLastSeen);
    const n = Math.max(f.count - row.reportedCount, events.length);
    const message = replyMessage({ finding: f, n, events, shown });
    const before = { replyUpto: row.replyUpto, replyAttempts: row.replyAttempts };
    await noteReplyAttempt(ctx.db, f.id, f.count);
    try {
      await slack.post(row.channelId!, message, { threadTs: row.ts!, metadata: { eventType: REPLY_EVENT, payload: { finding_id: f.id, upto: String(f.count), last_seen: f.lastSeen } } });
    } catch (e) {
      if (refused(e)) await undoReplyAttempt(ctx.db, f.id, before);
      // A thread that refuses replies for good (channel archived, bot removed) marks nothing failed:
      // the first message is there; the job fails with Slack's reason.
      throw e;
    }
    await markReplied(ctx.db, f.id, { count: f.count, lastSeen: f.lastSeen });
    return true;
  }

  return async function notifySlack(ctx: SlackNotifyContext, p: { findingId: string; action: 'open' | 'update' | 'resolve' }): Promise<SlackNotifyResult> {
    const f = await getFinding(ctx.db, p.findingId);
    if (!f) return { message: 'unchanged', reason: 'no such finding (removed by housekeeping?)' };
    if (!opts.slack) return { message: 'unchanged', reason: 'Slack is not configured (SLACK_BOT_TOKEN): nothing is posted' };
    let m = await messageOf(ctx.db, f.id);
    const route = await slackRouteOf(ctx.db, f, opts.routing);
    if (!route && !m) return { message: 'unchanged', reason: 'the routing gives this finding no Slack message' };
    let held = false;
    try {
      if (!m) {
        // A resolved finding that never had a message gets none now.
        if (f.status === 'resolved') return { message: 'unchanged', reason: 'resolved before it was posted' };
        await insertIntent(ctx.db, { findingId: f.id, channel: route!.channel, reportedCount: f.count, reportedLastSeen: f.lastSeen, shownTicket: null, shownResolved: false, job: ctx.job.id, leaseMs });
        m = (await messageOf(ctx.db, f.id))!;
      }
      await claim(ctx, f.id);
      held = true;
      m = (await messageOf(ctx.db, f.id))!;
      if (m.state === 'failed') {
        // Tried again after a refusal (the setting fixed, `trailbot jobs retry`): posted as routed now.
        if (!route) return { message: 'unchanged', reason: 'the routing gives this finding no Slack message' };
        await markIntent(ctx.db, f.id, route.channel);
        m = (await messageOf(ctx.db, f.id))!;
      }
      let result: SlackNotifyResult | undefined;
      if (m.state === 'intent') {
        result = await post(ctx, f, m);
        m = (await messageOf(ctx.db, f.id))!;
        if (result.reason === undefined && f.count <= m.reportedCount) return result;
      }
      // A message in the channel: show the ticket / resolved state, then tell the thread the new events.
      const updated = await refresh(ctx, f, m);
      m = (await messageOf(ctx.db, f.id))!;
      const replied = f.count > m.reportedCount ? await reply(ctx, f, m) : false;
      if (result) return result;
      return { message: replied ? 'replied' : updated ? 'updated' : 'unchanged', channel: m.channelId, ts: m.ts };
    } finally {
      if (held) await releaseMessage(ctx.db, f.id, ctx.job.id).catch(() => undefined);
    }
  };
}
