import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { awsError } from './errors.ts';

export interface S3Entry {
  key: string;
  etag: string;
  size: number;
}

export interface S3ListPage {
  objects: S3Entry[];
  /** Common prefixes (folders) when listed with a delimiter. */
  prefixes: string[];
  next: string | undefined;
}

/** The S3 calls trailbot makes on a CloudTrail bucket: list a folder, read a log file. */
export interface S3Port {
  list(bucket: string, opts: { prefix?: string; delimiter?: string; continuationToken?: string | undefined; startAfter?: string; signal?: AbortSignal | undefined }): Promise<S3ListPage>;
  /** Every object (and folder, with a delimiter) under a prefix, all pages. */
  listAll(bucket: string, opts: { prefix?: string; delimiter?: string; signal?: AbortSignal | undefined }): Promise<{ objects: S3Entry[]; prefixes: string[] }>;
  get(bucket: string, key: string, opts?: { signal?: AbortSignal | undefined }): Promise<{ body: Buffer; etag: string }>;
}

const unquote = (etag: string | undefined): string => (etag ?? '').replace(/"/g, '');

export function s3Port(client: S3Client): S3Port {
  const port: S3Port = {
    async list(bucket, { prefix, delimiter, continuationToken, startAfter, signal }) {
      try {
        const r = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: delimiter, ContinuationToken: continuationToken, StartAfter: startAfter }),
          signal ? { abortSignal: signal } : {},
        );
        return {
          objects: (r.Contents ?? []).filter((o) => o.Key).map((o) => ({ key: o.Key!, etag: unquote(o.ETag), size: o.Size ?? 0 })),
          prefixes: (r.CommonPrefixes ?? []).map((p) => p.Prefix).filter((p): p is string => Boolean(p)),
          next: r.IsTruncated ? r.NextContinuationToken : undefined,
        };
      } catch (e) {
        throw awsError(e, `cannot list s3://${bucket}/${prefix ?? ''}`, 'check the bucket name and region, and that trailbot may call s3:ListBucket on it');
      }
    },
    async listAll(bucket, { prefix, delimiter, signal }) {
      const objects: S3Entry[] = [];
      const prefixes: string[] = [];
      let token: string | undefined;
      do {
        const page = await port.list(bucket, { prefix, delimiter, continuationToken: token, signal });
        objects.push(...page.objects);
        prefixes.push(...page.prefixes);
        token = page.next;
      } while (token);
      return { objects, prefixes };
    },
    async get(bucket, key, opts = {}) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), opts.signal ? { abortSignal: opts.signal } : {});
        const bytes = await r.Body!.transformToByteArray();
        return { body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), etag: unquote(r.ETag) };
      } catch (e) {
        throw awsError(e, `cannot read s3://${bucket}/${key}`, 'check that the object exists and that trailbot may call s3:GetObject on it (and kms:Decrypt if the trail is encrypted with a KMS key)');
      }
    },
  };
  return port;
}
