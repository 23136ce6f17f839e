import { isIP } from 'node:net';
import { z } from 'zod';
import { durationMs } from '../time.ts';

/**
 * Every environment variable trailbot reads, what it expects and an example. `readConfig` is the
 * only caller; the examples and secrecy flags also drive `trailbot config print` and log redaction.
 */

/** Empty or blank counts as unset, so `FOO=` in a compose file means "not configured". */
const blankToUndefined = (v: unknown): unknown => (typeof v === 'string' && v.trim() === '' ? undefined : typeof v === 'string' ? v.trim() : v);
const opt = <T extends z.ZodType>(t: T) => z.preprocess(blankToUndefined, t.optional());

const url = (protocols: RegExp, expects: string) =>
  z.string().refine((s) => {
    try {
      return protocols.test(new URL(s).protocol);
    } catch {
      return false;
    }
  }, `expected ${expects}`);

const httpUrl = url(/^https?:$/, 'an http(s) URL');
const nonEmpty = (expects: string) => z.string().min(1, `expected ${expects}`);

/** An IP address or a DNS host name (no brackets, no port). */
const host = z
  .string()
  .refine(
    (s) => isIP(s) !== 0 || /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(s),
    'expected an IP address or host name without port: 127.0.0.1 (this machine only), 0.0.0.0 or :: (every interface)',
  );

/** Each API token is at least this long: `openssl rand -hex 32` prints 64 characters. */
export const API_TOKEN_MIN_LENGTH = 32;

/** Comma-separated bearer tokens (spaces around commas ignored), each long enough and sendable in a header (RFC 6750 token68). */
const apiTokens = z
  .string()
  .transform((s) => s.split(',').map((t) => t.trim()).filter((t) => t !== ''))
  .superRefine((tokens, ctx) => {
    if (tokens.length === 0) ctx.addIssue({ code: 'custom', message: 'expected one or more tokens, separated by commas' });
    tokens.forEach((t, i) => {
      const which = tokens.length === 1 ? 'the token' : `token ${i + 1} of ${tokens.length}`;
      if (t.length < API_TOKEN_MIN_LENGTH) ctx.addIssue({ code: 'custom', message: `${which} is shorter than ${API_TOKEN_MIN_LENGTH} characters; expected random tokens of at least ${API_TOKEN_MIN_LENGTH}` });
      else if (!/^[A-Za-z0-9._~+/-]+=*$/.test(t)) ctx.addIssue({ code: 'custom', message: `${which} has characters a bearer token cannot carry; expected letters, digits and - . _ ~ + /` });
    });
  });

