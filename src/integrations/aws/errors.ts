import { TrailbotError } from '../../errors.ts';

/**
 * What an AWS failure means for the caller:
 * - throttled: slow down and try again (never give up on this alone);
 * - transient: the network or the service hiccuped; try again a few times;
 * - denied: credentials or permissions are wrong; an operator must act;
 * - not-found: the bucket, object or queue is not there;
 * - invalid: the request itself is wrong (a bug or a bad setting);
 * - other: anything else.
 */
export type AwsErrorKind = 'throttled' | 'transient' | 'denied' | 'not-found' | 'invalid' | 'other';

const THROTTLED = new Set([
  'ThrottlingException', 'Throttling', 'ThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded', 'SlowDown',
  'RequestThrottled', 'RequestThrottledException', 'ProvisionedThroughputExceededException', 'BandwidthLimitExceeded',
  'PriorRequestNotComplete', 'EC2ThrottledException',
]);
const DENIED = new Set([
  'AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnrecognizedClientException', 'InvalidClientTokenId',
  'SignatureDoesNotMatch', 'InvalidSignatureException', 'ExpiredToken', 'ExpiredTokenException', 'InvalidAccessKeyId',
  'MissingAuthenticationTokenException', 'MissingAuthenticationToken', 'OperationNotPermittedException', 'CredentialsProviderError',
  'KMS.AccessDeniedException', 'KMS.KMSInvalidStateException', 'AuthFailure', 'InvalidToken', 'RegionDisabledException',
  'OptInRequired',
]);
const NOT_FOUND = new Set(['NoSuchKey', 'NoSuchBucket', 'NotFound', 'QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue', 'NoSuchEntity']);
const TRANSIENT_NAMES = new Set([
  'RequestTimeout', 'RequestTimeoutException', 'InternalError', 'InternalFailure', 'InternalServerError', 'ServiceUnavailable',
  'ServiceUnavailableException', 'TimeoutError', 'RequestAbortedError', 'IDPCommunicationError',
]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'ENETUNREACH', 'EHOSTUNREACH', 'UND_ERR_SOCKET']);

interface SdkErrorLike {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: 'client' | 'server';
  cause?: unknown;
}

/** The error's AWS name (`ThrottlingException`, `NoSuchKey`, …) or network code. */
export function awsErrorName(e: unknown): string {
  const x = (e ?? {}) as SdkErrorLike;
  return x.name && x.name !== 'Error' ? x.name : (x.Code ?? x.code ?? 'Error');
}

export function classifyAwsError(e: unknown): AwsErrorKind {
  if (e instanceof TrailbotError) return 'other';
  const x = (e ?? {}) as SdkErrorLike;
  const name = awsErrorName(e);
  const status = x.$metadata?.httpStatusCode;
  if (THROTTLED.has(name) || status === 429) return 'throttled';
  if (DENIED.has(name)) return 'denied';
  if (NOT_FOUND.has(name) || status === 404) return 'not-found';
  if (TRANSIENT_NAMES.has(name) || (x.code && TRANSIENT_CODES.has(x.code)) || (status !== undefined && status >= 500)) return 'transient';
  const cause = x.cause as SdkErrorLike | undefined;
  if (cause?.code && TRANSIENT_CODES.has(cause.code)) return 'transient';
  if (status === 403) return 'denied';
  if (status !== undefined && status >= 400) return 'invalid';
  if (!x.$metadata && (x.code || name === 'Error')) return 'transient';
  return 'other';
}

/** Removes anything that looks like a secret key or session token from a message before it is shown. */
export function scrubAws(s: string): string {
  return s
    .replace(/\b(ASIA|AKIA)[A-Z0-9]{12,}\b/g, (k) => `${k.slice(0, 8)}…`)
    .replace(/(SecretAccessKey|SessionToken|X-Amz-Security-Token|secretAccessKey|sessionToken)(["'=:\s]+)[^\s"'&,}]+/g, '$1$2***');
}

const HINTS: Record<AwsErrorKind, string> = {
  throttled: 'AWS is throttling these requests; trailbot backs off and continues',
  transient: 'a network or AWS service problem; it is retried',
  denied: "check trailbot's AWS credentials (environment, profile or instance role) and that they, or the assumed role, allow this call",
  'not-found': 'check the bucket, key or queue named in the source settings',
  invalid: 'the request was refused as invalid; check the source settings',
  other: 'see the message',
};

/** An AWS failure as a coded trailbot error saying what failed, why, and what to do. */
export function awsError(e: unknown, what: string, hint?: string): TrailbotError {
  if (e instanceof TrailbotError) return e;
  const kind = classifyAwsError(e);
  const name = awsErrorName(e);
  const msg = scrubAws(((e as SdkErrorLike)?.message ?? String(e)).split('\n')[0] ?? '');
  const err = new TrailbotError('E_SOURCE', `${what}: ${name}${msg && msg !== name ? `: ${msg}` : ''}`, { hint: hint ?? HINTS[kind], cause: e });
  (err as TrailbotError & { awsKind?: AwsErrorKind }).awsKind = kind;
  return err;
}

/** The kind recorded by `awsError`, or classified afresh. */
export function kindOf(e: unknown): AwsErrorKind {
  const k = (e as { awsKind?: AwsErrorKind } | undefined)?.awsKind;
  return k ?? classifyAwsError(e);
}
