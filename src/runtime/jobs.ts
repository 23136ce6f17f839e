import { createHash } from 'node:crypto';
import { z } from 'zod';
import { configId } from '../config/id.ts';

/**
 * Every unit of trailbot's work is a job of one of these kinds, with a typed payload (checked when it
 * is enqueued and again when it runs), an idempotency key (the queue's job id) and a retry policy.
 * The processors live in definitions.ts; this file is only the vocabulary, shared by producers
 * (CLI, HTTP, schedulers) and workers.
 */

const isoTime = z.iso.datetime({ offset: true, error: 'expected an ISO-8601 time, e.g. 2024-08-01T13:00:00Z' });
const rawRecord = z.record(z.string(), z.unknown(), { error: 'expected a CloudTrail record (a JSON object)' });

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date, e.g. 2024-08-01');

/** A `/trail` question, as the command's grammar parsed it (src/actions/slack/trail/grammar.ts), its window resolved. */
export const trailQuerySchema = z.strictObject({
  who: z.string().min(1, 'expected who to look up').max(256, 'at most 256 characters'),
  window: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('last'), span: z.enum(['24h', '7d', '30d']) }),
    z.strictObject({ kind: z.literal('since'), from: isoDate }),
    z.strictObject({ kind: z.literal('between'), from: isoDate, to: isoDate }),
  ]),
  since: isoTime,
  until: isoTime,
  writes: z.boolean(),
  denied: z.boolean(),
  console: z.boolean(),
  live: z.boolean(),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, 'expected an AWS Region, e.g. eu-west-1').optional(),
  service: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}\.amazonaws\.com$/, 'expected an event source, e.g. s3.amazonaws.com').optional(),
  account: z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account id').optional(),
});

export const jobPayloads = {
  /** Read a CloudTrail file or folder (as `trailbot ingest` reads it) into the store. */
  'ingest-file': z.strictObject({
    path: z.string().min(1, 'expected a file or folder path'),
    /** Which source the file came from, for lag metrics; files dropped by hand are `files`. */
    source: configId.optional(),
    /** Size and modification time when enqueued: the same path with new content is new work. */
    fingerprint: z.string().optional(),
  }),
  /** Store a batch of raw records that arrived some other way (EventBridge, SQS, a webhook). */
  'ingest-batch': z.strictObject({
    source: configId,
    records: z.array(rawRecord).min(1, 'expected at least one record').max(10_000, 'at most 10,000 records per batch'),
  }),
  /** Read what is new from one configured source (issue 4). */
  'poll-source': z.strictObject({ source: configId }),
  /** Run the flows over newly stored events (issue 5). */
  'evaluate-flows': z.strictObject({
    eventIds: z.array(z.string().min(1)).min(1, 'expected at least one event id').max(5_000, 'at most 5,000 events per job'),
    /**
     * The events' first and last time, when the ingest knew them: the job then reads only the day
     * partitions that hold them. Not part of the job's identity (the ids are): the outbox drainer's job
     * for the same ids, which has no span, is the same job.
     */
    span: z.strictObject({ from: isoTime, to: isoTime }).optional(),
  }),
  /** Tell people about a finding: a Slack message or a Jira ticket, created or brought up to date. */
  notify: z.strictObject({
    target: z.enum(['slack', 'jira'], { error: 'expected slack or jira' }),
    findingId: z.string().min(1, 'expected the finding id'),
    action: z.enum(['open', 'update', 'resolve'], { error: 'expected open, update or resolve' }).default('open'),
  }),
  /**
   * The tickets catch-up: enqueues `notify` for findings changed since the last pass (the findings
   * feed's cursor, kept in the store) whose ticket is missing or behind, e.g. when a worker died
   * between the findings' commit and its notify enqueue. Scheduled every minute (src/runtime/service.ts).
   */
  'tickets-sync': z.strictObject({}),
  /**
   * The store's upkeep (src/store/retention.ts): day partitions of `events` made ahead, backfilled days
   * moved out of the default partition, days past `store.retention` dropped whole, flow hits, rejects
   * and reports past their own retention deleted. Scheduled every hour (src/runtime/service.ts).
   */
  'store-maintenance': z.strictObject({}),
  /**
   * Carry out an approved plan in AWS (src/actions/approvals/execute.ts): the plan recorded for the
   * approval (recordPlan), step by step; a retry or a restart never repeats a finished step.
   */
  remediate: z.strictObject({
    approvalId: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'expected the approval id (letters, digits, _ . -)'),
  }),
  /**
   * Approvals' own work (src/actions/approvals): `read-plan` reads a proposal's plan from the live
   * account (a dry run for its page: nothing is changed; the web role holds no AWS credentials, the
   * workers do); `tell-jira` / `tell-slack` tell the finding's ticket and channel what became of a
   * decided approval (`state`: the outcome told), once per outcome.
   */
  approval: z.strictObject({
    approvalId: z.string().regex(/^[0-9a-f]{32}$/, 'expected the approval id (32 hex digits)'),
    task: z.enum(['read-plan', 'tell-jira', 'tell-slack'], { error: 'expected read-plan, tell-jira or tell-slack' }),
    state: z.enum(['done', 'partial', 'failed', 'dismissed'], { error: 'expected done, partial, failed or dismissed' }).optional(),
  }),
  /**
   * Write a periodic report (a digest of findings for a period). `at`: when the run was due (a
   * schedule's fire time, filled in from the job when absent); the period ends then, on the minute.
   */
  report: z.strictObject({ report: configId, since: isoTime.optional(), until: isoTime.optional(), at: isoTime.optional() }),
  /**
   * Answer a `/trail` command or one of its buttons through the `response_url` Slack gave with it
   * (src/actions/slack/trail): a page of someone's activity, or a short notice (a refusal, a damaged
   * "More" button). `responseUrl` is a credential: never logged.
   */
  'slack-trail': z.strictObject({
    responseUrl: z.url({ protocol: /^https?$/, error: 'expected the https URL Slack sent as response_url' }).max(2000),
    userId: z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'expected a Slack user id, e.g. U012AB3CD'),
    channelId: z.string().regex(/^[CGD][A-Z0-9]{2,}$/, 'expected a Slack channel id, e.g. C024BE91L').optional(),
    /** Replace the message the button was on (paging) instead of answering anew. */
    replaceOriginal: z.boolean().default(false),
    answer: z.discriminatedUnion('kind', [
      z.strictObject({
        kind: z.literal('page'),
        query: trailQuerySchema,
        /** 1 for the command itself; n for the n-th page a "More" button asked for. */
        page: z.number().int().min(1).max(10_000).default(1),
        /** Calls shown on the pages before this one. */
        offset: z.number().int().min(0).max(10_000_000).default(0),
        /** Where the previous page ended (newest first: the last call shown). */
        after: z.strictObject({ time: isoTime, eventId: z.string().min(1).max(256) }).optional(),
      }),
      z.strictObject({ kind: z.literal('notice'), notice: z.enum(['refused', 'damaged', 'unavailable']) }),
    ]),
  }),
  /** Does nothing for `ms` milliseconds: checks a worker end to end and measures the queue (bench:queue). */
  probe: z.strictObject({ ms: z.number().int().min(0).max(600_000).default(0), note: z.string().max(200).optional() }),
} as const;

