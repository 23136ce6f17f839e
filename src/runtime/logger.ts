import pino, { type DestinationStream, type Logger } from 'pino';
import { SECRET_ENV, SECRET_PATHS } from '../config/index.ts';

export type { Logger } from 'pino';

/**
 * Structured JSON logs (pino), one object per line on stdout. Secrets never reach them: every logged
 * object (child-logger bindings included) is walked to any depth, values under secret keys are censored,
 * Errors are serialized wherever they sit, and credentials inside any string are masked.
 */

/**
 * Keys whose values are censored, besides the secret settings themselves (SECRET_ENV and the last part
 * of each SECRET_PATHS entry, read from src/config so a new secret setting is redacted without an edit
 * here): HTTP credential headers, AWS credentials, and the usual generic names.
 */
const OTHER_SECRET_KEYS = [
  'password', 'passwd', 'secret', 'token', 'apiKey', 'privateKey', 'clientSecret',
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-slack-signature', 'x-amz-security-token',
  'secretAccessKey', 'sessionToken', 'accessKeySecret', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN',
  // A Slack response_url lets whoever holds it answer the person who asked: a credential.
  'response_url', 'response_urls',
];

/** `JIRA_API_TOKEN`, `jiraApiToken` and `jira-api-token` are the same key. */
const keyForm = (k: string): string => k.replace(/[-_]/g, '').toLowerCase();

let secretKeys: Set<string> | undefined;
function secretKeySet(): Set<string> {
  secretKeys ??= new Set([...SECRET_ENV, ...SECRET_PATHS.map((p) => p.split('.').at(-1)!), ...OTHER_SECRET_KEYS].map(keyForm));
  return secretKeys;
}

/** Whether values under this key are never logged (case, `-` and `_` ignored). */
export function isSecretKey(key: string): boolean {
  return secretKeySet().has(keyForm(key));
}

export const CENSOR = '***';
/** Objects nested deeper than this are logged as a marker (no log line needs more; it also bounds the walk). */
const MAX_DEPTH = 32;

