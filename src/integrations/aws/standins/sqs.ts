// SQS stand-in speaking the protocol @aws-sdk/client-sqs uses: awsJson1_0 (X-Amz-Target: AmazonSQS.<Op>)
// with the awsQueryCompatible trait (error codes also travel in the x-amzn-query-error header).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { authenticate, createCredentialStore } from './credentials.ts';
import type { AuthFailureReason, CredentialStore } from './credentials.ts';
import { jsonResponse, listen, nextSeq, readBody, stampDate } from './shared.ts';
import type { FetchHandler, ListenOptions, Listener, RequestRecord } from './shared.ts';

export const SQS_TARGET_PREFIX = 'AmazonSQS.';
const JSON_10 = 'application/x-amz-json-1.0';

export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  /** base64 on the wire */
  BinaryValue?: string;
}

interface StoredMessage {
  id: string;
  body: string;
  md5OfBody: string;
  attributes: Record<string, MessageAttributeValue>;
  awsTraceHeader?: string;
  senderId: string;
  sentAt: number;
  /** epoch ms from which the message can be received (delay or visibility timeout) */
  visibleAt: number;
  receiveCount: number;
  firstReceiveAt?: number;
  receiptHandle?: string;
  deadLetterSourceArn?: string;
}

interface Queue {
  name: string;
  accountId: string;
  region: string;
  arn: string;
  createdAt: number;
  modifiedAt: number;
  attributes: Record<string, string>;
  messages: StoredMessage[];
  waiters: Set<() => void>;
  lastPurgeAt?: number;
}

export interface SqsServiceOptions {
  credentials?: CredentialStore;
  verifySignatures?: boolean;
  requests?: RequestRecord[];
  /** AWS allows one PurgeQueue per queue per 60 s (default 60000; 0 turns the limit off) */
  purgeCooldownMs?: number;
  /** region used for queues created through the helpers (default us-east-1) */
  region?: string;
}

