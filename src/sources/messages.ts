import { type Unwrapped, unwrap } from '../events/envelopes.ts';
import type { RawRecord } from '../events/model.ts';
import { normalize } from '../events/normalize.ts';
import { cut, preview } from '../events/preview.ts';

/**
 * What an SQS message on a trail queue says, with no I/O:
 * - an S3 event notification (`Records[].s3`): log files to read; keys are URL-encoded, `+` is a space;
 * - CloudTrail's SNS notification (`{"s3Bucket", "s3ObjectKey": [...]}`): log files to read;
 * - either of those wrapped in an SNS envelope (`{"Type": "Notification", "Message": "<json>"}`);
 * - an EventBridge event `AWS API Call via CloudTrail` (and the other `… via CloudTrail` types): the record itself;
 * - an S3 EventBridge event `Object Created` (source `aws.s3`): a log file to read; the key is not URL-encoded;
 * - `s3:TestEvent` (sent once when S3 notifications are set up), removals and non-trail keys: nothing to do.
 * Anything else is malformed: reported with the reason, never silently dropped.
 */
export interface ParsedMessage {
  objects: { bucket: string; key: string }[];
  items: Unwrapped[];
  /** The `account` of EventBridge CloudTrail events: the account each says it comes from. */
  accounts: string[];
  /** Parts deliberately left alone, with why (a test event, a digest file…). */
  ignored: string[];
  /** Set when the message cannot be used at all. */
  malformed?: string;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** An S3 event notification key: URL-encoded, with `+` for a space. */
export function decodeS3EventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, ' '));
}

