// All the AWS stand-ins behind one port. A request goes to the service named in its SigV4 credential
// scope (…/<region>/<service>/aws4_request), so every AWS_ENDPOINT_URL_<SERVICE> can point at the same URL.
import { createCloudTrailService, CLOUDTRAIL_TARGET_PREFIX } from './cloudtrail.ts';
import type { ClockInput, CloudTrailService, ThrottleOptions } from './cloudtrail.ts';
import { createCredentialStore } from './credentials.ts';
import type { BaseCredentialOptions, CredentialStore } from './credentials.ts';
import type { CloudTrailRecord } from './records.ts';
import { createIamService } from './iam.ts';
import type { IamService } from './iam.ts';
import { createS3Service } from './s3.ts';
import type { S3Service } from './s3.ts';
import { listen } from './shared.ts';
import type { FetchHandler, ListenOptions, RequestRecord, ServiceName } from './shared.ts';
import { parseSigV4 } from './sigv4.ts';
import { createSqsService, SQS_TARGET_PREFIX } from './sqs.ts';
import type { SqsService } from './sqs.ts';
import { createStsService } from './sts.ts';
import type { StsService } from './sts.ts';

export * from './cloudtrail.ts';
export * from './credentials.ts';
export * from './iam.ts';
export * from './records.ts';
export * from './s3.ts';
export * from './shared.ts';
export * from './sqs.ts';
export * from './sts.ts';

export interface StandinsOptions extends ListenOptions {
  /** the static key every client starts with (default DEFAULT_BASE_CREDENTIALS) */
  base?: BaseCredentialOptions;
  /** member accounts whose role AssumeRole may enter (default 111111111111, 222222222222) */
  accounts?: readonly string[];
  /** role name in each member account (default TrailbotReader) */
  roleName?: string;
  externalId?: string;
  records?: readonly CloudTrailRecord[];
  /** CloudTrail's clock for the 90-day window (default the real clock) */
  now?: ClockInput;
  /** the stand-ins' wall clock for SigV4 (request time ±15 min, presigned expiry, key expiry, `Date`); default the real clock */
  clock?: () => number;
  throttle?: ThrottleOptions | false;
  verifySignatures?: boolean;
  /** AWS_REGION to hand out, and the region of buckets and queues made by helpers (default us-east-1) */
  region?: string;
  purgeCooldownMs?: number;
}

export interface Standins {
  url: string;
  port: number;
  credentials: CredentialStore;
  cloudtrail: CloudTrailService;
  s3: S3Service;
  sqs: SqsService;
  sts: StsService;
  iam: IamService;
  handle: FetchHandler;
  /** every request to any service, in arrival order (a fresh array on each read) */
  readonly requests: RequestRecord[];
  /** AWS_ENDPOINT_URL_* for the five services plus the base key and region */
  env(region?: string): Record<string, string>;
  close(): Promise<void>;
}

/** Which stand-in a request is for: the SigV4 scope first, then protocol hints. */
export function serviceOf(req: Request): ServiceName {
  const scoped = parseSigV4(req)?.service;
  if (scoped === 'cloudtrail' || scoped === 's3' || scoped === 'sqs' || scoped === 'sts' || scoped === 'iam') return scoped;
  const target = req.headers.get('x-amz-target') ?? '';
  if (target.startsWith(CLOUDTRAIL_TARGET_PREFIX)) return 'cloudtrail';
  if (target.startsWith(SQS_TARGET_PREFIX)) return 'sqs';
  if ((req.headers.get('content-type') ?? '').startsWith('application/x-www-form-urlencoded') || new URL(req.url).searchParams.has('Action')) return 'sts';
  return 's3';
}

export async function startStandins(opts: StandinsOptions = {}): Promise<Standins> {
  const credentials = createCredentialStore({ ...opts.base, ...(opts.clock ? { clock: opts.clock } : {}) });
  const verifySignatures = opts.verifySignatures ?? true;
  const region = opts.region ?? 'us-east-1';
  const cloudtrail = createCloudTrailService({ credentials, records: opts.records, now: opts.now, throttle: opts.throttle, verifySignatures });
  const s3 = createS3Service({ credentials, verifySignatures, region });
  const sqs = createSqsService({ credentials, verifySignatures, region, purgeCooldownMs: opts.purgeCooldownMs });
  const sts = createStsService({ credentials, verifySignatures, accounts: opts.accounts, roleName: opts.roleName, externalId: opts.externalId });
  const iam = createIamService({ credentials, verifySignatures });
  const services = { cloudtrail, s3, sqs, sts, iam } as const;
  const handle: FetchHandler = (req) => services[serviceOf(req)].handle(req);
  const listener = await listen(handle, opts);
  sqs.baseUrl = listener.url;
  return {
    url: listener.url,
    port: listener.port,
    credentials,
    cloudtrail,
    s3,
    sqs,
    sts,
    iam,
    handle,
    get requests() {
      return [...cloudtrail.requests, ...s3.requests, ...sqs.requests, ...sts.requests, ...iam.requests].sort((a, b) => a.seq - b.seq);
    },
    env: (r = region) => ({
      AWS_ENDPOINT_URL_CLOUDTRAIL: listener.url,
      AWS_ENDPOINT_URL_S3: listener.url,
      AWS_ENDPOINT_URL_SQS: listener.url,
      AWS_ENDPOINT_URL_STS: listener.url,
      AWS_ENDPOINT_URL_IAM: listener.url,
      AWS_ACCESS_KEY_ID: credentials.base.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.base.secretAccessKey,
      AWS_REGION: r,
    }),
    async close() {
      sqs.shutdown();
      await listener.close();
    },
  };
}
