import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BASE_CREDENTIALS } from './credentials.ts';
import { startStandins } from './index.ts';
import type { Standins } from './index.ts';
import { computeSignature, sha256Hex, type SigV4Auth, UNSIGNED_PAYLOAD } from './sigv4.ts';
import { clientConfig } from './testing.ts';

/**
 * What AWS checks about a SigV4 request besides the signature itself: the request time (±15 min of
 * the server's clock), the payload hash against the body, `host` among the signed headers, and a
 * presigned URL's X-Amz-Expires. Negative cases are raw fetches, signed here so that only the one
 * thing under test is wrong; the clock-skew recovery is the real SDK clients'.
 */
const MIN = 60_000;
const { accessKeyId, secretAccessKey } = DEFAULT_BASE_CREDENTIALS;
const amz = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

interface RawOptions {
  method?: string;
  service: 's3' | 'sqs' | 'sts' | 'cloudtrail';
  at?: number;
  body?: string;
  headers?: Record<string, string>;
  /** names to sign (default host, x-amz-date and every header given) */
  signedHeaders?: string[];
  /** what the signature covers as the payload hash (default: what the server will use) */
  payloadHash?: string;
  /** presign instead of an Authorization header */
  query?: { expires: string | null };
}

/** A request to the stand-ins signed with the base key, correct in everything not overridden. */
function signed(base: string, path: string, o: RawOptions): Request {
  const url = new URL(path, base);
  const at = o.at ?? Date.now();
  const method = o.method ?? (o.body ? 'POST' : 'GET');
  const date = amz(at);
  const headers = new Headers({ host: url.host, ...o.headers });
  const region = 'us-east-1';
  const scope = `${date.slice(0, 8)}/${region}/${o.service}/aws4_request`;
  const names = o.signedHeaders ?? [...new Set(['host', ...(o.query ? [] : ['x-amz-date']), ...Object.keys(o.headers ?? {}).map((k) => k.toLowerCase())])];
  const body = o.body ?? '';
  if (o.query) {
    url.searchParams.set('X-Amz-Algorithm', 'AWS4-HMAC-SHA256');
    url.searchParams.set('X-Amz-Credential', `${accessKeyId}/${scope}`);
    url.searchParams.set('X-Amz-Date', date);
    if (o.query.expires !== null) url.searchParams.set('X-Amz-Expires', o.query.expires);
    url.searchParams.set('X-Amz-SignedHeaders', names.join(';'));
  } else headers.set('x-amz-date', date);
  const auth: SigV4Auth = { via: o.query ? 'query' : 'header', accessKeyId, date: date.slice(0, 8), region, service: o.service, signedHeaders: names, signature: '', amzDate: date };
  const payloadHash = o.payloadHash ?? (o.service === 's3' ? (headers.get('x-amz-content-sha256') ?? (o.query ? UNSIGNED_PAYLOAD : sha256Hex(body))) : sha256Hex(body));
  const rawQuery = url.search.slice(1);
  const signature = computeSignature({ method, rawPath: url.pathname, rawQuery, headers, auth, payloadHash, secretAccessKey });
  if (o.query) url.searchParams.set('X-Amz-Signature', signature);
  else headers.set('authorization', `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${scope}, SignedHeaders=${[...names].sort().join(';')}, Signature=${signature}`);
  headers.delete('host');
  return new Request(url, { method, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body }) });
}

const sqsBody = JSON.stringify({ QueueName: 'sig' });
const sqsHeaders = { 'content-type': 'application/x-amz-json-1.0', 'x-amz-target': 'AmazonSQS.GetQueueUrl' };
const ctBody = '{}';
const ctHeaders = { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'CloudTrail_20131101.LookupEvents' };
const stsBody = 'Action=GetCallerIdentity&Version=2011-06-15';
const stsHeaders = { 'content-type': 'application/x-www-form-urlencoded' };

let s: Standins;
beforeAll(async () => {
  s = await startStandins({ throttle: false });
  s.s3.putObject('sig-bucket', 'k.txt', 'hello');
  s.sqs.createQueue('sig');
});
afterAll(() => s.close());

const call = (r: Request) => fetch(r);
const s3Code = async (res: Response): Promise<string | undefined> => /<Code>([^<]+)<\/Code>/.exec(await res.text())?.[1];

