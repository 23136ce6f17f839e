// STS stand-in (awsQuery): AssumeRole and GetCallerIdentity. Form-encoded requests, XML answers.
import { createCredentialStore } from './credentials.ts';
import type { CredentialStore, Principal } from './credentials.ts';
import { AwsError, formParams, logRequest, operationOf, queryErrorXml, queryResponseXml, refusal } from './protocol.ts';
import { readBody, requestId, xmlEscape, xmlResponse } from './shared.ts';
import type { FetchHandler, RequestRecord } from './shared.ts';

export const STS_NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';
const STS_VERSION = '2011-06-15';
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

const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;

const isoNoMillis = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export function createStsService(opts: StsServiceOptions = {}): StsService {
  const credentials = opts.credentials ?? createCredentialStore();
  const requests = opts.requests ?? [];
  const accounts = [...(opts.accounts ?? DEFAULT_MEMBER_ACCOUNTS)];
  const roleName = opts.roleName ?? DEFAULT_ROLE_NAME;
  const maxSession = opts.maxSessionDurationSeconds ?? 3600;
  const verifySignatures = opts.verifySignatures ?? true;

  /** The operations: each answers with its result's XML (inside <ActionResult>). */
  const operations: Record<string, (params: URLSearchParams, caller: Principal) => string> = {
    AssumeRole(params, caller) {
      const roleArn = params.get('RoleArn');
      const sessionName = params.get('RoleSessionName');
      if (!roleArn) throw new AwsError('ValidationError', "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null");
      if (!sessionName) throw new AwsError('ValidationError', "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null");
      if (!SESSION_NAME.test(sessionName)) {
        throw new AwsError('ValidationError', `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must have length between 2 and 64 and satisfy regular expression pattern: [\\w+=,.@-]*`);
      }
      const durationText = params.get('DurationSeconds');
      const duration = durationText === null ? 3600 : Number(durationText);
      if (!Number.isInteger(duration) || duration < 900 || duration > 43200) {
        throw new AwsError('ValidationError', `1 validation error detected: Value '${durationText}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`);
      }
      const m = ROLE_ARN.exec(roleArn);
      const target = m?.[1];
      const name = m?.[2];
      if (!m || !target || !name || name !== roleName || !accounts.includes(target) || (opts.externalId !== undefined && params.get('ExternalId') !== opts.externalId)) {
        throw new AwsError('AccessDenied', `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`, { status: 403 });
      }
      const limit = caller.kind === 'assumed-role' ? Math.min(3600, maxSession) : maxSession;
      if (duration > limit) {
        throw new AwsError(
          'ValidationError',
          caller.kind === 'assumed-role'
            ? 'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.'
            : 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
        );
      }
      const s = credentials.issueRoleSession({ accountId: target, roleName: name, sessionName, durationSeconds: duration });
      return `<AssumedRoleUser><AssumedRoleId>${xmlEscape(s.userId)}</AssumedRoleId><Arn>${xmlEscape(s.arn)}</Arn></AssumedRoleUser><Credentials><AccessKeyId>${s.accessKeyId}</AccessKeyId><SecretAccessKey>${xmlEscape(s.secretAccessKey)}</SecretAccessKey><SessionToken>${xmlEscape(s.sessionToken ?? '')}</SessionToken><Expiration>${isoNoMillis(s.expiresAt ?? Date.now())}</Expiration></Credentials>`;
    },
    GetCallerIdentity: (_params, caller) => `<Arn>${xmlEscape(caller.arn)}</Arn><UserId>${xmlEscape(caller.userId)}</UserId><Account>${caller.accountId}</Account>`,
  };

  const handle: FetchHandler = async (req) => {
    const log = logRequest('sts', requests, credentials);
    const { record } = log;
    const rid = requestId();
    const body = await readBody(req);
    const params = formParams(req, body);
    const action = params.get('Action') ?? '';
    record.operation = action || 'Unknown';
    record.params = Object.fromEntries([...params].filter(([k]) => !k.startsWith('X-Amz-')));
    const send = (status: number, xml: string, errorType?: string): Response => log.finish(xmlResponse(status, xml, { 'x-amzn-requestid': rid }), errorType);
    const fail = (e: AwsError) => send(e.status, queryErrorXml(STS_NAMESPACE, e, rid), e.code);

    const auth = log.authenticate(req, body, verifySignatures);
    if (!auth.ok) return fail(refusal('sts', auth));
    const version = params.get('Version');
    if (version !== STS_VERSION) return fail(new AwsError('InvalidAction', `Could not find operation ${action} for version ${version ?? 'NO_VERSION_SPECIFIED'}`));
    const operation = operationOf(operations, action);
    if (!operation) return fail(new AwsError('InvalidAction', `Could not find operation ${action} for version ${STS_VERSION} (the stand-in implements ${Object.keys(operations).join(' and ')})`));
    try {
      return send(200, queryResponseXml(STS_NAMESPACE, action, operation(params, auth.principal), rid));
    } catch (e) {
      if (e instanceof AwsError) return fail(e);
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