/** Whether an S3 key is a CloudTrail log file (not a digest, not an Insights file, not another service's logs). */
export function trailFileProblem(key: string): string | undefined {
  if (/(^|\/)CloudTrail-Digest\//.test(key) || key.includes('_CloudTrail-Digest_')) return 'a CloudTrail digest file (no events)';
  if (/(^|\/)CloudTrail-Insight\//.test(key)) return 'a CloudTrail Insights file';
  if (!/(^|\/)CloudTrail\//.test(key)) return 'not under a CloudTrail/ folder';
  if (key.endsWith('/')) return 'a folder';
  return undefined;
}

export function parseMessage(body: string, ref: string): ParsedMessage {
  const out: ParsedMessage = { objects: [], items: [], accounts: [], ignored: [] };
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (e) {
    return { ...out, malformed: `the message is not JSON (${cut((e as Error).message)})` };
  }
  const malformed = interpret(value, ref, out, 0);
  return malformed ? { objects: [], items: [], accounts: [], ignored: out.ignored, malformed } : out;
}

function addObject(out: ParsedMessage, bucket: string, key: string): void {
  const problem = trailFileProblem(key);
  if (problem) out.ignored.push(`s3://${bucket}/${key}: ${problem}`);
  else out.objects.push({ bucket, key });
}

/** Fills `out` from one JSON value; returns why it is malformed, if it is. */
function interpret(v: unknown, ref: string, out: ParsedMessage, depth: number): string | undefined {
  if (!isObj(v)) return `expected a JSON object, got ${Array.isArray(v) ? 'an array' : v === null ? 'null' : typeof v}`;
  // SNS envelope (raw message delivery off): the payload is a JSON string in Message.
  if (v.Type === 'Notification' && typeof v.Message === 'string') {
    if (depth > 2) return 'SNS envelopes nested too deep';
    let inner: unknown;
    try {
      inner = JSON.parse(v.Message);
    } catch (e) {
      return `the SNS Message is not JSON (${cut((e as Error).message)})`;
    }
    return interpret(inner, ref, out, depth + 1);
  }
  if (v.Event === 's3:TestEvent') {
    out.ignored.push('s3:TestEvent (sent once when the bucket notification is set up)');
    return undefined;
  }
  // CloudTrail's own notification: keys as they are (not URL-encoded).
  if (typeof v.s3Bucket === 'string' && v.s3ObjectKey !== undefined) {
    if (!Array.isArray(v.s3ObjectKey) || !v.s3ObjectKey.every((k) => typeof k === 'string' && k !== '')) return 's3ObjectKey is not a list of keys';
    for (const k of v.s3ObjectKey as string[]) addObject(out, v.s3Bucket, k);
    return undefined;
  }
  if (Array.isArray(v.Records)) {
    const recs = v.Records as unknown[];
    const s3Events = recs.filter((r) => isObj(r) && (r.eventSource === 'aws:s3' || isObj(r.s3)));
    if (s3Events.length === 0) {
      // Not notifications: a log file's contents sent as the message. Store the records.
      for (const u of unwrap(v, { file: ref })) out.items.push(u);
      return undefined;
    }
    for (const [i, r] of recs.entries()) {
      if (!isObj(r) || !isObj(r.s3)) return `Records[${i}] is not an S3 event record`;
      const name = typeof r.eventName === 'string' ? r.eventName : '';
      const s3 = r.s3 as Record<string, unknown>;
      const bucket = isObj(s3.bucket) ? s3.bucket.name : undefined;
      const rawKey = isObj(s3.object) ? s3.object.key : undefined;
      if (typeof bucket !== 'string' || typeof rawKey !== 'string' || bucket === '' || rawKey === '') return `Records[${i}] has no s3.bucket.name or s3.object.key`;
      let key: string;
      try {
        key = decodeS3EventKey(rawKey);
      } catch {
        return `Records[${i}].s3.object.key is not validly URL-encoded: ${JSON.stringify(rawKey.slice(0, 200))}`;
      }
      if (!name.startsWith('ObjectCreated:')) out.ignored.push(`s3://${bucket}/${key}: ${name || 'an S3 event'} (only ObjectCreated events bring new files)`);
      else addObject(out, bucket, key);
    }
    return undefined;
  }
  if (v['detail-type'] !== undefined && v.detail !== undefined) {
    const dt = typeof v['detail-type'] === 'string' ? v['detail-type'] : '';
    // S3 → EventBridge (the bucket's "Send notifications to EventBridge" on): the key comes as it is,
    // not URL-encoded (AmazonS3/latest/userguide/ev-events.html).
    if (v.source === 'aws.s3') {
      const d = v.detail;
      const bucket = isObj(d) && isObj(d.bucket) ? d.bucket.name : undefined;
      const key = isObj(d) && isObj(d.object) ? d.object.key : undefined;
      if (typeof bucket !== 'string' || typeof key !== 'string' || bucket === '' || key === '') return `EventBridge S3 event ${preview(v['detail-type'])} has no detail.bucket.name or detail.object.key`;
      if (dt === 'Object Created') addObject(out, bucket, key);
      else out.ignored.push(`s3://${bucket}/${key}: ${dt} (only Object Created events bring new files)`);
      return undefined;
    }
    if (!/via CloudTrail$/.test(dt)) return `EventBridge event of type ${preview(v['detail-type'])} is not a CloudTrail event (expected "AWS API Call via CloudTrail")`;
    out.accounts.push(typeof v.account === 'string' ? v.account : '');
    for (const u of unwrap(v, { file: ref })) out.items.push(u);
    const rejected = out.items.find((u): u is Extract<Unwrapped, { kind: 'rejected' }> => u.kind === 'rejected');
    return rejected?.reason;
  }
  return 'not a CloudTrail notification: expected an S3 event, a CloudTrail SNS notification ({"s3Bucket","s3ObjectKey"}), an EventBridge "AWS API Call via CloudTrail" event or an S3 "Object Created" EventBridge event';
}

/** What an sqs source accepts (`"*"` alone = anything), and the source's id for the reasons. */
export interface AllowLists {
  source: string;
  buckets: readonly string[];
  accounts: readonly string[];
}

const allows = (list: readonly string[], v: string): boolean => list.includes('*') || list.includes(v);
const shown = (list: readonly string[]): string => (list.length === 0 ? 'none' : list.join(', '));

/** The account a CloudTrail log file belongs to, from its key: `…AWSLogs/[o-…/]<account>/CloudTrail/…`. */
export function accountOfKey(key: string): string | undefined {
  return /(?:^|\/)AWSLogs\/(?:o-[a-z0-9]+\/)?(\d{12})\//.exec(key)?.[1];
}

/** Why an account is refused, naming the allow-list to change. */
export function accountRefusal(allow: AllowLists, account: string, from: string): string | undefined {
  if (allows(allow.accounts, account)) return undefined;
  return `account ${account || '(none)'} (${from}) is not in the accounts: allow-list of source ${allow.source} (${shown(allow.accounts)}); if it is one of yours, add it to that source's accounts: (default: the top-level accounts: list)`;
}

/**
 * Why a record is refused by the accounts: allow-list. What is judged is the account trailbot would
 * store for it (the normalized event's `account`: recipientAccountId when it is a string, else
 * userIdentity.accountId), so a missing or numeric recipientAccountId cannot smuggle another account's
 * event in. A record naming no account at all cannot be checked and is refused too. A value that does
 * not normalize is not judged here: the sink keeps it aside as invalid. `what`: "the event", "the record".
 */
export function recordAccountRefusal(allow: AllowLists, raw: RawRecord, what: string): string | undefined {
  if (allow.accounts.includes('*')) return undefined;
  let account: string | null;
  try {
    account = normalize(raw).account;
  } catch {
    return undefined;
  }
  if (account === null) return `${what} names no account (neither recipientAccountId nor userIdentity.accountId is an account id), so it cannot be checked against the accounts: allow-list of source ${allow.source}`;
  const from = typeof raw.recipientAccountId === 'string' && raw.recipientAccountId !== '' ? `${what}'s recipientAccountId` : `${what}'s userIdentity.accountId; it has no recipientAccountId string`;
  return accountRefusal(allow, account, from);
}

/**
 * Why a parsed message reaches outside the source's allow-lists (a bucket or account it was not told
 * about), or undefined. Such a message is kept aside and deleted, and nothing it names is fetched:
 * a queue is trusted only for the trail it was set up for.
 */
export function allowListRefusal(p: ParsedMessage, allow: AllowLists): string | undefined {
  for (const o of p.objects) {
    const where = `s3://${o.bucket}/${o.key}`;
    if (!allows(allow.buckets, o.bucket)) {
      return `bucket ${o.bucket} (${where}) is not in the buckets: allow-list of source ${allow.source} (${shown(allow.buckets)}); if it holds your trail's logs, add it to that source's buckets: (default: the buckets of the s3 sources)`;
    }
    if (allow.accounts.includes('*')) continue;
    const account = accountOfKey(o.key);
    if (account === undefined) return `${where} names no account (expected …AWSLogs/[o-…/]<account>/CloudTrail/…), so it cannot be checked against the accounts: allow-list of source ${allow.source}`;
    const refused = accountRefusal(allow, account, `from the key ${where}`);
    if (refused) return refused;
  }
  for (const a of p.accounts) {
    const refused = accountRefusal(allow, a, 'the EventBridge event\'s account');
    if (refused) return refused;
  }
  for (const it of p.items) {
    const refused = it.kind === 'record' ? recordAccountRefusal(allow, it.raw, 'the event') : undefined;
    if (refused) return refused;
  }
  return undefined;
}
