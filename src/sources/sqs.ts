import { describeError } from '../errors.ts';
import { describeOrigin, type Unwrapped } from '../events/envelopes.ts';
import type { QueueMessage, S3Port, SqsPort } from '../integrations/aws/index.ts';
import { kindOf } from '../integrations/aws/errors.ts';
import { regionOfQueueUrl } from '../integrations/aws/sqs.ts';
import type { SqsSource } from './config.ts';
import { emptyPart, type PollReport, pool, type SourceContext, summarize } from './context.ts';
import { type AllowLists, allowListRefusal, type ParsedMessage, parseMessage, recordAccountRefusal } from './messages.ts';
import { readTrailFile } from './s3.ts';
import { count, forgetOldObjects, markObjects, putAside, recordError, seenObjects } from './state.ts';

/**
 * The SQS consumer: S3 event notifications, CloudTrail's SNS notifications (raw or in an SNS
 * envelope) and EventBridge CloudTrail events, all on one queue (messages.ts says which is which).
 *
 * A batch of up to 10 messages is handled as one: the log files they name are read, every event is
 * stored in one write, and only then are the messages deleted. A crash anywhere before the delete
 * leaves the messages on the queue; they come back after the visibility timeout and their events are
 * stored again as duplicates, i.e. not at all. A file already read (source_objects) is not fetched again.
 *
 * While a batch is worked on, its messages' visibility is extended every half timeout (keepInvisible),
 * so a slow batch is not handed to another consumer meanwhile.
 *
 * Allow-lists: a message naming a bucket outside the source's `buckets:`, or an account outside its
 * `accounts:` (the key's AWSLogs/<account>/, an EventBridge event's account, or the account its record
 * would be stored under), is never fetched: it is kept aside with the reason, logged at warn, and
 * deleted. A record inside an allowed file whose stored account (recipientAccountId, else
 * userIdentity.accountId) is not allowed, or that names none, is kept aside on its own; the rest are stored.
 *
 * Malformed messages (not JSON, not a notification) never block the rest: with `onMalformed: aside`
 * (the default) the body is kept in source_rejects with the message id and the reason, an error is
 * logged, and the message is deleted; with `dlq` it is left for the queue's redrive policy.
 * A file that cannot be parsed, or is gone, is kept aside the same way and its message completes.
 * Errors that may pass (throttling, network, permissions) leave the message for another try.
 */

export interface SqsPollOptions {
  deadline?: number;
  /** At most this long-poll wait for this poll (the source's waitSeconds otherwise). */
  waitSeconds?: number;
  /** Keep receiving until the deadline even when the queue is empty (the `run` loop); default false. */
  follow?: boolean;
}

const isAbort = (e: unknown): boolean => e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');

export const queueRegion = (src: SqsSource): string => src.region ?? regionOfQueueUrl(src.queueUrl) ?? 'us-east-1';

export async function pollSqs(ctx: SourceContext, src: SqsSource, opts: SqsPollOptions = {}): Promise<PollReport> {
  const started = performance.now();
  const deadline = opts.deadline ?? Date.now() + src.maxRun;
  const region = queueRegion(src);
  const target = { account: src.account, roleName: src.roleName, externalId: src.externalId };
  const report = emptyPart('queue');
  let newest: string | null = null;
  try {
    const sqs = await ctx.aws.sqs(target, region);
    const s3 = await ctx.aws.s3(target, src.bucketRegion ?? region);
    // Several receivers at once: while one batch is being stored, the next is fetched. If one fails,
    // the others stop too (what they hold but have not stored comes back after the visibility timeout).
    const stop = new AbortController();
    const signal = ctx.signal ? AbortSignal.any([ctx.signal, stop.signal]) : stop.signal;
    const inner: SourceContext = { ...ctx, signal };
    const consume = async (): Promise<void> => {
      for (;;) {
        const left = deadline - Date.now();
        if (left <= 0) {
          report.state = 'more';
          return;
        }
        signal.throwIfAborted();
        const wait = Math.min(src.waitSeconds, opts.waitSeconds ?? 20, Math.floor(left / 1000));
        const messages = await sqs.receive(src.queueUrl, { max: 10, waitSeconds: Math.max(0, wait), visibilitySeconds: Math.ceil(src.visibilityTimeout / 1000), signal });
        report.requests++;
        if (messages.length === 0) {
          if (opts.follow) continue;
          return;
        }
        const r = await keepInvisible(inner, src, sqs, messages, () => handleBatch(inner, src, sqs, s3, messages));
        report.events += r.events;
        report.inserted += r.inserted;
        report.duplicates += r.duplicates;
        report.rejected += r.rejected;
        report.requests += r.requests;
        if (r.newest && (!newest || r.newest > newest)) newest = r.newest;
        ctx.onProgress?.({ source: src.id, part: 'queue', events: report.events });
      }
    };
    const outcomes = await Promise.allSettled(
      Array.from({ length: src.concurrency }, () =>
        consume().catch((e: unknown) => {
          stop.abort();
          throw e;
        }),
      ),
    );
    const errors = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown);
    // The first real failure, not the aborts it caused in the other consumers.
    if (errors.length > 0) throw errors.find((e) => !isAbort(e)) ?? errors[0];
  } catch (e) {
    if (ctx.signal?.aborted) return summarize(src.id, 'sqs', [{ ...report, state: 'more' }], newest, started);
    const msg = describeError(e);
    ctx.log.warn({ source: src.id, err: msg }, 'SQS poll failed');
    await recordError(ctx.store.db, src.id, 'queue', 'sqs', msg).catch(() => undefined);
    throw e;
  }
  // SQS keeps a message 14 days at most: a key older than that is never announced again.
  await forgetOldObjects(ctx.store.db, src.id, 15).catch(() => undefined);
  return summarize(src.id, 'sqs', [report], newest, started);
}

