// STS stand-in (awsQuery): AssumeRole and GetCallerIdentity. Form-encoded requests, XML answers.
import { performance } from 'node:perf_hooks';
import { authenticate, createCredentialStore } from './credentials.ts';
import type { AuthFailureReason, CredentialStore } from './credentials.ts';
import { nextSeq, readBody, requestId, stampDate, xmlEscape, xmlResponse } from './shared.ts';
import type { FetchHandler, RequestRecord } from './shared.ts';

export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
export const DEFAULT_ROLE_NAME = 'TrailbotReader';
export const DEFAULT_MEMBER_ACCOUNTS = ['111111111111', '222222222222'] as const;

export interface StsServiceOptions {
  credentials?: CredentialStore;
  /** accounts whose role may be assumed (default 111111111111 and 222222222222) */
  accounts?: readonly string[];
  /** the role name that exists in each of those accounts (default TrailbotReader) */
  roleName?: string;
  /** when set, AssumeRole must pass this ExternalId */
  externalId?: string;
  /** the role's MaxSessionDuration (default 3600) */
  maxSessionDurationSeconds?: number;
  verifySignatures?: boolean;
  requests?: RequestRecord[];
}

export interface StsService {
  readonly service: 'sts';
  readonly handle: FetchHandler;
  readonly credentials: CredentialStore;
  readonly requests: RequestRecord[];
  readonly accounts: string[];
  readonly roleName: string;
  roleArn(accountId: string): string;
  addAccount(accountId: string): void;
}

class StsError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, message: string, status = 400) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

const AUTH_ERRORS: Record<AuthFailureReason, [string, number]> = {
  missing: ['MissingAuthenticationToken', 403],
  'unknown-key': ['InvalidClientTokenId', 403],
  'bad-token': ['InvalidClientTokenId', 403],
  expired: ['ExpiredToken', 400],
  'request-expired': ['SignatureDoesNotMatch', 403],
  'bad-expires': ['IncompleteSignature', 400],
  skewed: ['SignatureDoesNotMatch', 403],
  'unsigned-host': ['SignatureDoesNotMatch', 403],
  'bad-payload-hash': ['SignatureDoesNotMatch', 403],
  'bad-signature': ['SignatureDoesNotMatch', 403],
  'wrong-service': ['SignatureDoesNotMatch', 403],
};

const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

const isoNoMillis = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function errorXml(code: string, message: string, rid: string): string {
  return `<ErrorResponse xmlns="${STS_NAMESPACE}"><Error><Type>Sender</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${rid}</RequestId></ErrorResponse>`;
}

