/**
 * Every error trailbot raises carries a stable `code` and says what to fix.
 * Unknown errors are wrapped once with `asTrailbotError`.
 */
export type ErrorCode =
  | 'E_INPUT_UNREADABLE'
  | 'E_INPUT_NOT_JSON'
  | 'E_INPUT_SHAPE'
  | 'E_RECORD_INVALID'
  | 'E_CONFIG_INVALID'
  | 'E_STORE_UNAVAILABLE'
  | 'E_STORE_LOCKED'
  | 'E_STORE_MIGRATION'
  | 'E_QUERY_TIMEOUT'
  | 'E_USAGE'
  | 'E_QUEUE'
  | 'E_SOURCE'
  | 'E_NOT_FOUND'
  | 'E_UNAUTHORIZED'
  | 'E_FORBIDDEN'
  | 'E_TOO_LARGE'
  | 'E_CONTENT_TYPE'
  | 'E_JIRA_RATE_LIMITED'
  | 'E_JIRA_UNAVAILABLE'
  | 'E_JIRA_REJECTED'
  | 'E_JIRA_AUTH'
  | 'E_SLACK_RATE_LIMITED'
  | 'E_SLACK_UNAVAILABLE'
  | 'E_SLACK_REJECTED'
  | 'E_SLACK_AUTH'
  | 'E_IAM_DENIED'
  | 'E_IAM_NOT_FOUND'
  | 'E_IAM_REJECTED'
  | 'E_IAM_UNAVAILABLE'
  | 'E_APPROVAL_LINK'
  | 'E_APPROVAL_REFUSED'
  | 'E_SIGNIN'
  | 'E_INTERNAL';

/** Every code at run time (the HTTP tests check answers against it); the compiler keeps it in step with ErrorCode. */
const DECLARED: Record<ErrorCode, true> = {
  E_INPUT_UNREADABLE: true,
  E_INPUT_NOT_JSON: true,
  E_INPUT_SHAPE: true,
  E_RECORD_INVALID: true,
  E_CONFIG_INVALID: true,
  E_STORE_UNAVAILABLE: true,
  E_STORE_LOCKED: true,
  E_STORE_MIGRATION: true,
  E_QUERY_TIMEOUT: true,
  E_USAGE: true,
  E_QUEUE: true,
  E_SOURCE: true,
  E_NOT_FOUND: true,
  E_UNAUTHORIZED: true,
  E_FORBIDDEN: true,
  E_TOO_LARGE: true,
  E_CONTENT_TYPE: true,
  E_JIRA_RATE_LIMITED: true,
  E_JIRA_UNAVAILABLE: true,
  E_JIRA_REJECTED: true,
  E_JIRA_AUTH: true,
  E_SLACK_RATE_LIMITED: true,
  E_SLACK_UNAVAILABLE: true,
  E_SLACK_REJECTED: true,
  E_SLACK_AUTH: true,
  // IAM (src/integrations/aws/iam.ts): the hint names the IAM action trailbot's role lacks, or the setting.
  E_IAM_DENIED: true,
  E_IAM_NOT_FOUND: true,
  E_IAM_REJECTED: true,
  E_IAM_UNAVAILABLE: true,
  // Approvals (src/actions/approvals, src/http/approvals.ts): a link that is not (or no longer) good, a
  // decision this person may not make, a sign-in that did not succeed.
  E_APPROVAL_LINK: true,
  E_APPROVAL_REFUSED: true,
  E_SIGNIN: true,
  E_INTERNAL: true,
};
export const ERROR_CODES: readonly ErrorCode[] = Object.keys(DECLARED) as ErrorCode[];

export class TrailbotError extends Error {
  readonly code: ErrorCode;
  /** What the operator should do about it. */
  readonly hint: string | undefined;
  /** Try again no earlier than this many ms from now (a 429's Retry-After); the queue honours it. */
  readonly retryAfterMs: number | undefined;
  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TrailbotError';
    this.code = code;
    this.hint = options.hint;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export function asTrailbotError(err: unknown, code: ErrorCode = 'E_INTERNAL'): TrailbotError {
  if (err instanceof TrailbotError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new TrailbotError(code, message, { cause: err });
}

/** One line an operator can act on: `E_CODE: message (hint)`. */
export function describeError(err: unknown): string {
  const e = asTrailbotError(err);
  return `${e.code}: ${e.message}${e.hint ? ` — ${e.hint}` : ''}`;
}

/** `a, b or c`: the values a setting, option or parameter takes, as a message lists them. */
export const oneOf = (values: readonly string[]): string => (values.length > 1 ? `${values.slice(0, -1).join(', ')} or ${values.at(-1)}` : (values[0] ?? ''));
