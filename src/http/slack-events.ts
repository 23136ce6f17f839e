import { App, type Logger as BoltLogger, LogLevel, type Receiver, type ReceiverEvent } from '@slack/bolt';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Config } from '../config/index.ts';
import type { ErrorCode } from '../errors.ts';
import { verifySlackSignature } from '../integrations/slack/signature.ts';
import type { Logger } from '../runtime/logger.ts';
import type { JobQueue } from '../runtime/queue.ts';
import type { Store } from '../store/index.ts';
import { compileText, readTemplate, textEnv } from '../templates/index.ts';

/**
 * POST /slack/events: every request Slack sends trailbot, slash commands and interactivity
 * (button clicks) alike, on the project's Hono app. The route is a custom Bolt receiver (the shape
 * of Bolt's AwsLambdaReceiver): it reads the raw body, verifies Slack's v0 signature itself
 * (src/integrations/slack/signature.ts: 5 minutes either way, constant time) BEFORE parsing
 * anything, parses the form (a command's fields, or interactivity's single `payload=<JSON>`), and
 * hands `{ body, ack }` to Bolt's `app.processEvent`. The HTTP answer leaves as soon as a listener
 * calls `ack(…)` (a string: that text; an object: that JSON; nothing: an empty 200), or after
 * `ackTimeoutMs` whatever happens (an empty 200: Slack wants a 200 within 3 s); the listener goes
 * on working after that. A request that fails verification is answered 401 and nothing else
 * happens: no listener runs. No signing secret configured: every request is refused (404).
 *
 * Listeners: `bolt` is a Bolt App (@slack/bolt 5) with this receiver. Register on it before
 * requests arrive: `bolt.command('/trail', …)`, `bolt.action('…', …)`. The service does that through
 * `ServiceOptions.slack.register(bolt, ctx)` (src/runtime/service.ts), given by src/main.ts:
 *
 *   startService({ …, slack: { register: (bolt, { queue, store, log, config }) => bolt.command('/trail', …) } })
 *
 * A listener must ack at once and queue the work (answering through `response_url` from the job).
 * An error a listener throws before acking is logged (never its stack to Slack) and the person gets
 * a short apology naming the error code (src/templates/slack/listener-failed.hbs). `bolt.error(…)`
 * may be replaced (the default one logs and rethrows; a replacement should rethrow too, or the
 * person gets an empty answer). Bolt's own log lines reach trailbot's log at warn.
 *
 * Bolt's App is built with `authorize` (not `token`): with a token and tokenVerificationEnabled off,
 * Bolt calls auth.test on every request before any listener runs (a Slack round trip inside the
 * 3-second budget), and the web role usually has no bot token at all (workers post). `authorize`
 * hands listeners the bot token when there is one, and calls nothing.
 */

/** What a registrar gets besides the App: the service's own parts, to queue work and read the store. */
export interface SlackContext {
  store: Store;
  queue: JobQueue;
  log: Logger;
  config: Config;
}

/** The hook src/main.ts gives the service: registers trailbot's Slack listeners on the Bolt App. */
export interface SlackHooks {
  register(bolt: App, ctx: SlackContext): void;
}

export interface SlackEventsOptions {
  /** SLACK_SIGNING_SECRET; undefined: every request is refused (404, with a hint to set it). */
  signingSecret: string | undefined;
  /** SLACK_BOT_TOKEN, handed to listeners as `context.botToken` (and their `client`); often unset on the web role. */
  botToken?: string | undefined;
  /** SLACK_API_URL (default https://slack.com/api): Bolt's `slackApiUrl`, for the stand-in. */
  apiUrl?: string | undefined;
  log: Pick<Logger, 'warn' | 'info' | 'debug' | 'error'>;
  /** Answer 200 (empty) after this long when no listener has acked (Slack gives up at 3 s). */
  ackTimeoutMs?: number;
  /** The clock the signature's timestamp is judged against (ms). */
  now?: () => number;
  /** Largest body accepted; Slack's commands and button payloads are a few KiB. */
  maxBytes?: number;
}

export const SLACK_EVENTS_MAX_BYTES = 64 * 1024;
export const DEFAULT_ACK_TIMEOUT_MS = 2500;

const FORM = 'application/x-www-form-urlencoded';
const SIGNING_HINT = "set SLACK_SIGNING_SECRET on the web role to the Slack app's signing secret (Basic Information → App Credentials)";
const UNSIGNED_HINT = `Slack signs every request (X-Slack-Signature, X-Slack-Request-Timestamp); check that SLACK_SIGNING_SECRET is the signing secret of the app whose request URL points here, and that this host's clock is right`;