export type JobKind = keyof typeof jobPayloads;
export const JOB_KINDS = Object.keys(jobPayloads) as JobKind[];
/** What a producer passes (defaults not yet applied). */
export type JobInput<K extends JobKind> = z.input<(typeof jobPayloads)[K]>;
/** What a processor receives. */
export type JobPayload<K extends JobKind> = z.output<(typeof jobPayloads)[K]>;

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** First retry after this long; then doubling (BullMQ's exponential backoff: 2^(n-1)·delay). */
  backoffMs: number;
}

/** Side effects that reach people retry for longer; a remediation is retried only a little. */
export const RETRY: Record<JobKind, RetryPolicy> = {
  'ingest-file': { attempts: 5, backoffMs: 2_000 },
  'ingest-batch': { attempts: 5, backoffMs: 2_000 },
  'poll-source': { attempts: 3, backoffMs: 5_000 },
  'evaluate-flows': { attempts: 5, backoffMs: 2_000 },
  notify: { attempts: 8, backoffMs: 5_000 },
  'tickets-sync': { attempts: 2, backoffMs: 10_000 },
  'store-maintenance': { attempts: 3, backoffMs: 60_000 },
  remediate: { attempts: 3, backoffMs: 10_000 },
  // read-plan: someone is looking at the page (a few quick tries); tell-*: like notify.
  approval: { attempts: 6, backoffMs: 2_000 },
  report: { attempts: 3, backoffMs: 30_000 },
  probe: { attempts: 1, backoffMs: 1_000 },
  // A person is waiting: a few quick tries, the last of which answers with what went wrong.
  'slack-trail': { attempts: 3, backoffMs: 1_000 },
};

/**
 * Which waiting job a worker takes first (BullMQ's meaning: 0 first, then 1, 2, …; equal
 * priorities oldest first). What people wait for goes first: a new finding's ticket or message and
 * a person's `/trail` answer; then evaluating flows over what is stored (it makes those); then
 * updates of findings already told (coalesced, at most one a minute anyway); then reading more
 * input and the rest. Under a backlog, new input waits rather than news of what is already known.
 */
export function priorityOf(kind: string, data: unknown): number {
  switch (kind) {
    case 'notify':
      return (data as { action?: string } | null)?.action === 'open' ? 0 : 2;
    case 'slack-trail':
      return 0;
    case 'approval':
      // A plan read has a person waiting on the page; telling Jira and Slack is an update.
      return (data as { task?: string } | null)?.task === 'read-plan' ? 0 : 2;
    case 'evaluate-flows':
      return 1;
    case 'tickets-sync':
    case 'remediate':
      return 2;
    default:
      return 3;
  }
}