/** Slack's response_url and webhook paths (credentials); the host stays readable. */
const SLACK_HOOKS = /(https:\/\/hooks\.slack\.com\/)[^\s"'<>]+/g;
const TOKENS = /\b(xox[abposr]-[A-Za-z0-9-]+|ATATT[A-Za-z0-9_=-]{10,})/g;
/** An approval link's token (PUBLIC_URL/approvals/<claims>.<signature>): whoever holds it may open the page. */
const APPROVAL_LINK = /(\/approvals\/)[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}/g;
const AWS_SECRET = /\b(aws_secret_access_key|aws_session_token)(["']?\s*[=:]\s*["']?)[A-Za-z0-9/+=]{16,}/gi;
const SCHEME_CHAR = /[A-Za-z0-9+.-]/;
const AUTHORITY_END = /[@/\s]/;

/**
 * `scheme://user:password@` → `scheme://user:***@`. A scan, not a regex, so it stays linear: from each
 * `://` it reads the authority up to the first `@`, `/` or whitespace, and those stretches never overlap
 * (a later `://` contains a `/`, which ends the stretch before it).
 */
function maskUrlPasswords(s: string): string {
  let out = '';
  let copied = 0;
  let from = 0;
  for (;;) {
    const sep = s.indexOf('://', from);
    if (sep < 0) break;
    const start = sep + 3;
    from = start;
    if (sep === 0 || !SCHEME_CHAR.test(s[sep - 1]!)) continue;
    let end = start;
    while (end < s.length && !AUTHORITY_END.test(s[end]!)) end++;
    from = end;
    if (s[end] !== '@') continue;
    const colon = s.indexOf(':', start);
    if (colon < 0 || colon >= end - 1) continue;
    out += `${s.slice(copied, colon + 1)}${CENSOR}`;
    copied = end;
  }
  return copied === 0 ? s : out + s.slice(copied);
}

/** Masks URL passwords, Slack/Atlassian-looking tokens, Slack response_url paths, AWS secret keys and approval link tokens in free text. Linear in the length. */
export function scrub(s: string): string {
  let r = s.includes('://') ? maskUrlPasswords(s) : s;
  if (r.includes('xox') || r.includes('ATATT')) r = r.replace(TOKENS, CENSOR);
  if (r.includes('hooks.slack.com/')) r = r.replace(SLACK_HOOKS, `$1${CENSOR}`);
  if (/aws_se/i.test(r)) r = r.replace(AWS_SECRET, `$1$2${CENSOR}`);
  if (r.includes('/approvals/')) r = r.replace(APPROVAL_LINK, `$1${CENSOR}`);
  return r;
}

/**
 * A copy of `value` safe to log: secret keys censored, strings scrubbed, Errors serialized, cycles cut,
 * depth bounded. Unchanged parts are returned as they are (no copy), and an object met twice is walked once.
 */
export function redact(value: unknown): unknown {
  return walk(value, 0, new Map());
}

const CIRCULAR = '[Circular]';

function walk(v: unknown, depth: number, done: Map<object, unknown>): unknown {
  if (typeof v === 'string') return scrub(v);
  if (v === null || typeof v !== 'object') return v;
  const known = done.get(v);
  if (known !== undefined) return known;
  if (depth >= MAX_DEPTH) return `[nested deeper than ${MAX_DEPTH} levels]`;
  done.set(v, CIRCULAR);
  let result: unknown;
  try {
    result = walkObject(v, depth, done);
  } catch {
    result = '[unserializable]';
  }
  done.set(v, result);
  return result;
}

function walkObject(v: object, depth: number, done: Map<object, unknown>): unknown {
  if (v instanceof Error) return walk(pino.stdSerializers.errWithCause(v), depth, done);
  if (Array.isArray(v)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < v.length; i++) {
      const w = walk(v[i], depth + 1, done);
      if (w !== v[i]) (copy ??= v.slice())[i] = w;
    }
    return copy ?? v;
  }
  const toJSON = (v as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') {
    const j = toJSON.call(v) as unknown;
    return j === v ? v : walk(j, depth, done);
  }
  if (ArrayBuffer.isView(v) || v instanceof Map || v instanceof Set) return v;
  const o = v as Record<string, unknown>;
  let copy: Record<string, unknown> | undefined;
  for (const k of Object.keys(o)) {
    const was = o[k];
    const w = isSecretKey(k) && was !== undefined && was !== null && was !== '' ? CENSOR : walk(was, depth + 1, done);
    if (w !== was) (copy ??= { ...o })[k] = w;
  }
  return copy ?? o;
}

/** A log call's object made safe. `err` is an Error serialized, a string as `{message}`, anything else as it is. */
function safeLogObject(o: Record<string, unknown>): Record<string, unknown> {
  const r = redact(o) as Record<string, unknown>;
  return typeof r.err === 'string' ? { ...r, err: { message: r.err } } : r;
}

export interface LoggerOptions {
  level: string;
  /** Where lines go (tests pass a stream); stdout by default. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}

export function createLogger({ level, destination, base }: LoggerOptions): Logger {
  const logger = pino(
    {
      level,
      base: { service: 'trailbot', ...base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (b) => redact(b) as Record<string, unknown>,
        log: safeLogObject,
      },
      // `formatters.log` has already made `err` safe and plain; pino's own err serializer would spread a string.
      serializers: { err: (e: unknown) => e },
      hooks: {
        logMethod(args, method) {
          const a = args as unknown[];
          for (let i = 0; i < a.length; i++) if (typeof a[i] === 'string') a[i] = scrub(a[i] as string);
          method.apply(this, args);
        },
      },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
  // pino skips `formatters.bindings` for children's bindings: redact them on the way in. Children inherit
  // these from the root logger, so grandchildren are covered too.
  const { child, setBindings } = logger;
  logger.child = function (this: Logger, bindings: Record<string, unknown>, options?: Parameters<Logger['child']>[1]) {
    return child.call(this, redact(bindings) as Record<string, unknown>, options);
  } as Logger['child'];
  logger.setBindings = function (this: Logger, bindings: Record<string, unknown>) {
    setBindings.call(this, redact(bindings) as Record<string, unknown>);
  };
  return logger;
}
