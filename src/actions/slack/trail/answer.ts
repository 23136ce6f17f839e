import { asTrailbotError } from '../../../errors.ts';
import type { TrailEvent } from '../../../events/model.ts';
import { eventsUrl } from '../../../http/dashboard-links.ts';
import type { ResponsePort, SlackMessage } from '../../../integrations/slack/port.ts';
import { isPermanentError } from '../../../runtime/definitions.ts';
import type { JobPayload } from '../../../runtime/jobs.ts';
import type { JobContext } from '../../../runtime/pipeline.ts';
import { retryAfterOf } from '../../../runtime/queue.ts';
import type { LiveLookupOptions, LiveLookupResult } from '../../../sources/index.ts';
import type { Principal, Store } from '../../../store/index.ts';
import { resolvePrincipals } from '../../../store/queries.ts';
import type { TrailAccess } from './access.ts';
import type { TrailRequest } from './grammar.ts';
import { relatedTickets, trailCounts, trailPage } from './query.ts';
import { countsOf, PAGE_SIZE, renderAnswer, renderEmpty, renderFailure, renderNotice, renderRefusal } from './render.ts';

/**
 * The `slack-trail` job: answers a `/trail` command (or a "More" / "Trail of …" click) through the
 * response_url Slack gave with it, ephemeral (only the asker sees it). The store answers first;
 * when it has nothing for the window, or `live` was asked, CloudTrail is asked live (the LookupEvents
 * fan-out of src/sources/live.ts), what it found is kept in the store, and the answer says what did
 * not answer in full. Access is checked again here, as the listener did: a job can also be queued
 * by hand, and the answer must never reach someone the allow-list does not name.
 *
 * Failing: the queue retries (RETRY['slack-trail']); the try that will not be retried (the last, or
 * an error retrying cannot fix) tells the person what went wrong, in a sentence with the error code,
 * never a stack. A response_url takes 5 posts in 30 minutes: an answer is one, a failure one more.
 */

export interface TrailAnswerDeps {
  respond: ResponsePort;
  access: TrailAccess;
  /** The live LookupEvents fan-out (Sources.live); it stores what it finds when `storeFound`. */
  live: (store: Store, opts: LiveLookupOptions & { storeFound?: boolean }) => Promise<LiveLookupResult>;
  /** PUBLIC_URL: the answer links to the dashboard's Events page asking the same question. */
  publicUrl: string;
  /** How long CloudTrail may take to answer live (default 8 s; what has not answered is named). */
  liveTimeoutMs?: number | undefined;
}

/**
 * The same question on the dashboard: its Events page filtered on the same person (resolved the same
 * way), the same window to the millisecond, and every filter of the command the page has (all of them:
 * writes, denied → outcome, console → via, region, service, account). `live` is not a filter: what
 * CloudTrail found live is in the store by the time the link is opened.
 */
export function dashboardUrl(publicUrl: string, q: TrailRequest): string {
  return eventsUrl(publicUrl, {
    person: q.who,
    since: q.since,
    until: q.until,
    writes: q.writes,
    outcome: q.denied ? 'denied' : undefined,
    via: q.console ? 'console' : undefined,
    region: q.region,
    service: q.service,
    account: q.account,
  });
}

/** Live events the store could not attribute, filtered as the question asks. */
function filtered(events: readonly TrailEvent[], q: TrailRequest): TrailEvent[] {
  return events.filter(
    (e) =>
      (!q.writes || e.readOnly !== true) &&
      (!q.denied || e.outcome === 'denied') &&
      (!q.console || e.via === 'console') &&
      (!q.region || e.region === q.region) &&
      (!q.service || e.service === q.service) &&
      (!q.account || e.account === q.account),
  );
}

export interface TrailAnswerResult extends Record<string, unknown> {
  answered: 'page' | 'empty' | 'refused' | 'notice' | 'failed';
  page?: number;
  principals?: number;
  calls?: number;
  shown?: number;
  more?: boolean;
  live?: 'complete' | 'partial' | 'not-configured';
}