export const QUEUE_BACKENDS = ['redis', 'postgres', 'inline'] as const;
export type QueueBackendName = (typeof QUEUE_BACKENDS)[number];
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const envSchema = z.object({
  DATABASE_URL: opt(url(/^postgres(ql)?:$/, 'a PostgreSQL URL')),
  REDIS_URL: opt(url(/^rediss?:$/, 'a Redis URL (redis:// or rediss://)')),
  TRAILBOT_DATA_DIR: opt(nonEmpty('a folder path')),
  TRAILBOT_CONFIG: opt(nonEmpty('a file path')),
  TRAILBOT_QUEUE: opt(z.enum(QUEUE_BACKENDS, { error: `expected one of ${QUEUE_BACKENDS.join(', ')}` })),
  TRAILBOT_QUEUE_NAME: opt(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]{0,62}$/, 'expected letters, digits, - or _, starting with a letter')),
  TRAILBOT_WORKER_CONCURRENCY: opt(z.coerce.number({ error: 'expected a whole number 1–256' }).int('expected a whole number 1–256').min(1, 'expected a whole number 1–256').max(256, 'expected a whole number 1–256')),
  TRAILBOT_WORKER_NICE: opt(z.coerce.number({ error: 'expected a whole number 0–19' }).int('expected a whole number 0–19').min(0, 'expected a whole number 0–19').max(19, 'expected a whole number 0–19')),
  TRAILBOT_JOB_LOCK: opt(z.string().refine((v) => { const ms = durationMs(v); return ms !== undefined && ms >= 1000 && ms <= 600_000; }, 'expected a duration from 1s to 10m, e.g. 30s')),
  HOST: opt(host),
  TRAILBOT_API_TOKENS: opt(apiTokens),
  PORT: opt(z.coerce.number({ error: 'expected a port number 1–65535' }).int('expected a port number 1–65535').min(1, 'expected a port number 1–65535').max(65535, 'expected a port number 1–65535')),
  PUBLIC_URL: opt(httpUrl),
  LOG_LEVEL: opt(z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` })),
  JIRA_BASE_URL: opt(httpUrl),
  JIRA_EMAIL: opt(z.string().regex(/^[^@\s]+@[^@\s]+$/, 'expected an e-mail address')),
  JIRA_API_TOKEN: opt(nonEmpty('an Atlassian API token')),
  JIRA_PROJECT: opt(z.string().regex(/^[A-Z][A-Z0-9_]{1,9}$/, 'expected a Jira project key: capital letters and digits, e.g. SEC')),
  JIRA_WEBHOOK_SECRET: opt(z.string().min(16, 'expected a secret of at least 16 characters')),
  SLACK_SIGNING_SECRET: opt(nonEmpty("the Slack app's signing secret")),
  SLACK_BOT_TOKEN: opt(z.string().regex(/^xox[bp]-/, 'expected a Slack bot token starting xoxb-')),
  SLACK_API_URL: opt(httpUrl),
  APPROVAL_SECRET: opt(z.string().min(32, 'expected at least 32 random characters')),
  OIDC_ISSUER: opt(httpUrl),
  OIDC_CLIENT_ID: opt(nonEmpty('the OIDC client id')),
  OIDC_CLIENT_SECRET: opt(nonEmpty('the OIDC client secret')),
});

export type EnvSettings = z.infer<typeof envSchema>;

/** One example per setting, shown next to a wrong value. Secrets get placeholders, never real-looking values. */
export const EXAMPLES: Record<string, string> = {
  DATABASE_URL: 'postgres://trailbot:secret@localhost:5432/trailbot',
  REDIS_URL: 'redis://localhost:6379',
  TRAILBOT_DATA_DIR: './.trailbot',
  TRAILBOT_CONFIG: './trailbot.config.yaml',
  TRAILBOT_QUEUE: 'redis',
  TRAILBOT_QUEUE_NAME: 'trailbot',
  TRAILBOT_WORKER_CONCURRENCY: '4',
  TRAILBOT_WORKER_NICE: '10',
  TRAILBOT_JOB_LOCK: '30s',
  HOST: '127.0.0.1',
  TRAILBOT_API_TOKENS: '<64 random hex characters: openssl rand -hex 32>[,<another, while rotating>]',
  PORT: '3000',
  PUBLIC_URL: 'https://trailbot.example.com',
  LOG_LEVEL: 'info',
  JIRA_BASE_URL: 'https://your-site.atlassian.net',
  JIRA_EMAIL: 'trailbot@example.com',
  JIRA_API_TOKEN: '<API token from id.atlassian.com>',
  JIRA_PROJECT: 'SEC',
  JIRA_WEBHOOK_SECRET: '<16+ random characters>',
  SLACK_SIGNING_SECRET: "<the app's signing secret>",
  SLACK_BOT_TOKEN: 'xoxb-<bot token>',
  SLACK_API_URL: 'https://slack.com/api',
  APPROVAL_SECRET: '<32+ random characters, e.g. openssl rand -hex 32>',
  OIDC_ISSUER: 'https://login.example.com',
  OIDC_CLIENT_ID: 'trailbot',
  OIDC_CLIENT_SECRET: '<client secret>',
  AWS_ENDPOINT_URL_S3: 'http://localhost:4566',
};

/** Settings whose values never appear in output or logs. */
export const SECRET_ENV: ReadonlySet<string> = new Set(['TRAILBOT_API_TOKENS', 'JIRA_API_TOKEN', 'JIRA_WEBHOOK_SECRET', 'SLACK_SIGNING_SECRET', 'SLACK_BOT_TOKEN', 'APPROVAL_SECRET', 'OIDC_CLIENT_SECRET']);

/**
 * Settings that must be given together, when any of them is given. Secrets that different roles use stand
 * alone, so each role can be given only its own: SLACK_SIGNING_SECRET (web checks Slack's requests) apart from
 * SLACK_BOT_TOKEN (workers post), JIRA_WEBHOOK_SECRET (web) apart from the Jira API settings (workers).
 */
export const TOGETHER: { what: string; keys: (keyof EnvSettings)[] }[] = [
  { what: 'Jira', keys: ['JIRA_BASE_URL', 'JIRA_EMAIL', 'JIRA_API_TOKEN', 'JIRA_PROJECT'] },
  { what: 'single sign-on (OIDC)', keys: ['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET'] },
];

/** `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`: passed through to the AWS SDK, which reads them itself. */
export const AWS_ENDPOINT = /^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$/;
