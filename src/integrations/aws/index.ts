import { CloudTrailClient } from '@aws-sdk/client-cloudtrail';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { STSClient } from '@aws-sdk/client-sts';
import { TrailbotError } from '../../errors.ts';
import { type CloudTrailPort, cloudTrailPort } from './cloudtrail.ts';
import { type IamCalls, iamPort } from './iam.ts';
import { memoryLimiter, type RateLimiter } from './limiter.ts';
import { type S3Port, s3Port } from './s3.ts';
import { type SqsPort, sqsPort } from './sqs.ts';
import { type AwsCredentials, type CallerIdentity, type StsPort, stsPort } from './sts.ts';

export type { CloudTrailPort, LookupEvent, LookupInput, LookupPage } from './cloudtrail.ts';
export type { IamPort } from './iam.ts';
export type { RateLimiter } from './limiter.ts';
export type { S3Port } from './s3.ts';
export type { QueueMessage, SqsPort } from './sqs.ts';
export type { AwsCredentials, CallerIdentity, StsPort } from './sts.ts';

/**
 * The AWS clients trailbot uses, behind narrow ports (CloudTrailPort, S3Port, SqsPort, StsPort) with
 * the real `@aws-sdk/*` clients inside.
 *
 * - Credentials: the SDK's default chain (environment, shared config and SSO profiles, container and
 *   instance roles), unless `credentials` is given. A member account is reached by assuming
 *   `arn:aws:iam::<account>:role/<roleName>`; the account of the credentials themselves is used as is.
 * - Endpoints: `endpoints` (from AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>, read by src/config)
 *   point the clients at LocalStack or trailbot's stand-ins; S3 then uses path-style addressing.
 */
export interface AwsOptions {
  /** `default` and per-service (`cloudtrail`, `s3`, `sqs`, `sts`) endpoint URLs. */
  endpoints?: Record<string, string> | undefined;
  /** Region for STS and for anything that names none (default us-east-1). */
  region?: string | undefined;
  /** Base credentials (tests); the default provider chain otherwise. */
  credentials?: AwsCredentials | undefined;
  /** Shared by every LookupEvents call (default: a limiter of this process only). */
  limiter?: RateLimiter | undefined;
  /** RoleSessionName of assumed roles, shown in the member accounts' CloudTrail (default trailbot). */
  sessionName?: string | undefined;
  /** Per-request socket timeout (default 30 s). */
  requestTimeoutMs?: number | undefined;
}

/** Whose credentials a call uses: trailbot's own account, or a role in `account`. */
export interface AwsTarget {
  account?: string | undefined;
  roleName?: string | undefined;
  externalId?: string | undefined;
}

export interface Aws {
  readonly limiter: RateLimiter;
  readonly sts: StsPort;
  callerAccount(): Promise<string>;
  cloudtrail(target: AwsTarget & { account: string }, region: string): Promise<CloudTrailPort>;
  s3(target: AwsTarget, region: string): Promise<S3Port>;
  sqs(target: AwsTarget, region: string): Promise<SqsPort>;
  /** IAM (global; signed for us-east-1) acting on `account`: trailbot's own, or the target's role's. */
  iam(target: AwsTarget, account: string): Promise<IamCalls>;
  /** Who the credentials of `target` are (STS GetCallerIdentity with them): trailbot's own identity there. */
  callerIdentity(target: AwsTarget): Promise<CallerIdentity>;
  destroy(): void;
}

type Provider = () => Promise<AwsCredentials>;

