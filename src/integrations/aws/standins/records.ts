// Raw CloudTrail records: loading them from files, turning them into LookupEvents `Event`s, and laying
// them out the way a trail delivers them (gzip log files on S3, SNS / S3-event notifications).
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { isGzip } from '../../../sources/files.ts';

export interface UserIdentity {
  type?: string;
  principalId?: string;
  arn?: string;
  accountId?: string;
  accessKeyId?: string;
  userName?: string;
  invokedBy?: string;
  sessionContext?: { sessionIssuer?: { userName?: string; arn?: string } };
  onBehalfOf?: { userId?: string };
  [k: string]: unknown;
}

/** A raw CloudTrail record as found in log files (only the fields the stand-ins read are typed). */
export interface CloudTrailRecord {
  eventTime: string;
  eventSource: string;
  eventName: string;
  awsRegion: string;
  eventID: string;
  recipientAccountId?: string;
  userIdentity?: UserIdentity;
  readOnly?: boolean | string;
  eventCategory?: string;
  managementEvent?: boolean;
  eventType?: string;
  resources?: { ARN?: string; accountId?: string; type?: string }[];
  requestParameters?: Record<string, unknown> | null;
  [k: string]: unknown;
}

/** One `Event` of a LookupEvents response, exactly as it travels on the wire. */
export interface LookupEvent {
  EventId: string;
  EventName: string;
  ReadOnly?: string;
  AccessKeyId?: string;
  EventTime: number;
  EventSource: string;
  Username?: string;
  Resources: { ResourceType?: string; ResourceName?: string }[];
  CloudTrailEvent: string;
}

/**
 * Event sources whose events LookupEvents shows only in us-east-1 (AWS notice, Nov 2021: global service
 * events are delivered only to us-east-1). The first label of `eventSource` is compared.
 */
export const GLOBAL_EVENT_SOURCES: ReadonlySet<string> = new Set(['iam', 'sts', 'signin', 'cloudfront', 'organizations', 'route53', 'waf', 'globalaccelerator']);

export const GLOBAL_REGION = 'us-east-1';

export function isRecord(x: unknown): x is CloudTrailRecord {
  if (!x || typeof x !== 'object') return false;
  const r = x as CloudTrailRecord;
  const call = callOf(r);
  return typeof r.eventTime === 'string' && typeof call.eventSource === 'string' && typeof call.eventName === 'string';
}

/**
 * The call a record is about. An Insights event has no top-level eventSource/eventName: they are in
 * insightDetails, and LookupEvents reports them from there.
 */
export function callOf(r: CloudTrailRecord): { eventSource: string; eventName: string } {
  const d = (r as { insightDetails?: { eventSource?: unknown; eventName?: unknown } | null }).insightDetails;
  if (r.eventType === 'AwsCloudTrailInsight' && d && typeof d === 'object' && typeof d.eventSource === 'string' && typeof d.eventName === 'string') return { eventSource: d.eventSource, eventName: d.eventName };
  return { eventSource: r.eventSource, eventName: r.eventName };
}

export const eventTimeMs = (r: CloudTrailRecord): number => Date.parse(r.eventTime);

export const accountOf = (r: CloudTrailRecord): string | undefined => r.recipientAccountId ?? r.userIdentity?.accountId;

export const eventServicePrefix = (r: CloudTrailRecord): string => callOf(r).eventSource.split('.')[0]!;

/** The region whose LookupEvents shows this record. */
export function lookupRegionOf(r: CloudTrailRecord, globalSources: ReadonlySet<string> = GLOBAL_EVENT_SOURCES): string {
  return globalSources.has(eventServicePrefix(r)) ? GLOBAL_REGION : r.awsRegion;
}

