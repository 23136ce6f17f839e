import { describe, expect, it } from 'vitest';
import { cloudTrailNotificationMessage, s3EventBridgeEvent, s3EventNotification, s3TestEvent, snsEnvelope } from '../integrations/aws/standins/records.ts';
import { accountOfKey, type AllowLists, allowListRefusal, decodeS3EventKey, parseMessage, recordAccountRefusal, trailFileProblem } from './messages.ts';

const KEY = 'AWSLogs/o-a1b2c3d4e5/111111111111/CloudTrail/eu-west-1/2026/01/15/111111111111_CloudTrail_eu-west-1_20260115T1205Z_abcdefghijklmnop.json.gz';
const record = {
  eventVersion: '1.11',
  eventTime: '2026-01-15T12:00:00Z',
  eventSource: 'iam.amazonaws.com',
  eventName: 'CreateUser',
  awsRegion: 'us-east-1',
  eventID: '0b1e5b1a-0000-4000-8000-000000000001',
  recipientAccountId: '111111111111',
  userIdentity: { type: 'IAMUser', userName: 'maria', accountId: '111111111111' },
};

describe('S3 event keys', () => {
  it('are URL-decoded with + as a space', () => {
    expect(decodeS3EventKey('AWSLogs/my+trail/a%2Bb/%C3%A9t%C3%A9/x.json.gz')).toBe('AWSLogs/my trail/a+b/été/x.json.gz');
    // What S3 sends for a key with spaces, pluses and non-ASCII (the stand-in encodes as S3 does).
    const key = 'logs with space/AWSLogs/111111111111/CloudTrail/eu-west-1/2026/01/15/a+b é.json.gz';
    const body = s3EventNotification('bucket', key, { size: 10, eTag: '"x"' });
    expect(JSON.parse(body).Records[0].s3.object.key).toContain('with+space');
    expect(parseMessage(body, 'm').objects).toEqual([{ bucket: 'bucket', key }]);
  });

  it('that are badly encoded make the message malformed, with the key named', () => {
    const body = JSON.stringify({ Records: [{ eventSource: 'aws:s3', eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'b' }, object: { key: 'AWSLogs/%E0%A4%A/x' } } }] });
    expect(parseMessage(body, 'm').malformed).toMatch(/not validly URL-encoded: "AWSLogs\/%E0%A4%A\/x"/);
  });
});

