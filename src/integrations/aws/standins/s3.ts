// S3 stand-in (restXml): path-style and *.localhost virtual-host addressing. Buckets and objects are in
// s3-buckets.ts, the list answers in s3-listing.ts; here are the operations, one table entry each
// (named as the request log names them), and the wire.
import { createHash } from 'node:crypto';
import { createCredentialStore, rawPathAndQuery } from './credentials.ts';
import type { CredentialStore } from './credentials.ts';
import { AwsError, logRequest, operationOf, refusal } from './protocol.ts';
import { type Bucket, createBuckets, decodeAwsChunked, type S3Object, s3Error, utf8Compare, verifyChecksums } from './s3-buckets.ts';
import { isoDate, listObjectsV1, listObjectsV2, S3_NAMESPACE, XML_DECL } from './s3-listing.ts';
import { hostId, listen, readBody, requestId, xmlEscape } from './shared.ts';
import type { FetchHandler, ListenOptions, Listener, RequestRecord } from './shared.ts';

export { decodeAwsChunked, type S3Object } from './s3-buckets.ts';
export { S3_NAMESPACE } from './s3-listing.ts';

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

const httpDate = (ms: number): string => new Date(ms).toUTCString();

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
  if (start >= size || start > end) throw s3Error(416, 'InvalidRange', 'The requested range is not satisfiable', { RangeRequested: range, ActualObjectSize: String(size) });
  return [start, end];
}

function userMetadata(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of headers) if (k.startsWith('x-amz-meta-')) out[k.slice('x-amz-meta-'.length)] = v;
  return out;
}

/** What a request names: a bucket (path-style or virtual-host) and a key. */
interface Target {
  bucket?: string;
  key?: string;
}

/** The operation a request is, by method, bucket, key and query (what the request log records). */
function operationName(method: string, t: Target, q: URLSearchParams): string {
  if (!t.bucket) return method === 'GET' ? 'ListBuckets' : 'Unknown';
  if (t.key === undefined) {
    if (method === 'GET') return q.has('location') ? 'GetBucketLocation' : q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
    return ({ HEAD: 'HeadBucket', PUT: 'CreateBucket', DELETE: 'DeleteBucket' } as Record<string, string>)[method] ?? 'Unknown';
  }
  return ({ GET: 'GetObject', HEAD: 'HeadObject', PUT: 'PutObject', DELETE: 'DeleteObject' } as Record<string, string>)[method] ?? 'Unknown';
}

const BUCKET_SUBRESOURCES = ['acl', 'policy', 'versioning', 'tagging', 'lifecycle', 'notification', 'cors', 'website', 'logging', 'uploads', 'versions', 'encryption', 'replication', 'delete', 'object-lock'];
const OBJECT_SUBRESOURCES = ['acl', 'tagging', 'uploads', 'uploadId', 'retention', 'legal-hold', 'attributes', 'restore', 'torrent', 'select'];
const methodNotAllowed = () => s3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
const xmlHeaders = (rid: string) => ({ 'content-type': 'application/xml', 'x-amz-request-id': rid, 'x-amz-id-2': hostId() });

/** One request to an operation. */
interface S3Call {
  req: Request;
  /** The bucket and key the request names (set for every operation on a bucket, and on an object). */
  bucket: string;
  key: string;
  q: URLSearchParams;
  body: Buffer;
  accountId: string;
  rid: string;
  /** An XML answer with S3's headers. */
  ok(xml: string, status?: number, headers?: Record<string, string>): Response;
}