/**
 * Keeps a batch's messages invisible while it is worked on: every half visibility timeout their
 * visibility is extended by another timeout. Without this, a batch that takes longer than the timeout
 * (a slow store, a very large log file) is handed to another consumer meanwhile and read twice (its
 * events would still be stored once, but the work is done twice and the first delete fails).
 */
async function keepInvisible<T>(ctx: SourceContext, src: SqsSource, sqs: SqsPort, messages: QueueMessage[], work: () => Promise<T>): Promise<T> {
  const seconds = Math.ceil(src.visibilityTimeout / 1000);
  let finished = false;
  const extend = (): void => {
    for (const m of messages) {
      sqs.changeVisibility(src.queueUrl, m.receiptHandle, seconds).catch((e: unknown) => {
        if (!finished) ctx.log.warn({ source: src.id, messageId: m.id, err: describeError(e) }, 'could not extend an SQS message\'s visibility; it may be handed out again (its events are stored once)');
      });
    }
  };
  const timer = setInterval(extend, Math.max(250, src.visibilityTimeout / 2));
  timer.unref();
  try {
    return await work();
  } finally {
    finished = true;
    clearInterval(timer);
  }
}

interface BatchResult {
  events: number;
  inserted: number;
  duplicates: number;
  rejected: number;
  requests: number;
  newest: string | null;
}

interface FileOutcome {
  items: Unwrapped[];
  etag: string;
  /** Permanent: the file is kept aside, its message completes. */
  bad?: string;
  /** Passing: the message stays for another try. */
  retry?: string;
}

