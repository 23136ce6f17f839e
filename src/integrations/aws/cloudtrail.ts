import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CloudTrailClient, type Event, type LookupAttributeKey, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { type AcquireOptions, LimiterTimeout, type RateLimiter } from './limiter.ts';
import { awsError, classifyAwsError } from './errors.ts';

export type { Event as LookupEvent } from '@aws-sdk/client-cloudtrail';

/** One LookupEvents request. LookupEvents takes at most one lookup attribute per call. */
export interface LookupInput {
  attribute?: { key: LookupAttributeKey; value: string } | undefined;
  start?: Date | undefined;
  end?: Date | undefined;
  /** 1–50 (default 50). */
  maxResults?: number;
  /** From the previous page; the other fields must be the same as that page's. */
  nextToken?: string | undefined;
  /** `insight` for CloudTrail Insights events (only EventId, EventName and EventSource attributes then). */
  category?: 'insight' | undefined;
}

export interface LookupPage {
  events: Event[];
  nextToken: string | undefined;
}

export interface CallOptions extends AcquireOptions {
  /** Called for every request actually sent, and for every throttling answer. */
  onRequest?: () => void;
  onThrottled?: () => void;
}

/** LookupEvents in one account and Region, within CloudTrail's limit of 2 requests per second. */
export interface CloudTrailPort {
  readonly account: string;
  readonly region: string;
  /** The limiter key every process uses for this account-region. */
  readonly limiterKey: string;
  lookupEvents(input: LookupInput, opts?: CallOptions): Promise<LookupPage>;
}

export const limiterKeyFor = (account: string, region: string): string => `cloudtrail/${account}/${region}`;

const callOptions = new AsyncLocalStorage<CallOptions>();

/**
 * Takes a limiter slot as the last step before the request goes on the wire (after signing), so the
 * time between the slot and the request's arrival at AWS is as short and steady as it can be.
 * The client is made with maxAttempts 1: every try comes back through lookupEvents' loop below.
 */
export function addLimiterMiddleware(client: CloudTrailClient, limiter: RateLimiter, key: string): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const o = callOptions.getStore() ?? {};
      await limiter.acquire(key, o);
      o.onRequest?.();
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name: 'trailbotRateLimit', override: true },
  );
}

/** Backoff after the n-th throttling answer in a row: 1 s, 2 s, 4 s … up to 16 s, with jitter. */
export function throttleBackoffMs(n: number): number {
  return Math.min(16_000, 1000 * 2 ** Math.max(0, n - 1)) * (0.8 + Math.random() * 0.4);
}

export function cloudTrailPort(client: CloudTrailClient, account: string, region: string, limiter: RateLimiter): CloudTrailPort {
  const limiterKey = limiterKeyFor(account, region);
  addLimiterMiddleware(client, limiter, limiterKey);
  const where = `LookupEvents in account ${account}, ${region}`;
  return {
    account,
    region,
    limiterKey,
    async lookupEvents(input, opts = {}) {
      const command = new LookupEventsCommand({
        LookupAttributes: input.attribute ? [{ AttributeKey: input.attribute.key, AttributeValue: input.attribute.value }] : undefined,
        StartTime: input.start,
        EndTime: input.end,
        MaxResults: input.maxResults ?? 50,
        NextToken: input.nextToken,
        EventCategory: input.category,
      });
      let throttles = 0;
      let hiccups = 0;
      for (;;) {
        try {
          const r = await callOptions.run(opts, () => client.send(command, opts.signal ? { abortSignal: opts.signal } : {}));
          return { events: r.Events ?? [], nextToken: r.NextToken || undefined };
        } catch (e) {
          if (e instanceof LimiterTimeout) throw e;
          opts.signal?.throwIfAborted();
          const kind = classifyAwsError(e);
          if (kind === 'throttled') {
            // Someone else (another tool, the console) is using this account-region's budget too:
            // every trailbot process pauses for the backoff, then carries on.
            throttles++;
            opts.onThrottled?.();
            const wait = throttleBackoffMs(throttles);
            // Bounded by the caller's deadline (a poll's maxRun): persistent throttling ends the call.
            if (opts.deadline !== undefined && Date.now() + wait > opts.deadline) throw new LimiterTimeout(limiterKey, wait, 'throttled', throttles);
            await limiter.penalize(limiterKey, wait);
            continue;
          }
          if (kind === 'transient' && hiccups < 4) {
            hiccups++;
            const wait = 250 * 2 ** hiccups;
            if (opts.deadline !== undefined && Date.now() + wait > opts.deadline) throw awsError(e, where);
            await sleep(wait, undefined, opts.signal ? { signal: opts.signal } : undefined);
            continue;
          }
          throw awsError(
            e,
            where,
            kind === 'denied'
              ? `check that trailbot's credentials (or the role it assumes in ${account}) allow cloudtrail:LookupEvents in ${region}, and that ${region} is enabled in the account`
              : undefined,
          );
        }
      }
    },
  };
}
