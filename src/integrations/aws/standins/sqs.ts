// SQS stand-in speaking the protocol @aws-sdk/client-sqs uses: awsJson1_0 (X-Amz-Target: AmazonSQS.<Op>)
// with the awsQueryCompatible trait (error codes also travel in the x-amzn-query-error header). The
// queues and their messages are in sqs-queues.ts, message input and views in sqs-messages.ts; here are
// the operations, one table entry each, and the wire.
import { createCredentialStore } from './credentials.ts';
import type { CredentialStore } from './credentials.ts';
import { AwsError, jsonErrorResponse, logRequest, operationOf, refusal } from './protocol.ts';
import { jsonResponse, listen, readBody } from './shared.ts';
import type { FetchHandler, ListenOptions, Listener, RequestRecord } from './shared.ts';
import { batchFailure, checkBatch, checkDelay, messageView, parseMessageAttributes, SYSTEM_ATTRIBUTES, validateBody } from './sqs-messages.ts';
import { clock, createQueues, int, md5OfMessageAttributes, type MessageAttributeValue, type Queue, type QueueCounts, READ_ONLY, SETTABLE, sqsError, sqsErrors } from './sqs-queues.ts';

export { md5Hex, md5OfMessageAttributes } from './sqs-queues.ts';
export type { MessageAttributeValue, QueueCounts } from './sqs-queues.ts';

export const SQS_TARGET_PREFIX = 'AmazonSQS.';
const JSON_10 = 'application/x-amz-json-1.0';

export interface SqsServiceOptions {
  credentials?: CredentialStore;
  verifySignatures?: boolean;
  requests?: RequestRecord[];
  /** AWS allows one PurgeQueue per queue per 60 s (default 60000; 0 turns the limit off) */
  purgeCooldownMs?: number;
  /** region used for queues created through the helpers (default us-east-1) */
  region?: string;
}

export interface SqsService {
  readonly service: 'sqs';
  readonly handle: FetchHandler;
  readonly credentials: CredentialStore;
  readonly requests: RequestRecord[];
  /** origin used in queue URLs made by the helpers (set by the listener) */
  baseUrl: string;
  /** creates the queue if needed and returns its URL; `name` may be "account/name" */
  createQueue(name: string, attributes?: Record<string, string>): string;
  queueUrl(name: string): string;
  /** puts a message on a queue as if some producer had sent it; returns the MessageId */
  sendRaw(queueName: string, body: string, opts?: { delaySeconds?: number; attributes?: Record<string, MessageAttributeValue> }): string;
  counts(queueName: string): QueueCounts;
  /** wakes every long poll and makes further ones return at once */
  shutdown(): void;
}

export interface SqsStandin extends SqsService, Listener {}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Who calls and from where: an operation's context. */
interface SqsCall {
  accountId: string;
  region: string;
  senderId: string;
  /** The endpoint the caller used, for the queue URLs in answers. */
  origin: string;
  signal?: AbortSignal | undefined;
}

type SqsOperation = (input: Record<string, unknown>, call: SqsCall) => unknown;

