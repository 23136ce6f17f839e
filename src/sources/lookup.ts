import type { LookupEvent } from '../integrations/aws/index.ts';
import { describeError, TrailbotError } from '../errors.ts';
import { LimiterTimeout } from '../integrations/aws/limiter.ts';
import { greatest } from '../store/sql.ts';
import { type Unwrapped, unwrap } from '../events/envelopes.ts';
import type { LookupSource } from './config.ts';
import { emptyPart, type PartReport, type PollReport, pool, type SourceContext, summarize } from './context.ts';
import { advance, type Cursor, type CursorPatch, holdLease, putAside, recordError } from './state.ts';

/**
 * The LookupEvents poller. Each account × Region of a `lookup` source is a part with its own cursor
 * (state.ts): a tail that backfills the first run's period and a head that follows new events with
 * an overlap, each read newest first with NextToken and the same parameters on every page. A page
 * is stored before the cursor moves past it, so a restart resumes without a gap; what is read twice
 * is dropped by event id. Requests go through the shared limiter (≤ 2/s per account-region).
 */

const DAY = 86_400_000;
/** LookupEvents keeps 90 days; a little inside that so a slow backfill never asks for a vanished minute. */
const LOOKBACK_MS = 90 * DAY - 5 * 60_000;
/** Global services' events (IAM, STS, sign-in, CloudFront…) appear in LookupEvents only in us-east-1. */
export const GLOBAL_REGION = 'us-east-1';

export interface LookupPart {
  account: string;
  region: string;
  /** Set for the part that reads CloudTrail Insights events (`insights: true` on the source). */
  category?: 'insight' | undefined;
}

/** Every account-region a source reads; us-east-1 joins unless skipGlobal, or IAM and sign-ins would be missed. */
export async function lookupParts(ctx: Pick<SourceContext, 'aws'>, src: LookupSource): Promise<LookupPart[]> {
  const accounts = src.accounts.length > 0 ? src.accounts : [await ctx.aws.callerAccount()];
  const regions = [...new Set(src.skipGlobal ? src.regions : [...src.regions, GLOBAL_REGION])];
  return accounts.flatMap((account) => regions.map((region) => ({ account, region })));
}

/** What a poll reads: every account-region, and with `insights: true` each one's Insights events too. */
export async function pollParts(ctx: Pick<SourceContext, 'aws'>, src: LookupSource): Promise<LookupPart[]> {
  const parts = await lookupParts(ctx, src);
  return src.insights ? [...parts, ...parts.map((p) => ({ ...p, category: 'insight' as const }))] : parts;
}

export const partName = (p: LookupPart): string => `${p.account}/${p.region}${p.category === 'insight' ? '/insights' : ''}`;

const floorSec = (ms: number): number => Math.floor(ms / 1000) * 1000;

export interface LookupPollOptions {
  /** Stop starting new pages after this time (Date.now() ms); default now + the source's maxRun. */
  deadline?: number;
  /** Read only these parts (`account/region`, `account/region/insights`). */
  parts?: string[] | undefined;
}

class LeaseLost extends Error {}

export async function pollLookup(ctx: SourceContext, src: LookupSource, opts: LookupPollOptions = {}): Promise<PollReport> {
  const started = performance.now();
  const deadline = opts.deadline ?? Date.now() + src.maxRun;
  let parts = await pollParts(ctx, src);
  if (opts.parts) parts = parts.filter((p) => opts.parts!.includes(partName(p)));
  let newest: string | null = null;
  const reports = await pool(parts, src.concurrency, async (p) => {
    const r = await pollPart(ctx, src, p, deadline, (t) => {
      newest = greatest(newest, t);
    });
    return r;
  });
  const report = summarize(src.id, 'lookup', reports, newest, started);
  const failed = reports.filter((r) => r.state === 'failed');
  if (failed.length > 0 && failed.length === reports.length) {
    throw new TrailbotError('E_SOURCE', `source ${src.id}: every account-region failed; first: ${failed[0]!.part}: ${failed[0]!.error}`, {
      hint: 'see `trailbot sources status` for each account-region\'s error',
    });
  }
  return report;
}

