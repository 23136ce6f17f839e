// The SQS stand-in's queues and their messages: attributes, delays, visibility timeouts and receipt
// handles, retention, dead-letter queues, and the long polls waiting on a queue.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AwsError, type AwsErrorOptions } from './protocol.ts';

export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  /** base64 on the wire */
  BinaryValue?: string;
}

export interface StoredMessage {
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

export interface Queue {
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

export interface QueueCounts {
  visible: number;
  inFlight: number;
  delayed: number;
}

/** An SQS error: `__type` in SQS's namespace unless told otherwise, `queryCode` for x-amzn-query-error. */
export const sqsError = (type: string, message: string, o: AwsErrorOptions = {}): AwsError => new AwsError(type, message, { namespace: 'com.amazonaws.sqs', ...o });

export const sqsErrors = {
  queueDoesNotExist: () => sqsError('QueueDoesNotExist', 'The specified queue does not exist.', { queryCode: 'AWS.SimpleQueueService.NonExistentQueue' }),
  invalidParameter: (message: string) => sqsError('InvalidParameterValueException', message, { queryCode: 'InvalidParameterValue' }),
  missingParameter: (name: string) => sqsError('MissingRequiredParameterException', `The request must contain the parameter ${name}.`, { queryCode: 'MissingParameter' }),
  receiptHandleInvalid: (message: string) => sqsError('ReceiptHandleIsInvalid', message, { status: 404 }),
  notInflight: () => sqsError('MessageNotInflight', 'Message does not exist or is not available for visibility timeout change.', { queryCode: 'AWS.SimpleQueueService.MessageNotInflight' }),
  batch: (type: string, message: string) => sqsError(type, message, { queryCode: `AWS.SimpleQueueService.${type}` }),
};

export const DEFAULT_ATTRIBUTES: Record<string, string> = {
  VisibilityTimeout: '30',
  DelaySeconds: '0',
  ReceiveMessageWaitTimeSeconds: '0',
  MessageRetentionPeriod: '345600',
  MaximumMessageSize: '1048576',
  SqsManagedSseEnabled: 'true',
};

/** settable attribute → [min, max] for integer ones, null for free text */
export const SETTABLE: Record<string, [number, number] | null> = {
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

export const READ_ONLY = ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed', 'CreatedTimestamp', 'LastModifiedTimestamp', 'QueueArn'];

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

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

/**
 * Epoch milliseconds from the monotonic clock: visibility timeouts, delays and long polls are scheduled
 * with timers, which run on the monotonic clock, so a wall-clock step (NTP, VM resume) cannot stall them.
 */
export const clock = (): number => Math.floor(performance.timeOrigin + performance.now());

/** A whole number from a JSON input, or undefined. */
export const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

export interface SqsQueues {
  /** After shutdown(): long polls return at once. */
  readonly closed: boolean;
  get(accountId: string, name: string): Queue | undefined;
  all(): Queue[];
  /** The queue a QueueUrl names (`<origin>/<account>/<name>`), or QueueDoesNotExist. */
  fromUrl(url: unknown): Queue;
  /** A queue named by a test helper: `account/name`, or a name in the base account (else any account). */
  byHelperName(name: string, baseAccountId: string): Queue;
  /** Settable attributes checked as SQS checks them (FIFO ones refused: not implemented). */
  validateAttributes(attrs: unknown): Record<string, string>;
  /** Creates a queue, or returns the one of that name when its attributes agree. */
  create(accountId: string, region: string, name: string, attrs: Record<string, string>): Queue;
  remove(q: Queue): void;
  intAttr(q: Queue, name: string): number;
  counts(q: Queue): QueueCounts;
  enqueue(q: Queue, body: string, attributes: Record<string, MessageAttributeValue>, delaySeconds: number | undefined, senderId: string, awsTraceHeader?: string): StoredMessage;
  /** Receives up to `max` visible messages, hiding each for `visibilityTimeout` s (a message received too often moves to the dead-letter queue). */
  take(q: Queue, max: number, visibilityTimeout: number): StoredMessage[];
  /** When the next hidden message comes back, or undefined. */
  nextVisibleAt(q: Queue, now: number): number | undefined;
  /** Resolves after `ms`, when the queue changes, or when `signal` aborts. */
  waitForChange(q: Queue, ms: number, signal: AbortSignal | undefined): Promise<void>;
  /** AWS: deleting with a receipt handle that is not the latest one succeeds but leaves the message alone. */
  deleteMessage(q: Queue, handle: unknown): void;
  changeVisibility(q: Queue, handle: unknown, timeout: unknown): void;
  /** Empties the queue; one purge per `cooldownMs` (PurgeQueueInProgress otherwise). */
  purge(q: Queue, cooldownMs: number): void;
  /** Wakes every long poll and makes further ones return at once. */
  shutdown(): void;
}

export function createQueues(): SqsQueues {
  const queues = new Map<string, Queue>();
  let closed = false;
  const queueKey = (accountId: string, name: string) => `${accountId}/${name}`;

  const notify = (q: Queue): void => {
    for (const w of [...q.waiters]) w();
  };
  const intAttr = (q: Queue, k: string) => Number(q.attributes[k] ?? DEFAULT_ATTRIBUTES[k] ?? 0);

  function expire(q: Queue, now: number): void {
    const retentionMs = intAttr(q, 'MessageRetentionPeriod') * 1000;
    if (q.messages.some((m) => m.sentAt + retentionMs <= now)) q.messages = q.messages.filter((m) => m.sentAt + retentionMs > now);
  }

  function deadLetterTarget(q: Queue): { target: Queue; maxReceiveCount: number } | undefined {
    const policy = q.attributes.RedrivePolicy;
    if (!policy) return undefined;
    const p = JSON.parse(policy) as { deadLetterTargetArn: string; maxReceiveCount: string | number };
    const target = [...queues.values()].find((x) => x.arn === p.deadLetterTargetArn);
    return target ? { target, maxReceiveCount: Number(p.maxReceiveCount) } : undefined;
  }

  /** Parses a receipt handle; throws ReceiptHandleIsInvalid if it is not one of ours for this queue. */
  function parseHandle(q: Queue, handle: unknown): { messageId: string; handle: string } {
    if (typeof handle !== 'string' || !handle) throw sqsErrors.missingParameter('ReceiptHandle');
    const parts = Buffer.from(handle, 'base64url').toString('utf8').split('\n');
    if (parts.length !== 3 || parts[0] !== queueKey(q.accountId, q.name)) {
      throw sqsErrors.receiptHandleInvalid(`The input receipt handle "${handle}" is not a valid receipt handle.`);
    }
    return { messageId: parts[1], handle };
  }

  return {
    get closed() {
      return closed;
    },
    get: (accountId, name) => queues.get(queueKey(accountId, name)),
    all: () => [...queues.values()],
    fromUrl(url) {
      if (typeof url !== 'string' || !url) throw sqsErrors.missingParameter('QueueUrl');
      let path: string;
      try {
        path = new URL(url).pathname;
      } catch {
        throw sqsError('InvalidAddress', `The address ${url} is not valid for this endpoint.`, { status: 404 });
      }
      const [, acct, name] = path.split('/');
      const q = acct && name ? queues.get(queueKey(acct, decodeURIComponent(name))) : undefined;
      if (!q) throw sqsErrors.queueDoesNotExist();
      return q;
    },
    byHelperName(name, baseAccountId) {
      const q = name.includes('/') ? queues.get(name) : (queues.get(queueKey(baseAccountId, name)) ?? [...queues.values()].find((x) => x.name === name));
      if (!q) throw new Error(`SQS stand-in: no queue named ${name}`);
      return q;
    },
    validateAttributes(attrs) {
      if (attrs === undefined || attrs === null) return {};
      if (typeof attrs !== 'object' || Array.isArray(attrs)) throw sqsErrors.invalidParameter('Attributes must be a map.');
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(attrs as Record<string, unknown>)) {
        if (k === 'FifoQueue' || k === 'ContentBasedDeduplication' || k === 'DeduplicationScope' || k === 'FifoThroughputLimit') {
          throw sqsError('InvalidAttributeName', `Unknown Attribute ${k}. (FIFO queues are not implemented by the stand-in.)`);
        }
        if (!(k in SETTABLE)) throw sqsError('InvalidAttributeName', `Unknown Attribute ${k}.`);
        if (typeof v !== 'string') throw sqsError('InvalidAttributeValue', `Invalid value for the parameter ${k}.`);
        const range = SETTABLE[k];
        if (range) {
          const n = Number(v);
          if (!/^\d+$/.test(v) || n < range[0] || n > range[1]) throw sqsError('InvalidAttributeValue', `Invalid value for the parameter ${k}.`);
        }
        if (k === 'RedrivePolicy' && v) {
          try {
            const p = JSON.parse(v) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
            if (typeof p.deadLetterTargetArn !== 'string' || !(Number(p.maxReceiveCount) >= 1)) throw new Error('bad');
          } catch {
            throw sqsError('InvalidAttributeValue', 'Value for parameter RedrivePolicy is invalid. Reason: Redrive policy is not a valid JSON map.');
          }
        }
        out[k] = v;
      }
      return out;
    },
    create(accountId, region, name, attrs) {
      if (!QUEUE_NAME.test(name)) {
        throw sqsErrors.invalidParameter(`Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length`);
      }
      const existing = queues.get(queueKey(accountId, name));
      if (existing) {
        for (const [k, v] of Object.entries(attrs)) {
          if ((existing.attributes[k] ?? DEFAULT_ATTRIBUTES[k]) !== v) {
            throw sqsError('QueueNameExists', `A queue already exists with the same name and a different value for attribute ${k}`, { queryCode: 'QueueAlreadyExists' });
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
    },
    remove(q) {
      queues.delete(queueKey(q.accountId, q.name));
      notify(q);
    },
    intAttr,
    counts(q) {
      const now = clock();
      expire(q, now);
      const c: QueueCounts = { visible: 0, inFlight: 0, delayed: 0 };
      for (const m of q.messages) {
        if (m.visibleAt <= now) c.visible++;
        else if (m.receiveCount > 0) c.inFlight++;
        else c.delayed++;
      }
      return c;
    },
    enqueue(q, body, attributes, delaySeconds, senderId, awsTraceHeader) {
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
    },
    take(q, max, visibilityTimeout) {
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
    },
    nextVisibleAt(q, now) {
      let next: number | undefined;
      for (const m of q.messages) if (m.visibleAt > now && (next === undefined || m.visibleAt < next)) next = m.visibleAt;
      return next;
    },
    waitForChange(q, ms, signal) {
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
    },
    deleteMessage(q, handle) {
      const { messageId } = parseHandle(q, handle);
      const i = q.messages.findIndex((m) => m.id === messageId);
      if (i >= 0 && q.messages[i].receiptHandle === handle) {
        q.messages.splice(i, 1);
      }
    },
    changeVisibility(q, handle, timeout) {
      const { messageId } = parseHandle(q, handle);
      const vt = int(timeout);
      if (vt === undefined) throw sqsErrors.missingParameter('VisibilityTimeout');
      if (vt < 0 || vt > 43200) throw sqsErrors.invalidParameter(`Value ${vt} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided.`);
      const m = q.messages.find((x) => x.id === messageId);
      if (!m || m.receiptHandle !== handle) throw sqsErrors.receiptHandleInvalid(`Value ${String(handle)} for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired.`);
      const now = clock();
      if (m.visibleAt <= now) throw sqsErrors.notInflight();
      m.visibleAt = now + vt * 1000;
      notify(q); // long polls re-check and re-arm their timers
    },
    purge(q, cooldownMs) {
      const now = clock();
      if (cooldownMs > 0 && q.lastPurgeAt !== undefined && now - q.lastPurgeAt < cooldownMs) {
        throw sqsError('PurgeQueueInProgress', `Only one PurgeQueue operation on ${q.name} is allowed every 60 seconds.`, { queryCode: 'AWS.SimpleQueueService.PurgeQueueInProgress', status: 403 });
      }
      q.lastPurgeAt = now;
      q.messages = [];
    },
    shutdown() {
      closed = true;
      for (const q of queues.values()) notify(q);
    },
  };
}
