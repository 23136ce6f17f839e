// SQS message input checked as SQS checks it (attributes, body, delay, batch entries), and a received
// message as ReceiveMessage shows it.
import { AwsError } from './protocol.ts';
import { int, type MessageAttributeValue, md5OfMessageAttributes, type StoredMessage, sqsError, sqsErrors } from './sqs-queues.ts';

// #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF
const INVALID_BODY_CHARS = /[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
const BATCH_ID = /^[A-Za-z0-9_-]{1,80}$/;

export const SYSTEM_ATTRIBUTES = ['All', 'SenderId', 'SentTimestamp', 'ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'SequenceNumber', 'MessageDeduplicationId', 'MessageGroupId', 'AWSTraceHeader', 'DeadLetterQueueSourceArn'];

export function parseMessageAttributes(v: unknown): Record<string, MessageAttributeValue> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw sqsErrors.invalidParameter('MessageAttributes must be a map.');
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > 10) throw sqsErrors.invalidParameter(`Number of message attributes [${entries.length}] exceeds the allowed maximum [10].`);
  const out: Record<string, MessageAttributeValue> = {};
  for (const [name, raw] of entries) {
    const a = raw as Partial<MessageAttributeValue> | null;
    const type = a?.DataType;
    if (typeof type !== 'string' || !/^(String|Number|Binary)(\..+)?$/.test(type)) {
      throw sqsErrors.invalidParameter(`The type of message (user) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`);
    }
    const isBinary = type.startsWith('Binary');
    const value = isBinary ? a?.BinaryValue : a?.StringValue;
    if (typeof value !== 'string' || (!isBinary && value.length === 0)) throw sqsErrors.invalidParameter(`Message (user) attribute '${name}' must contain a non-empty value of type '${type.split('.')[0]}'.`);
    out[name] = isBinary ? { DataType: type, BinaryValue: value } : { DataType: type, StringValue: value };
  }
  return out;
}

/** The body, checked for characters SQS refuses and, with its attributes, against the queue's MaximumMessageSize. */
export function validateBody(body: unknown, attrs: Record<string, MessageAttributeValue>, maxSize: number): string {
  if (typeof body !== 'string' || body.length === 0) throw sqsErrors.missingParameter('MessageBody');
  if (INVALID_BODY_CHARS.test(body)) throw sqsError('InvalidMessageContents', 'Invalid binary character in message body.');
  let size = Buffer.byteLength(body, 'utf8');
  for (const [n, a] of Object.entries(attrs)) size += Buffer.byteLength(n) + Buffer.byteLength(a.DataType) + Buffer.byteLength(a.StringValue ?? a.BinaryValue ?? '');
  if (size > maxSize) throw sqsErrors.invalidParameter(`One or more parameters are invalid. Reason: Message must be shorter than ${maxSize} bytes.`);
  return body;
}

export function checkDelay(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  const d = int(v);
  if (d === undefined || d < 0 || d > 900) throw sqsErrors.invalidParameter(`Value ${String(v)} for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.`);
  return d;
}

/** A batch's entries: 1 to `max`, each with a distinct, well-formed Id. */
export function checkBatch(entries: unknown, max = 10): Record<string, unknown>[] {
  if (!Array.isArray(entries) || entries.length === 0) throw sqsErrors.batch('EmptyBatchRequest', 'There should be at least one SendMessageBatchRequestEntry in the request.');
  if (entries.length > max) throw sqsErrors.batch('TooManyEntriesInBatchRequest', `Maximum number of entries per request are ${max}. You have sent ${entries.length}.`);
  const seen = new Set<string>();
  for (const e of entries as Record<string, unknown>[]) {
    const id = e?.Id;
    if (typeof id !== 'string' || !BATCH_ID.test(id)) throw sqsErrors.batch('InvalidBatchEntryId', 'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.');
    if (seen.has(id)) throw sqsErrors.batch('BatchEntryIdsNotDistinct', `Id ${id} repeated.`);
    seen.add(id);
  }
  return entries as Record<string, unknown>[];
}

/** A batch entry's failure as SQS lists it (an SQS error is the sender's; anything else is rethrown). */
export function batchFailure(id: unknown, e: unknown) {
  if (e instanceof AwsError) return { Id: id, SenderFault: true, Code: e.queryCode, Message: e.message };
  throw e;
}

/** A received message with the system and message attributes asked for. */
export function messageView(m: StoredMessage, systemNames: Set<string>, attrNames: string[]) {
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
