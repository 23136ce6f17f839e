// What every AWS stand-in does around its operations: one error type, the refusal each service gives a
// request that fails authentication, the request log, and how an operation is looked up in a service's
// table. A service file holds its state, its operations (one table entry each) and its wire format.
import { performance } from 'node:perf_hooks';
import { type AuthFailureReason, type AuthResult, authenticate, type CredentialStore } from './credentials.ts';
import { jsonResponse, nextSeq, type RequestRecord, type ServiceName, stampDate, xmlEscape } from './shared.ts';

export interface AwsErrorOptions {
  /** HTTP status (default 400). */
  status?: number;
  /** The awsQuery code, for a JSON service with the awsQueryCompatible trait (SQS's x-amzn-query-error); default `code`. */
  queryCode?: string;
  /** The shape's namespace, prefixed to the JSON `__type` (SQS: `com.amazonaws.sqs#QueueDoesNotExist`). */
  namespace?: string;
  /** awsQuery's `<Type>`: Sender (the caller's fault, the default) or Receiver (the service's). */
  fault?: 'Sender' | 'Receiver';
  /** Further elements of an S3 (restXml) error: `<BucketName>`, `<Key>`, `<RequestTime>`… */
  extra?: Record<string, string>;
}

/** An error a stand-in answers with, as AWS names it (`code`); each service writes it in its own wire format. */
export class AwsError extends Error {
  readonly code: string;
  readonly status: number;
  readonly queryCode: string;
  readonly namespace: string | undefined;
  readonly fault: 'Sender' | 'Receiver';
  readonly extra: Record<string, string>;
  constructor(code: string, message: string, o: AwsErrorOptions = {}) {
    super(message);
    this.code = code;
    this.status = o.status ?? 400;
    this.queryCode = o.queryCode ?? code;
    this.namespace = o.namespace;
    this.fault = o.fault ?? 'Sender';
    this.extra = o.extra ?? {};
  }
}

type Refusal = {
  /** The awsJson error type (CloudTrail, SQS). */
  json: string;
  /** The awsQuery error code (STS, IAM; SQS's query code). */
  query: string;
  /** The HTTP status per service that speaks one of those. */
  status: Record<Exclude<ServiceName, 's3'>, number>;
  /** S3's status, code and, where S3 words it otherwise, message. */
  s3: readonly [number, string, string?];
};

const SIGNATURE = { json: 'InvalidSignatureException', query: 'SignatureDoesNotMatch' } as const;
const DENIED = { cloudtrail: 400, sqs: 403, sts: 403, iam: 403 } as const;