describe('trail queue messages', () => {
  it('S3 event notification → the log file to read', () => {
    expect(parseMessage(s3EventNotification('trail', KEY, { size: 1, eTag: 'e' }), 'm')).toEqual({ objects: [{ bucket: 'trail', key: KEY }], items: [], accounts: [], ignored: [] });
  });

  it("CloudTrail's SNS notification, raw or in an SNS envelope → every key listed", () => {
    const keys = [KEY, KEY.replace('eu-west-1', 'us-east-1')];
    const raw = cloudTrailNotificationMessage('trail', keys);
    const expected = { objects: keys.map((key) => ({ bucket: 'trail', key })), items: [], accounts: [], ignored: [] };
    expect(parseMessage(raw, 'm')).toEqual(expected);
    expect(parseMessage(snsEnvelope(raw), 'm')).toEqual(expected);
  });

  it('an S3 event sent through SNS (an envelope around S3 notifications)', () => {
    expect(parseMessage(snsEnvelope(s3EventNotification('trail', KEY, { size: 1, eTag: 'e' })), 'm').objects).toEqual([{ bucket: 'trail', key: KEY }]);
  });

  it('EventBridge "AWS API Call via CloudTrail" → the record itself', () => {
    const ev = { version: '0', id: 'x', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.iam', account: '111111111111', time: record.eventTime, region: 'us-east-1', resources: [], detail: record };
    const p = parseMessage(JSON.stringify(ev), 'sqs message 1');
    expect(p.malformed).toBeUndefined();
    expect(p.items).toEqual([{ kind: 'record', raw: record, origin: { file: 'sqs message 1', at: 'detail' } }]);
    expect(p.accounts).toEqual(['111111111111']);
  });

  it('S3 "Object Created" through EventBridge → the log file, its key taken as it is; other S3 event types left alone', () => {
    const spaced = KEY.replace('AWSLogs/', 'my trail+logs/AWSLogs/');
    expect(parseMessage(s3EventBridgeEvent('trail', spaced, { size: 1, eTag: 'e' }), 'm')).toEqual({ objects: [{ bucket: 'trail', key: spaced }], items: [], accounts: [], ignored: [] });
    const deleted = parseMessage(s3EventBridgeEvent('trail', KEY, { size: 1, eTag: 'e', detailType: 'Object Deleted' }), 'm');
    expect(deleted.objects).toEqual([]);
    expect(deleted.ignored[0]).toMatch(/Object Deleted \(only Object Created events bring new files\)/);
    const digest = s3EventBridgeEvent('trail', 'AWSLogs/111111111111/CloudTrail-Digest/eu-west-1/2026/01/15/x_CloudTrail-Digest_y.json.gz', { size: 1, eTag: 'e' });
    expect(parseMessage(digest, 'm').ignored[0]).toMatch(/digest/);
    const noKey = JSON.parse(s3EventBridgeEvent('trail', KEY, { size: 1, eTag: 'e' }));
    delete noKey.detail.object.key;
    expect(parseMessage(JSON.stringify(noKey), 'm').malformed).toBe('EventBridge S3 event "Object Created" has no detail.bucket.name or detail.object.key');
  });

  it('s3:TestEvent, removals, digests, Insights and other services’ files are left alone, with why', () => {
    expect(parseMessage(s3TestEvent('trail'), 'm')).toEqual({ objects: [], items: [], accounts: [], ignored: ['s3:TestEvent (sent once when the bucket notification is set up)'] });
    const removed = JSON.parse(s3EventNotification('trail', KEY, { size: 1, eTag: 'e' }));
    removed.Records[0].eventName = 'ObjectRemoved:Delete';
    expect(parseMessage(JSON.stringify(removed), 'm').ignored[0]).toMatch(/ObjectRemoved:Delete \(only ObjectCreated events bring new files\)/);
    const digest = 'AWSLogs/111111111111/CloudTrail-Digest/eu-west-1/2026/01/15/111111111111_CloudTrail-Digest_eu-west-1_trail_eu-west-1_20260115T120000Z.json.gz';
    expect(trailFileProblem(digest)).toBe('a CloudTrail digest file (no events)');
    expect(trailFileProblem('AWSLogs/111111111111/CloudTrail-Insight/eu-west-1/2026/01/15/x.json.gz')).toBe('a CloudTrail Insights file');
    expect(trailFileProblem('AWSLogs/111111111111/Config/eu-west-1/2026/01/15/x.json.gz')).toBe('not under a CloudTrail/ folder');
    const p = parseMessage(cloudTrailNotificationMessage('trail', [digest, KEY]), 'm');
    expect(p.objects).toEqual([{ bucket: 'trail', key: KEY }]);
    expect(p.ignored).toHaveLength(1);
  });

  it('anything else is malformed, with the reason', () => {
    expect(parseMessage('not json', 'm').malformed).toMatch(/^the message is not JSON/);
    expect(parseMessage('[1,2]', 'm').malformed).toBe('expected a JSON object, got an array');
    expect(parseMessage(JSON.stringify({ hello: 'world' }), 'm').malformed).toMatch(/^not a CloudTrail notification/);
    expect(parseMessage(JSON.stringify({ Type: 'Notification', Message: '{oops' }), 'm').malformed).toMatch(/^the SNS Message is not JSON/);
    expect(parseMessage(JSON.stringify({ s3Bucket: 'b', s3ObjectKey: 'one-key' }), 'm').malformed).toBe('s3ObjectKey is not a list of keys');
    expect(parseMessage(JSON.stringify({ 'detail-type': 'EC2 Instance State-change Notification', source: 'aws.ec2', detail: {} }), 'm').malformed).toMatch(/is not a CloudTrail event/);
    expect(parseMessage(JSON.stringify({ Records: [{ eventSource: 'aws:s3', s3: { bucket: { name: 'b' }, object: {} } }] }), 'm').malformed).toBe('Records[0] has no s3.bucket.name or s3.object.key');
  });
});

describe('allow-lists', () => {
  const allow: AllowLists = { source: 'q', buckets: ['trail'], accounts: ['111111111111'] };
  const eb = (account: string, recipient: string) =>
    JSON.stringify({ version: '0', id: 'x', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.iam', account, time: record.eventTime, region: 'us-east-1', resources: [], detail: { ...record, recipientAccountId: recipient } });

  it("read a log file's account from its key, organization trails included", () => {
    expect(accountOfKey('AWSLogs/111111111111/CloudTrail/eu-west-1/2026/01/15/f.json.gz')).toBe('111111111111');
    expect(accountOfKey('prefix/AWSLogs/o-a1b2c3d4e5/222222222222/CloudTrail/eu-west-1/2026/01/15/f.json.gz')).toBe('222222222222');
    expect(accountOfKey('somewhere/CloudTrail/f.json.gz')).toBeUndefined();
  });

  it('let through what is on them, and say which list to change for what is not', () => {
    expect(allowListRefusal(parseMessage(cloudTrailNotificationMessage('trail', [KEY]), 'm'), allow)).toBeUndefined();
    expect(allowListRefusal(parseMessage(cloudTrailNotificationMessage('elsewhere', [KEY]), 'm'), allow)).toMatch(/^bucket elsewhere \(s3:\/\/elsewhere\/AWSLogs\/.+\) is not in the buckets: allow-list of source q \(trail\); if it holds your trail's logs, add it/);
    const foreignKey = KEY.replaceAll('111111111111', '999999999999');
    expect(allowListRefusal(parseMessage(s3EventNotification('trail', foreignKey, { size: 1, eTag: 'e' }), 'm'), allow)).toMatch(/^account 999999999999 \(from the key s3:\/\/trail\/.+\) is not in the accounts: allow-list of source q \(111111111111\)/);
    expect(allowListRefusal(parseMessage(cloudTrailNotificationMessage('trail', ['logs/CloudTrail/x.json.gz']), 'm'), allow)).toMatch(/names no account/);
    expect(allowListRefusal(parseMessage(eb('111111111111', '111111111111'), 'm'), allow)).toBeUndefined();
    expect(allowListRefusal(parseMessage(eb('999999999999', '111111111111'), 'm'), allow)).toMatch(/^account 999999999999 \(the EventBridge event's account\)/);
    expect(allowListRefusal(parseMessage(eb('111111111111', '999999999999'), 'm'), allow)).toMatch(/^account 999999999999 \(the event's recipientAccountId\)/);
    const any: AllowLists = { source: 'q', buckets: ['*'], accounts: ['*'] };
    expect(allowListRefusal(parseMessage(eb('999999999999', '999999999999'), 'm'), any)).toBeUndefined();
  });

  // The account checked is the one that would be stored: recipientAccountId when it is a string,
  // else userIdentity.accountId (what normalize keeps). A record naming neither cannot be checked.
  const withDetail = (detail: Record<string, unknown>) =>
    JSON.stringify({ version: '0', id: 'x', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.iam', account: '111111111111', time: record.eventTime, region: 'us-east-1', resources: [], detail });
  const { recipientAccountId: _dropped, ...noRecipient } = record;

  it('check the account that would be stored, not only a string recipientAccountId', () => {
    const stranger = { ...noRecipient, userIdentity: { ...record.userIdentity, accountId: '999999999999' } };
    expect(allowListRefusal(parseMessage(withDetail(stranger), 'm'), allow)).toMatch(/^account 999999999999 \(the event's userIdentity\.accountId; it has no recipientAccountId string\) is not in the accounts: allow-list of source q/);
    expect(allowListRefusal(parseMessage(withDetail({ ...stranger, recipientAccountId: 999999999999 }), 'm'), allow)).toMatch(/^account 999999999999 \(the event's userIdentity\.accountId; it has no recipientAccountId string\)/);
    expect(allowListRefusal(parseMessage(withDetail({ ...noRecipient, recipientAccountId: 111111111111, userIdentity: { type: 'IAMUser', userName: 'maria' } }), 'm'), allow)).toMatch(
      /^the event names no account \(neither recipientAccountId nor userIdentity\.accountId is an account id\), so it cannot be checked against the accounts: allow-list of source q/,
    );
    // A log file's contents sent as the message body: its records are checked the same way.
    expect(allowListRefusal(parseMessage(JSON.stringify({ Records: [record, stranger] }), 'm'), allow)).toMatch(/^account 999999999999 \(the event's userIdentity\.accountId/);
    expect(allowListRefusal(parseMessage(withDetail(noRecipient), 'm'), allow)).toBeUndefined();
    const any: AllowLists = { source: 'q', buckets: ['*'], accounts: ['*'] };
    expect(allowListRefusal(parseMessage(withDetail({ ...noRecipient, userIdentity: {} }), 'm'), any)).toBeUndefined();
  });

  it("judge a fetched file's records one by one the same way", () => {
    const stranger = { ...noRecipient, recipientAccountId: 999999999999, userIdentity: { type: 'IAMUser', accountId: '999999999999' } };
    expect(recordAccountRefusal(allow, record, 'the record')).toBeUndefined();
    expect(recordAccountRefusal(allow, noRecipient, 'the record')).toBeUndefined();
    expect(recordAccountRefusal(allow, stranger, 'the record')).toMatch(/^account 999999999999 \(the record's userIdentity\.accountId; it has no recipientAccountId string\) is not in the accounts: allow-list of source q \(111111111111\)/);
    expect(recordAccountRefusal(allow, { ...noRecipient, userIdentity: { type: 'AWSService', invokedBy: 'x.amazonaws.com' } }, 'the record')).toMatch(/^the record names no account/);
    expect(recordAccountRefusal({ ...allow, accounts: ['*'] }, stranger, 'the record')).toBeUndefined();
    // Not a record at all: the sink keeps it aside as invalid, nothing to judge here.
    expect(recordAccountRefusal(allow, { hello: 'world' }, 'the record')).toBeUndefined();
  });
});
