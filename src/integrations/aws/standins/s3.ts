// S3 stand-in (restXml): buckets and objects in memory; path-style and *.localhost virtual-host addressing.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { crc32 } from 'node:zlib';
import { authenticate, createCredentialStore, rawPathAndQuery } from './credentials.ts';
import type { AuthFailureReason, CredentialStore } from './credentials.ts';
import { hostId, listen, nextSeq, readBody, requestId, stampDate, xmlEscape } from './shared.ts';
import type { FetchHandler, ListenOptions, Listener, RequestRecord } from './shared.ts';

export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';
const XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';

export interface S3Object {
  key: string;
  body: Buffer;
  /** quoted, as in the ETag header */
  etag: string;
  /** epoch ms, whole seconds */
  lastModified: number;
  contentType: string;
  metadata: Record<string, string>;
  /** algorithm (crc32, crc32c, crc64nvme, sha1, sha256) → base64 value */
  checksums: Record<string, string>;
}

interface Bucket {
  name: string;
  region: string;
  ownerAccountId: string;
  createdAt: number;
  objects: Map<string, S3Object>;
  sorted?: string[];
}

export interface S3ServiceOptions {
  credentials?: CredentialStore;
  verifySignatures?: boolean;
  requests?: RequestRecord[];
  /** region of buckets made without a LocationConstraint or by the helpers (default us-east-1) */
  region?: string;
  /** Host suffixes that mean virtual-hosted-style addressing: `<bucket>.<suffix>` (default s3.localhost, localhost) */
  virtualHostSuffixes?: readonly string[];
}

export interface PutObjectOptions {
  contentType?: string;
  lastModified?: Date | number;
  metadata?: Record<string, string>;
}

export interface S3Service {
  readonly service: 's3';
  readonly handle: FetchHandler;
  readonly credentials: CredentialStore;
  readonly requests: RequestRecord[];
  createBucket(name: string, region?: string): void;
  /** stores an object directly (creating the bucket if needed) and returns its ETag */
  putObject(bucket: string, key: string, body: string | Uint8Array, opts?: PutObjectOptions): string;
  getObject(bucket: string, key: string): S3Object | undefined;
  deleteObject(bucket: string, key: string): void;
  listKeys(bucket: string, prefix?: string): string[];
}

export interface S3Standin extends S3Service, Listener {}

class S3Error extends Error {
  readonly code: string;
  readonly status: number;
  readonly extra: Record<string, string>;
  constructor(status: number, code: string, message: string, extra: Record<string, string> = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.extra = extra;
  }
}

const AUTH_ERRORS: Record<AuthFailureReason, [number, string]> = {
  missing: [403, 'AccessDenied'],
  'unknown-key': [403, 'InvalidAccessKeyId'],
  'bad-token': [400, 'InvalidToken'],
  expired: [400, 'ExpiredToken'],
  'request-expired': [403, 'AccessDenied'],
  'bad-expires': [400, 'AuthorizationQueryParametersError'],
  skewed: [403, 'RequestTimeTooSkewed'],
  'unsigned-host': [403, 'AccessDenied'],
  'bad-payload-hash': [400, 'XAmzContentSHA256Mismatch'],
  'bad-signature': [403, 'SignatureDoesNotMatch'],
  'wrong-service': [400, 'AuthorizationHeaderMalformed'],
};
const AUTH_MESSAGES: Partial<Record<AuthFailureReason, string>> = {
  missing: 'Access Denied',
  'unknown-key': 'The AWS Access Key Id you provided does not exist in our records.',
  'bad-token': 'The provided token is malformed or otherwise invalid.',
  expired: 'The provided token has expired.',
  skewed: 'The difference between the request time and the current time is too large.',
  'unsigned-host': 'There were headers present in the request which were not signed',
};

const utf8Compare = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

const BUCKET_NAME = /^(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const md5Etag = (body: Uint8Array): string => `"${createHash('md5').update(body).digest('hex')}"`;
const crc32Base64 = (body: Uint8Array): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32(body) >>> 0);
  return b.toString('base64');
};
const httpDate = (ms: number): string => new Date(ms).toUTCString();
const isoDate = (ms: number): string => new Date(ms).toISOString();
const wholeSeconds = (ms: number): number => Math.floor(ms / 1000) * 1000;

