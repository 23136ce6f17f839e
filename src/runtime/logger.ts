import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Structured JSON logs (pino), one object per line on stdout. Secrets never reach them: values under
 * secret-looking keys are censored, and credentials inside URLs and error messages are masked.
 */
const SECRET_KEYS = [
  'password', 'secret', 'token', 'apiToken', 'botToken', 'signingSecret', 'clientSecret', 'approvalSecret', 'webhookSecret',
  'authorization', 'cookie', 'accessKeySecret', 'secretAccessKey', 'sessionToken', 'APPROVAL_SECRET', 'JIRA_API_TOKEN',
  'JIRA_WEBHOOK_SECRET', 'SLACK_SIGNING_SECRET', 'SLACK_BOT_TOKEN', 'OIDC_CLIENT_SECRET',
];

export const REDACT_PATHS = [
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((k) => `*.${k}`),
  ...SECRET_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'headers["x-slack-signature"]',
];

const CREDENTIALS_IN_URL = /(\b[a-z][a-z0-9+.-]*:\/\/[^:@/\s]*):[^@/\s]+@/gi;
const TOKENS = /\b(xox[abposr]-[A-Za-z0-9-]+|ATATT[A-Za-z0-9_=-]{10,})/g;

/** Masks URL passwords and Slack/Atlassian-looking tokens in free text. */
export function scrub(s: string): string {
  return s.replace(CREDENTIALS_IN_URL, '$1:***@').replace(TOKENS, '***');
}

export interface LoggerOptions {
  level: string;
  /** Where lines go (tests pass a stream); stdout by default. */
  destination?: DestinationStream;
  base?: Record<string, unknown>;
}

export function createLogger({ level, destination, base }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service: 'trailbot', ...base },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: '***' },
      formatters: { level: (label) => ({ level: label }) },
      serializers: {
        err: (e: unknown) => {
          const s = pino.stdSerializers.err(e as Error);
          return { ...s, message: scrub(s.message ?? ''), stack: s.stack ? scrub(s.stack) : undefined };
        },
      },
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
}