export function createSqsService(opts: SqsServiceOptions = {}): SqsService {
  const credentials = opts.credentials ?? createCredentialStore();
  const requests = opts.requests ?? [];
  const verifySignatures = opts.verifySignatures ?? true;
  const purgeCooldownMs = opts.purgeCooldownMs ?? 60_000;
  const defaultRegion = opts.region ?? 'us-east-1';
  const queues = createQueues();
  const svc = { baseUrl: 'http://127.0.0.1' };
  const urlOf = (origin: string, q: Queue) => `${origin}/${q.accountId}/${q.name}`;

  function sendOne(q: Queue, input: Record<string, unknown>, senderId: string) {
    const attrs = parseMessageAttributes(input.MessageAttributes);
    const body = validateBody(input.MessageBody, attrs, queues.intAttr(q, 'MaximumMessageSize'));
    const delay = checkDelay(input.DelaySeconds);
    const sys = input.MessageSystemAttributes as Record<string, { StringValue?: string }> | undefined;
    const m = queues.enqueue(q, body, attrs, delay, senderId, sys?.AWSTraceHeader?.StringValue);
    const out: Record<string, string> = { MessageId: m.id, MD5OfMessageBody: m.md5OfBody };
    if (Object.keys(attrs).length > 0) out.MD5OfMessageAttributes = md5OfMessageAttributes(attrs);
    return out;
  }

  /** Runs `each` over a batch's entries: the ones that worked and the ones that failed, with why. */
  function batch(entries: Record<string, unknown>[], each: (e: Record<string, unknown>) => Record<string, unknown>) {
    const Successful: unknown[] = [];
    const Failed: unknown[] = [];
    for (const e of entries) {
      try {
        Successful.push({ Id: e.Id, ...each(e) });
      } catch (err) {
        Failed.push(batchFailure(e.Id, err));
      }
    }
    return { Successful, Failed };
  }

  async function receive(q: Queue, input: Record<string, unknown>, signal: AbortSignal | undefined) {
    const maxRaw = input.MaxNumberOfMessages;
    const max = maxRaw === undefined || maxRaw === null ? 1 : int(maxRaw);
    if (max === undefined || max < 1 || max > 10) throw sqsErrors.invalidParameter(`Value ${String(maxRaw)} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`);
    const waitRaw = input.WaitTimeSeconds;
    const wait = waitRaw === undefined || waitRaw === null ? queues.intAttr(q, 'ReceiveMessageWaitTimeSeconds') : int(waitRaw);
    if (wait === undefined || wait < 0 || wait > 20) throw sqsErrors.invalidParameter(`Value ${String(waitRaw)} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.`);
    const vtRaw = input.VisibilityTimeout;
    const vt = vtRaw === undefined || vtRaw === null ? queues.intAttr(q, 'VisibilityTimeout') : int(vtRaw);
    if (vt === undefined || vt < 0 || vt > 43200) throw sqsErrors.invalidParameter(`Value ${String(vtRaw)} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.`);
    const systemNames = new Set<string>([...((input.MessageSystemAttributeNames as string[] | undefined) ?? []), ...((input.AttributeNames as string[] | undefined) ?? [])]);
    for (const n of systemNames) if (!SYSTEM_ATTRIBUTES.includes(n)) throw sqsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
    const attrNames = (input.MessageAttributeNames as string[] | undefined) ?? [];

    const deadline = clock() + wait * 1000;
    for (;;) {
      if (signal?.aborted) return {};
      const got = queues.take(q, max, vt);
      if (got.length > 0) return { Messages: got.map((m) => messageView(m, systemNames, attrNames)) };
      const now = clock();
      if (queues.closed || now >= deadline) return {};
      const next = queues.nextVisibleAt(q, now);
      await queues.waitForChange(q, Math.min(deadline, next ?? Infinity) - now, signal);
    }
  }

  function queueAttributes(q: Queue, names: unknown): Record<string, string> {
    const list = (Array.isArray(names) ? names : []) as string[];
    const c = queues.counts(q);
    const all: Record<string, string> = {
      QueueArn: q.arn,
      ApproximateNumberOfMessages: String(c.visible),
      ApproximateNumberOfMessagesNotVisible: String(c.inFlight),
      ApproximateNumberOfMessagesDelayed: String(c.delayed),
      CreatedTimestamp: String(Math.floor(q.createdAt / 1000)),
      LastModifiedTimestamp: String(Math.floor(q.modifiedAt / 1000)),
      ...q.attributes,
    };
    if (list.includes('All')) return all;
    const out: Record<string, string> = {};
    for (const n of list) {
      if (!(n in SETTABLE) && !READ_ONLY.includes(n)) throw sqsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
      if (all[n] !== undefined) out[n] = all[n];
    }
    return out;
  }

  /** The operations, by the name after the target prefix. */
  const operations: Record<string, SqsOperation> = {
    CreateQueue(input, call) {
      const name = str(input.QueueName);
      if (!name) throw sqsErrors.missingParameter('QueueName');
      if (name.endsWith('.fifo')) throw sqsErrors.invalidParameter('FIFO queues are not implemented by the stand-in.');
      const q = queues.create(call.accountId, call.region, name, queues.validateAttributes(input.Attributes));
      return { QueueUrl: urlOf(call.origin, q) };
    },
    GetQueueUrl(input, call) {
      const name = str(input.QueueName);
      if (!name) throw sqsErrors.missingParameter('QueueName');
      const q = queues.get(str(input.QueueOwnerAWSAccountId) ?? call.accountId, name);
      if (!q) throw sqsErrors.queueDoesNotExist();
      return { QueueUrl: urlOf(call.origin, q) };
    },
    ListQueues(input, call) {
      const prefix = str(input.QueueNamePrefix) ?? '';
      const urls = queues.all().filter((q) => q.accountId === call.accountId && q.name.startsWith(prefix)).map((q) => urlOf(call.origin, q)).sort();
      const max = int(input.MaxResults) ?? 1000;
      const start = Number(str(input.NextToken) ?? 0) || 0;
      const page = urls.slice(start, start + max);
      const out: Record<string, unknown> = {};
      if (page.length > 0) out.QueueUrls = page;
      if (input.MaxResults !== undefined && start + max < urls.length) out.NextToken = String(start + max);
      return out;
    },
    DeleteQueue(input) {
      queues.remove(queues.fromUrl(input.QueueUrl));
      return {};
    },
    GetQueueAttributes: (input) => ({ Attributes: queueAttributes(queues.fromUrl(input.QueueUrl), input.AttributeNames) }),
    SetQueueAttributes(input) {
      const q = queues.fromUrl(input.QueueUrl);
      Object.assign(q.attributes, queues.validateAttributes(input.Attributes));
      q.modifiedAt = clock();
      return {};
    },
    SendMessage: (input, call) => sendOne(queues.fromUrl(input.QueueUrl), input, call.senderId),
    SendMessageBatch(input, call) {
      const q = queues.fromUrl(input.QueueUrl);
      const entries = checkBatch(input.Entries);
      let total = 0;
      for (const e of entries) total += typeof e.MessageBody === 'string' ? Buffer.byteLength(e.MessageBody) : 0;
      if (total > queues.intAttr(q, 'MaximumMessageSize')) throw sqsErrors.batch('BatchRequestTooLong', 'Batch requests cannot be longer than 1048576 bytes.');
      return batch(entries, (e) => sendOne(q, e, call.senderId));
    },
    ReceiveMessage: (input, call) => receive(queues.fromUrl(input.QueueUrl), input, call.signal),
    DeleteMessage(input) {
      queues.deleteMessage(queues.fromUrl(input.QueueUrl), input.ReceiptHandle);
      return {};
    },
    DeleteMessageBatch(input) {
      const q = queues.fromUrl(input.QueueUrl);
      return batch(checkBatch(input.Entries), (e) => {
        queues.deleteMessage(q, e.ReceiptHandle);
        return {};
      });
    },
    ChangeMessageVisibility(input) {
      queues.changeVisibility(queues.fromUrl(input.QueueUrl), input.ReceiptHandle, input.VisibilityTimeout);
      return {};
    },
    ChangeMessageVisibilityBatch(input) {
      const q = queues.fromUrl(input.QueueUrl);
      return batch(checkBatch(input.Entries), (e) => {
        queues.changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout);
        return {};
      });
    },
    PurgeQueue(input) {
      queues.purge(queues.fromUrl(input.QueueUrl), purgeCooldownMs);
      return {};
    },
  };

  const handle: FetchHandler = async (req) => {
    const log = logRequest('sqs', requests, credentials);
    const { record } = log;
    const fail = (e: AwsError) => log.finish(jsonErrorResponse(e, JSON_10, true), e.code);
    const body = await readBody(req);
    const target = req.headers.get('x-amz-target') ?? '';
    if (target.startsWith(SQS_TARGET_PREFIX)) record.operation = target.slice(SQS_TARGET_PREFIX.length);
    const auth = log.authenticate(req, body, verifySignatures);
    if (!auth.ok) return fail(refusal('sqs', auth));
    if (req.method !== 'POST' || !target.startsWith(SQS_TARGET_PREFIX)) {
      return fail(new AwsError('UnknownOperationException', 'The stand-in speaks the SQS JSON protocol only (POST / with X-Amz-Target: AmazonSQS.<Operation>).', { namespace: 'com.amazon.coral.service', queryCode: 'InvalidAction' }));
    }
    let input: unknown;
    try {
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      return fail(new AwsError('SerializationException', 'The request body is not valid JSON.', { namespace: 'com.amazon.coral.service', queryCode: 'MalformedInput' }));
    }
    record.params = input;
    try {
      const operation = operationOf(operations, record.operation);
      if (!operation) throw sqsError('UnsupportedOperation', `The stand-in does not implement ${record.operation}.`, { queryCode: 'AWS.SimpleQueueService.UnsupportedOperation' });
      const out = await operation((input ?? {}) as Record<string, unknown>, {
        accountId: auth.principal.accountId,
        region: auth.region,
        senderId: auth.principal.userId,
        origin: new URL(req.url).origin,
        signal: req.signal,
      });
      return log.finish(jsonResponse(200, out, {}, JSON_10));
    } catch (e) {
      if (e instanceof AwsError) return fail(e);
      throw e;
    }
  };

  const service: SqsService = {
    service: 'sqs',
    handle,
    credentials,
    requests,
    get baseUrl() {
      return svc.baseUrl;
    },
    set baseUrl(v: string) {
      svc.baseUrl = v;
    },
    createQueue(name, attributes = {}) {
      const [acct, qname] = name.includes('/') ? name.split('/') : [credentials.base.accountId, name];
      return urlOf(svc.baseUrl, queues.create(acct, defaultRegion, qname, queues.validateAttributes(attributes)));
    },
    queueUrl: (name) => urlOf(svc.baseUrl, queues.byHelperName(name, credentials.base.accountId)),
    sendRaw(queueName, body, o = {}) {
      const q = queues.byHelperName(queueName, credentials.base.accountId);
      return queues.enqueue(q, body, o.attributes ?? {}, o.delaySeconds, credentials.base.userId).id;
    },
    counts: (name) => queues.counts(queues.byHelperName(name, credentials.base.accountId)),
    shutdown: () => queues.shutdown(),
  };
  return service;
}

export type SqsStandinOptions = SqsServiceOptions & ListenOptions;

export async function startSqsStandin(opts: SqsStandinOptions = {}): Promise<SqsStandin> {
  const svc = createSqsService(opts);
  const listener = await listen(svc.handle, opts);
  svc.baseUrl = listener.url;
  return Object.assign(svc, listener, {
    async close() {
      svc.shutdown();
      await listener.close();
    },
  });
}