function digest(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 32);
}

/**
 * A job id usable by every backend: `<kind>-<text>` with only letters, digits, `-`, `_` and `.`
 * (BullMQ ids must not contain `:` and must not be all digits).
 */
export function jobId(kind: string, key: string): string {
  const clean = key.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 160);
  return `${kind}-${clean}`;
}

/**
 * The idempotency key of a job: the same work always gets the same key, so enqueuing it twice runs
 * it once. Callers may pass their own key instead (e.g. a webhook's delivery id).
 */
export function idempotencyKey<K extends JobKind>(kind: K, p: JobPayload<K>, now: number = Date.now()): string {
  switch (kind) {
    case 'ingest-file': {
      const q = p as JobPayload<'ingest-file'>;
      return digest(q.path, q.fingerprint ?? null);
    }
    case 'ingest-batch': {
      const q = p as JobPayload<'ingest-batch'>;
      const ids = q.records.map((r) => (typeof r.eventID === 'string' ? r.eventID : JSON.stringify(r))).sort();
      return digest(q.source, ids);
    }
    case 'poll-source':
      // A poll asked for by hand: at most one per source per minute.
      return `${(p as JobPayload<'poll-source'>).source}-${Math.floor(now / 60_000)}`;
    case 'evaluate-flows':
      return digest([...(p as JobPayload<'evaluate-flows'>).eventIds].sort());
    case 'notify': {
      // What changed is in the key: opening a finding's ticket is one job per finding (later tickets
      // of the same finding, after one was closed, come from update jobs); updates are one job per
      // finding per minute (enqueued delayed to the minute's end: one comment however many events).
      const q = p as JobPayload<'notify'>;
      return q.action === 'update' ? notifyUpdateKey(q.target, q.findingId, now) : `${q.target}-${q.action}-${digest(q.findingId)}`;
    }
    case 'remediate':
      // One job per approval: approving twice queues it once.
      return (p as JobPayload<'remediate'>).approvalId;
    case 'report': {
      const q = p as JobPayload<'report'>;
      return `${q.report}-${q.at === undefined ? digest(q.since ?? null, q.until ?? null) : digest(q.since ?? null, q.until ?? null, q.at)}`;
    }
    case 'approval': {
      // A plan read at most once per approval per 10 s (views in between share it); each outcome told once.
      const q = p as JobPayload<'approval'>;
      return q.task === 'read-plan' ? `${q.approvalId}-read-${Math.floor(now / 10_000)}` : `${q.approvalId}-${q.task}-${q.state ?? 'none'}`;
    }
    case 'slack-trail': {
      // One answer per command or click: Slack gives each its own response_url.
      const q = p as JobPayload<'slack-trail'>;
      return digest(q.responseUrl, q.answer);
    }
    default:
      return digest(p, now, Math.random());
  }
}

/** The default coalescing window of a finding's updates: at most one comment a minute (routing.jira.commentEvery). */
export const NOTIFY_WINDOW_MS = 60_000;

/** The window an update falls in (its notify job runs at the window's end: see notifyDelayMs). */
export function notifyMinute(now: number, windowMs: number = NOTIFY_WINDOW_MS): number {
  return Math.floor(now / windowMs);
}

/** How long an update's notify job waits: until the end of its window, so the window's events go in one comment. */
export function notifyDelayMs(now: number, windowMs: number = NOTIFY_WINDOW_MS): number {
  return (notifyMinute(now, windowMs) + 1) * windowMs - now;
}

/** An update's key: one per finding per window (a window other than the minute is named in it). */
export function notifyUpdateKey(target: string, findingId: string, now: number, windowMs: number = NOTIFY_WINDOW_MS): string {
  const base = `${target}-update-${digest(findingId)}`;
  return windowMs === NOTIFY_WINDOW_MS ? `${base}-${notifyMinute(now)}` : `${base}-w${windowMs}-${notifyMinute(now, windowMs)}`;
}

/** How a producer enqueues a finding's update (a Jira comment, a Slack thread reply): keyed per window, delayed to the window's end. */
export function notifyUpdateOptions(findingId: string, now: number, windowMs: number = NOTIFY_WINDOW_MS, target: 'jira' | 'slack' = 'jira'): { key: string; delayMs: number } {
  return { key: notifyUpdateKey(target, findingId, now, windowMs), delayMs: notifyDelayMs(now, windowMs) };
}

/** Readable zod issues: `records[2]: expected a CloudTrail record (a JSON object)`. */
export function describeIssues(issues: z.core.$ZodIssue[]): string {
  return issues
    .map((i) => {
      const at = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
      const msg =
        i.code === 'unrecognized_keys'
          ? `unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.join(', ')}`
          : i.code === 'invalid_type' && /received undefined$/.test(i.message)
            ? `required (${i.expected})`
            : i.message.replace(/^Invalid input: /, '');
      return at ? `${at}: ${msg}` : msg;
    })
    .join('; ');
}