/** How each service refuses a request that fails authentication, by the reason (credentials.ts). */
const REFUSALS: Record<AuthFailureReason, Refusal> = {
  missing: { json: 'MissingAuthenticationTokenException', query: 'MissingAuthenticationToken', status: { ...DENIED, cloudtrail: 403 }, s3: [403, 'AccessDenied', 'Access Denied'] },
  'unknown-key': { json: 'UnrecognizedClientException', query: 'InvalidClientTokenId', status: DENIED, s3: [403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.'] },
  'bad-token': { json: 'UnrecognizedClientException', query: 'InvalidClientTokenId', status: DENIED, s3: [400, 'InvalidToken', 'The provided token is malformed or otherwise invalid.'] },
  expired: { json: 'ExpiredTokenException', query: 'ExpiredToken', status: { ...DENIED, sts: 400 }, s3: [400, 'ExpiredToken', 'The provided token has expired.'] },
  'request-expired': { ...SIGNATURE, status: DENIED, s3: [403, 'AccessDenied'] },
  'bad-expires': { json: 'IncompleteSignatureException', query: 'IncompleteSignature', status: { cloudtrail: 400, sqs: 400, sts: 400, iam: 400 }, s3: [400, 'AuthorizationQueryParametersError'] },
  skewed: { ...SIGNATURE, status: DENIED, s3: [403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.'] },
  'unsigned-host': { ...SIGNATURE, status: DENIED, s3: [403, 'AccessDenied', 'There were headers present in the request which were not signed'] },
  'bad-payload-hash': { ...SIGNATURE, status: DENIED, s3: [400, 'XAmzContentSHA256Mismatch'] },
  'bad-signature': { ...SIGNATURE, status: DENIED, s3: [403, 'SignatureDoesNotMatch'] },
  'wrong-service': { ...SIGNATURE, status: DENIED, s3: [400, 'AuthorizationHeaderMalformed'] },
};

type AuthFailure = Extract<AuthResult, { ok: false }>;

/** The error `service` answers a request with that failed authentication. */
export function refusal(service: ServiceName, auth: AuthFailure): AwsError {
  const r = REFUSALS[auth.reason];
  switch (service) {
    case 's3': {
      const [status, code, message] = r.s3;
      const key: Record<string, string> = auth.accessKeyId && auth.reason === 'unknown-key' ? { AWSAccessKeyId: auth.accessKeyId } : {};
      return new AwsError(code, message ?? auth.message, { status, extra: { ...key, ...auth.details } });
    }
    case 'cloudtrail':
      return new AwsError(r.json, auth.message, { status: r.status.cloudtrail });
    case 'sqs':
      return new AwsError(r.json, auth.message, { status: r.status.sqs, queryCode: r.query, namespace: 'com.amazon.coral.service' });
    case 'sts':
    case 'iam':
      return new AwsError(r.query, auth.reason === 'missing' ? 'Request is missing Authentication Token' : auth.message, { status: r.status[service] });
  }
}

export interface LoggedRequest {
  readonly record: RequestRecord;
  /** Completes the log entry (status, error, duration) and stamps the stand-ins' clock in `Date`. */
  finish(res: Response, errorType?: string): Response;
  /** Checks the request's signature and notes in the log whose key it was, where, and in which account. */
  authenticate(req: Request, body: Uint8Array, verifySignature: boolean): AuthResult;
}

/** Opens a request's entry in the log (`operation` Unknown until the service names it). */
export function logRequest(service: ServiceName, requests: RequestRecord[], credentials: CredentialStore): LoggedRequest {
  const timeMs = performance.now();
  const record: RequestRecord = { seq: nextSeq(), service, operation: 'Unknown', timeMs, at: new Date().toISOString(), status: 0, durationMs: 0 };
  requests.push(record);
  return {
    record,
    finish(res, errorType) {
      record.status = res.status;
      if (errorType) record.errorType = errorType;
      record.durationMs = performance.now() - timeMs;
      return stampDate(res, credentials.now());
    },
    authenticate(req, body, verifySignature) {
      const auth = authenticate(req, body, credentials, { service, verifySignature });
      const attempt = req.headers.get('amz-sdk-request');
      const invocationId = req.headers.get('amz-sdk-invocation-id');
      if (attempt) record.attempt = attempt;
      if (invocationId) record.invocationId = invocationId;
      if (auth.accessKeyId) record.accessKeyId = auth.accessKeyId;
      if (auth.region) record.region = auth.region;
      if (auth.ok) record.accountId = auth.principal.accountId;
      return auth;
    },
  };
}

/** A service's operation by its wire name, or undefined (never an Object.prototype member). */
export function operationOf<T>(table: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/** awsQuery's parameters: the query string, with a POST's form-encoded body over it. */
export function formParams(req: Request, body: Buffer): URLSearchParams {
  const params = new URLSearchParams(new URL(req.url).search);
  if (req.method === 'POST') for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.set(k, v);
  return params;
}

/** An awsQuery answer (STS, IAM): `<ActionResponse>` with `<ActionResult>` around `result` (none when undefined) and the request id. */
export function queryResponseXml(namespace: string, action: string, result: string | undefined, rid: string): string {
  return `<${action}Response xmlns="${namespace}">${result === undefined ? '' : `<${action}Result>${result}</${action}Result>`}<ResponseMetadata><RequestId>${rid}</RequestId></ResponseMetadata></${action}Response>`;
}

/** An awsQuery error document (STS, IAM). */
export function queryErrorXml(namespace: string, e: AwsError, rid: string): string {
  return `<ErrorResponse xmlns="${namespace}"><Error><Type>${e.fault}</Type><Code>${xmlEscape(e.code)}</Code><Message>${xmlEscape(e.message)}</Message></Error><RequestId>${rid}</RequestId></ErrorResponse>`;
}

/** An awsJson error (CloudTrail, SQS): `__type` (with the namespace when there is one), and for a query-compatible service the x-amzn-query-error header. */
export function jsonErrorResponse(e: AwsError, contentType: string, queryCompatible = false): Response {
  return jsonResponse(e.status, { __type: e.namespace ? `${e.namespace}#${e.code}` : e.code, message: e.message }, queryCompatible ? { 'x-amzn-query-error': `${e.queryCode};Sender` } : {}, contentType);
}