export function createS3Service(opts: S3ServiceOptions = {}): S3Service {
  const credentials = opts.credentials ?? createCredentialStore();
  const requests = opts.requests ?? [];
  const verifySignatures = opts.verifySignatures ?? true;
  const defaultRegion = opts.region ?? 'us-east-1';
  const suffixes = [...(opts.virtualHostSuffixes ?? ['s3.localhost', 'localhost'])].sort((a, b) => b.length - a.length);
  const buckets = createBuckets();

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
        throw s3Error(400, 'InvalidURI', "Couldn't parse the specified URI.");
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

  /** GetObject and HeadObject: the object (or a range of it), honouring If-Match and If-None-Match. */
  function readObject({ req, bucket, key, rid }: S3Call, head: boolean): Response {
    const b = buckets.orThrow(bucket);
    const o = b.objects.get(key);
    if (!o) throw s3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: key });
    const ifMatch = req.headers.get('if-match');
    if (ifMatch && ifMatch !== '*' && !ifMatch.split(',').map((s) => s.trim()).includes(o.etag)) throw s3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' });
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
    return new Response(head ? null : new Uint8Array(bytes), { status: range ? 206 : 200, headers });
  }

  /** CopyObject: PutObject with x-amz-copy-source. */
  function copyObject({ req, key, ok }: S3Call, b: Bucket, copySource: string): Response {
    const src = decodeURIComponent(copySource.split('?')[0]).replace(/^\//, '');
    const slash = src.indexOf('/');
    const sb = buckets.orThrow(src.slice(0, slash));
    const so = sb.objects.get(src.slice(slash + 1));
    if (!so) throw s3Error(404, 'NoSuchKey', 'The specified key does not exist.', { Key: src.slice(slash + 1) });
    const replace = req.headers.get('x-amz-metadata-directive') === 'REPLACE';
    const o = buckets.store(b, key, Buffer.from(so.body), replace ? (req.headers.get('content-type') ?? so.contentType) : so.contentType, replace ? userMetadata(req.headers) : { ...so.metadata }, { ...so.checksums });
    return ok(`${XML_DECL}<CopyObjectResult xmlns="${S3_NAMESPACE}"><LastModified>${isoDate(o.lastModified)}</LastModified><ETag>${xmlEscape(o.etag)}</ETag></CopyObjectResult>`);
  }

  /** The operations, by the name operationName gives a request. */
  const operations: Record<string, (c: S3Call) => Response> = {
    ListBuckets({ accountId, ok }) {
      const list = buckets.all().filter((b) => b.ownerAccountId === accountId).sort((a, b) => utf8Compare(a.name, b.name));
      return ok(
        `${XML_DECL}<ListAllMyBucketsResult xmlns="${S3_NAMESPACE}"><Owner><ID>${accountId}</ID></Owner><Buckets>${list.map((b) => `<Bucket><Name>${xmlEscape(b.name)}</Name><CreationDate>${isoDate(b.createdAt)}</CreationDate><BucketRegion>${b.region}</BucketRegion></Bucket>`).join('')}</Buckets></ListAllMyBucketsResult>`,
      );
    },
    CreateBucket({ bucket, body, accountId, rid }) {
      const m = /<LocationConstraint>([^<]*)<\/LocationConstraint>/.exec(body.toString('utf8'));
      buckets.create(bucket, m?.[1] || 'us-east-1', accountId);
      return new Response(null, { status: 200, headers: { location: `/${bucket}`, 'x-amz-request-id': rid } });
    },
    HeadBucket({ bucket, rid }) {
      const b = buckets.orThrow(bucket);
      return new Response(null, { status: 200, headers: { 'x-amz-bucket-region': b.region, 'x-amz-request-id': rid } });
    },
    DeleteBucket({ bucket, rid }) {
      const b = buckets.orThrow(bucket);
      if (b.objects.size > 0) throw s3Error(409, 'BucketNotEmpty', 'The bucket you tried to delete is not empty', { BucketName: b.name });
      buckets.remove(b);
      return new Response(null, { status: 204, headers: { 'x-amz-request-id': rid } });
    },
    GetBucketLocation({ bucket, ok }) {
      const b = buckets.orThrow(bucket);
      return ok(`${XML_DECL}<LocationConstraint xmlns="${S3_NAMESPACE}">${b.region === 'us-east-1' ? '' : b.region}</LocationConstraint>`);
    },
    ListObjectsV2({ bucket, q, ok }) {
      const b = buckets.orThrow(bucket);
      return ok(listObjectsV2(buckets, b, q), 200, { 'x-amz-bucket-region': b.region });
    },
    ListObjects({ bucket, q, ok }) {
      const b = buckets.orThrow(bucket);
      return ok(listObjectsV1(buckets, b, q), 200, { 'x-amz-bucket-region': b.region });
    },
    GetObject: (c) => readObject(c, false),
    HeadObject: (c) => readObject(c, true),
    PutObject(c) {
      const { req, bucket, key, body, rid } = c;
      const b = buckets.orThrow(bucket);
      const copySource = req.headers.get('x-amz-copy-source');
      if (copySource) return copyObject(c, b, copySource);
      let data = body;
      const given: Record<string, string> = {};
      for (const [k, v] of req.headers) if (k.startsWith('x-amz-checksum-')) given[k] = v;
      if ((req.headers.get('content-encoding') ?? '').split(',').some((e) => e.trim() === 'aws-chunked')) {
        const decoded = decodeAwsChunked(body);
        data = decoded.body;
        Object.assign(given, decoded.trailers);
        const declared = req.headers.get('x-amz-decoded-content-length');
        if (declared !== null && Number(declared) !== data.length) throw s3Error(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header');
      }
      const contentMd5 = req.headers.get('content-md5');
      if (contentMd5 && createHash('md5').update(data).digest('base64') !== contentMd5) throw s3Error(400, 'BadDigest', 'The Content-MD5 you specified did not match what we received.');
      const checksums = verifyChecksums(data, given);
      const contentType = req.headers.get('content-type') ?? 'binary/octet-stream';
      const o = buckets.store(b, key, data, contentType, userMetadata(req.headers), checksums);
      const headers: Record<string, string> = { etag: o.etag, 'x-amz-request-id': rid, 'x-amz-id-2': hostId() };
      for (const [alg, v] of Object.entries(checksums)) headers[`x-amz-checksum-${alg}`] = v;
      return new Response(null, { status: 200, headers });
    },
    DeleteObject({ bucket, key, rid }) {
      buckets.deleteObject(buckets.orThrow(bucket), key);
      return new Response(null, { status: 204, headers: { 'x-amz-request-id': rid } });
    },
  };

  /** Runs the operation a request is; subresources the stand-in lacks are NotImplemented, other methods MethodNotAllowed. */
  function dispatch(name: string, t: Target, c: Omit<S3Call, 'bucket' | 'key'>): Response {
    if (t.bucket) {
      const sub = (t.key === undefined ? BUCKET_SUBRESOURCES : OBJECT_SUBRESOURCES).find((s) => c.q.has(s));
      if (sub) throw s3Error(501, 'NotImplemented', `The stand-in does not implement the ?${sub} subresource.`);
    }
    const operation = operationOf(operations, name);
    if (!operation) {
      // An object request names a missing bucket before a method it does not allow.
      if (t.bucket && t.key !== undefined) buckets.orThrow(t.bucket);
      throw methodNotAllowed();
    }
    return operation({ ...c, bucket: t.bucket ?? '', key: t.key ?? '' });
  }

  const handle: FetchHandler = async (req) => {
    const log = logRequest('s3', requests, credentials);
    const { record } = log;
    const rid = requestId().replace(/-/g, '').slice(0, 16).toUpperCase();
    const fail = (e: AwsError, t?: Target) => {
      const extra = { ...e.extra };
      const resource = t?.bucket ? `/${t.bucket}${t.key !== undefined ? `/${t.key}` : ''}` : undefined;
      const xml =
        req.method === 'HEAD'
          ? null
          : `${XML_DECL}<Error><Code>${e.code}</Code><Message>${xmlEscape(e.message)}</Message>${Object.entries(extra)
              .map(([k, v]) => `<${k}>${xmlEscape(v)}</${k}>`)
              .join('')}${resource && !('Key' in extra) && !('BucketName' in extra) ? `<Resource>${xmlEscape(resource)}</Resource>` : ''}<RequestId>${rid}</RequestId><HostId>${hostId()}</HostId></Error>`;
      return log.finish(new Response(xml, { status: e.status, headers: xmlHeaders(rid) }), e.code);
    };

    let t: Target | undefined;
    try {
      const url = new URL(req.url);
      t = target(req);
      const name = operationName(req.method, t, url.searchParams);
      record.operation = name;
      record.params = { bucket: t.bucket, key: t.key, query: Object.fromEntries(url.searchParams) };
      const body = await readBody(req);
      const auth = log.authenticate(req, body, verifySignatures);
      if (!auth.ok) return fail(refusal('s3', auth));
      const ok = (xml: string, status = 200, headers: Record<string, string> = {}) => new Response(xml, { status, headers: { ...xmlHeaders(rid), ...headers } });
      return log.finish(dispatch(name, t, { req, q: url.searchParams, body, accountId: auth.principal.accountId, rid, ok }));
    } catch (e) {
      if (e instanceof AwsError) return fail(e, t);
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
      if (!buckets.get(name)) buckets.create(name, region, base());
    },
    putObject(bucket, key, body, o = {}) {
      const b = buckets.get(bucket) ?? buckets.create(bucket, defaultRegion, base());
      const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
      const lm = o.lastModified === undefined ? undefined : typeof o.lastModified === 'number' ? o.lastModified : o.lastModified.getTime();
      return buckets.store(b, key, data, o.contentType ?? 'binary/octet-stream', { ...(o.metadata ?? {}) }, {}, lm).etag;
    },
    getObject: (bucket, key) => buckets.get(bucket)?.objects.get(key),
    deleteObject(bucket, key) {
      const b = buckets.get(bucket);
      if (b) buckets.deleteObject(b, key);
    },
    listKeys(bucket, prefix = '') {
      const b = buckets.get(bucket);
      return b ? buckets.sortedKeys(b).filter((k) => k.startsWith(prefix)) : [];
    },
  };
}

export type S3StandinOptions = S3ServiceOptions & ListenOptions;

export async function startS3Standin(opts: S3StandinOptions = {}): Promise<S3Standin> {
  const svc = createS3Service(opts);
  return Object.assign(svc, await listen(svc.handle, opts));
}