describe('request time', () => {
  it('accepts a request signed within 15 minutes of the stand-in clock, either way', async () => {
    for (const at of [Date.now() - 14 * MIN, Date.now() + 14 * MIN]) {
      const res = await call(signed(s.url, '/sig-bucket/k.txt', { service: 's3', at }));
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('hello');
    }
  });

  it('S3 refuses a request signed more than 15 minutes away with 403 RequestTimeTooSkewed, and says its own time in Date', async () => {
    for (const at of [Date.now() - 16 * MIN, Date.now() + 16 * MIN]) {
      const res = await call(signed(s.url, '/sig-bucket/k.txt', { service: 's3', at }));
      expect(res.status).toBe(403);
      const xml = await res.text();
      expect(xml).toContain('<Code>RequestTimeTooSkewed</Code>');
      expect(xml).toContain('<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>');
      expect(Math.abs(Date.parse(res.headers.get('date')!) - Date.now())).toBeLessThan(5000);
    }
  });

  it('SQS, CloudTrail and STS refuse it as an expired signature', async () => {
    const at = Date.now() - 20 * MIN;
    const q = await call(signed(s.url, '/', { service: 'sqs', at, body: sqsBody, headers: sqsHeaders }));
    expect(q.status).toBe(403);
    expect(q.headers.get('x-amzn-query-error')).toBe('SignatureDoesNotMatch;Sender');
    expect(((await q.json()) as { message: string }).message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than/);
    const ct = await call(signed(s.url, '/', { service: 'cloudtrail', at, body: ctBody, headers: ctHeaders }));
    expect(ct.status).toBe(400);
    expect(await ct.json()).toMatchObject({ __type: 'InvalidSignatureException', message: expect.stringMatching(/^Signature expired/) });
    const sts = await call(signed(s.url, '/', { service: 'sts', at: Date.now() + 20 * MIN, body: stsBody, headers: stsHeaders }));
    expect(sts.status).toBe(403);
    expect(await sts.text()).toMatch(/<Code>SignatureDoesNotMatch<\/Code><Message>Signature not yet current/);
  });
});

describe('a real client whose clock is wrong', () => {
  // The stand-ins' clock runs 30 minutes ahead of this machine's: as a client with a slow clock sees AWS.
  let ahead: Standins;
  beforeAll(async () => {
    ahead = await startStandins({ throttle: false, clock: () => Date.now() + 30 * MIN });
    ahead.s3.putObject('skew-bucket', 'k.txt', 'hello');
    ahead.sqs.createQueue('skew');
  });
  afterAll(() => ahead.close());

  it('S3, SQS, CloudTrail and STS clients are refused once, correct their clock from Date, and succeed', async () => {
    const cfg = clientConfig(ahead.url);
    const s3 = new S3Client(cfg);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'skew-bucket', Key: 'k.txt' }));
    expect(await got.Body!.transformToString()).toBe('hello');
    await new SQSClient(cfg).send(new GetQueueUrlCommand({ QueueName: 'skew' }));
    await new CloudTrailClient(cfg).send(new LookupEventsCommand({}));
    await new STSClient(cfg).send(new GetCallerIdentityCommand({}));
    const seen = ahead.requests.map((r) => `${r.service} ${r.status} ${r.errorType ?? ''}`.trim());
    expect(seen).toEqual([
      's3 403 RequestTimeTooSkewed',
      's3 200',
      'sqs 403 InvalidSignatureException',
      'sqs 200',
      'cloudtrail 400 InvalidSignatureException',
      'cloudtrail 200',
      'sts 403 SignatureDoesNotMatch',
      'sts 200',
    ]);
    expect(Math.abs((s3.config.systemClockOffset ?? 0) - 30 * MIN)).toBeLessThan(5000);
  });

  it('a client given a wrong systemClockOffset takes the right one from Date: CloudTrail retries at once, S3 on the next call', async () => {
    const before = s.requests.length;
    // "Signature expired" is retried by the SDK as a transient error, with the corrected clock.
    const ct = new CloudTrailClient({ ...clientConfig(s.url), systemClockOffset: -40 * MIN });
    await ct.send(new LookupEventsCommand({}));
    // RequestTimeTooSkewed is retried only when the correction is itself large (a machine clock that is
    // off, as above); a wrong offset on a right machine is reset and the next call goes through.
    const s3 = new S3Client({ ...clientConfig(s.url), systemClockOffset: -40 * MIN });
    await expect(s3.send(new GetObjectCommand({ Bucket: 'sig-bucket', Key: 'k.txt' }))).rejects.toMatchObject({ name: 'RequestTimeTooSkewed', $metadata: { httpStatusCode: 403 } });
    expect(Math.abs(s3.config.systemClockOffset ?? 0)).toBeLessThan(5000);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'sig-bucket', Key: 'k.txt' }));
    expect(await got.Body!.transformToString()).toBe('hello');
    expect(s.requests.slice(before).map((r) => `${r.service} ${r.status}`)).toEqual(['cloudtrail 400', 'cloudtrail 200', 's3 403', 's3 200']);
  });
});