async function pollPart(ctx: SourceContext, src: LookupSource, p: LookupPart, deadline: number, onNewest: (iso: string) => void): Promise<PartReport> {
  const part = partName(p);
  const report = emptyPart(part);
  const db = ctx.store.db;
  let lease: Awaited<ReturnType<typeof holdLease>>;
  try {
    lease = await holdLease(db, src.id, part, 'lookup', ctx.owner, ctx.leaseMs);
  } catch (e) {
    return { ...report, state: 'failed', error: describeError(e) };
  }
  if (!lease) return { ...report, state: 'leased' };
  // The page in flight's requests and throttling answers (counted on the cursor with the page, or
  // when the time limit stops it).
  const inflight = { requests: 0, throttled: 0 };
  try {
    const port = await ctx.aws.cloudtrail({ account: p.account, roleName: src.roleName, externalId: src.externalId }, p.region);
    let c: Cursor = lease.cursor;
    const now = floorSec(ctx.now());
    const move = async (patch: CursorPatch, delta: Parameters<typeof advance>[5] = {}): Promise<void> => {
      if (lease.lost || !(await advance(db, src.id, part, lease.owner, patch, delta))) throw new LeaseLost();
      c = { ...c, ...patch } as Cursor;
    };
    if (c.coveredTo === null) {
      // First run: backfill the period before now (the tail); new events go to the head from now on.
      await move({ coveredTo: now, tailFrom: now - src.backfill, tailTo: now, tailLow: now });
    }
    if (c.headTo === null && now > c.coveredTo!) {
      await move({ headFrom: c.coveredTo! - src.overlap, headTo: now, headLow: now });
    }

    /** Reads one window from its `low` down to its `from`, page by page; true when it is finished. */
    const readWindow = async (which: 'head' | 'tail'): Promise<boolean> => {
      const from = which === 'head' ? c.headFrom : c.tailFrom;
      const to = which === 'head' ? c.headTo : c.tailTo;
      const low = which === 'head' ? c.headLow : c.tailLow;
      if (from === null || to === null || low === null) return true;
      const lowKey = which === 'head' ? 'headLow' : 'tailLow';
      const finish = (): Promise<void> =>
        which === 'head' ? move({ coveredTo: to, headFrom: null, headTo: null, headLow: null }) : move({ tailFrom: null, tailTo: null, tailLow: null });
      const start = Math.max(from, floorSec(ctx.now() - LOOKBACK_MS));
      if (low < start) {
        await finish();
        return true;
      }
      let token: string | undefined;
      const end = low;
      for (;;) {
        if (Date.now() >= deadline) return false;
        ctx.signal?.throwIfAborted();
        inflight.requests = 0;
        inflight.throttled = 0;
        // The deadline bounds the limiter's waits and the throttling backoff too: a poll that is
        // throttled every time stops at its time limit (LimiterTimeout) instead of retrying forever.
        const page = await port.lookupEvents(
          { start: new Date(start), end: new Date(end), nextToken: token, category: p.category },
          { signal: ctx.signal, deadline, onRequest: () => inflight.requests++, onThrottled: () => inflight.throttled++ },
        );
        const { requests, throttled } = inflight;
        const items: Unwrapped[] = [];
        let oldest: number | undefined;
        let newestMs: number | undefined;
        for (const [i, e] of page.events.entries()) {
          const t = eventTimeMs(e);
          if (t !== undefined) {
            if (oldest === undefined || t < oldest) oldest = t;
            if (newestMs === undefined || t > newestMs) newestMs = t;
          }
          for (const u of unwrap(e, { file: `LookupEvents ${part}`, at: `Events[${i}]` })) items.push(u);
        }
        const put = await ctx.sink.put(items);
        for (const r of put.rejections) await putAside(db, src.id, r.where, r.reason);
        report.requests += requests;
        report.events += put.events;
        report.inserted += put.inserted;
        report.duplicates += put.duplicates;
        report.rejected += put.rejections.length;
        if (put.newest) onNewest(put.newest);
        // The page is stored: the window's low edge may now come down to the page's oldest event.
        const patch: CursorPatch = oldest !== undefined && oldest < (which === 'head' ? c.headLow! : c.tailLow!) ? { [lowKey]: oldest } : {};
        await move(patch, { events: put.inserted, duplicates: put.duplicates, requests, throttled, lastEventAt: newestMs ?? null });
        inflight.requests = 0;
        inflight.throttled = 0;
        report.backfill = c.tailFrom !== null && c.tailTo! > c.tailFrom ? (c.tailTo! - (c.tailLow ?? c.tailFrom)) / (c.tailTo! - c.tailFrom) : undefined;
        ctx.onProgress?.({ source: src.id, part, backfill: report.backfill, events: report.events });
        token = page.nextToken;
        if (!token) {
          await finish();
          return true;
        }
      }
    };

    const headDone = await readWindow('head');
    const tailDone = headDone ? await readWindow('tail') : false;
    if (tailDone) report.backfill = undefined;
    report.state = headDone && tailDone ? 'caught-up' : 'more';
    return report;
  } catch (e) {
    if (e instanceof LeaseLost) return { ...report, state: 'leased', error: 'another worker took this account-region over' };
    if (ctx.signal?.aborted) return { ...report, state: 'more' };
    if (e instanceof LimiterTimeout) {
      // Out of time while waiting for the budget or backing off: what was read is stored and the
      // cursor is where it was, so this is "more to read", with the reason.
      report.requests += inflight.requests;
      await advance(db, src.id, part, lease.owner, {}, { requests: inflight.requests, throttled: inflight.throttled }).catch(() => undefined);
      const error = `stopped at the time limit after ${report.events} events: ${e.message}; the next poll carries on from here`;
      ctx.log.warn({ source: src.id, part, throttled: inflight.throttled }, error);
      return { ...report, state: 'more', error };
    }
    const msg = describeError(e);
    ctx.log.warn({ source: src.id, part, err: msg }, 'LookupEvents poll failed');
    await recordError(db, src.id, part, 'lookup', msg).catch(() => undefined);
    return { ...report, state: 'failed', error: msg };
  } finally {
    await lease.release();
  }
}

function eventTimeMs(e: LookupEvent): number | undefined {
  const t = e.EventTime;
  if (t instanceof Date) return t.getTime();
  if (typeof t === 'number') return t * 1000;
  return undefined;
}