/** Builds the message for one page of a question (no posting). */
export async function answerPage(
  ctx: Pick<JobContext, 'store'>,
  deps: Pick<TrailAnswerDeps, 'live' | 'publicUrl' | 'liveTimeoutMs'>,
  a: { query: TrailRequest; page: number; offset: number; after?: { time: string; eventId: string } | undefined },
): Promise<{ message: SlackMessage; result: TrailAnswerResult }> {
  const q = a.query;
  const db = ctx.store.db;
  let principals: Principal[] = await resolvePrincipals(db, q.who);
  let counts = await trailCounts(db, principals, q);
  let live: LiveLookupResult | undefined;
  // Only the first page asks CloudTrail: what it found is in the store for the pages after it.
  if (a.page === 1 && (q.live || counts.total === 0)) {
    live = await deps.live(ctx.store, { who: q.who, since: new Date(q.since), until: new Date(q.until), timeoutMs: deps.liveTimeoutMs ?? 8000, limit: 200, storeFound: true });
    if (live.stored > 0) {
      principals = await resolvePrincipals(db, q.who);
      counts = await trailCounts(db, principals, q);
    }
  }
  const liveAsked = live !== undefined && live.queries.length > 0;
  const liveState = live === undefined ? undefined : !liveAsked ? ('not-configured' as const) : live.partial.length > 0 ? ('partial' as const) : ('complete' as const);
  // Said in the answer when asked for, or when it found something, or when it did not answer in full.
  const liveNote = live && (q.live || live.events.length > 0 || live.partial.length > 0) ? { note: live.note, stored: live.stored } : undefined;
  const base = { query: q, page: a.page, dashboardUrl: dashboardUrl(deps.publicUrl, q) };

  if (counts.total === 0) {
    // CloudTrail found calls the store cannot put a name on (nothing stored, or filtered out of the
    // store's principals): shown as they came, one page, no paging.
    const own = filtered(live?.events ?? [], q);
    if (own.length === 0) {
      return {
        message: renderEmpty({ query: q, principals: principals.length, liveAsked, liveNote: live?.note }),
        result: { answered: 'empty', page: a.page, principals: principals.length, calls: 0, shown: 0, live: liveState },
      };
    }
    // Not in the store under a name it knows: one page, the newest, without paging.
    const r = renderAnswer({ ...base, principals, counts: countsOf(own), events: own.slice(0, PAGE_SIZE), more: false, offset: 0, source: 'live', live: liveNote, tickets: [] });
    return { message: r.message, result: { answered: 'page', page: a.page, principals: principals.length, calls: own.length, shown: r.shown, live: liveState } };
  }

  const page = await trailPage(db, principals, q, { limit: PAGE_SIZE, after: a.after });
  const tickets = await relatedTickets(db, principals, q);
  const r = renderAnswer({ ...base, principals, counts, events: page.events, more: page.more, offset: a.offset, source: 'store', live: liveNote, tickets });
  return { message: r.message, result: { answered: 'page', page: a.page, principals: principals.length, calls: counts.total, shown: r.shown, more: r.next !== undefined, live: liveState } };
}

/** The `slack-trail` job's processor stage (Pipeline.slackTrail). */
export function createTrailAnswerer(deps: TrailAnswerDeps): (ctx: JobContext, p: JobPayload<'slack-trail'>) => Promise<TrailAnswerResult> {
  return async (ctx, p) => {
    const reply = (m: SlackMessage): Promise<void> => deps.respond.respond(p.responseUrl, { ...m, responseType: 'ephemeral', replaceOriginal: p.replaceOriginal });
    const a = p.answer;
    if (a.kind === 'notice') {
      await reply(a.notice === 'refused' ? renderRefusal('not-listed') : renderNotice(a.notice));
      return { answered: 'notice' };
    }
    const verdict = await deps.access.check({ userId: p.userId, channelId: p.channelId });
    if (verdict.allowed !== true) {
      // Who and where, never what was asked. Here an undecided verdict refuses: no client to read user groups.
      ctx.log.warn({ userId: p.userId, channelId: p.channelId, why: verdict.why, detail: verdict.allowed === 'unknown' ? 'SLACK_BOT_TOKEN is not set on this worker: user groups cannot be read' : verdict.detail }, '/trail refused');
      await reply(renderRefusal(verdict.allowed === 'unknown' ? 'lookup-failed' : verdict.why));
      return { answered: 'refused' };
    }
    const started = performance.now();
    try {
      const { message, result } = await answerPage(ctx, deps, a);
      await reply(message);
      ctx.log.info({ userId: p.userId, channelId: p.channelId, who: a.query.who, ...result, ms: Math.round(performance.now() - started) }, '/trail answered');
      return result;
    } catch (e) {
      // A rate-limited try comes back after the delay asked, without using an attempt: not the last.
      const last = isPermanentError(e) || (retryAfterOf(e) === undefined && ctx.job.attempt >= ctx.job.attempts);
      if (last) {
        try {
          await reply(renderFailure(a.query, asTrailbotError(e).code));
        } catch (e2) {
          ctx.log.error({ userId: p.userId, err: asTrailbotError(e2).code }, 'could not tell the person that /trail failed');
        }
      }
      throw e;
    }
  };
}
