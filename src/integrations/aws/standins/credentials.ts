// Credentials the stand-ins know: one static base key (an IAM user in the base account) plus the
// temporary keys the STS stand-in issues, each bound to the account of the role it assumed.
import { randomBytes } from 'node:crypto';
import { computeSignature, MAX_CLOCK_SKEW_MS, parseAmzDate, parseSigV4, payloadHashMismatch, presignExpires, requestTimeProblem, sha256Hex, signaturesEqual, UNSIGNED_PAYLOAD } from './sigv4.ts';

export interface Principal {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  accountId: string;
  /** arn:aws:iam::<acct>:user/<name> or arn:aws:sts::<acct>:assumed-role/<role>/<session> */
  arn: string;
  /** AIDA… for a user, AROA…:<session> for a role session */
  userId: string;
  /** wall-clock epoch ms after which the key is refused (temporary keys only) */
  expiresAt?: number;
  kind: 'user' | 'assumed-role';
  roleName?: string;
  sessionName?: string;
}

export interface BaseCredentialOptions {
  accountId?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  userName?: string;
  /**
   * The stand-ins' wall clock (epoch ms): what request times, presigned URLs and temporary keys are
   * judged against, and the `Date` header every response carries. Default the real clock.
   */
  clock?: () => number;
}

export const DEFAULT_BASE_CREDENTIALS = {
  accountId: '123456789012',
  accessKeyId: 'AKIATRAILBOTSTANDIN1',
  secretAccessKey: 'trailbot/standin/secret/0000000000000000',
  userName: 'trailbot',
} as const;

export interface IssueSessionOptions {
  accountId: string;
  roleName: string;
  sessionName: string;
  durationSeconds: number;
}

export interface CredentialStore {
  readonly base: Principal;
  get(accessKeyId: string): Principal | undefined;
  add(principal: Principal): Principal;
  issueRoleSession(opts: IssueSessionOptions): Principal;
  list(): Principal[];
  /** The stand-ins' wall clock (BaseCredentialOptions.clock). */
  now(): number;
}

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
function randomKeyBody(length: number): string {
  const bytes = randomBytes(length);
  let s = '';
  for (const b of bytes) s += KEY_ALPHABET[b % KEY_ALPHABET.length];
  return s;
}
const randomSecret = (): string => randomBytes(30).toString('base64').slice(0, 40);

/** Stable pseudo-unique id such as AROA… for a role name. */
function idFor(prefix: string, seed: string): string {
  return prefix + sha256Hex(seed).toUpperCase().slice(0, 17);
}

/** The RoleId (AROA…) of a role: the same in the IAM stand-in and in the `aws:userid` of STS sessions. */
export const roleIdFor = (accountId: string, roleName: string): string => idFor('AROA', `${accountId}/${roleName}`);
/** The UserId (AIDA…) of an IAM user. */
export const userIdFor = (accountId: string, userName: string): string => idFor('AIDA', `${accountId}/${userName}`);

export function createCredentialStore(opts: BaseCredentialOptions = {}): CredentialStore {
  const accountId = opts.accountId ?? DEFAULT_BASE_CREDENTIALS.accountId;
  const userName = opts.userName ?? DEFAULT_BASE_CREDENTIALS.userName;
  const base: Principal = {
    accessKeyId: opts.accessKeyId ?? DEFAULT_BASE_CREDENTIALS.accessKeyId,
    secretAccessKey: opts.secretAccessKey ?? DEFAULT_BASE_CREDENTIALS.secretAccessKey,
    accountId,
    arn: `arn:aws:iam::${accountId}:user/${userName}`,
    userId: idFor('AIDA', `${accountId}/${userName}`),
    kind: 'user',
  };
  const byKey = new Map<string, Principal>([[base.accessKeyId, base]]);
  const now = opts.clock ?? (() => Date.now());
  return {
    base,
    now,
    get: (accessKeyId) => byKey.get(accessKeyId),
    add(principal) {
      byKey.set(principal.accessKeyId, principal);
      return principal;
    },
    issueRoleSession({ accountId: acct, roleName, sessionName, durationSeconds }) {
      const roleId = roleIdFor(acct, roleName);
      const principal: Principal = {
        accessKeyId: `ASIA${randomKeyBody(16)}`,
        secretAccessKey: randomSecret(),
        sessionToken: `FwoGZXIvYXdzE${randomBytes(96).toString('base64')}`,
        accountId: acct,
        arn: `arn:aws:sts::${acct}:assumed-role/${roleName}/${sessionName}`,
        userId: `${roleId}:${sessionName}`,
        expiresAt: now() + durationSeconds * 1000,
        kind: 'assumed-role',
        roleName,
        sessionName,
      };
      byKey.set(principal.accessKeyId, principal);
      return principal;
    },
    list: () => [...byKey.values()],
  };
}

export type AuthFailureReason =
  | 'missing' // no SigV4 at all
  | 'unknown-key' // access key not known
  | 'bad-token' // session token missing/wrong for a temporary key, or sent with a long-term key
  | 'expired' // temporary key past its expiry
  | 'request-expired' // presigned URL past X-Amz-Expires
  | 'bad-expires' // presigned URL whose X-Amz-Expires is missing, not a whole number, or not 1–604800
  | 'skewed' // X-Amz-Date more than 15 minutes from the stand-in's clock
  | 'unsigned-host' // `host` is not among the signed headers
  | 'bad-payload-hash' // x-amz-content-sha256 is not the SHA-256 of the body
  | 'bad-signature' // signature or scope does not match
  | 'wrong-service'; // credential scope names another service