/** The JSON error shape of the HTTP API, answered here so the route says the same mounted or alone. */
function refuse(c: Context, status: ContentfulStatusCode, code: ErrorCode, message: string, hint: string): Response {
  return c.json({ error: { code, message, hint } }, status);
}

/** Bolt's logger, into ours: debug and info dropped, warn and error kept. */
function boltLogger(log: SlackEventsOptions['log']): BoltLogger {
  const line = (msg: unknown[]): { text: string; err?: unknown } => {
    const err = msg.find((m) => m instanceof Error);
    const text = msg
      .filter((m) => !(m instanceof Error))
      .map((m) => (typeof m === 'string' ? m : JSON.stringify(m)))
      .join(' ');
    return { text: text || (err instanceof Error ? err.message : ''), err };
  };
  return {
    debug() {},
    info() {},
    warn(...msg: unknown[]) {
      const { text, err } = line(msg);
      log.warn({ component: 'bolt', ...(err ? { err } : {}) }, text);
    },
    error(...msg: unknown[]) {
      const { text, err } = line(msg);
      log.error({ component: 'bolt', ...(err ? { err } : {}) }, text);
    },
    setLevel() {},
    getLevel: () => LogLevel.WARN,
    setName() {},
  };
}

/** The receiver Bolt is given: it only remembers the App; the Hono route below drives it. */
class HonoReceiver implements Receiver {
  app: App | undefined;
  init(app: App): void {
    this.app = app;
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

/** The request body as Bolt wants it: a command's fields, or interactivity's parsed `payload`. */
function parseBody(raw: Buffer, contentType: string): { body: Record<string, unknown> } | { status: ContentfulStatusCode; code: ErrorCode; message: string; hint: string } {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  const text = raw.toString('utf8');
  if (type === FORM) {
    const form = new URLSearchParams(text);
    const payload = form.get('payload');
    if (payload === null) return { body: Object.fromEntries(form) };
    try {
      const parsed: unknown = JSON.parse(payload);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      return { body: parsed as Record<string, unknown> };
    } catch {
      return { status: 400, code: 'E_INPUT_NOT_JSON', message: 'the interactivity payload is not a JSON object', hint: 'Slack sends payload=<JSON object>; is another tool posting here?' };
    }
  }
  if (type === 'application/json') {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      return { body: parsed as Record<string, unknown> };
    } catch {
      return { status: 400, code: 'E_INPUT_NOT_JSON', message: 'the body is not a JSON object', hint: 'Slack sends events as a JSON object; is another tool posting here?' };
    }
  }
  return {
    status: 415,
    code: 'E_CONTENT_TYPE',
    message: `Slack requests are ${FORM}, not ${type || 'untyped'}`,
    hint: 'point only the Slack app (slash command and interactivity request URLs) at /slack/events',
  };
}

export function createSlackEvents({
  signingSecret,
  botToken,
  apiUrl = 'https://slack.com/api',
  log,
  ackTimeoutMs = DEFAULT_ACK_TIMEOUT_MS,
  now = Date.now,
  maxBytes = SLACK_EVENTS_MAX_BYTES,
}: SlackEventsOptions): { bolt: App; route: Hono } {
  const receiver = new HonoReceiver();
  const bolt = new App({
    receiver,
    authorize: async () => (botToken ? { botToken } : {}),
    tokenVerificationEnabled: false,
    convoStore: false,
    clientOptions: { slackApiUrl: `${apiUrl.replace(/\/+$/, '')}/` },
    logger: boltLogger(log),
  });
  // Errors from listeners (before or after their ack) are logged here once and passed on, so the
  // route knows the request failed; Bolt wraps unknown errors as `{code:'slack_bolt_unknown_error', original}`.
  const logged = new WeakSet<object>();
  bolt.error(async (e) => {
    const err = (e as { original?: unknown }).original ?? e;
    log.error({ err }, 'a Slack listener failed');
    if (typeof e === 'object' && e !== null) logged.add(e);
    throw e;
  });

  const listenerFailed = compileText(textEnv(), readTemplate('slack/listener-failed.hbs'));

  const route = new Hono();
  route.post(
    '/events',
    bodyLimit({
      maxSize: maxBytes,
      onError: (c) => refuse(c, 413, 'E_TOO_LARGE', `the request is larger than ${maxBytes} bytes`, "Slack's commands and button payloads are far smaller; is another tool posting here?"),
    }),
    async function slackEventsRoute(c) {
      if (!signingSecret) {
        // Refused by default: unsigned requests would let anyone read activity through /trail.
        return refuse(c, 404, 'E_NOT_FOUND', 'Slack is off: no signing secret is configured', SIGNING_HINT);
      }
      const raw = Buffer.from(await c.req.arrayBuffer());
      const contentType = c.req.header('content-type') ?? '';
      // Slack's SSL check (sent unsigned when the app's request URL is saved): answered, nothing run.
      if (contentType.toLowerCase().startsWith(FORM) && raw.length < 1024 && new URLSearchParams(raw.toString('utf8')).get('ssl_check') === '1') {
        return c.body(null, 200);
      }
      const verdict = verifySlackSignature({
        secret: signingSecret,
        body: raw,
        timestamp: c.req.header('x-slack-request-timestamp'),
        signature: c.req.header('x-slack-signature'),
        nowMs: now(),
      });
      if (!verdict.ok) {
        log.warn({ bytes: raw.length, why: verdict.why }, 'refused a Slack request');
        return refuse(c, 401, 'E_UNAUTHORIZED', `Slack request refused: ${verdict.why}`, UNSIGNED_HINT);
      }
      const parsed = parseBody(raw, contentType);
      if (!('body' in parsed)) return refuse(c, parsed.status, parsed.code, parsed.message, parsed.hint);
      const { body } = parsed;
      const app = receiver.app!;

      let acked = false;
      let answer!: (r: Response) => void;
      const answered = new Promise<Response>((resolve) => {
        answer = resolve;
      });
      const started = performance.now();
      const timer = setTimeout(() => {
        if (acked) return;
        acked = true;
        log.warn({ ms: ackTimeoutMs, what: describe(body) }, 'no Slack listener acknowledged in time; answered 200 so Slack does not show an error');
        answer(c.body(null, 200));
      }, ackTimeoutMs);
      const event: ReceiverEvent = {
        body,
        ack: async (response?: unknown) => {
          if (acked) {
            log.debug({ what: describe(body), ms: Math.round(performance.now() - started) }, 'a Slack listener acknowledged after the answer had left');
            return;
          }
          acked = true;
          clearTimeout(timer);
          if (response === undefined || response === null || response === '') answer(c.body(null, 200));
          else if (typeof response === 'string') answer(c.text(response, 200));
          else answer(c.json(response as object, 200));
        },
        ...retryOf(c),
      };
      const settle = (failed: boolean) => {
        clearTimeout(timer);
        if (acked) return;
        acked = true;
        if (failed) {
          answer(c.text(listenerFailed({ code: 'E_INTERNAL' }), 200));
        } else {
          log.warn({ what: describe(body) }, 'no Slack listener handled the request');
          answer(c.body(null, 200));
        }
      };
      app.processEvent(event).then(
        () => settle(false),
        (err: unknown) => {
          // The error handler passed a listener's error on (logged there), or Bolt failed outside a listener.
          if (!(typeof err === 'object' && err !== null && logged.has(err))) log.error({ err }, 'Bolt could not process a Slack request');
          settle(true);
        },
      );
      return answered;
    },
  );
  return { bolt, route };
}

/**
 * Which request it was, for the log: the command or the action ids; never a response_url or a token.
 * Never throws, whatever the (signed) JSON holds: it runs after the ack and in the ack timer, where
 * a throw would be an unhandled rejection (the process ends) and the person would get no answer.
 */
function describe(body: Record<string, unknown>): string {
  const word = (v: unknown): string => (typeof v === 'string' ? v.slice(0, 100) : '?');
  if (typeof body.command === 'string') return `command ${word(body.command)}`;
  if (body.type === 'block_actions' && Array.isArray(body.actions)) {
    return `block_actions ${body.actions
      .slice(0, 5)
      .map((a: unknown) => word(typeof a === 'object' && a !== null ? (a as { action_id?: unknown }).action_id : undefined))
      .join(',')}`;
  }
  return typeof body.type === 'string' ? word(body.type) : 'unknown request';
}

/** Slack's retry headers (Events API only), as Bolt's ReceiverEvent carries them. */
function retryOf(c: Context): Pick<ReceiverEvent, 'retryNum' | 'retryReason'> {
  const num = c.req.header('x-slack-retry-num');
  const reason = c.req.header('x-slack-retry-reason');
  return { ...(num && /^\d+$/.test(num) ? { retryNum: Number(num) } : {}), ...(reason ? { retryReason: reason } : {}) };
}