/** Decodes `Content-Encoding: aws-chunked` bodies (signed or unsigned chunks, optional trailer). */
export function decodeAwsChunked(raw: Buffer): { body: Buffer; trailers: Record<string, string> } {
  const parts: Buffer[] = [];
  const trailers: Record<string, string> = {};
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) throw new S3Error(400, 'IncompleteBody', 'The request body terminated unexpectedly');
    const header = raw.subarray(pos, eol).toString('latin1');
    const size = Number.parseInt(header.split(';')[0], 16);
    if (!Number.isFinite(size)) throw new S3Error(400, 'InvalidRequest', 'Malformed aws-chunked body');
    pos = eol + 2;
    if (size === 0) break;
    parts.push(raw.subarray(pos, pos + size));
    pos += size + 2;
  }
  for (const line of raw.subarray(pos).toString('latin1').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) trailers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { body: Buffer.concat(parts), trailers };
}

const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;

function verifyChecksums(body: Buffer, given: Record<string, string>): Record<string, string> {
  const stored: Record<string, string> = {};
  for (const alg of CHECKSUM_ALGORITHMS) {
    const v = given[`x-amz-checksum-${alg}`];
    if (!v) continue;
    let actual: string | undefined;
    if (alg === 'crc32') actual = crc32Base64(body);
    else if (alg === 'sha1' || alg === 'sha256') actual = createHash(alg).update(body).digest('base64');
    if (actual !== undefined && actual !== v) {
      throw new S3Error(400, 'BadDigest', `The ${alg.toUpperCase()} you specified did not match the calculated checksum.`);
    }
    stored[alg] = v;
  }
  return stored;
}

/** S3's `encoding-type=url`: form-style escaping, `/` kept. */
const urlEncodeKey = (s: string): string => encodeURIComponent(s).replace(/%2F/g, '/').replace(/%20/g, '+');

interface ListResult {
  contents: S3Object[];
  prefixes: string[];
  truncated: boolean;
  last?: { k: string; p: boolean };
}

