import { ErrorCode as SlackErrorCode, type Logger as SlackLogger, LogLevel, WebClient } from '@slack/web-api';
import { TrailbotError } from '../../errors.ts';
import type { FoundMessage, ResponsePort, SlackPort } from './port.ts';

/**
 * The real SlackPort: @slack/web-api's WebClient inside, every failure turned into one of the
 * port's coded errors (port.ts). WebClient's own retries are off and a 429 is rejected at once
 * (rejectRateLimitedCalls), so the queue decides: E_SLACK_RATE_LIMITED carries Slack's Retry-After
 * as retryAfterMs and the job is retried after it without using an attempt (src/runtime/queue.ts).
 * And the ResponsePort: a JSON POST to a command's or a click's response_url, only to URLs Slack
 * issues. Neither ever puts the bot token or a response_url in an error or a log line.
 */

export interface SlackClientConfig {
  /** SLACK_BOT_TOKEN (xoxb-…); never logged. */
  botToken: string;
  /** SLACK_API_URL without the trailing slash (default https://slack.com/api; the stand-in's <url>/api). */
  apiUrl: string;
}

export interface SlackClientOptions {
  /** A call with no answer in this time fails with E_SLACK_UNAVAILABLE (default 30 s). */
  timeoutMs?: number;
  /** WebClient's own warnings (a message without text, Slack's `[WARN]` notes) go here. */
  log?: { warn(obj: object, msg?: string): void };
  /** How many conversations.history / replies pages findByMetadata reads at most (200 messages each; default 10). */
  findPages?: number;
}

/** A 429 without a usable Retry-After waits this long… */
export const DEFAULT_RETRY_AFTER_MS = 10_000;
/** …and none waits longer than this (a bad header must not park a job for a day). */
export const MAX_RETRY_AFTER_MS = 10 * 60_000;

const HISTORY_PAGE = 200;

/** Clamps a Retry-After to [0, MAX_RETRY_AFTER_MS]; none (or nonsense) is the default. */
export function retryAfter(ms: number | undefined): number {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return DEFAULT_RETRY_AFTER_MS;
  return Math.min(Math.round(ms), MAX_RETRY_AFTER_MS);
}

/** Slack errors that mean the token or its scopes are wrong: fixing SLACK_BOT_TOKEN or the app fixes them. */
const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'token_revoked', 'token_expired', 'account_inactive', 'missing_scope', 'not_allowed_token_type', 'no_permission', 'team_access_not_granted', 'ekm_access_denied']);
/** Slack errors that are Slack's own trouble: retried. */
const TRANSIENT_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited', 'rate_limited']);

/** What to do about each error Slack answers; the fallback says retrying will not help. */
const HINTS: Record<string, string> = {
  channel_not_found:
    'check the channel in trailbot.config.yaml (routing.slack, each rule\'s slack.channel, each report\'s slack channel): a name like #security or an id like C0123; a private channel needs the bot invited (/invite @trailbot)',
  not_in_channel: 'invite the bot into the channel (/invite @trailbot); posting to public channels it is not in needs the chat:write.public scope (slack/manifest.yaml)',
  is_archived: 'the channel is archived: unarchive it or route to another channel in trailbot.config.yaml',
  invalid_blocks: 'a trailbot bug: a message broke a Block Kit rule (the messages above say which); report it with this log line',
  invalid_blocks_format: 'a trailbot bug: the blocks were not a JSON array; report it with this log line',
  msg_blocks_too_long: 'a trailbot bug: the message held more text than Slack takes in one message; report it with this log line',
  msg_too_long: 'a trailbot bug: the message text is over 40,000 characters; report it with this log line',
  no_text: 'a trailbot bug: a message without text or blocks; report it with this log line',
  invalid_metadata_format: 'a trailbot bug: the message metadata was refused; report it with this log line',
  metadata_too_large: 'a trailbot bug: the message metadata is too large; report it with this log line',
  no_such_subteam: 'check the user group ids (S…) under slack.trail.allow.usergroups in trailbot.config.yaml',
  message_not_found: 'the message was deleted in Slack; trailbot posts a new one next time',
  cant_update_message: 'the message was not posted by this bot (another token?): check SLACK_BOT_TOKEN',
  thread_not_found: 'the thread\'s first message was deleted in Slack',
  file_not_found: 'the file upload did not complete; the job is not retried',
  invalid_arguments: 'a trailbot bug: Slack refused the arguments; report it with this log line',
  unknown_method: 'SLACK_API_URL does not point at Slack\'s Web API (https://slack.com/api)',
};

