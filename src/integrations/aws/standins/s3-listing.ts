// The S3 stand-in's list answers: ListObjectsV2 and ListObjects, XML-escaped or url-encoded keys.
import { type Bucket, type S3Buckets, type S3Object, s3Error } from './s3-buckets.ts';
import { xmlEscape } from './shared.ts';

export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
export const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';
export const isoDate = (ms: number): string => new Date(ms).toISOString();

/** S3's `encoding-type=url`: form-style escaping, `/` kept. */
const urlEncodeKey = (s: string): string => encodeURIComponent(s).replace(/%2F/g, '/').replace(/%20/g, '+');

function contentsXml(objs: S3Object[], enc: (s: string) => string, withOwner: boolean, owner: string): string {
  return objs
    .map(
      (o) =>
        `<Contents><Key>${xmlEscape(enc(o.key))}</Key><LastModified>${isoDate(o.lastModified)}</LastModified><ETag>${xmlEscape(o.etag)}</ETag>${o.checksums.crc32 ? '<ChecksumAlgorithm>CRC32</ChecksumAlgorithm>' : ''}<Size>${o.body.length}</Size>${withOwner ? `<Owner><ID>${owner}</ID></Owner>` : ''}<StorageClass>STANDARD</StorageClass></Contents>`,
    )
    .join('');
}

function parseMaxKeys(v: string | null): number {
  if (v === null) return 1000;
  if (!/^\d+$/.test(v)) throw s3Error(400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range', { ArgumentName: 'max-keys', ArgumentValue: v });
  return Math.min(Number(v), 1000);
}

/** ListObjectsV2's answer (continuation tokens are opaque: the last key or prefix listed). */
export function listObjectsV2(buckets: S3Buckets, b: Bucket, q: URLSearchParams): string {
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = parseMaxKeys(q.get('max-keys'));
  const token = q.get('continuation-token');
  const startAfter = q.get('start-after');
  const encoding = q.get('encoding-type');
  if (encoding !== null && encoding !== 'url') throw s3Error(400, 'InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: encoding });
  let after: { k: string; p: boolean } | undefined;
  if (token !== null) {
    try {
      after = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k: string; p: boolean };
      if (typeof after.k !== 'string') throw new Error('bad');
    } catch {
      throw s3Error(400, 'InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
    }
  } else if (startAfter) {
    after = { k: startAfter, p: false };
  }
  const r = buckets.list(b, prefix, delimiter, maxKeys, after);
  const enc = encoding === 'url' ? urlEncodeKey : (s: string) => s;
  const fetchOwner = q.get('fetch-owner') === 'true';
  let xml = `${XML_DECL}<ListBucketResult xmlns="${S3_NAMESPACE}"><Name>${xmlEscape(b.name)}</Name><Prefix>${xmlEscape(enc(prefix))}</Prefix>`;
  if (startAfter !== null) xml += `<StartAfter>${xmlEscape(enc(startAfter))}</StartAfter>`;
  xml += `<KeyCount>${r.contents.length + r.prefixes.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>`;
  if (delimiter) xml += `<Delimiter>${xmlEscape(enc(delimiter))}</Delimiter>`;
  if (encoding) xml += `<EncodingType>${encoding}</EncodingType>`;
  xml += `<IsTruncated>${r.truncated}</IsTruncated>`;
  if (token !== null) xml += `<ContinuationToken>${xmlEscape(token)}</ContinuationToken>`;
  if (r.truncated && r.last) xml += `<NextContinuationToken>${Buffer.from(JSON.stringify(r.last)).toString('base64url')}</NextContinuationToken>`;
  xml += contentsXml(r.contents, enc, fetchOwner, b.ownerAccountId);
  xml += r.prefixes.map((p) => `<CommonPrefixes><Prefix>${xmlEscape(enc(p))}</Prefix></CommonPrefixes>`).join('');
  return `${xml}</ListBucketResult>`;
}

/** ListObjects' (v1) answer, paged by marker. */
export function listObjectsV1(buckets: S3Buckets, b: Bucket, q: URLSearchParams): string {
  const prefix = q.get('prefix') ?? '';
  const delimiter = q.get('delimiter') ?? '';
  const maxKeys = parseMaxKeys(q.get('max-keys'));
  const marker = q.get('marker') ?? '';
  const encoding = q.get('encoding-type');
  const enc = encoding === 'url' ? urlEncodeKey : (s: string) => s;
  const r = buckets.list(b, prefix, delimiter, maxKeys, marker ? { k: marker, p: false } : undefined);
  let xml = `${XML_DECL}<ListBucketResult xmlns="${S3_NAMESPACE}"><Name>${xmlEscape(b.name)}</Name><Prefix>${xmlEscape(enc(prefix))}</Prefix><Marker>${xmlEscape(enc(marker))}</Marker><MaxKeys>${maxKeys}</MaxKeys>`;
  if (delimiter) xml += `<Delimiter>${xmlEscape(enc(delimiter))}</Delimiter>`;
  if (encoding) xml += `<EncodingType>${encoding}</EncodingType>`;
  xml += `<IsTruncated>${r.truncated}</IsTruncated>`;
  if (r.truncated && delimiter && r.last) xml += `<NextMarker>${xmlEscape(enc(r.last.k))}</NextMarker>`;
  xml += contentsXml(r.contents, enc, true, b.ownerAccountId);
  xml += r.prefixes.map((p) => `<CommonPrefixes><Prefix>${xmlEscape(enc(p))}</Prefix></CommonPrefixes>`).join('');
  return `${xml}</ListBucketResult>`;
}