export function createS3Service(opts: S3ServiceOptions = {}): S3Service {
  const credentials = opts.credentials ?? createCredentialStore();
  const requests = opts.requests ?? [];
  const verifySignatures = opts.verifySignatures ?? true;
  const defaultRegion = opts.region ?? 'us-east-1';
  const suffixes = [...(opts.virtualHostSuffixes ?? ['s3.localhost', 'localhost'])].sort((a, b) => b.length - a.length);
  const buckets = new Map<string, Bucket>();

  function sortedKeys(b: Bucket): string[] {
    b.sorted ??= [...b.objects.keys()].sort(utf8Compare);
    return b.sorted;
  }

  function bucketOrThrow(name: string): Bucket {
    const b = buckets.get(name);
    if (!b) throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: name });
    return b;
  }

  function createBucket(name: string, region: string, owner: string): Bucket {
    if (!BUCKET_NAME.test(name) || name.includes('..')) throw new S3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
    const existing = buckets.get(name);
    if (existing) {
      if (existing.ownerAccountId === owner) throw new S3Error(409, 'BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: name });
      throw new S3Error(409, 'BucketAlreadyExists', 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.', { BucketName: name });
    }
    const b: Bucket = { name, region, ownerAccountId: owner, createdAt: Date.now(), objects: new Map() };
    buckets.set(name, b);
    return b;
  }

  function store(b: Bucket, key: string, body: Buffer, contentType: string, metadata: Record<string, string>, checksums: Record<string, string>, lastModified = Date.now()): S3Object {
    const obj: S3Object = {
      key,
      body,
      etag: md5Etag(body),
      lastModified: wholeSeconds(lastModified),
      contentType,
      metadata,
      checksums: Object.keys(checksums).length > 0 ? checksums : { crc32: crc32Base64(body) },
    };
    if (!b.objects.has(key)) b.sorted = undefined;
    b.objects.set(key, obj);
    return obj;
  }

  function list(b: Bucket, prefix: string, delimiter: string, maxKeys: number, after: { k: string; p: boolean } | undefined): ListResult {
    const keys = sortedKeys(b);
    const res: ListResult = { contents: [], prefixes: [], truncated: false };
    const from = after && utf8Compare(after.k, prefix) > 0 ? after.k : prefix;
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (utf8Compare(keys[mid], from) < 0) lo = mid + 1;
      else hi = mid;
    }
    let lastPrefix: string | undefined = after?.p ? after.k : undefined;
    for (let i = lo; i < keys.length; i++) {
      const key = keys[i];
      if (!key.startsWith(prefix)) break;
      if (after && utf8Compare(key, after.k) <= 0) continue;
      if (lastPrefix !== undefined && key.startsWith(lastPrefix)) continue;
      const idx = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      const item = idx >= 0 ? { k: key.slice(0, idx + delimiter.length), p: true } : { k: key, p: false };
      if (res.contents.length + res.prefixes.length >= maxKeys) {
        res.truncated = maxKeys > 0;
        break;
      }
      if (item.p) {
        res.prefixes.push(item.k);
        lastPrefix = item.k;
      } else {
        const obj = b.objects.get(key);
        if (obj) res.contents.push(obj);
      }
      res.last = item;
    }
    return res;
  }

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
    if (!/^\d+$/.test(v)) throw new S3Error(400, 'InvalidArgument', 'Provided max-keys not an integer or within integer range', { ArgumentName: 'max-keys', ArgumentValue: v });
    return Math.min(Number(v), 1000);
  }

  function listObjectsV2(b: Bucket, q: URLSearchParams): string {
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const maxKeys = parseMaxKeys(q.get('max-keys'));
    const token = q.get('continuation-token');
    const startAfter = q.get('start-after');
    const encoding = q.get('encoding-type');
    if (encoding !== null && encoding !== 'url') throw new S3Error(400, 'InvalidArgument', 'Invalid Encoding Method specified in Request', { ArgumentName: 'encoding-type', ArgumentValue: encoding });
    let after: { k: string; p: boolean } | undefined;
    if (token !== null) {
      try {
        after = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { k: string; p: boolean };
        if (typeof after.k !== 'string') throw new Error('bad');
      } catch {
        throw new S3Error(400, 'InvalidArgument', 'The continuation token provided is incorrect', { ArgumentName: 'continuation-token' });
      }
    } else if (startAfter) {
      after = { k: startAfter, p: false };
    }
    const r = list(b, prefix, delimiter, maxKeys, after);
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

  function listObjectsV1(b: Bucket, q: URLSearchParams): string {
    const prefix = q.get('prefix') ?? '';
    const delimiter = q.get('delimiter') ?? '';
    const maxKeys = parseMaxKeys(q.get('max-keys'));
    const marker = q.get('marker') ?? '';
    const encoding = q.get('encoding-type');
    const enc = encoding === 'url' ? urlEncodeKey : (s: string) => s;
    const r = list(b, prefix, delimiter, maxKeys, marker ? { k: marker, p: false } : undefined);
    let xml = `${XML_DECL}<ListBucketResult xmlns="${S3_NAMESPACE}"><Name>${xmlEscape(b.name)}</Name><Prefix>${xmlEscape(enc(prefix))}</Prefix><Marker>${xmlEscape(enc(marker))}</Marker><MaxKeys>${maxKeys}</MaxKeys>`;
    if (delimiter) xml += `<Delimiter>${xmlEscape(enc(delimiter))}</Delimiter>`;
    if (encoding) xml += `<EncodingType>${encoding}</EncodingType>`;
    xml += `<IsTruncated>${r.truncated}</IsTruncated>`;
    if (r.truncated && delimiter && r.last) xml += `<NextMarker>${xmlEscape(enc(r.last.k))}</NextMarker>`;
    xml += contentsXml(r.contents, enc, true, b.ownerAccountId);
    xml += r.prefixes.map((p) => `<CommonPrefixes><Prefix>${xmlEscape(enc(p))}</Prefix></CommonPrefixes>`).join('');
    return `${xml}</ListBucketResult>`;
  }

  function objectHeaders(o: S3Object, checksumMode: boolean): Record<string, string> {
    const h: Record<string, string> = {
      'content-type': o.contentType,
      etag: o.etag,
      'last-modified': httpDate(o.lastModified),
      'accept-ranges': 'bytes',
    };
    for (const [k, v] of Object.entries(o.metadata)) h[`x-amz-meta-${k}`] = v;
    if (checksumMode) {
      for (const [alg, v] of Object.entries(o.checksums)) h[`x-amz-checksum-${alg}`] = v;
      h['x-amz-checksum-type'] = 'FULL_OBJECT';
    }
    return h;
  }

  function parseRange(range: string, size: number): [number, number] | undefined {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (!m || (m[1] === '' && m[2] === '')) return undefined; // ignored, as S3 ignores malformed ranges
    let start: number;
    let end: number;
    if (m[1] === '') {
      start = Math.max(0, size - Number(m[2]));
      end = size - 1;
    } else {
      start = Number(m[1]);
      end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    }
    if (start >= size || start > end) throw new S3Error(416, 'InvalidRange', 'The requested range is not satisfiable', { RangeRequested: range, ActualObjectSize: String(size) });
    return [start, end];
  }

  interface Target {
    bucket?: string;
    key?: string;
  }

  function target(req: Request): Target {
    const { rawPath } = rawPathAndQuery(req.url);
    const host = (req.headers.get('host') ?? new URL(req.url).host).replace(/:\d+$/, '').toLowerCase();
    let vhostBucket: string | undefined;
    for (const s of suffixes) {
      if (host.endsWith(`.${s}`)) {
        vhostBucket = host.slice(0, -(s.length + 1));
        break;
      }
    }
    const decode = (s: string) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw new S3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
      }
    };
    if (vhostBucket) {
      const key = rawPath.slice(1);
      return { bucket: vhostBucket, key: key ? decode(key) : undefined };
    }
    const slash = rawPath.indexOf('/', 1);
    const bucket = decode(slash < 0 ? rawPath.slice(1) : rawPath.slice(1, slash));
    const key = slash < 0 ? '' : rawPath.slice(slash + 1);
    return { bucket: bucket || undefined, key: key ? decode(key) : undefined };
  }

  const xmlHeaders = (rid: string) => ({ 'content-type': 'application/xml', 'x-amz-request-id': rid, 'x-amz-id-2': hostId() });

  function operationName(method: string, t: Target, q: URLSearchParams): string {
    if (!t.bucket) return method === 'GET' ? 'ListBuckets' : 'Unknown';
    if (t.key === undefined) {
      if (method === 'GET') return q.get('list-type') === '2' ? 'ListObjectsV2' : q.has('location') ? 'GetBucketLocation' : 'ListObjects';
      return ({ HEAD: 'HeadBucket', PUT: 'CreateBucket', DELETE: 'DeleteBucket' } as Record<string, string>)[method] ?? 'Unknown';
    }
    return ({ GET: 'GetObject', HEAD: 'HeadObject', PUT: 'PutObject', DELETE: 'DeleteObject' } as Record<string, string>)[method] ?? 'Unknown';
  }

  const BUCKET_SUBRESOURCES = ['acl', 'policy', 'versioning', 'tagging', 'lifecycle', 'notification', 'cors', 'website', 'logging', 'uploads', 'versions', 'encryption', 'replication', 'delete', 'object-lock'];
  const OBJECT_SUBRESOURCES = ['acl', 'tagging', 'uploads', 'uploadId', 'retention', 'legal-hold', 'attributes', 'restore', 'torrent', 'select'];

  async function route(req: Request, t: Target, q: URLSearchParams, body: Buffer, accountId: string, rid: string): Promise<Response> {
    const method = req.method;
    const ok = (xml: string, status = 200, headers: Record<string, string> = {}) => new Response(xml, { status, headers: { ...xmlHeaders(rid), ...headers } });
    if (!t.bucket) {
      if (method !== 'GET') throw new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
      const list = [...buckets.values()].filter((b) => b.ownerAccountId === accountId).sort((a, b) => utf8Compare(a.name, b.name));
      return ok(
        `${XML_DECL}<ListAllMyBucketsResult xmlns="${S3_NAMESPACE}"><Owner><ID>${accountId}</ID></Owner><Buckets>${list.map((b) => `<Bucket><Name>${xmlEscape(b.name)}</Name><CreationDate>${isoDate(b.createdAt)}</CreationDate><BucketRegion>${b.region}</BucketRegion></Bucket>`).join('')}</Buckets></ListAllMyBucketsResult>`,
      );
    }
    const subresources = t.key === undefined ? BUCKET_SUBRESOURCES : OBJECT_SUBRESOURCES;
    const sub = subresources.find((s) => q.has(s));
    if (sub) throw new S3Error(501, 'NotImplemented', `The stand-in does not implement the ?${sub} subresource.`);

    if (t.key === undefined) {
      switch (method) {
        case 'PUT': {
          const m = /<LocationConstraint>([^<]*)<\/LocationConstraint>/.exec(body.toString('utf8'));
          createBucket(t.bucket, m?.[1] || 'us-east-1', accountId);
          return new Response(null, { status: 200, headers: { location: `/${t.bucket}`, 'x-amz-request-id': rid } });
        }
        case 'HEAD': {
          const b = bucketOrThrow(t.bucket);
          return new Response(null, { status: 200, headers: { 'x-amz-bucket-region': b.region, 'x-amz-request-id': rid } });
        }
        case 'DELETE': {
          const b = bucketOrThrow(t.bucket);
          if (b.objects.size > 0) throw new S3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: b.name });
          buckets.delete(b.name);
          return new Response(null, { status: 204, headers: { 'x-amz-request-id': rid } });
        }
        case 'GET': {
          const b = bucketOrThrow(t.bucket);
          if (q.has('location')) return ok(`${XML_DECL}<LocationConstraint xmlns="${S3_NAMESPACE}">${b.region === 'us-east-1' ? '' : b.region}</LocationConstraint>`);
          return ok(q.get('list-type') === '2' ? listObjectsV2(b, q) : listObjectsV1(b, q), 200, { 'x-amz-bucket-region': b.region });
        }
        default:
          throw new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
      }
    }

    const key = t.key;
    const b = bucketOrThrow(t.bucket);
    switch (method) {
      case 'GET':
      case 'HEAD': {
        const o = b.objects.get(key);
        if (!o) throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
        const ifMatch = req.headers.get('if-match');
        if (ifMatch && ifMatch !== '*' && !ifMatch.split(',').map((s) => s.trim()).includes(o.etag)) throw new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' });
        const ifNoneMatch = req.headers.get('if-none-match');
        if (ifNoneMatch && (ifNoneMatch === '*' || ifNoneMatch.split(',').map((s) => s.trim()).includes(o.etag))) {
          return new Response(null, { status: 304, headers: { etag: o.etag, 'last-modified': httpDate(o.lastModified), 'x-amz-request-id': rid } });
        }
        const rangeHeader = req.headers.get('range');
        const range = rangeHeader ? parseRange(rangeHeader, o.body.length) : undefined;
        const checksumMode = !range && req.headers.get('x-amz-checksum-mode')?.toUpperCase() === 'ENABLED';
        const headers: Record<string, string> = { ...objectHeaders(o, checksumMode), 'x-amz-request-id': rid, 'x-amz-id-2': hostId() };
        const bytes = range ? o.body.subarray(range[0], range[1] + 1) : o.body;
        headers['content-length'] = String(bytes.length);
        if (range) headers['content-range'] = `bytes ${range[0]}-${range[1]}/${o.body.length}`;
        const status = range ? 206 : 200;
        return new Response(method === 'HEAD' ? null : new Uint8Array(bytes), { status, headers });
      }
      case 'PUT': {
        const copySource = req.headers.get('x-amz-copy-source');
        if (copySource) {
          const src = decodeURIComponent(copySource.split('?')[0]).replace(/^\//, '');
          const slash = src.indexOf('/');
          const sb = bucketOrThrow(src.slice(0, slash));
          const so = sb.objects.get(src.slice(slash + 1));
          if (!so) throw new S3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: src.slice(slash + 1) });
          const replace = req.headers.get('x-amz-metadata-directive') === 'REPLACE';
          const o = store(b, key, Buffer.from(so.body), replace ? (req.headers.get('content-type') ?? so.contentType) : so.contentType, replace ? userMetadata(req.headers) : { ...so.metadata }, { ...so.checksums });
          return ok(`${XML_DECL}<CopyObjectResult xmlns="${S3_NAMESPACE}"><LastModified>${isoDate(o.lastModified)}</LastModified><ETag>${xmlEscape(o.etag)}</ETag></CopyObjectResult>`);
        }
        let data = body;
        const given: Record<string, string> = {};
        for (const [k, v] of req.headers) if (k.startsWith('x-amz-checksum-')) given[k] = v;
        if ((req.headers.get('content-encoding') ?? '').split(',').some((e) => e.trim() === 'aws-chunked')) {
          const decoded = decodeAwsChunked(body);
          data = decoded.body;
          Object.assign(given, decoded.trailers);
          const declared = req.headers.get('x-amz-decoded-content-length');
          if (declared !== null && Number(declared) !== data.length) throw new S3Error(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header');
        }
        const contentMd5 = req.headers.get('content-md5');
        if (contentMd5 && createHash('md5').update(data).digest('base64') !== contentMd5) throw new S3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
        const checksums = verifyChecksums(data, given);
        const contentType = req.headers.get('content-type') ?? 'binary/octet-stream';
        const o = store(b, key, data, contentType, userMetadata(req.headers), checksums);
        const headers: Record<string, string> = { etag: o.etag, 'x-amz-request-id': rid, 'x-amz-id-2': hostId() };
        for (const [alg, v] of Object.entries(checksums)) headers[`x-amz-checksum-${alg}`] = v;
        return new Response(null, { status: 200, headers });
      }
      case 'DELETE':
        if (b.objects.delete(key)) b.sorted = undefined;
        return new Response(null, { status: 204, headers: { 'x-amz-request-id': rid } });
      default:
        throw new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
    }
  }

  function userMetadata(headers: Headers): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of headers) if (k.startsWith('x-amz-meta-')) out[k.slice('x-amz-meta-'.length)] = v;
    return out;
  }

  const handle: FetchHandler = async (req) => {
    const timeMs = performance.now();
    const rid = requestId().replace(/-/g, '').slice(0, 16).toUpperCase();
    const record: RequestRecord = { seq: nextSeq(), service: 's3', operation: 'Unknown', timeMs, at: new Date().toISOString(), status: 0, durationMs: 0 };
    requests.push(record);
    const finish = (res: Response, errorType?: string) => {
      record.status = res.status;
      if (errorType) record.errorType = errorType;
      record.durationMs = performance.now() - timeMs;
      return stampDate(res, credentials.now());
    };
    const fail = (e: S3Error, t?: Target) => {
      const extra = { ...e.extra };
      const resource = t?.bucket ? `/${t.bucket}${t.key !== undefined ? `/${t.key}` : ''}` : undefined;
      const xml =
        req.method === 'HEAD'
          ? null
          : `${XML_DECL}<Error><Code>${e.code}</Code><Message>${xmlEscape(e.message)}</Message>${Object.entries(extra)
              .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
              .join('')}${resource && !('Key' in extra) && !('BucketName' in extra) ? `<Resource>${xmlEscape(resource)}</Resource>` : ''}<RequestId>${rid}</RequestId><HostId>${hostId()}</HostId></Error>`;
      return finish(new Response(xml, { status: e.status, headers: xmlHeaders(rid) }), e.code);
    };

    let t: Target | undefined;
    try {
      const url = new URL(req.url);
      t = target(req);
      record.operation = operationName(req.method, t, url.searchParams);
      record.params = { bucket: t.bucket, key: t.key, query: Object.fromEntries(url.searchParams) };
      const body = await readBody(req);
      const auth = authenticate(req, body, credentials, { service: 's3', verifySignature: verifySignatures });
      if (auth.accessKeyId) record.accessKeyId = auth.accessKeyId;
      if (auth.region) record.region = auth.region;
      if (!auth.ok) {
        const [status, code] = AUTH_ERRORS[auth.reason];
        return fail(new S3Error(status, code, AUTH_MESSAGES[auth.reason] ?? auth.message, { ...(auth.accessKeyId && auth.reason === 'unknown-key' ? { AWSAccessKeyId: auth.accessKeyId } : {}), ...auth.details }));
      }
      record.accountId = auth.principal.accountId;
      return finish(await route(req, t, url.searchParams, body, auth.principal.accountId, rid));
    } catch (e) {
      if (e instanceof S3Error) return fail(e, t);
      throw e;
    }
  };

  const base = () => credentials.base.accountId;
  return {
    service: 's3',
    handle,
    credentials,
    requests,
    createBucket(name, region = defaultRegion) {
      if (!buckets.has(name)) createBucket(name, region, base());
    },
    putObject(bucket, key, body, o = {}) {
      const b = buckets.get(bucket) ?? createBucket(bucket, defaultRegion, base());
      const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
      const lm = o.lastModified === undefined ? undefined : typeof o.lastModified === 'number' ? o.lastModified : o.lastModified.getTime();
      return store(b, key, data, o.contentType ?? 'binary/octet-stream', { ...(o.metadata ?? {}) }, {}, lm).etag;
    },
    getObject: (bucket, key) => buckets.get(bucket)?.objects.get(key),
    deleteObject(bucket, key) {
      const b = buckets.get(bucket);
      if (b?.objects.delete(key)) b.sorted = undefined;
    },
    listKeys(bucket, prefix = '') {
      const b = buckets.get(bucket);
      return b ? sortedKeys(b).filter((k) => k.startsWith(prefix)) : [];
    },
  };
}

export type S3StandinOptions = S3ServiceOptions & ListenOptions;

export async function startS3Standin(opts: S3StandinOptions = {}): Promise<S3Standin> {
  const svc = createS3Service(opts);
  return Object.assign(svc, await listen(svc.handle, opts));
}