function authHint(error: string, data: Record<string, unknown>): string {
  if (error === 'missing_scope') {
    const needed = typeof data.needed === 'string' ? data.needed : 'the scope named by Slack';
    return `add the bot scope ${needed} to the Slack app (slack/manifest.yaml lists them), reinstall the app, and put the new bot token in SLACK_BOT_TOKEN`;
  }
  if (error === 'token_revoked' || error === 'token_expired' || error === 'account_inactive') {
    return 'the app was uninstalled or its token revoked: reinstall the Slack app and put its bot token (xoxb-…) in SLACK_BOT_TOKEN';
  }
  return 'check SLACK_BOT_TOKEN: the Bot User OAuth Token (xoxb-…) from the Slack app\'s OAuth & Permissions page, for the workspace SLACK_API_URL points at';
}

/** WebClient's log lines into ours: warnings and errors only. */
function webClientLogger(log: SlackClientOptions['log']): SlackLogger {
  const warn = (...msg: unknown[]) => log?.warn({ component: 'slack-web-api' }, msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' '));
  return { debug() {}, info() {}, warn, error: warn, setLevel() {}, getLevel: () => LogLevel.WARN, setName() {} };
}

/** Whether `channel` is already an id (C…, G…, D…), which every method takes; names need resolving. */
const isChannelId = (channel: string): boolean => /^[CGD][A-Z0-9]{2,}$/.test(channel);

