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
  | 'E_STORE_MIGRATION'
  | 'E_USAGE'
  | 'E_QUEUE'
  | 'E_SOURCE'
  | 'E_INTERNAL';

export class TrailbotError extends Error {
  readonly code: ErrorCode;
  /** What the operator should do about it. */
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TrailbotError';
    this.code = code;
    this.hint = options.hint;
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