/** Insight events are returned only for EventCategory=insight; data and network-activity events never. */
export function lookupCategoryOf(r: CloudTrailRecord): 'management' | 'insight' | 'other' {
  if (r.eventCategory === 'Insight' || r.eventType === 'AwsCloudTrailInsight') return 'insight';
  if (r.eventCategory === 'Data' || r.eventCategory === 'NetworkActivity' || r.managementEvent === false) return 'other';
  return 'management';
}

/** Username as LookupEvents reports it: the session name for an assumed role, the user name for an IAM user, `root` for root. */
export function usernameOf(r: CloudTrailRecord): string | undefined {
  const u = r.userIdentity;
  if (!u) return undefined;
  switch (u.type) {
    case 'Root':
      return 'root';
    case 'AssumedRole':
    case 'FederatedUser': {
      const fromArn = u.arn?.split('/').slice(2).join('/');
      if (fromArn) return fromArn;
      const p = u.principalId?.split(':');
      return p && p.length > 1 ? p.slice(1).join(':') : u.userName;
    }
    case 'IdentityCenterUser':
      return u.userName ?? u.onBehalfOf?.userId;
    default:
      return typeof u.userName === 'string' ? u.userName : undefined;
  }
}

/** [eventSource prefix or '*', requestParameters key, ResourceType] */
const RESOURCE_PARAMS: readonly [string, string, string][] = [
  ['iam', 'userName', 'AWS::IAM::User'],
  ['iam', 'roleName', 'AWS::IAM::Role'],
  ['iam', 'groupName', 'AWS::IAM::Group'],
  ['iam', 'policyArn', 'AWS::IAM::Policy'],
  ['iam', 'accessKeyId', 'AWS::IAM::AccessKey'],
  ['iam', 'instanceProfileName', 'AWS::IAM::InstanceProfile'],
  ['s3', 'bucketName', 'AWS::S3::Bucket'],
  ['ec2', 'instanceId', 'AWS::EC2::Instance'],
  ['ec2', 'keyName', 'AWS::EC2::KeyPair'],
  ['ec2', 'groupId', 'AWS::EC2::SecurityGroup'],
  ['ec2', 'snapshotId', 'AWS::EC2::Snapshot'],
  ['ec2', 'volumeId', 'AWS::EC2::Volume'],
  ['lambda', 'functionName', 'AWS::Lambda::Function'],
  ['cloudtrail', 'name', 'AWS::CloudTrail::Trail'],
  ['cloudtrail', 'trailName', 'AWS::CloudTrail::Trail'],
  ['secretsmanager', 'secretId', 'AWS::SecretsManager::Secret'],
  ['kms', 'keyId', 'AWS::KMS::Key'],
  ['ssm', 'name', 'AWS::SSM::Parameter'],
];

/**
 * Resources as LookupEvents lists them. AWS derives them per service; the stand-in takes the record's own
 * `resources[]` (type → ResourceType, ARN → ResourceName) plus a few well-known request parameters.
 */
