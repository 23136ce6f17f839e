// The S3 stand-in's buckets and objects: names, keys in UTF-8 byte order, ETags and checksums, listing.
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { AwsError } from './protocol.ts';

/** An S3 error: its status, code, message and the further elements S3 puts in the document. */
export const s3Error = (status: number, code: string, message: string, extra: Record<string, string> = {}): AwsError => new AwsError(code, message, { status, extra });

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

export interface Bucket {
  name: string;
  region: string;
  ownerAccountId: string;
  createdAt: number;
  objects: Map<string, S3Object>;
  sorted?: string[];
}

export const utf8Compare = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

const BUCKET_NAME = /^(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const md5Etag = (body: Uint8Array): string => `"${createHash('md5').update(body).digest('hex')}"`;
const crc32Base64 = (body: Uint8Array): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32(body) >>> 0);
  return b.toString('base64');
};
const wholeSeconds = (ms: number): number => Math.floor(ms / 1000) * 1000;

/** Decodes `Content-Encoding: aws-chunked` bodies (signed or unsigned chunks, optional trailer). */
export function decodeAwsChunked(raw: Buffer): { body: Buffer; trailers: Record<string, string> } {
  const parts: Buffer[] = [];
  const trailers: Record<string, string> = {};
  let pos = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', pos);
    if (eol < 0) throw s3Error(400, 'IncompleteBody', 'The request body terminated unexpectedly');
    const header = raw.subarray(pos, eol).toString('latin1');
    const size = Number.parseInt(header.split(';')[0], 16);
    if (!Number.isFinite(size)) throw s3Error(400, 'InvalidRequest', 'Malformed aws-chunked body');
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

export function verifyChecksums(body: Buffer, given: Record<string, string>): Record<string, string> {
  const stored: Record<string, string> = {};
  for (const alg of CHECKSUM_ALGORITHMS) {
    const v = given[`x-amz-checksum-${alg}`];
    if (!v) continue;
    let actual: string | undefined;
    if (alg === 'crc32') actual = crc32Base64(body);
    else if (alg === 'sha1' || alg === 'sha256') actual = createHash(alg).update(body).digest('base64');
    if (actual !== undefined && actual !== v) {
      throw s3Error(400, 'BadDigest', `The ${alg.toUpperCase()} you specified did not match the calculated checksum.`);
    }
    stored[alg] = v;
  }
  return stored;
}

export interface ListResult {
  contents: S3Object[];
  prefixes: string[];
  truncated: boolean;
  last?: { k: string; p: boolean };
}

export interface S3Buckets {
  get(name: string): Bucket | undefined;
  all(): Bucket[];
  /** The bucket, or NoSuchBucket. */
  orThrow(name: string): Bucket;
  /** A new bucket (InvalidBucketName, BucketAlreadyOwnedByYou, BucketAlreadyExists otherwise). */
  create(name: string, region: string, owner: string): Bucket;
  remove(b: Bucket): void;
  /** Stores an object (its ETag, whole-second LastModified, a CRC32 when no checksum came). */
  store(b: Bucket, key: string, body: Buffer, contentType: string, metadata: Record<string, string>, checksums: Record<string, string>, lastModified?: number): S3Object;
  deleteObject(b: Bucket, key: string): void;
  sortedKeys(b: Bucket): string[];
  /** One page of keys and common prefixes after `after`, as ListObjects and ListObjectsV2 see them. */
  list(b: Bucket, prefix: string, delimiter: string, maxKeys: number, after: { k: string; p: boolean } | undefined): ListResult;
}

export function createBuckets(): S3Buckets {
  const buckets = new Map<string, Bucket>();

  function sortedKeys(b: Bucket): string[] {
    b.sorted ??= [...b.objects.keys()].sort(utf8Compare);
    return b.sorted;
  }

  function orThrow(name: string): Bucket {
    const b = buckets.get(name);
    if (!b) throw s3Error(404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: name });
    return b;
  }

  function create(name: string, region: string, owner: string): Bucket {
    if (!BUCKET_NAME.test(name) || name.includes('..')) throw s3Error(400, 'InvalidBucketName', 'The specified bucket is not valid.', { BucketName: name });
    const existing = buckets.get(name);
    if (existing) {
      if (existing.ownerAccountId === owner) throw s3Error(409, 'BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.', { BucketName: name });
      throw s3Error(409, 'BucketAlreadyExists', 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.', { BucketName: name });
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

  return {
    get: (name) => buckets.get(name),
    all: () => [...buckets.values()],
    orThrow,
    create,
    remove: (b) => {
      buckets.delete(b.name);
    },
    store,
    deleteObject(b, key) {
      if (b.objects.delete(key)) b.sorted = undefined;
    },
    sortedKeys,
    list,
  };
}