export function createAws(opts: AwsOptions = {}): Aws {
  const endpoints = opts.endpoints ?? {};
  const endpointOf = (service: string): string | undefined => endpoints[service] ?? endpoints.default;
  const limiter = opts.limiter ?? memoryLimiter();
  const sessionName = opts.sessionName ?? 'trailbot';
  const requestHandler = { requestTimeout: opts.requestTimeoutMs ?? 30_000, connectionTimeout: 5_000 };
  const base = opts.credentials;
  const common = (service: string, region: string, credentials: AwsCredentials | Provider | undefined) => {
    const endpoint = endpointOf(service);
    return {
      region,
      requestHandler,
      ...(endpoint ? { endpoint } : {}),
      ...(credentials ? { credentials } : {}),
    };
  };

  const stsClient = new STSClient(common('sts', opts.region ?? 'us-east-1', base));
  const sts = stsPort(stsClient);
  let caller: Promise<string> | undefined;
  const callerAccount = (): Promise<string> => {
    caller ??= sts.callerAccount().catch((e: unknown) => {
      caller = undefined;
      throw e;
    });
    return caller;
  };

  const roles = new Map<string, Provider>();
  /** Base credentials for trailbot's own account; an assumed role (cached, refreshed before expiry) for others. */
  const credentialsFor = async (t: AwsTarget): Promise<AwsCredentials | Provider | undefined> => {
    if (!t.account) return base;
    if (!t.roleName) {
      const own = await callerAccount();
      if (own === t.account) return base;
      throw new TrailbotError('E_SOURCE', `account ${t.account} is not the account of trailbot's credentials (${own}) and no role is set to reach it`, {
        hint: 'set roleName on the source (the role trailbot assumes in member accounts, e.g. TrailbotReader)',
      });
    }
    if (t.account === (await callerAccount())) return base;
    const roleArn = `arn:aws:iam::${t.account}:role/${t.roleName}`;
    const key = `${roleArn}|${t.externalId ?? ''}`;
    let p = roles.get(key);
    if (!p) {
      let current: AwsCredentials | undefined;
      let pending: Promise<AwsCredentials> | undefined;
      p = async () => {
        if (current?.expiration && current.expiration.getTime() - Date.now() > 5 * 60_000) return current;
        pending ??= sts.assumeRole({ roleArn, sessionName, externalId: t.externalId }).finally(() => {
          pending = undefined;
        });
        current = await pending;
        return current;
      };
      roles.set(key, p);
      await p(); // fail here, with the role named, rather than inside the first call
    }
    return p;
  };

  const clients = new Map<string, unknown>();
  const cached = async <T>(key: string, make: () => Promise<T>): Promise<T> => {
    let c = clients.get(key) as Promise<T> | undefined;
    if (!c) {
      c = make();
      clients.set(key, c);
      c.catch(() => clients.delete(key));
    }
    return c;
  };
  const targetKey = (t: AwsTarget): string => `${t.account ?? ''}|${t.roleName ?? ''}|${t.externalId ?? ''}`;
  const destroyers: (() => void)[] = [() => stsClient.destroy()];

  return {
    limiter,
    sts,
    callerAccount,
    cloudtrail: (t, region) =>
      cached(`cloudtrail|${targetKey(t)}|${region}`, async () => {
        // maxAttempts 1: the port retries itself, through the limiter, so no retry skips a slot.
        const client = new CloudTrailClient({ ...common('cloudtrail', region, await credentialsFor(t)), maxAttempts: 1 });
        destroyers.push(() => client.destroy());
        return cloudTrailPort(client, t.account, region, limiter);
      }),
    s3: (t, region) =>
      cached(`s3|${targetKey(t)}|${region}`, async () => {
        const c = common('s3', region, await credentialsFor(t));
        const client = new S3Client({ ...c, forcePathStyle: Boolean(endpointOf('s3')) });
        destroyers.push(() => client.destroy());
        return s3Port(client);
      }),
    sqs: (t, region) =>
      cached(`sqs|${targetKey(t)}|${region}`, async () => {
        const client = new SQSClient(common('sqs', region, await credentialsFor(t)));
        destroyers.push(() => client.destroy());
        return sqsPort(client);
      }),
    iam: (t, account) =>
      cached(`iam|${targetKey(t)}`, async () => {
        const client = new IAMClient(common('iam', 'us-east-1', await credentialsFor(t)));
        destroyers.push(() => client.destroy());
        return iamPort(client, account);
      }),
    callerIdentity: (t) =>
      cached(`caller|${targetKey(t)}`, async () => {
        const creds = await credentialsFor(t);
        if (creds === base) return sts.callerIdentity();
        const client = new STSClient(common('sts', opts.region ?? 'us-east-1', creds));
        destroyers.push(() => client.destroy());
        return stsPort(client).callerIdentity();
      }),
    destroy() {
      for (const d of destroyers.splice(0)) d();
    },
  };
}