describe('payload hash', () => {
  it('S3 refuses a body whose x-amz-content-sha256 is another one with 400 XAmzContentSHA256Mismatch', async () => {
    const res = await call(
      signed(s.url, '/sig-bucket/put.txt', { service: 's3', method: 'PUT', body: 'what was sent', headers: { 'x-amz-content-sha256': sha256Hex('what was signed') } }),
    );
    expect(res.status).toBe(400);
    const xml = await res.text();
    expect(xml).toContain('<Code>XAmzContentSHA256Mismatch</Code>');
    expect(xml).toContain(`<S3ComputedContentSHA256>${sha256Hex('what was sent')}</S3ComputedContentSHA256>`);
    expect(s.s3.getObject('sig-bucket', 'put.txt')).toBeUndefined();
    const garbage = await call(signed(s.url, '/sig-bucket/put.txt', { service: 's3', method: 'PUT', body: 'x', headers: { 'x-amz-content-sha256': 'not-a-hash' } }));
    expect(await s3Code(garbage)).toBe('XAmzContentSHA256Mismatch');
  });

  it('S3 takes UNSIGNED-PAYLOAD and a matching hash', async () => {
    const unsigned = await call(signed(s.url, '/sig-bucket/u.txt', { service: 's3', method: 'PUT', body: 'u', headers: { 'x-amz-content-sha256': UNSIGNED_PAYLOAD } }));
    expect(unsigned.status).toBe(200);
    const hashed = await call(signed(s.url, '/sig-bucket/h.txt', { service: 's3', method: 'PUT', body: 'h', headers: { 'x-amz-content-sha256': sha256Hex('h') } }));
    expect(hashed.status).toBe(200);
  });

  it('SQS, CloudTrail and STS sign the body itself: a declared hash of another body is a signature mismatch', async () => {
    const lie = { 'x-amz-content-sha256': sha256Hex('{}') };
    const other = JSON.stringify({ QueueName: 'nope' });
    const q = await call(signed(s.url, '/', { service: 'sqs', body: sqsBody, headers: { ...sqsHeaders, ...lie }, payloadHash: sha256Hex('{}') }));
    expect(q.status).toBe(403);
    expect(q.headers.get('x-amzn-query-error')).toBe('SignatureDoesNotMatch;Sender');
    // Signed over the hash header with a body swapped in transit.
    const swapped = signed(s.url, '/', { service: 'cloudtrail', body: ctBody, headers: { ...ctHeaders, 'x-amz-content-sha256': sha256Hex(ctBody) } });
    const ct = await call(new Request(swapped, { body: other }));
    expect(ct.status).toBe(400);
    expect(await ct.json()).toMatchObject({ __type: 'InvalidSignatureException' });
    const sts = await call(signed(s.url, '/', { service: 'sts', body: stsBody, headers: { ...stsHeaders, 'x-amz-content-sha256': UNSIGNED_PAYLOAD }, payloadHash: UNSIGNED_PAYLOAD }));
    expect(sts.status).toBe(403);
  });
});

describe('signed headers', () => {
  it('refuses a request whose SignedHeaders leave out host, however right its signature', async () => {
    const s3 = await call(signed(s.url, '/sig-bucket/k.txt', { service: 's3', signedHeaders: ['x-amz-date'] }));
    expect(s3.status).toBe(403);
    expect(await s3.text()).toContain('<HeadersNotSigned>host</HeadersNotSigned>');
    const q = await call(signed(s.url, '/', { service: 'sqs', body: sqsBody, headers: sqsHeaders, signedHeaders: ['content-type', 'x-amz-date', 'x-amz-target'] }));
    expect(q.status).toBe(403);
    expect(((await q.json()) as { message: string }).message).toMatch(/'Host' or ':authority' must be a 'SignedHeader'/);
    const presigned = await call(signed(s.url, '/sig-bucket/k.txt', { service: 's3', query: { expires: '60' }, signedHeaders: ['x-amz-meta-x'], headers: { 'x-amz-meta-x': '1' } }));
    expect(presigned.status).toBe(403);
  });
});

describe('presigned URLs', () => {
  it('serve a GET while X-Amz-Expires lasts', async () => {
    const res = await call(signed(s.url, '/sig-bucket/k.txt', { service: 's3', query: { expires: '300' }, at: Date.now() - 60_000 }));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello');
  });

  it('refuse an expired one with 403 AccessDenied "Request has expired"', async () => {
    const res = await call(signed(s.url, '/sig-bucket/k.txt', { service: 's3', query: { expires: '60' }, at: Date.now() - 120_000 }));
    expect(res.status).toBe(403);
    const xml = await res.text();
    expect(xml).toContain('<Code>AccessDenied</Code><Message>Request has expired</Message>');
    expect(xml).toContain('<X-Amz-Expires>60</X-Amz-Expires>');
  });

  it('refuse an X-Amz-Expires that is missing, not a whole number, 0 or over 604800 seconds', async () => {
    for (const expires of [null, 'abc', '60.5', '-1', '0', '604801', '1e3']) {
      const res = await call(signed(s.url, '/sig-bucket/k.txt', { service: 's3', query: { expires }, at: Date.now() - 10 * 24 * 3_600_000 }));
      expect([expires, res.status, await s3Code(res)]).toEqual([expires, 400, 'AuthorizationQueryParametersError']);
    }
    const week = await call(signed(s.url, '/sig-bucket/k.txt', { service: 's3', query: { expires: '604800' } }));
    expect(week.status).toBe(200);
  });
});