export function resourcesOf(r: CloudTrailRecord): { ResourceType: string; ResourceName: string }[] {
  const out: { ResourceType: string; ResourceName: string }[] = [];
  const seen = new Set<string>();
  const push = (type: string | undefined, name: unknown) => {
    if (!type || typeof name !== 'string' || !name) return;
    const k = `${type}\u0000${name}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ ResourceType: type, ResourceName: name });
  };
  for (const res of r.resources ?? []) push(res.type, res.ARN);
  const params = r.requestParameters;
  if (params && typeof params === 'object') {
    const svc = eventServicePrefix(r);
    for (const [source, key, type] of RESOURCE_PARAMS) {
      if (source !== svc) continue;
      const v = params[key];
      if (Array.isArray(v)) for (const item of v) push(type, item);
      else push(type, v);
    }
    const items = (params.instancesSet as { items?: { instanceId?: unknown }[] } | undefined)?.items;
    if (svc === 'ec2' && Array.isArray(items)) for (const it of items) push('AWS::EC2::Instance', it?.instanceId);
  }
  return out;
}

export function toLookupEvent(r: CloudTrailRecord): LookupEvent {
  const call = callOf(r);
  const ev: LookupEvent = {
    EventId: r.eventID,
    EventName: call.eventName,
    EventTime: Math.floor(eventTimeMs(r) / 1000),
    EventSource: call.eventSource,
    Resources: resourcesOf(r),
    CloudTrailEvent: JSON.stringify(r),
  };
  if (r.readOnly !== undefined && r.readOnly !== null) ev.ReadOnly = String(r.readOnly);
  const akid = r.userIdentity?.accessKeyId;
  if (typeof akid === 'string' && akid) ev.AccessKeyId = akid;
  const user = usernameOf(r);
  if (user) ev.Username = user;
  return ev;
}

// ---------------------------------------------------------------------------------------------
// Loading

function collect(value: unknown, out: CloudTrailRecord[]): void {
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out);
  } else if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    if (Array.isArray(obj.Records)) collect(obj.Records, out);
    else if (isRecord(obj)) out.push(obj);
  }
}

/** Parses a JSON array, a `{"Records":[…]}` document, a single record, or NDJSON (one of those per line). Anything else is skipped. */
export function parseRecordsText(text: string): CloudTrailRecord[] {
  const out: CloudTrailRecord[] = [];
  const trimmed = text.trim();
  if (!trimmed) return out;
  try {
    collect(JSON.parse(trimmed), out);
    return out;
  } catch {
    // not one JSON document: NDJSON
  }
  for (const line of trimmed.split(/\r?\n/)) {
    const l = line.trim();
    if (!l) continue;
    try {
      collect(JSON.parse(l), out);
    } catch {
      // skip a broken line
    }
  }
  return out;
}

/** Like parseRecordsText, gunzipping first when the bytes are gzip. */
export function parseRecordsBuffer(buf: Uint8Array): CloudTrailRecord[] {
  const bytes = isGzip(buf) ? gunzipSync(buf) : Buffer.from(buf);
  return parseRecordsText(bytes.toString('utf8'));
}

const RECORD_FILE = /\.(json|jsonl|ndjson|gz)$/i;

export interface LoadedRecords {
  records: CloudTrailRecord[];
  files: string[];
  /** the records of each file, in file order */
  byFile: { file: string; records: CloudTrailRecord[] }[];
}

/** Loads records from files and directories (recursively; *.json, *.jsonl, *.ndjson, *.gz). CloudTrail digest files yield nothing. */
export async function loadRecordsFromPaths(paths: readonly string[]): Promise<LoadedRecords> {
  const byFile: { file: string; records: CloudTrailRecord[] }[] = [];
  const visit = async (p: string, explicit: boolean): Promise<void> => {
    const s = await stat(p);
    if (s.isDirectory()) {
      const entries = (await readdir(p)).sort();
      for (const e of entries) await visit(join(p, e), false);
    } else if (explicit || RECORD_FILE.test(p)) {
      if (/CloudTrail-Digest/.test(p)) return;
      byFile.push({ file: p, records: parseRecordsBuffer(await readFile(p)) });
    }
  };
  for (const p of paths) await visit(p, true);
  return { records: byFile.flatMap((f) => f.records), files: byFile.map((f) => f.file), byFile };
}

/** Copies of the records moved in time so that the newest one is at `newestAt` (spacing kept). */
export function shiftNewestTo(records: readonly CloudTrailRecord[], newestAt: number): CloudTrailRecord[] {
  const times = records.map(eventTimeMs).filter((t) => !Number.isNaN(t));
  return times.length === 0 ? [...records] : shiftRecordTimes(records, newestAt - Math.max(...times));
}

// ---------------------------------------------------------------------------------------------
// Rewriting

/** CloudTrail's time format: second precision, Z. */
export const isoSeconds = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** Copies of the records with every eventTime moved by `deltaMs`. */
export function shiftRecordTimes(records: readonly CloudTrailRecord[], deltaMs: number): CloudTrailRecord[] {
  return records.map((r) => ({ ...r, eventTime: isoSeconds(eventTimeMs(r) + deltaMs) }));
}

export interface RebaseOptions {
  /** replaces every occurrence of the record's account id (recipientAccountId, ARNs, userIdentity…) */
  accountId?: string;
  /** sets awsRegion */
  region?: string;
  /** the newest record gets this time; the others keep their distance to it (or `spacingSeconds` apart) */
  newest?: Date | number;
  /** lay the records out this many seconds apart, in their given order, newest last */
  spacingSeconds?: number;
  /** give every record a fresh eventID (for loading the same fixture twice) */
  freshIds?: boolean;
}

/** Copies of fixture records moved into a test's account, region and time frame. */
export function rebaseRecords(records: readonly CloudTrailRecord[], opts: RebaseOptions = {}): CloudTrailRecord[] {
  const newest = opts.newest === undefined ? undefined : typeof opts.newest === 'number' ? opts.newest : opts.newest.getTime();
  const maxTime = Math.max(...records.map(eventTimeMs));
  return records.map((r, i) => {
    let copy = r;
    const acct = accountOf(r);
    if (opts.accountId && acct && acct !== opts.accountId) copy = JSON.parse(JSON.stringify(r).replaceAll(acct, opts.accountId)) as CloudTrailRecord;
    else copy = structuredClone(r);
    if (opts.accountId) copy.recipientAccountId = opts.accountId;
    if (opts.region) copy.awsRegion = opts.region;
    if (newest !== undefined) {
      const t = opts.spacingSeconds !== undefined ? newest - (records.length - 1 - i) * opts.spacingSeconds * 1000 : newest - (maxTime - eventTimeMs(r));
      copy.eventTime = isoSeconds(t);
    }
    if (opts.freshIds) copy.eventID = randomUUID();
    return copy;
  });
}

// ---------------------------------------------------------------------------------------------
// Delivery layout

export interface LogObject {
  key: string;
  body: Buffer;
  accountId: string;
  region: string;
  records: CloudTrailRecord[];
}

export interface LogLayoutOptions {
  /** S3 key prefix configured on the trail (no leading or trailing slash) */
  prefix?: string;
  /** organization trail: o-xxxxxxxxxx inserted after AWSLogs/ */
  organizationId?: string;
  /** one file per account, region and window of this many minutes (default 5) */
  windowMinutes?: number;
}

const pad = (n: number) => String(n).padStart(2, '0');

function suffix16(seed: string): string {
  return createHash('sha256').update(seed).digest('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, 16).padEnd(16, 'x');
}

/**
 * Groups records into CloudTrail log files: `[prefix/]AWSLogs/[o-id/]{acct}/CloudTrail/{region}/YYYY/MM/DD/
 * {acct}_CloudTrail_{region}_YYYYMMDDTHHmmZ_{16 chars}.json.gz`, each gzip `{"Records":[…]}`. The file time is
 * the end of the record's window (when CloudTrail would deliver it).
 */
export function toCloudTrailLogObjects(records: readonly CloudTrailRecord[], { prefix, organizationId, windowMinutes = 5 }: LogLayoutOptions = {}): LogObject[] {
  const windowMs = windowMinutes * 60_000;
  const groups = new Map<string, { accountId: string; region: string; at: number; records: CloudTrailRecord[] }>();
  for (const r of records) {
    const accountId = accountOf(r) ?? '000000000000';
    const at = Math.floor(eventTimeMs(r) / windowMs) * windowMs + windowMs;
    const k = `${accountId}|${r.awsRegion}|${at}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { accountId, region: r.awsRegion, at, records: [] }));
    g.records.push(r);
  }
  const out: LogObject[] = [];
  for (const g of [...groups.values()].sort((a, b) => a.at - b.at)) {
    const d = new Date(g.at);
    const ymd = `${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}`;
    const stamp = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}T${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}Z`;
    const name = `${g.accountId}_CloudTrail_${g.region}_${stamp}_${suffix16(g.records.map((r) => r.eventID).join(','))}.json.gz`;
    const key = `${prefix ? `${prefix}/` : ''}AWSLogs/${organizationId ? `${organizationId}/` : ''}${g.accountId}/CloudTrail/${g.region}/${ymd}/${name}`;
    out.push({ key, body: gzipSync(JSON.stringify({ Records: g.records })), accountId: g.accountId, region: g.region, records: g.records });
  }
  return out;
}

/** CloudTrail's SNS notification payload: `{"s3Bucket":…,"s3ObjectKey":[…]}`. */
export const cloudTrailNotificationMessage = (bucket: string, keys: readonly string[]): string => JSON.stringify({ s3Bucket: bucket, s3ObjectKey: [...keys] });

/** The SQS body SNS delivers when raw message delivery is off: an SNS envelope whose `Message` is the CloudTrail payload. */
export function snsEnvelope(message: string, { topicArn = 'arn:aws:sns:us-east-1:123456789012:trailbot-cloudtrail', at = Date.now() }: { topicArn?: string; at?: number } = {}): string {
  const id = randomUUID();
  return JSON.stringify({
    Type: 'Notification',
    MessageId: id,
    TopicArn: topicArn,
    Message: message,
    Timestamp: new Date(at).toISOString(),
    SignatureVersion: '1',
    Signature: 'c3RhbmQtaW4tbm90LXNpZ25lZA==',
    SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-standin.pem',
    UnsubscribeURL: `https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${topicArn}:${id}`,
  });
}

/** S3 event-notification keys are URL-encoded with `+` for a space. */
export const s3EventKey = (key: string): string => encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');

/** An `ObjectCreated:Put` S3 event notification for one object. */
export function s3EventNotification(bucket: string, key: string, { size, eTag, region = 'us-east-1', at = Date.now() }: { size: number; eTag: string; region?: string; at?: number }): string {
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: region,
        eventTime: new Date(at).toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'AWS:AROASTANDINCLOUDTRAIL:regional-delivery-session' },
        requestParameters: { sourceIPAddress: '203.0.113.10' },
        responseElements: { 'x-amz-request-id': randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase(), 'x-amz-id-2': 'standin' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'trailbot-cloudtrail',
          bucket: { name: bucket, ownerIdentity: { principalId: 'A3STANDINOWNER' }, arn: `arn:aws:s3:::${bucket}` },
          object: { key: s3EventKey(key), size, eTag: eTag.replace(/"/g, ''), sequencer: at.toString(16).toUpperCase().padStart(18, '0') },
        },
      },
    ],
  });
}

/**
 * What S3 sends to EventBridge (and a rule forwards to SQS) when a bucket has "Send notifications to
 * Amazon EventBridge" on: detail-type "Object Created", the key as it is, not URL-encoded
 * (AmazonS3/latest/userguide/ev-events.html).
 */
export function s3EventBridgeEvent(
  bucket: string,
  key: string,
  { size, eTag, account = '111111111111', region = 'us-east-1', at = Date.now(), detailType = 'Object Created' }: { size: number; eTag: string; account?: string; region?: string; at?: number; detailType?: string },
): string {
  return JSON.stringify({
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source: 'aws.s3',
    account,
    time: new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: { key, size, etag: eTag.replace(/"/g, ''), sequencer: at.toString(16).toUpperCase().padStart(18, '0') },
      'request-id': randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase(),
      requester: 'cloudtrail.amazonaws.com',
      'source-ip-address': '203.0.113.10',
      reason: 'PutObject',
    },
  });
}

/** The message S3 sends once when a notification configuration is saved. */
export const s3TestEvent = (bucket: string, at = Date.now()): string =>
  JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent', Time: new Date(at).toISOString(), Bucket: bucket, RequestId: 'STANDINTESTEVENT', HostId: 'standin' });