export interface QueueCounts {
  visible: number;
  inFlight: number;
  delayed: number;
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

class SqsError extends Error {
  readonly type: string;
  readonly queryCode: string;
  readonly status: number;
  readonly namespace: string;
  constructor(type: string, message: string, { queryCode = type, status = 400, namespace = 'com.amazonaws.sqs' }: { queryCode?: string; status?: number; namespace?: string } = {}) {
    super(message);
    this.type = type;
    this.queryCode = queryCode;
    this.status = status;
    this.namespace = namespace;
  }
}

const errors = {
  queueDoesNotExist: () => new SqsError('QueueDoesNotExist', 'The specified queue does not exist.', { queryCode: 'AWS.SimpleQueueService.NonExistentQueue' }),
  invalidParameter: (message: string) => new SqsError('InvalidParameterValueException', message, { queryCode: 'InvalidParameterValue' }),
  missingParameter: (name: string) => new SqsError('MissingRequiredParameterException', `The request must contain the parameter ${name}.`, { queryCode: 'MissingParameter' }),
  receiptHandleInvalid: (message: string) => new SqsError('ReceiptHandleIsInvalid', message, { status: 404 }),
  notInflight: () => new SqsError('MessageNotInflight', 'Message does not exist or is not available for visibility timeout change.', { queryCode: 'AWS.SimpleQueueService.MessageNotInflight' }),
  batch: (type: string, message: string) => new SqsError(type, message, { queryCode: `AWS.SimpleQueueService.${type}` }),
};

const AUTH_ERRORS: Record<AuthFailureReason, [string, string, number]> = {
  missing: ['MissingAuthenticationTokenException', 'MissingAuthenticationToken', 403],
  'unknown-key': ['UnrecognizedClientException', 'InvalidClientTokenId', 403],
  'bad-token': ['UnrecognizedClientException', 'InvalidClientTokenId', 403],
  expired: ['ExpiredTokenException', 'ExpiredToken', 403],
  'request-expired': ['InvalidSignatureException', 'SignatureDoesNotMatch', 403],
  'bad-expires': ['IncompleteSignatureException', 'IncompleteSignature', 400],
  skewed: ['InvalidSignatureException', 'SignatureDoesNotMatch', 403],
  'unsigned-host': ['InvalidSignatureException', 'SignatureDoesNotMatch', 403],
  'bad-payload-hash': ['InvalidSignatureException', 'SignatureDoesNotMatch', 403],
  'bad-signature': ['InvalidSignatureException', 'SignatureDoesNotMatch', 403],
  'wrong-service': ['InvalidSignatureException', 'SignatureDoesNotMatch', 403],
};

const DEFAULT_ATTRIBUTES: Record<string, string> = {
  VisibilityTimeout: '30',
  DelaySeconds: '0',
  ReceiveMessageWaitTimeSeconds: '0',
  MessageRetentionPeriod: '345600',
  MaximumMessageSize: '1048576',
  SqsManagedSseEnabled: 'true',
};

/** settable attribute → [min, max] for integer ones, null for free text */
const SETTABLE: Record<string, [number, number] | null> = {
  VisibilityTimeout: [0, 43200],
  DelaySeconds: [0, 900],
  ReceiveMessageWaitTimeSeconds: [0, 20],
  MessageRetentionPeriod: [60, 1209600],
  MaximumMessageSize: [1024, 1048576],
  KmsDataKeyReusePeriodSeconds: [60, 86400],
  Policy: null,
  RedrivePolicy: null,
  RedriveAllowPolicy: null,
  KmsMasterKeyId: null,
  SqsManagedSseEnabled: null,
};

const READ_ONLY = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed', 'CreatedTimestamp', 'LastModifiedTimestamp', 'QueueArn'];

const SYSTEM_ATTRIBUTES = ['All', 'SenderId', 'SentTimestamp', 'ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'SequenceNumber', 'MessageDeduplicationId', 'MessageGroupId', 'AWSTraceHeader', 'DeadLetterQueueSourceArn'];

export const md5Hex = (data: string | Uint8Array): string => createHash('md5').update(data).digest('hex');

/** MD5OfMessageAttributes as SQS computes it: names sorted; length-prefixed name, type, transport byte (1 string, 2 binary) and value. */
export function md5OfMessageAttributes(attrs: Record<string, MessageAttributeValue>): string {
  const hash = createHash('md5');
  const put = (bytes: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    hash.update(len);
    hash.update(bytes);
  };
  for (const name of Object.keys(attrs).sort()) {
    const a = attrs[name];
    put(Buffer.from(name, 'utf8'));
    put(Buffer.from(a.DataType, 'utf8'));
    if (a.StringValue !== undefined) {
      hash.update(Buffer.from([1]));
      put(Buffer.from(a.StringValue, 'utf8'));
    } else {
      hash.update(Buffer.from([2]));
      put(Buffer.from(a.BinaryValue ?? '', 'base64'));
    }
  }
  return hash.digest('hex');
}

// #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF
const INVALID_BODY_CHARS = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;
const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * Epoch milliseconds from the monotonic clock: visibility timeouts, delays and long polls are scheduled
 * with timers, which run on the monotonic clock, so a wall-clock step (NTP, VM resume) cannot stall them.
 */
const clock = (): number => Math.floor(performance.timeOrigin + performance.now());

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

export function createSqsService(opts: SqsServiceOptions = {}): SqsService {
  const credentials = opts.credentials ?? createCredentialStore();
  const requests = opts.requests ?? [];
  const verifySignatures = opts.verifySignatures ?? true;
  const purgeCooldownMs = opts.purgeCooldownMs ?? 60_000;
  const defaultRegion = opts.region ?? 'us-east-1';
  const queues = new Map<string, Queue>();
  let closed = false;
  const svc = { baseUrl: 'http://127.0.0.1' };

  const queueKey = (accountId: string, name: string) => `${accountId}/${name}`;
  const urlOf = (origin: string, q: Queue) => `${origin}/${q.accountId}/${q.name}`;

  function notify(q: Queue): void {
    for (const w of [...q.waiters]) w();
  }

  function resolveQueueUrl(url: unknown): Queue {
    if (typeof url !== 'string' || !url) throw errors.missingParameter('QueueUrl');
    let path: string;
    try {
      path = new URL(url).pathname;
    } catch {
      throw new SqsError('InvalidAddress', `The address ${url} is not valid for this endpoint.`, { status: 404 });
    }
    const [, acct, name] = path.split('/');
    const q = acct && name ? queues.get(queueKey(acct, decodeURIComponent(name))) : undefined;
    if (!q) throw errors.queueDoesNotExist();
    return q;
  }

  function resolveHelperName(name: string): Queue {
    const q = name.includes('/') ? queues.get(name) : (queues.get(queueKey(credentials.base.accountId, name)) ?? [...queues.values()].find((x) => x.name === name));
    if (!q) throw new Error(`SQS stand-in: no queue named ${name}`);
    return q;
  }

  function validateAttributes(attrs: unknown): Record<string, string> {
    if (attrs === undefined || attrs === null) return {};
    if (typeof attrs !== 'object' || Array.isArray(attrs)) throw errors.invalidParameter('Attributes must be a map.');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(attrs as Record<string, unknown>)) {
      if (k === 'FifoQueue' || k === 'ContentBasedDeduplication' || k === 'DeduplicationScope' || k === 'FifoThroughputLimit') {
        throw new SqsError('InvalidAttributeName', `Unknown Attribute ${k}. (FIFO queues are not implemented by the stand-in.)`);
      }
      if (!(k in SETTABLE)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${k}.`);
      if (typeof v !== 'string') throw new SqsError('InvalidAttributeValue', `Invalid value for the parameter ${k}.`);
      const range = SETTABLE[k];
      if (range) {
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < range[0] || n > range[1]) throw new SqsError('InvalidAttributeValue', `Invalid value for the parameter ${k}.`);
      }
      if (k === 'RedrivePolicy' && v) {
        try {
          const p = JSON.parse(v) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
          if (typeof p.deadLetterTargetArn !== 'string' || !(Number(p.maxReceiveCount) >= 1)) throw new Error('bad');
        } catch {
          throw new SqsError('InvalidAttributeValue', 'Value for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid JSON map.');
        }
      }
      out[k] = v;
    }
    return out;
  }

  function createQueueIn(accountId: string, region: string, name: string, attrs: Record<string, string>): Queue {
    if (!QUEUE_NAME.test(name)) {
      throw errors.invalidParameter(`Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length`);
    }
    const existing = queues.get(queueKey(accountId, name));
    if (existing) {
      for (const [k, v] of Object.entries(attrs)) {
        if ((existing.attributes[k] ?? DEFAULT_ATTRIBUTES[k]) !== v) {
          throw new SqsError('QueueNameExists', `A queue already exists with the same name and a different value for attribute ${k}`, { queryCode: 'QueueAlreadyExists' });
        }
      }
      return existing;
    }
    const now = clock();
    const q: Queue = {
      name,
      accountId,
      region,
      arn: `arn:aws:sqs:${region}:${accountId}:${name}`,
      createdAt: now,
      modifiedAt: now,
      attributes: { ...DEFAULT_ATTRIBUTES, ...attrs },
      messages: [],
      waiters: new Set(),
    };
    queues.set(queueKey(accountId, name), q);
    return q;
  }

  const intAttr = (q: Queue, k: string) => Number(q.attributes[k] ?? DEFAULT_ATTRIBUTES[k] ?? 0);

  function expire(q: Queue, now: number): void {
    const retentionMs = intAttr(q, 'MessageRetentionPeriod') * 1000;
    if (q.messages.some((m) => m.sentAt + retentionMs <= now)) q.messages = q.messages.filter((m) => m.sentAt + retentionMs > now);
  }

  function counts(q: Queue): QueueCounts {
    const now = clock();
    expire(q, now);
    const c: QueueCounts = { visible: 0, inFlight: 0, delayed: 0 };
    for (const m of q.messages) {
      if (m.visibleAt <= now) c.visible++;
      else if (m.receiveCount > 0) c.inFlight++;
      else c.delayed++;
    }
    return c;
  }

  function enqueue(q: Queue, body: string, attributes: Record<string, MessageAttributeValue>, delaySeconds: number | undefined, senderId: string, awsTraceHeader?: string): StoredMessage {
    const now = clock();
    const delay = delaySeconds ?? intAttr(q, 'DelaySeconds');
    const m: StoredMessage = {
      id: randomUUID(),
      body,
      md5OfBody: md5Hex(body),
      attributes,
      senderId,
      sentAt: now,
      visibleAt: now + delay * 1000,
      receiveCount: 0,
    };
    if (awsTraceHeader) m.awsTraceHeader = awsTraceHeader;
    q.messages.push(m);
    notify(q);
    return m;
  }

  function deadLetterTarget(q: Queue): { target: Queue; maxReceiveCount: number } | undefined {
    const policy = q.attributes.RedrivePolicy;
    if (!policy) return undefined;
    const p = JSON.parse(policy) as { deadLetterTargetArn: string; maxReceiveCount: string | number };
    const target = [...queues.values()].find((x) => x.arn === p.deadLetterTargetArn);
    return target ? { target, maxReceiveCount: Number(p.maxReceiveCount) } : undefined;
  }

  function take(q: Queue, max: number, visibilityTimeout: number): StoredMessage[] {
    const now = clock();
    expire(q, now);
    const dlq = deadLetterTarget(q);
    const out: StoredMessage[] = [];
    for (const m of [...q.messages]) {
      if (out.length >= max) break;
      if (m.visibleAt > now) continue;
      if (dlq && m.receiveCount >= dlq.maxReceiveCount) {
        q.messages.splice(q.messages.indexOf(m), 1);
        m.receiptHandle = undefined;
        m.deadLetterSourceArn = q.arn;
        dlq.target.messages.push(m);
        notify(dlq.target);
        continue;
      }
      m.receiveCount++;
      m.firstReceiveAt ??= now;
      m.visibleAt = now + visibilityTimeout * 1000;
      m.receiptHandle = Buffer.from(`${queueKey(q.accountId, q.name)}\n${m.id}\n${randomBytes(12).toString('base64url')}`).toString('base64url');
      out.push(m);
    }
    return out;
  }

  function nextVisibleAt(q: Queue, now: number): number | undefined {
    let next: number | undefined;
    for (const m of q.messages) if (m.visibleAt > now && (next === undefined || m.visibleAt < next)) next = m.visibleAt;
    return next;
  }

  function waitForChange(q: Queue, ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        q.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      q.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Parses a receipt handle; throws ReceiptHandleIsInvalid if it is not one of ours for this queue. */
  function parseHandle(q: Queue, handle: unknown): { messageId: string; handle: string } {
    if (typeof handle !== 'string' || !handle) throw errors.missingParameter('ReceiptHandle');
    const parts = Buffer.from(handle, 'base64url').toString('utf8').split('\n');
    if (parts.length !== 3 || parts[0] !== queueKey(q.accountId, q.name)) {
      throw errors.receiptHandleInvalid(`The input receipt handle "${handle}" is not a valid receipt handle.`);
    }
    return { messageId: parts[1], handle };
  }

  /** AWS: deleting with a receipt handle that is not the latest one succeeds but leaves the message alone. */
  function deleteMessage(q: Queue, handle: unknown): void {
    const { messageId } = parseHandle(q, handle);
    const i = q.messages.findIndex((m) => m.id === messageId);
    if (i >= 0 && q.messages[i].receiptHandle === handle) {
      q.messages.splice(i, 1);
    }
  }

  function changeVisibility(q: Queue, handle: unknown, timeout: unknown): void {
    const { messageId } = parseHandle(q, handle);
    const vt = int(timeout);
    if (vt === undefined) throw errors.missingParameter('VisibilityTimeout');
    if (vt < 0 || vt > 43200) throw errors.invalidParameter(`Value ${vt} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.`);
    const m = q.messages.find((x) => x.id === messageId);
    if (!m || m.receiptHandle !== handle) throw errors.receiptHandleInvalid(`Value ${String(handle)} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`);
    const now = clock();
    if (m.visibleAt <= now) throw errors.notInflight();
    m.visibleAt = now + vt * 1000;
    notify(q); // long polls re-check and re-arm their timers
  }

  function parseMessageAttributes(v: unknown): Record<string, MessageAttributeValue> {
    if (v === undefined || v === null) return {};
    if (typeof v !== 'object' || Array.isArray(v)) throw errors.invalidParameter('MessageAttributes must be a map.');
    const entries = Object.entries(v as Record<string, unknown>);
    if (entries.length > 10) throw errors.invalidParameter(`Number of message attributes [${entries.length}] exceeds the allowed maximum [10].`);
    const out: Record<string, MessageAttributeValue> = {};
    for (const [name, raw] of entries) {
      const a = raw as Partial<MessageAttributeValue> | null;
      const type = a?.DataType;
      if (typeof type !== 'string' || !/^(String|Number|Binary)(\..+)?$/.test(type)) {
        throw errors.invalidParameter(`The type of message (user) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`);
      }
      const isBinary = type.startsWith('Binary');
      const value = isBinary ? a?.BinaryValue : a?.StringValue;
      if (typeof value !== 'string' || (!isBinary && value.length === 0)) throw errors.invalidParameter(`Message (user) attribute '${name}' must contain a non-empty value of type '${type.split('.')[0]}'.`);
      out[name] = isBinary ? { DataType: type, BinaryValue: value } : { DataType: type, StringValue: value };
    }
    return out;
  }

  function validateBody(q: Queue, body: unknown, attrs: Record<string, MessageAttributeValue>): string {
    if (typeof body !== 'string' || body.length === 0) throw errors.missingParameter('MessageBody');
    if (INVALID_BODY_CHARS.test(body)) throw new SqsError('InvalidMessageContents', 'Invalid binary character in message body.');
    let size = Buffer.byteLength(body, 'utf8');
    for (const [n, a] of Object.entries(attrs)) size += Buffer.byteLength(n) + Buffer.byteLength(a.DataType) + Buffer.byteLength(a.StringValue ?? a.BinaryValue ?? '');
    const max = intAttr(q, 'MaximumMessageSize');
    if (size > max) throw errors.invalidParameter(`One or more parameters are invalid. Reason: Message must be shorter than ${max} bytes.`);
    return body;
  }

  function checkDelay(v: unknown): number | undefined {
    if (v === undefined || v === null) return undefined;
    const d = int(v);
    if (d === undefined || d < 0 || d > 900) throw errors.invalidParameter(`Value ${String(v)} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.`);
    return d;
  }

  function sendOne(q: Queue, input: Record<string, unknown>, senderId: string) {
    const attrs = parseMessageAttributes(input.MessageAttributes);
    const body = validateBody(q, input.MessageBody, attrs);
    const delay = checkDelay(input.DelaySeconds);
    const sys = input.MessageSystemAttributes as Record<string, { StringValue?: string }> | undefined;
    const m = enqueue(q, body, attrs, delay, senderId, sys?.AWSTraceHeader?.StringValue);
    const out: Record<string, string> = { MessageId: m.id, MD5OfMessageBody: m.md5OfBody };
    if (Object.keys(attrs).length > 0) out.MD5OfMessageAttributes = md5OfMessageAttributes(attrs);
    return out;
  }

  function checkBatch(entries: unknown, max = 10): Record<string, unknown>[] {
    if (!Array.isArray(entries) || entries.length === 0) throw errors.batch('EmptyBatchRequest', 'There should be at least one SendMessageBatchRequestEntry in the request.');
    if (entries.length > max) throw errors.batch('TooManyEntriesInBatchRequest', `Maximum number of entries per request are ${max}. You have sent ${entries.length}.`);
    const seen = new Set<string>();
    for (const e of entries as Record<string, unknown>[]) {
      const id = e?.Id;
      if (typeof id !== 'string' || !BATCH_ID.test(id)) throw errors.batch('InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.');
      if (seen.has(id)) throw errors.batch('BatchEntryIdsNotDistinct', `Id ${id} repeated.`);
      seen.add(id);
    }
    return entries as Record<string, unknown>[];
  }

  const failure = (id: unknown, e: unknown) => {
    if (e instanceof SqsError) return { Id: id, SenderFault: true, Code: e.queryCode, Message: e.message };
    throw e;
  };

  function messageView(m: StoredMessage, systemNames: Set<string>, attrNames: string[]) {
    const out: Record<string, unknown> = { MessageId: m.id, ReceiptHandle: m.receiptHandle, MD5OfBody: m.md5OfBody, Body: m.body };
    const all = systemNames.has('All');
    const sys: Record<string, string> = {};
    const want = (n: string) => all || systemNames.has(n);
    if (want('SenderId')) sys.SenderId = m.senderId;
    if (want('SentTimestamp')) sys.SentTimestamp = String(m.sentAt);
    if (want('ApproximateReceiveCount')) sys.ApproximateReceiveCount = String(m.receiveCount);
    if (want('ApproximateFirstReceiveTimestamp') && m.firstReceiveAt !== undefined) sys.ApproximateFirstReceiveTimestamp = String(m.firstReceiveAt);
    if (want('AWSTraceHeader') && m.awsTraceHeader) sys.AWSTraceHeader = m.awsTraceHeader;
    if (want('DeadLetterQueueSourceArn') && m.deadLetterSourceArn) sys.DeadLetterQueueSourceArn = m.deadLetterSourceArn;
    if (Object.keys(sys).length > 0) out.Attributes = sys;
    const picked: Record<string, MessageAttributeValue> = {};
    for (const [name, a] of Object.entries(m.attributes)) {
      const match = attrNames.some((p) => p === 'All' || p === '.*' || p === name || (p.endsWith('.*') && name.startsWith(p.slice(0, -1))));
      if (match) picked[name] = a;
    }
    if (Object.keys(picked).length > 0) {
      out.MessageAttributes = picked;
      out.MD5OfMessageAttributes = md5OfMessageAttributes(picked);
    }
    return out;
  }

  async function receive(q: Queue, input: Record<string, unknown>, signal: AbortSignal | undefined) {
    const maxRaw = input.MaxNumberOfMessages;
    const max = maxRaw === undefined || maxRaw === null ? 1 : int(maxRaw);
    if (max === undefined || max < 1 || max > 10) throw errors.invalidParameter(`Value ${String(maxRaw)} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.`);
    const waitRaw = input.WaitTimeSeconds;
    const wait = waitRaw === undefined || waitRaw === null ? intAttr(q, 'ReceiveMessageWaitTimeSeconds') : int(waitRaw);
    if (wait === undefined || wait < 0 || wait > 20) throw errors.invalidParameter(`Value ${String(waitRaw)} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.`);
    const vtRaw = input.VisibilityTimeout;
    const vt = vtRaw === undefined || vtRaw === null ? intAttr(q, 'VisibilityTimeout') : int(vtRaw);
    if (vt === undefined || vt < 0 || vt > 43200) throw errors.invalidParameter(`Value ${String(vtRaw)} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.`);
    const systemNames = new Set<string>([...((input.MessageSystemAttributeNames as string[] | undefined) ?? []), ...((input.AttributeNames as string[] | undefined) ?? [])]);
    for (const n of systemNames) if (!SYSTEM_ATTRIBUTES.includes(n)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
    const attrNames = (input.MessageAttributeNames as string[] | undefined) ?? [];

    const deadline = clock() + wait * 1000;
    for (;;) {
      if (signal?.aborted) return {};
      const got = take(q, max, vt);
      if (got.length > 0) return { Messages: got.map((m) => messageView(m, systemNames, attrNames)) };
      const now = clock();
      if (closed || now >= deadline) return {};
      const next = nextVisibleAt(q, now);
      await waitForChange(q, Math.min(deadline, next ?? Infinity) - now, signal);
    }
  }

  function queueAttributes(q: Queue, names: unknown): Record<string, string> {
    const list = (Array.isArray(names) ? names : []) as string[];
    const c = counts(q);
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
      if (!(n in SETTABLE) && !READ_ONLY.includes(n)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
      if (all[n] !== undefined) out[n] = all[n];
    }
    return out;
  }

  async function dispatch(op: string, input: Record<string, unknown>, ctx: { accountId: string; region: string; senderId: string; origin: string; signal?: AbortSignal }): Promise<unknown> {
    switch (op) {
      case 'CreateQueue': {
        const name = str(input.QueueName);
        if (!name) throw errors.missingParameter('QueueName');
        if (name.endsWith('.fifo')) throw errors.invalidParameter('FIFO queues are not implemented by the stand-in.');
        const q = createQueueIn(ctx.accountId, ctx.region, name, validateAttributes(input.Attributes));
        return { QueueUrl: urlOf(ctx.origin, q) };
      }
      case 'GetQueueUrl': {
        const name = str(input.QueueName);
        if (!name) throw errors.missingParameter('QueueName');
        const q = queues.get(queueKey(str(input.QueueOwnerAWSAccountId) ?? ctx.accountId, name));
        if (!q) throw errors.queueDoesNotExist();
        return { QueueUrl: urlOf(ctx.origin, q) };
      }
      case 'ListQueues': {
        const prefix = str(input.QueueNamePrefix) ?? '';
        const urls = [...queues.values()].filter((q) => q.accountId === ctx.accountId && q.name.startsWith(prefix)).map((q) => urlOf(ctx.origin, q)).sort();
        const max = int(input.MaxResults) ?? 1000;
        const start = Number(str(input.NextToken) ?? 0) || 0;
        const page = urls.slice(start, start + max);
        const out: Record<string, unknown> = {};
        if (page.length > 0) out.QueueUrls = page;
        if (input.MaxResults !== undefined && start + max < urls.length) out.NextToken = String(start + max);
        return out;
      }
      case 'DeleteQueue': {
        const q = resolveQueueUrl(input.QueueUrl);
        queues.delete(queueKey(q.accountId, q.name));
        notify(q);
        return {};
      }
      case 'GetQueueAttributes':
        return { Attributes: queueAttributes(resolveQueueUrl(input.QueueUrl), input.AttributeNames) };
      case 'SetQueueAttributes': {
        const q = resolveQueueUrl(input.QueueUrl);
        Object.assign(q.attributes, validateAttributes(input.Attributes));
        q.modifiedAt = clock();
        return {};
      }
      case 'PurgeQueue': {
        const q = resolveQueueUrl(input.QueueUrl);
        const now = clock();
        if (purgeCooldownMs > 0 && q.lastPurgeAt !== undefined && now - q.lastPurgeAt < purgeCooldownMs) {
          throw new SqsError('PurgeQueueInProgress', `Only one PurgeQueue operation on ${q.name} is allowed every 60 seconds.`, { queryCode: 'AWS.SimpleQueueService.PurgeQueueInProgress', status: 403 });
        }
        q.lastPurgeAt = now;
        q.messages = [];
        return {};
      }
      case 'SendMessage':
        return sendOne(resolveQueueUrl(input.QueueUrl), input, ctx.senderId);
      case 'SendMessageBatch': {
        const q = resolveQueueUrl(input.QueueUrl);
        const entries = checkBatch(input.Entries);
        let total = 0;
        for (const e of entries) total += typeof e.MessageBody === 'string' ? Buffer.byteLength(e.MessageBody) : 0;
        if (total > intAttr(q, 'MaximumMessageSize')) throw errors.batch('BatchRequestTooLong', 'Batch requests cannot be longer than 1048576 bytes.');
        const Successful: unknown[] = [];
        const Failed: unknown[] = [];
        for (const e of entries) {
          try {
            Successful.push({ Id: e.Id, ...sendOne(q, e, ctx.senderId) });
          } catch (err) {
            Failed.push(failure(e.Id, err));
          }
        }
        return { Successful, Failed };
      }
      case 'ReceiveMessage':
        return receive(resolveQueueUrl(input.QueueUrl), input, ctx.signal);
      case 'DeleteMessage':
        deleteMessage(resolveQueueUrl(input.QueueUrl), input.ReceiptHandle);
        return {};
      case 'DeleteMessageBatch': {
        const q = resolveQueueUrl(input.QueueUrl);
        const Successful: unknown[] = [];
        const Failed: unknown[] = [];
        for (const e of checkBatch(input.Entries)) {
          try {
            deleteMessage(q, e.ReceiptHandle);
            Successful.push({ Id: e.Id });
          } catch (err) {
            Failed.push(failure(e.Id, err));
          }
        }
        return { Successful, Failed };
      }
      case 'ChangeMessageVisibility':
        changeVisibility(resolveQueueUrl(input.QueueUrl), input.ReceiptHandle, input.VisibilityTimeout);
        return {};
      case 'ChangeMessageVisibilityBatch': {
        const q = resolveQueueUrl(input.QueueUrl);
        const Successful: unknown[] = [];
        const Failed: unknown[] = [];
        for (const e of checkBatch(input.Entries)) {
          try {
            changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout);
            Successful.push({ Id: e.Id });
          } catch (err) {
            Failed.push(failure(e.Id, err));
          }
        }
        return { Successful, Failed };
      }
      default:
        throw new SqsError('UnsupportedOperation', `The stand-in does not implement ${op}.`, { queryCode: 'AWS.SimpleQueueService.UnsupportedOperation' });
    }
  }

  const errorResponse = (e: SqsError) =>
    jsonResponse(e.status, { __type: `${e.namespace}#${e.type}`, message: e.message }, { 'x-amzn-query-error': `${e.queryCode};Sender` }, JSON_10);

  const handle: FetchHandler = async (req) => {
    const timeMs = performance.now();
    const record: RequestRecord = { seq: nextSeq(), service: 'sqs', operation: 'Unknown', timeMs, at: new Date().toISOString(), status: 0, durationMs: 0 };
    requests.push(record);
    const finish = (res: Response, errorType?: string) => {
      record.status = res.status;
      if (errorType) record.errorType = errorType;
      record.durationMs = performance.now() - timeMs;
      return stampDate(res, credentials.now());
    };
    const fail = (e: SqsError) => finish(errorResponse(e), e.type);
    const body = await readBody(req);
    const target = req.headers.get('x-amz-target') ?? '';
    if (target.startsWith(SQS_TARGET_PREFIX)) record.operation = target.slice(SQS_TARGET_PREFIX.length);
    const auth = authenticate(req, body, credentials, { service: 'sqs', verifySignature: verifySignatures });
    if (auth.accessKeyId) record.accessKeyId = auth.accessKeyId;
    if (auth.region) record.region = auth.region;
    if (!auth.ok) {
      const [type, code, status] = AUTH_ERRORS[auth.reason];
      return fail(new SqsError(type, auth.message, { queryCode: code, status, namespace: 'com.amazon.coral.service' }));
    }
    record.accountId = auth.principal.accountId;
    if (req.method !== 'POST' || !target.startsWith(SQS_TARGET_PREFIX)) {
      return fail(new SqsError('UnknownOperationException', 'The stand-in speaks the SQS JSON protocol only (POST / with X-Amz-Target: AmazonSQS.<Operation>).', { namespace: 'com.amazon.coral.service', queryCode: 'InvalidAction' }));
    }
    let input: unknown;
    try {
      input = body.length === 0 ? {} : JSON.parse(body.toString('utf8'));
    } catch {
      return fail(new SqsError('SerializationException', 'The request body is not valid JSON.', { namespace: 'com.amazon.coral.service', queryCode: 'MalformedInput' }));
    }
    record.params = input;
    try {
      const origin = new URL(req.url).origin;
      const out = await dispatch(record.operation, (input ?? {}) as Record<string, unknown>, {
        accountId: auth.principal.accountId,
        region: auth.region,
        senderId: auth.principal.userId,
        origin,
        signal: req.signal,
      });
      return finish(jsonResponse(200, out, {}, JSON_10));
    } catch (e) {
      if (e instanceof SqsError) return fail(e);
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
      return urlOf(svc.baseUrl, createQueueIn(acct, defaultRegion, qname, validateAttributes(attributes)));
    },
    queueUrl: (name) => urlOf(svc.baseUrl, resolveHelperName(name)),
    sendRaw(queueName, body, o = {}) {
      const q = resolveHelperName(queueName);
      return enqueue(q, body, o.attributes ?? {}, o.delaySeconds, credentials.base.userId).id;
    },
    counts: (name) => counts(resolveHelperName(name)),
    shutdown() {
      closed = true;
      for (const q of queues.values()) notify(q);
    },
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