async function handleBatch(ctx: SourceContext, src: SqsSource, sqs: SqsPort, s3: S3Port, messages: QueueMessage[]): Promise<BatchResult> {
  const db = ctx.store.db;
  const allow: AllowLists = { source: src.id, buckets: src.buckets, accounts: src.accounts };
  const parsed = messages.map((m) => {
    const p = parseMessage(m.body, `sqs message ${m.id}`) as ParsedMessage;
    return { m, p, refused: p.malformed ? undefined : allowListRefusal(p, allow) };
  });
  // Each file once, however many messages name it; files read before (a redelivery) are skipped.
  // Nothing a refused message names is fetched.
  const wanted = new Map<string, { bucket: string; key: string }>();
  for (const { p, refused } of parsed) if (!refused) for (const o of p.objects) wanted.set(`${o.bucket}/${o.key}`, o);
  const seen = await seenObjects(db, src.id, [...wanted.keys()]);
  const files = new Map<string, FileOutcome>();
  let requests = 0;
  await pool([...wanted].filter(([k]) => !seen.has(k)), 8, async ([k, o]) => {
    requests++;
    try {
      const r = await readTrailFile(s3, o.bucket, o.key, ctx.signal);
      files.set(k, { items: r.error ? [] : r.items, etag: r.etag, ...(r.error ? { bad: r.error } : {}) });
    } catch (e) {
      if (kindOf(e) === 'not-found') files.set(k, { items: [], etag: '', bad: 'the object does not exist' });
      else files.set(k, { items: [], etag: '', retry: describeError(e) });
    }
  });

  const items: Unwrapped[] = [];
  const done: QueueMessage[] = [];
  const malformed: { m: QueueMessage; reason: string }[] = [];
  const retry: { m: QueueMessage; reason: string }[] = [];
  const refusedMessages: { m: QueueMessage; reason: string }[] = [];
  for (const { m, p, refused } of parsed) {
    if (p.malformed) {
      malformed.push({ m, reason: p.malformed });
      continue;
    }
    if (refused) {
      refusedMessages.push({ m, reason: refused });
      continue;
    }
    const waiting = p.objects.map((o) => files.get(`${o.bucket}/${o.key}`)).find((f) => f?.retry);
    if (waiting) retry.push({ m, reason: waiting.retry! });
    else done.push(m);
    items.push(...p.items);
  }
  // A file is allowed as a whole (bucket, key's account); each record's own account is checked too.
  const foreign: { where: string; reason: string }[] = [];
  for (const f of files.values()) {
    for (const it of f.items) {
      const refused = it.kind === 'record' ? recordAccountRefusal(allow, it.raw, 'the record') : undefined;
      if (refused) foreign.push({ where: describeOrigin(it.origin), reason: refused });
      else items.push(it);
    }
  }

  // 1. Store every event of the batch (this throws if the store is down: nothing is deleted).
  const put = await ctx.sink.put(items);
  for (const r of put.rejections) await putAside(db, src.id, r.where, r.reason);
  for (const r of foreign) await putAside(db, src.id, r.where, r.reason);
  if (foreign.length > 0) ctx.log.warn({ source: src.id, records: foreign.length, first: foreign[0] }, 'records of accounts outside the allow-list kept aside, not stored');
  const read: { key: string; tag: string; events: number; error: string | null }[] = [];
  for (const [k, f] of files) {
    if (f.retry) continue;
    if (f.bad) await putAside(db, src.id, `s3://${k}`, f.bad);
    read.push({ key: k, tag: f.etag, events: f.items.length, error: f.bad ?? null });
  }
  // (A key appearing twice in one statement would fail it: `files` has each once.)
  await markObjects(db, src.id, read);
  // 2. Malformed messages: kept aside (then deleted) or left for the dead-letter queue.
  for (const { m, reason } of malformed) {
    ctx.log.error({ source: src.id, messageId: m.id, receiveCount: m.receiveCount, reason }, src.onMalformed === 'aside' ? 'malformed SQS message kept aside and deleted' : 'malformed SQS message left for the dead-letter queue');
    if (src.onMalformed === 'aside') {
      await putAside(db, src.id, `sqs message ${m.id}`, reason, m.body);
      done.push(m);
    }
  }
  // 2b. Messages outside the allow-lists: kept aside and deleted, whatever onMalformed says (they are
  //     not broken, they are not ours; a dead-letter queue would only hide them).
  for (const { m, reason } of refusedMessages) {
    ctx.log.warn({ source: src.id, messageId: m.id, reason }, 'SQS message outside the allow-lists kept aside and deleted, nothing fetched');
    await putAside(db, src.id, `sqs message ${m.id}`, reason, m.body);
    done.push(m);
  }
  for (const { m, reason } of retry) ctx.log.warn({ source: src.id, messageId: m.id, reason }, 'SQS message left for another try');
  // 3. The counters: an ordinary (synchronous) commit, written after the events. The store may commit
  //    events asynchronously for speed; this commit waits until the log holds everything before it,
  //    so once it returns the events are on disk, not just committed.
  const errors =
    retry.length > 0
      ? `${retry.length} message(s) left for another try: ${retry[0]!.reason}`
      : malformed.length > 0
        ? `${malformed.length} malformed message(s), first ${malformed[0]!.m.id}: ${malformed[0]!.reason}`
        : refusedMessages.length > 0
          ? `${refusedMessages.length} message(s) outside the allow-lists, first ${refusedMessages[0]!.m.id}: ${refusedMessages[0]!.reason}`
          : foreign.length > 0
            ? `${foreign.length} record(s) outside the accounts: allow-list, first ${foreign[0]!.where}: ${foreign[0]!.reason}`
            : null;
  requests += Math.ceil(done.length / 10);
  await count(db, src.id, 'queue', 'sqs', {
    events: put.inserted,
    duplicates: put.duplicates,
    requests: requests + 1,
    lastEventAt: put.newest ? Date.parse(put.newest) : null,
    error: errors,
  });
  // 4. Only now: delete what is stored (or kept aside).
  const failed = await sqs.deleteMany(src.queueUrl, done);
  for (const f of failed) ctx.log.warn({ source: src.id, messageId: f.id, reason: f.reason }, 'SQS message could not be deleted; it will come back and add nothing');
  return {
    events: put.events,
    inserted: put.inserted,
    duplicates: put.duplicates,
    rejected: put.rejections.length + malformed.length + refusedMessages.length + foreign.length + [...files.values()].filter((f) => f.bad).length,
    requests,
    newest: put.newest,
  };
}