export function createSlackClient(cfg: SlackClientConfig, opts: SlackClientOptions = {}): SlackPort {
  const apiUrl = cfg.apiUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const findPages = opts.findPages ?? 10;
  const web = new WebClient(cfg.botToken, {
    slackApiUrl: `${apiUrl}/`,
    retryConfig: { retries: 0 },
    rejectRateLimitedCalls: true,
    timeout: timeoutMs,
    logger: webClientLogger(opts.log),
    // files.uploadV2 posts the bytes to the absolute upload URL Slack hands out.
    allowAbsoluteUrls: true,
  });

  /** Any WebClient failure → the port's coded errors. `what` says what trailbot was doing. */
  const toTrailbotError = (e: unknown, what: string): TrailbotError => {
    if (e instanceof TrailbotError) return e;
    const code = (e as { code?: unknown } | null)?.code;
    if (code === SlackErrorCode.RateLimitedError) {
      const ms = retryAfter(Number((e as { retryAfter?: unknown }).retryAfter) * 1000);
      return new TrailbotError('E_SLACK_RATE_LIMITED', `Slack rate-limited ${what} (429); retry in ${Math.ceil(ms / 1000)} s`, {
        hint: 'the job is retried after the delay Slack asked for; many of these mean trailbot posts more than Slack allows (about one message a second per channel)',
        retryAfterMs: ms,
        cause: e,
      });
    }
    if (code === SlackErrorCode.PlatformError) {
      const data = ((e as { data?: unknown }).data ?? {}) as Record<string, unknown>;
      const error = typeof data.error === 'string' ? data.error : 'unknown_error';
      const notes = ((data.response_metadata as { messages?: unknown } | undefined)?.messages ?? data.errors) as unknown;
      const detail = Array.isArray(notes) && notes.length ? ` (${notes.slice(0, 3).map(String).join('; ')})` : '';
      if (AUTH_ERRORS.has(error)) {
        return new TrailbotError('E_SLACK_AUTH', `Slack refused ${what}: ${error}${error === 'missing_scope' && data.needed ? ` (needs ${String(data.needed)})` : ''}`, { hint: authHint(error, data), cause: e });
      }
      if (TRANSIENT_ERRORS.has(error)) {
        const ms = error === 'ratelimited' || error === 'rate_limited' ? retryAfter(Number((data.response_metadata as { retryAfter?: unknown } | undefined)?.retryAfter) * 1000) : undefined;
        if (ms !== undefined) return new TrailbotError('E_SLACK_RATE_LIMITED', `Slack rate-limited ${what} (${error}); retry in ${Math.ceil(ms / 1000)} s`, { hint: 'the job is retried after the delay', retryAfterMs: ms, cause: e });
        return new TrailbotError('E_SLACK_UNAVAILABLE', `Slack failed ${what}: ${error}`, { hint: 'Slack had a problem on its side; the job is retried', cause: e });
      }
      return new TrailbotError('E_SLACK_REJECTED', `Slack refused ${what}: ${error}${detail}`, { hint: HINTS[error] ?? 'retrying will not help; Slack\'s error code says what it refused', cause: e });
    }
    if (code === SlackErrorCode.HTTPError) {
      const status = Number((e as { statusCode?: unknown }).statusCode);
      if (status >= 500) return new TrailbotError('E_SLACK_UNAVAILABLE', `Slack failed ${what}: HTTP ${status}`, { hint: 'Slack had a problem on its side; the job is retried', cause: e });
      return new TrailbotError('E_SLACK_REJECTED', `Slack answered ${what} with HTTP ${status}`, { hint: `check SLACK_API_URL (${apiUrl}): it must be Slack's Web API, https://slack.com/api`, cause: e });
    }
    if (code === SlackErrorCode.RequestError) {
      const original = (e as { original?: { name?: string; message?: string; cause?: { code?: string } } }).original;
      const timedOut = original?.name === 'TimeoutError' || original?.name === 'AbortError';
      return new TrailbotError('E_SLACK_UNAVAILABLE', timedOut ? `Slack did not answer ${what} within ${timeoutMs} ms` : `cannot reach Slack at ${apiUrl} for ${what}${original?.cause?.code ? ` (${original.cause.code})` : ''}`, {
        hint: 'check SLACK_API_URL and that this host can reach it; the job is retried',
        cause: e,
      });
    }
    const message = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    // WebClient turns a 429 without a usable Retry-After into a plain error.
    if (/Retry header did not contain a valid timeout/.test(message)) {
      return new TrailbotError('E_SLACK_RATE_LIMITED', `Slack rate-limited ${what} (429) without saying for how long; retry in ${DEFAULT_RETRY_AFTER_MS / 1000} s`, { hint: 'the job is retried after the delay', retryAfterMs: DEFAULT_RETRY_AFTER_MS, cause: e });
    }
    return new TrailbotError('E_SLACK_UNAVAILABLE', `Slack answered ${what} unexpectedly: ${message.replaceAll(cfg.botToken, '***')}`, { hint: 'the job is retried', cause: e });
  };

  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw toTrailbotError(e, what);
    }
  };

  // Channel names → ids (conversations.list), cached: only chat.postMessage takes a name.
  const ids = new Map<string, string>();
  const channelId = async (channel: string): Promise<string> => {
    if (isChannelId(channel)) return channel;
    const name = channel.replace(/^#/, '');
    const known = ids.get(name);
    if (known) return known;
    let cursor: string | undefined;
    for (let page = 0; page < 20; page++) {
      const r = await call(`looking up the channel #${name}`, () =>
        web.conversations.list({ types: 'public_channel,private_channel', exclude_archived: true, limit: 1000, ...(cursor ? { cursor } : {}) }),
      );
      for (const c of r.channels ?? []) if (c.id && c.name) ids.set(c.name, c.id);
      const found = ids.get(name);
      if (found) return found;
      cursor = r.response_metadata?.next_cursor || undefined;
      if (!cursor) break;
    }
    throw new TrailbotError('E_SLACK_REJECTED', `Slack has no channel #${name} that the bot can see`, { hint: HINTS.channel_not_found! });
  };

  const messageArgs = (m: { text: string; blocks?: unknown[] | undefined }) => ({ text: m.text, ...(m.blocks ? { blocks: m.blocks as never } : {}) });

  return {
    async post(channel, message, o = {}) {
      const r = await call(`posting to ${channel}`, () =>
        web.chat.postMessage({
          channel,
          ...messageArgs(message),
          unfurl_links: false,
          unfurl_media: false,
          ...(o.threadTs ? { thread_ts: o.threadTs } : {}),
          ...(o.metadata ? { metadata: { event_type: o.metadata.eventType, event_payload: o.metadata.payload as never } } : {}),
        }),
      );
      return { channel: String(r.channel), ts: String(r.ts) };
    },

    async update(channel, ts, message) {
      const id = await channelId(channel);
      await call(`updating message ${ts} in ${channel}`, () => web.chat.update({ channel: id, ts, ...messageArgs(message) }));
    },

    async findByMetadata(channel, eventType, match, oldest, o = {}) {
      const id = await channelId(channel);
      const out: FoundMessage[] = [];
      const keep = (m: { ts?: string; metadata?: { event_type?: string; event_payload?: unknown } }) => {
        const payload = (m.metadata?.event_payload ?? {}) as Record<string, unknown>;
        if (!m.ts || m.metadata?.event_type !== eventType) return;
        if (!Object.entries(match).every(([k, v]) => String(payload[k]) === v)) return;
        out.push({ channel: id, ts: m.ts, payload });
      };
      let cursor: string | undefined;
      for (let page = 0; page < findPages; page++) {
        if (o.threadTs) {
          const threadTs = o.threadTs;
          const r = await call(`reading the thread ${threadTs} in ${channel}`, () =>
            web.conversations.replies({ channel: id, ts: threadTs, include_all_metadata: true, limit: HISTORY_PAGE, ...(oldest ? { oldest } : {}), ...(cursor ? { cursor } : {}) }),
          );
          for (const m of r.messages ?? []) if (m.ts !== threadTs) keep(m as never);
          cursor = r.response_metadata?.next_cursor || undefined;
        } else {
          const r = await call(`reading the history of ${channel}`, () =>
            web.conversations.history({ channel: id, include_all_metadata: true, limit: HISTORY_PAGE, ...(oldest ? { oldest } : {}), ...(cursor ? { cursor } : {}) }),
          );
          for (const m of r.messages ?? []) keep(m as never);
          cursor = r.response_metadata?.next_cursor || undefined;
        }
        if (!cursor) break;
      }
      // Newest first (replies come oldest first).
      return out.sort((a, b) => Number(b.ts) - Number(a.ts));
    },

    async usergroupMembers(usergroupId) {
      const r = await call(`listing the members of the user group ${usergroupId}`, () => web.usergroups.users.list({ usergroup: usergroupId }));
      return r.users ?? [];
    },

    async uploadFile(channel, file) {
      const id = await channelId(channel);
      const content = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : Buffer.from(file.content);
      const r = await call(`uploading ${file.filename} to ${channel}`, () =>
        web.filesUploadV2({
          channel_id: id,
          filename: file.filename,
          file: content,
          ...(file.title ? { title: file.title } : {}),
          ...(file.comment ? { initial_comment: file.comment } : {}),
        }),
      );
      const done = r.files?.[0] as { files?: { id?: string }[] } | undefined;
      const fileId = done?.files?.[0]?.id;
      if (!fileId) throw new TrailbotError('E_SLACK_UNAVAILABLE', `Slack did not say which file ${file.filename} became`, { hint: 'the job is retried' });
      return { fileId };
    },

    async whoami() {
      const r = await call('checking the bot token (auth.test)', () => web.auth.test());
      return { teamId: String(r.team_id), userId: String(r.user_id), ...(r.bot_id ? { botId: r.bot_id } : {}) };
    },
  };
}