export type AuthResult =
  | { ok: true; principal: Principal; region: string; accessKeyId: string }
  | { ok: false; reason: AuthFailureReason; message: string; accessKeyId?: string; region?: string; details?: Record<string, string> };

export interface AuthenticateOptions {
  service: string;
  /** recompute and compare the signature (default true); when false only the key, token and expiry are checked */
  verifySignature?: boolean;
}

/** The path and query exactly as they came on the wire (the Request URL keeps percent-encoding as sent). */
export function rawPathAndQuery(url: string): { rawPath: string; rawQuery: string } {
  const afterScheme = url.indexOf('://');
  const pathStart = url.indexOf('/', afterScheme + 3);
  const rest = pathStart < 0 ? '/' : url.slice(pathStart);
  const q = rest.indexOf('?');
  const noHash = (s: string) => (s.includes('#') ? s.slice(0, s.indexOf('#')) : s);
  return q < 0 ? { rawPath: noHash(rest), rawQuery: '' } : { rawPath: rest.slice(0, q), rawQuery: noHash(rest.slice(q + 1)) };
}

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

export function authenticate(req: Request, body: Uint8Array, store: CredentialStore, { service, verifySignature = true }: AuthenticateOptions): AuthResult {
  const auth = parseSigV4(req);
  if (!auth) return { ok: false, reason: 'missing', message: 'Missing Authentication Token' };
  const { accessKeyId, region } = auth;
  if (auth.service !== service) {
    return { ok: false, reason: 'wrong-service', accessKeyId, region, message: `Credential should be scoped to correct service: '${service}'.` };
  }
  const principal = store.get(accessKeyId);
  if (!principal) return { ok: false, reason: 'unknown-key', accessKeyId, region, message: 'The security token included in the request is invalid.' };
  if ((principal.sessionToken ?? '') !== (auth.sessionToken ?? '')) {
    return { ok: false, reason: 'bad-token', accessKeyId, region, message: 'The security token included in the request is invalid.' };
  }
  const now = store.now();
  const httpNow = new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (principal.expiresAt !== undefined && now >= principal.expiresAt) {
    return { ok: false, reason: 'expired', accessKeyId, region, message: 'The security token included in the request is expired' };
  }
  if (auth.via === 'query') {
    const expires = presignExpires(auth.expires);
    if ('problem' in expires) return { ok: false, reason: 'bad-expires', accessKeyId, region, message: expires.problem, details: { 'X-Amz-Expires': auth.expires ?? '' } };
    const signedAt = parseAmzDate(auth.amzDate);
    if (Number.isNaN(signedAt) || now > signedAt + expires.seconds * 1000) {
      const until = Number.isNaN(signedAt) ? '' : new Date(signedAt + expires.seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      return { ok: false, reason: 'request-expired', accessKeyId, region, message: 'Request has expired', details: { 'X-Amz-Expires': String(expires.seconds), Expires: until, ServerTime: httpNow } };
    }
  }
  // The payload is checked whether or not signatures are: a body that is not what was hashed is corrupt.
  const declared = req.headers.get('x-amz-content-sha256');
  const mismatch = payloadHashMismatch(declared, body);
  if (mismatch) {
    return {
      ok: false,
      reason: 'bad-payload-hash',
      accessKeyId,
      region,
      // S3 names the mismatch; the other services just find the signature wrong (they sign the body's own hash).
      message: service === 's3' ? "The provided 'x-amz-content-sha256' header does not match what was computed." : SIGNATURE_MISMATCH,
      details: { ClientComputedContentSHA256: declared ?? '', S3ComputedContentSHA256: mismatch.computed },
    };
  }
  if (verifySignature) {
    if (!auth.signedHeaders.includes('host')) {
      return { ok: false, reason: 'unsigned-host', accessKeyId, region, message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", details: { HeadersNotSigned: 'host' } };
    }
    if (auth.via === 'header') {
      const skew = requestTimeProblem(auth.amzDate, now);
      if (skew) {
        return {
          ok: false,
          reason: 'skewed',
          accessKeyId,
          region,
          message: skew,
          details: { RequestTime: auth.amzDate, ServerTime: httpNow, MaxAllowedSkewMilliseconds: String(MAX_CLOCK_SKEW_MS) },
        };
      }
    }
    if (auth.amzDate.slice(0, 8) !== auth.date) {
      return { ok: false, reason: 'bad-signature', accessKeyId, region, message: `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${auth.date}' != '${auth.amzDate.slice(0, 8)}'` };
    }
    // S3 signs the hash it is told (or UNSIGNED-PAYLOAD for a presigned URL); every other service the body's.
    const payloadHash = service === 's3' ? (declared ?? (auth.via === 'query' ? UNSIGNED_PAYLOAD : sha256Hex(body))) : sha256Hex(body);
    const { rawPath, rawQuery } = rawPathAndQuery(req.url);
    const expected = computeSignature({ method: req.method, rawPath, rawQuery, headers: req.headers, auth, payloadHash, secretAccessKey: principal.secretAccessKey });
    if (!signaturesEqual(expected, auth.signature)) {
      return {
        ok: false,
        reason: 'bad-signature',
        accessKeyId,
        region,
        message: SIGNATURE_MISMATCH,
      };
    }
  }
  return { ok: true, principal, region, accessKeyId };
}