export function createStsService(opts: StsServiceOptions = {}): StsService {
  const credentials = opts.credentials ?? createCredentialStore();
  const requests = opts.requests ?? [];
  const accounts = [...(opts.accounts ?? DEFAULT_MEMBER_ACCOUNTS)];
  const roleName = opts.roleName ?? DEFAULT_ROLE_NAME;
  const maxSession = opts.maxSessionDurationSeconds ?? 3600;
  const verifySignatures = opts.verifySignatures ?? true;

  const handle: FetchHandler = async (req) => {
    const timeMs = performance.now();
    const rid = requestId();
    const record: RequestRecord = { seq: nextSeq(), service: 'sts', operation: 'Unknown', timeMs, at: new Date().toISOString(), status: 0, durationMs: 0 };
    requests.push(record);
    const body = await readBody(req);
    const params = new URLSearchParams(new URL(req.url).search);
    if (req.method === 'POST') for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.set(k, v);
    const action = params.get('Action') ?? '';
    record.operation = action || 'Unknown';
    record.params = Object.fromEntries([...params].filter(([k]) => !k.startsWith('X-Amz-')));

    const send = (status: number, xml: string, errorType?: string): Response => {
      record.status = status;
      if (errorType) record.errorType = errorType;
      record.durationMs = performance.now() - timeMs;
      return stampDate(xmlResponse(status, xml, { 'x-amzn-requestid': rid }), credentials.now());
    };
    const fail = (e: StsError) => send(e.status, errorXml(e.code, e.message, rid), e.code);

    const auth = authenticate(req, body, credentials, { service: 'sts', verifySignature: verifySignatures });
    if (auth.accessKeyId) record.accessKeyId = auth.accessKeyId;
    if (auth.region) record.region = auth.region;
    if (!auth.ok) {
      const [code, status] = AUTH_ERRORS[auth.reason];
      return fail(new StsError(code, auth.reason === 'missing' ? 'Request is missing Authentication Token' : auth.message, status));
    }
    const caller = auth.principal;
    record.accountId = caller.accountId;
    const version = params.get('Version');
    if (version !== '2011-06-15') return fail(new StsError('InvalidAction', `Could not find operation ${action} for version ${version ?? 'NO_VERSION_SPECIFIED'}`));

    try {
      if (action === 'GetCallerIdentity') {
        return send(
          200,
          `<GetCallerIdentityResponse xmlns="${STS_NAMESPACE}"><GetCallerIdentityResult><Arn>${xmlEscape(caller.arn)}</Arn><UserId>${xmlEscape(caller.userId)}</UserId><Account>${caller.accountId}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${rid}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
        );
      }
      if (action === 'AssumeRole') {
        const roleArn = params.get('RoleArn');
        const sessionName = params.get('RoleSessionName');
        if (!roleArn) throw new StsError('ValidationError', "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null");
        if (!sessionName) throw new StsError('ValidationError', "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null");
        if (!SESSION_NAME.test(sessionName)) {
          throw new StsError('ValidationError', `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*`);
        }
        const durationText = params.get('DurationSeconds');
        const duration = durationText === null ? 3600 : Number(durationText);
        if (!Number.isInteger(duration) || duration < 900 || duration > 43200) {
          throw new StsError('ValidationError', `1 validation error detected: Value '${durationText}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`);
        }
        const m = ROLE_ARN.exec(roleArn);
        const target = m?.[1];
        const name = m?.[2];
        if (!m || !target || !name || name !== roleName || !accounts.includes(target) || (opts.externalId !== undefined && params.get('ExternalId') !== opts.externalId)) {
          throw new StsError('AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, 403);
        }
        const limit = caller.kind === 'assumed-role' ? Math.min(3600, maxSession) : maxSession;
        if (duration > limit) {
          throw new StsError(
            'ValidationError',
            caller.kind === 'assumed-role'
              ? 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.'
              : 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
          );
        }
        const s = credentials.issueRoleSession({ accountId: target, roleName: name, sessionName, durationSeconds: duration });
        return send(
          200,
          `<AssumeRoleResponse xmlns="${STS_NAMESPACE}"><AssumeRoleResult><AssumedRoleUser><AssumedRoleId>${xmlEscape(s.userId)}</AssumedRoleId><Arn>${xmlEscape(s.arn)}</Arn></AssumedRoleUser><Credentials><AccessKeyId>${s.accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(s.secretAccessKey)}</SecretAccessKey><SessionToken>${xmlEscape(s.sessionToken ?? '')}</SessionToken><Expiration>${isoNoMillis(s.expiresAt ?? Date.now())}</Expiration></Credentials></AssumeRoleResult><ResponseMetadata><RequestId>${rid}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
        );
      }
      throw new StsError('InvalidAction', `Could not find operation ${action} for version 2011-06-15 (the stand-in implements AssumeRole and GetCallerIdentity)`);
    } catch (e) {
      if (e instanceof StsError) return fail(e);
      throw e;
    }
  };

  return {
    service: 'sts',
    handle,
    credentials,
    requests,
    accounts,
    roleName,
    roleArn: (accountId) => `arn:aws:iam::${accountId}:role/${roleName}`,
    addAccount(accountId) {
      if (!accounts.includes(accountId)) accounts.push(accountId);
    },
  };
}