/** The origins response_urls may live on: Slack's, and the stand-in's (SLACK_API_URL's origin). */
function allowedResponseUrl(raw: string, apiUrl: string): URL | undefined {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return undefined;
  }
  if (u.username || u.password) return undefined;
  if (u.protocol === 'https:' && u.hostname === 'hooks.slack.com' && (u.port === '' || u.port === '443')) return u;
  let api: URL;
  try {
    api = new URL(apiUrl);
  } catch {
    return undefined;
  }
  // Slack's own API host is no response_url host: only a stand-in's origin is trusted this way.
  return api.hostname !== 'slack.com' && u.origin === api.origin ? u : undefined;
}

export interface ResponderOptions {
  /** A post with no answer in this time fails with E_SLACK_UNAVAILABLE (default 10 s). */
  timeoutMs?: number;
}

export function createResponder(cfg: { apiUrl: string }, opts: ResponderOptions = {}): ResponsePort {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return {
    async respond(responseUrl, message) {
      const url = allowedResponseUrl(responseUrl, cfg.apiUrl);
      if (!url) {
        // The URL is a credential (or a forgery): its host is enough to say what was refused.
        let host = 'an unparseable URL';
        try {
          host = new URL(responseUrl).host;
        } catch {
          /* keep the placeholder */
        }
        throw new TrailbotError('E_INPUT_SHAPE', `refused to post to a response_url on ${host}: Slack's are https://hooks.slack.com/…`, {
          hint: 'a request that did not come from Slack, or SLACK_API_URL does not name the stand-in that issued the URL',
        });
      }
      const body = {
        text: message.text,
        ...(message.blocks ? { blocks: message.blocks } : {}),
        ...(message.responseType ? { response_type: message.responseType } : {}),
        ...(message.replaceOriginal !== undefined ? { replace_original: message.replaceOriginal } : {}),
        ...(message.deleteOriginal ? { delete_original: true } : {}),
      };
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
      } catch (e) {
        const timedOut = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
        throw new TrailbotError('E_SLACK_UNAVAILABLE', timedOut ? `Slack did not take the answer within ${timeoutMs} ms` : `cannot reach Slack (${url.host}) to answer`, {
          hint: 'the job is retried; the response_url stays valid for 30 minutes',
          cause: e instanceof Error ? new Error(e.message) : undefined,
        });
      }
      const text = await res.text().catch(() => '');
      let error: string | undefined;
      try {
        const j = JSON.parse(text) as { ok?: unknown; error?: unknown };
        if (j.ok === false) error = typeof j.error === 'string' ? j.error : 'unknown_error';
      } catch {
        if (!res.ok && text.trim() && text.length < 100) error = text.trim();
      }
      if (res.ok && !error) return;
      if (res.status === 429) {
        const ms = retryAfter(Number(res.headers.get('retry-after')) * 1000);
        throw new TrailbotError('E_SLACK_RATE_LIMITED', `Slack rate-limited the answer (429); retry in ${Math.ceil(ms / 1000)} s`, { hint: 'the job is retried after the delay', retryAfterMs: ms });
      }
      if (res.status >= 500) throw new TrailbotError('E_SLACK_UNAVAILABLE', `Slack failed to take the answer: HTTP ${res.status}`, { hint: 'the job is retried; the response_url stays valid for 30 minutes' });
      if (res.status === 404 || res.status === 410 || error === 'expired_url' || error === 'used_url') {
        throw new TrailbotError('E_SLACK_REJECTED', `the response_url expired (${error ?? `HTTP ${res.status}`}): Slack takes at most 5 answers within 30 minutes of a command or a click`, {
          hint: 'run the command again in Slack',
        });
      }
      throw new TrailbotError('E_SLACK_REJECTED', `Slack refused the answer: ${error ?? `HTTP ${res.status}`}`, { hint: (error && HINTS[error]) ?? 'retrying will not help; Slack\'s error code says what it refused' });
    },
  };
}
