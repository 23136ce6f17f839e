import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchBucket,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BASE_CREDENTIALS } from './credentials.ts';
import { rebaseRecords, toCloudTrailLogObjects } from './records.ts';
import { createS3Service, startS3Standin } from './s3.ts';
import type { S3Standin } from './s3.ts';
import { clientConfig, loadFixtureRecords } from './testing.ts';

let s3: S3Standin;
let client: S3Client;

beforeAll(async () => {
  s3 = await startS3Standin();
  client = new S3Client(clientConfig(s3.url));
});
afterAll(() => s3.close());

describe('objects', () => {
  it('round-trips bytes through PutObject, GetObject and HeadObject with the real client', async () => {
    await client.send(new CreateBucketCommand({ Bucket: 'trail-logs' }));
    const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
    const put = await client.send(new PutObjectCommand({ Bucket: 'trail-logs', Key: 'a/b.bin', Body: bytes, ContentType: 'application/octet-stream', Metadata: { origin: 'test' } }));
    const md5 = createHash('md5').update(bytes).digest('hex');
    expect(put.ETag).toBe(`"${md5}"`);

    const got = await client.send(new GetObjectCommand({ Bucket: 'trail-logs', Key: 'a/b.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray())).toEqual(bytes);
    expect(got).toMatchObject({ ETag: `"${md5}"`, ContentLength: 3000, ContentType: 'application/octet-stream', Metadata: { origin: 'test' } });
    expect(got.LastModified).toBeInstanceOf(Date);
    expect(got.ChecksumCRC32).toBeDefined(); // the client validated it against the body

    const head = await client.send(new HeadObjectCommand({ Bucket: 'trail-logs', Key: 'a/b.bin' }));
    expect(head).toMatchObject({ ContentLength: 3000, ETag: `"${md5}"` });

    const part = await client.send(new GetObjectCommand({ Bucket: 'trail-logs', Key: 'a/b.bin', Range: 'bytes=10-19' }));
    expect(Buffer.from(await part.Body!.transformToByteArray())).toEqual(bytes.subarray(10, 20));
    expect(part.ContentRange).toBe('bytes 10-19/3000');
  });

  it('accepts a streamed upload (aws-chunked with a checksum trailer)', async () => {
    const text = 'streamed '.repeat(1000);
    await client.send(new PutObjectCommand({ Bucket: 'trail-logs', Key: 'stream.txt', Body: Readable.from([Buffer.from(text)]), ContentLength: Buffer.byteLength(text) }));
    expect(s3.getObject('trail-logs', 'stream.txt')?.body.toString()).toBe(text);
    const last = s3.requests.at(-1);
    expect(last).toMatchObject({ operation: 'PutObject', status: 200 });
  });

  it('answers missing keys and buckets with the typed 404 errors', async () => {
    const noKey = await client.send(new GetObjectCommand({ Bucket: 'trail-logs', Key: 'nope' })).catch((e: unknown) => e);
    expect(noKey).toBeInstanceOf(NoSuchKey);
    expect(noKey).toMatchObject({ $metadata: { httpStatusCode: 404 } });
    const noBucket = await client.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'k' })).catch((e: unknown) => e);
    expect(noBucket).toBeInstanceOf(NoSuchBucket);
    await expect(client.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' }))).rejects.toBeInstanceOf(NoSuchBucket);
    await expect(client.send(new HeadObjectCommand({ Bucket: 'trail-logs', Key: 'nope' }))).rejects.toMatchObject({ name: 'NotFound', $metadata: { httpStatusCode: 404 } });
    await expect(client.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'k', Body: 'x' }))).rejects.toBeInstanceOf(NoSuchBucket);
  });

  it('copies and deletes objects', async () => {
    s3.putObject('trail-logs', 'src.json', '{"a":1}', { contentType: 'application/json' });
    await client.send(new CopyObjectCommand({ Bucket: 'trail-logs', Key: 'dst.json', CopySource: 'trail-logs/src.json' }));
    expect(s3.getObject('trail-logs', 'dst.json')?.body.toString()).toBe('{"a":1}');
    await client.send(new DeleteObjectCommand({ Bucket: 'trail-logs', Key: 'dst.json' }));
    expect(s3.getObject('trail-logs', 'dst.json')).toBeUndefined();
  });

  it('rejects unknown keys and bad signatures', async () => {
    const stranger = new S3Client(clientConfig(s3.url, { credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' } }));
    await expect(stranger.send(new ListObjectsV2Command({ Bucket: 'trail-logs' }))).rejects.toMatchObject({ name: 'InvalidAccessKeyId', $metadata: { httpStatusCode: 403 } });
    const forger = new S3Client(clientConfig(s3.url, { credentials: { accessKeyId: DEFAULT_BASE_CREDENTIALS.accessKeyId, secretAccessKey: 'wrong' } }));
    await expect(forger.send(new GetObjectCommand({ Bucket: 'trail-logs', Key: 'a/b.bin' }))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
  });
});

describe('ListObjectsV2', () => {
  const bucket = 'listing';
  const keys = [
    'AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/15/a.json.gz',
    'AWSLogs/111111111111/CloudTrail/us-east-1/2026/01/15/b.json.gz',
    'AWSLogs/111111111111/CloudTrail/eu-west-1/2026/01/15/c.json.gz',
    'AWSLogs/111111111111/CloudTrail-Digest/us-east-1/2026/01/15/d.json.gz',
    'AWSLogs/222222222222/CloudTrail/us-east-1/2026/01/15/e.json.gz',
    'odd/a&b<c>"d\'.txt',
    'odd/with space+plus.txt',
    'odd/ünïcødé/ß.txt',
    'odd/tab\tand\nnewline.txt',
    'top.txt',
  ];
  beforeAll(() => {
    for (const k of keys) s3.putObject(bucket, k, k);
  });

  it('groups by delimiter into CommonPrefixes and counts them in KeyCount', async () => {
    const root = await client.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
    expect(root.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['AWSLogs/', 'odd/']);
    expect(root.Contents?.map((o) => o.Key)).toEqual(['top.txt']);
    expect(root).toMatchObject({ KeyCount: 3, IsTruncated: false, MaxKeys: 1000, Delimiter: '/' });

    const acct = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'AWSLogs/111111111111/', Delimiter: '/' }));
    expect(acct.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['AWSLogs/111111111111/CloudTrail-Digest/', 'AWSLogs/111111111111/CloudTrail/']);
    expect(acct.Contents ?? []).toEqual([]);

    const regions = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'AWSLogs/111111111111/CloudTrail/', Delimiter: '/' }));
    expect(regions.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['AWSLogs/111111111111/CloudTrail/eu-west-1/', 'AWSLogs/111111111111/CloudTrail/us-east-1/']);
  });

  it('returns XML-escaped keys intact', async () => {
    const odd = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'odd/' }));
    expect(odd.Contents?.map((o) => o.Key)).toEqual(keys.filter((k) => k.startsWith('odd/')).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    for (const o of odd.Contents ?? []) {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: o.Key }));
      expect(await got.Body!.transformToString()).toBe(o.Key);
    }
  });

  it('pages with MaxKeys and continuation tokens, prefixes included, each entry once', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/', Prefix: 'odd/', MaxKeys: 2, ContinuationToken: token }));
      pages++;
      expect(page.KeyCount).toBe((page.Contents?.length ?? 0) + (page.CommonPrefixes?.length ?? 0));
      seen.push(...(page.Contents ?? []).map((o) => o.Key ?? ''), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''));
      expect(page.IsTruncated).toBe(page.NextContinuationToken !== undefined);
      token = page.NextContinuationToken;
    } while (token);
    expect(pages).toBe(2);
    expect(seen.sort()).toEqual(['odd/a&b<c>"d\'.txt', 'odd/tab\tand\nnewline.txt', 'odd/with space+plus.txt', 'odd/ünïcødé/'].sort());

    const all: string[] = [];
    for await (const page of paginateListObjectsV2({ client, pageSize: 3 }, { Bucket: bucket })) all.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
    expect(all).toHaveLength(keys.length);
    expect(new Set(all)).toEqual(new Set(keys));
  });

  it('starts after a given key', async () => {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: 'AWSLogs/222222222222/CloudTrail/us-east-1/2026/01/15/e.json.gz', Prefix: 'AWSLogs/' }));
    expect(page.Contents ?? []).toEqual([]);
    const rest = await client.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: 'odd/z' }));
    expect(rest.Contents?.map((o) => o.Key)).toEqual(['odd/ünïcødé/ß.txt', 'top.txt']);
    expect(rest.StartAfter).toBe('odd/z');
  });

  it('holds CloudTrail log files laid out as a trail delivers them', async () => {
    const records = rebaseRecords(loadFixtureRecords('stratus-records.json'), { accountId: '111111111111', newest: Date.UTC(2026, 0, 15, 12) });
    const files = toCloudTrailLogObjects(records, { prefix: 'org' });
    for (const f of files) s3.putObject('ct-bucket', f.key, f.body);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: 'ct-bucket', Prefix: 'org/AWSLogs/111111111111/CloudTrail/', Delimiter: '/' }));
    expect(listed.CommonPrefixes?.length).toBeGreaterThan(0);
    const key = files[0].key;
    expect(key).toMatch(/^org\/AWSLogs\/111111111111\/CloudTrail\/[^/]+\/\d{4}\/\d{2}\/\d{2}\/111111111111_CloudTrail_[^_]+_\d{8}T\d{4}Z_[A-Za-z0-9]{16}\.json\.gz$/);
    const got = await client.send(new GetObjectCommand({ Bucket: 'ct-bucket', Key: key }));
    const doc = JSON.parse(gunzipSync(await got.Body!.transformToByteArray()).toString()) as { Records: unknown[] };
    expect(doc.Records).toEqual(files[0].records);
  });
});

describe('addressing', () => {
  it('understands virtual-hosted-style requests on *.localhost', async () => {
    const svc = createS3Service({ verifySignatures: false });
    svc.putObject('vhost-bucket', 'dir/key.txt', 'hello');
    const headers = {
      authorization: `AWS4-HMAC-SHA256 Credential=${DEFAULT_BASE_CREDENTIALS.accessKeyId}/20260115/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00`,
      'x-amz-date': '20260115T120000Z',
    };
    const res = await svc.handle(new Request('http://vhost-bucket.s3.localhost:4566/dir/key.txt', { headers }));
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('hello');
    const list = await svc.handle(new Request('http://vhost-bucket.localhost:4566/?list-type=2&prefix=dir%2F', { headers }));
    expect(await list.text()).toContain('<Key>dir/key.txt</Key>');
  });
});
