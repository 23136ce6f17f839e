// The Slack stand-in's state and its routes, as one Hono app:
// - the Web API at /api/<method>, as @slack/web-api's WebClient calls it (POST, form-encoded or JSON,
//   `Authorization: Bearer xoxb-…`; answers `{ok:true,…}` / `{ok:false,error}` with HTTP 200, 429 with
//   Retry-After), checked as Slack checks what matters to trailbot (tokens, scopes, channels, Block Kit);
// - the file upload URLs files.getUploadURLExternal hands out (/upload/v1/<file id>);
// - response_url receivers (/commands/<team>/<id>/<secret>) that record what trailbot posts, with
//   Slack's limits (5 posts within 30 minutes);
// - /__standin/ (no auth) to drive it by hand (see cli.ts and README.md).
// The Slack side of the conversation (signed slash commands and button clicks sent to trailbot) is
// in conversation.ts.
import { randomBytes } from 'node:crypto';
import { Hono } from 'hono';
import { blocksProblem, BLOCK_LIMITS } from './blocks.ts';
import { createSlackFaults, type SlackFaults } from './faults.ts';

/** The bot scopes slack/manifest.yaml asks for. */
export const MANIFEST_SCOPES = ['commands', 'chat:write', 'chat:write.public', 'usergroups:read', 'files:write', 'channels:history', 'groups:history', 'channels:read', 'groups:read'] as const;

export const DEFAULT_TOKEN = 'xoxb-0000000000-standin-bot-token';
export const DEFAULT_SIGNING_SECRET = 'standin-signing-secret-0123456789abcdef';
export const DEFAULT_TEAM = { id: 'T0STANDIN', domain: 'trailbot-standin', name: 'trailbot stand-in' } as const;
export const DEFAULT_BOT = { userId: 'U0TRAILBOT', botId: 'B0TRAILBOT', name: 'trailbot', appId: 'A0TRAILBOT' } as const;
export const DEFAULT_CHANNELS: readonly ChannelSeed[] = [{ id: 'C0SECURITY', name: 'security' }];

/** How many times a response_url takes a post, and for how long (Slack: 5 times within 30 minutes). */
export const RESPONSE_URL_USES = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60_000;

/** The scope each Web API method needs (conversations.history: by the channel's kind). */
const METHOD_SCOPES: Record<string, string | ((c: Channel | undefined) => string) | null> = {
  'auth.test': null,
  'chat.postMessage': 'chat:write',
  'chat.update': 'chat:write',
  'conversations.history': (c) => (c?.isPrivate ? 'groups:history' : 'channels:history'),
  'conversations.replies': (c) => (c?.isPrivate ? 'groups:history' : 'channels:history'),
  'conversations.list': 'channels:read',
  'usergroups.users.list': 'usergroups:read',
  'files.getUploadURLExternal': 'files:write',
  'files.completeUploadExternal': 'files:write',
};

export interface ChannelSeed {
  id?: string;
  name: string;
  isPrivate?: boolean;
  /** whether the bot is in the channel (default true); a public one it is not in takes posts only with chat:write.public */
  botMember?: boolean;
}

export interface StoredMessage {
  type: 'message';
  ts: string;
  channel: string;
  text: string;
  blocks?: unknown[];
  /** set on thread replies (the parent's ts), and on a parent that has replies (its own ts) */
  thread_ts?: string;
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  user: string;
  bot_id: string;
  app_id: string;
  edited?: { user: string; ts: string };
  files?: { id: string; name: string; title: string }[];
  /** a parent's replies, oldest first (not part of Slack's message JSON: see messageJson) */
  replies: StoredMessage[];
}

export interface Channel {
  id: string;
  name: string;
  isPrivate: boolean;
  botMember: boolean;
  /** top-level messages, oldest first (thread replies are in each parent's `replies`) */
  messages: StoredMessage[];
  /** a thread's replies, oldest first (empty when `ts` has none) */
  thread(ts: string): StoredMessage[];
}

export interface StoredFile {
  id: string;
  filename: string;
  /** the length files.getUploadURLExternal was told */
  length: number;
  title?: string;
  bytes?: Uint8Array;
  /** set by files.completeUploadExternal */
  channel?: string;
  comment?: string;
  completed: boolean;
}

/** One Web API call (or response_url post, method `response_url`) as the stand-in saw it; the token is never kept. */
export interface SlackRequestRecord {
  seq: number;
  at: string;
  method: string;
  params: Record<string, unknown>;
  status: number;
  ok: boolean;
  error?: string;
  /** '429' or '5xx' when an injected fault answered */
  fault?: string;
  durationMs: number;
}

/** What trailbot posted to a response_url, accepted or not. */
export interface ResponsePost {
  at: number;
  body: Record<string, unknown>;
  status: number;
  /** Slack's error when refused (expired_url, used_url, invalid_blocks, no_text, …) */
  error?: string;
}

/** A message as the person who ran the command sees it (posted through response_url). */
export interface ShownMessage {
  text: string;
  blocks?: unknown[];
  responseType: 'ephemeral' | 'in_channel';
  /** how many times replace_original replaced it */
  replaced: number;
}

/** A response_url handed out with a command or a click, and what trailbot posted to it. */
export interface ResponseUrl {
  id: string;
  url: string;
  team: string;
  channelId: string;
  userId: string;
  createdAt: number;
  /** every post, refused ones included */
  posts: ResponsePost[];
  /** the messages the person sees, oldest first; shared by the response URLs of clicks on them */
  readonly messages: ShownMessage[];
  /** the newest message shown */
  readonly latest: ShownMessage | undefined;
  /** resolves once `n` posts were accepted (rejects after `timeoutMs`, default 10 s) */
  waitForPosts(n?: number, timeoutMs?: number): Promise<ResponsePost[]>;
}

export interface SlackServiceOptions {
  /** the bot token trailbot must send (default DEFAULT_TOKEN) */
  token?: string;
  /** the app's signing secret, for what the stand-in sends trailbot (default DEFAULT_SIGNING_SECRET) */
  signingSecret?: string;
  team?: { id: string; domain: string; name?: string };
  /** the scopes the token was granted (default MANIFEST_SCOPES) */
  scopes?: readonly string[];
  channels?: readonly ChannelSeed[];
  /** user group id (S…) → member user ids */
  usergroups?: Record<string, readonly string[]>;
  /** the stand-in's clock (ms), for message ts and response_url expiry (default Date.now) */
  clock?: () => number;
}

export class SlackApiError extends Error {
  readonly error: string;
  readonly extra: Record<string, unknown>;
  constructor(error: string, extra: Record<string, unknown> = {}) {
    super(error);
    this.error = error;
    this.extra = extra;
  }
}

type Args = Record<string, unknown>;

interface View {
  messages: ShownMessage[];
  waiters: Set<() => void>;
}

interface ResponseUrlState extends ResponseUrl {
  secret: string;
  view: View;
  /** what replace_original / delete_original act on: the clicked message, or the newest posted through this URL */
  original: ShownMessage | undefined;
  accepted: number;
}

export interface SlackService {
  /** the Hono app serving everything above */
  app: Hono;
  /** set by startSlackStandin: where the stand-in is reached (upload and response URLs point here) */
  baseUrl: string;
  token: string;
  signingSecret: string;
  team: { id: string; domain: string; name: string };
  bot: typeof DEFAULT_BOT;
  scopes: Set<string>;
  faults: SlackFaults;
  requests: SlackRequestRecord[];
  channels: {
    create(name: string, opts?: Omit<ChannelSeed, 'name'>): Channel;
    /** by id (C…) or name (with or without #) */
    get(idOrName: string): Channel | undefined;
    all(): Channel[];
  };
  usergroups: {
    set(id: string, users: readonly string[]): void;
    members(id: string): string[] | undefined;
  };
  files: Map<string, StoredFile>;
  /** revokes the token: every later call answers token_revoked */
  revokeToken(): void;
  /** a new response_url, as Slack sends with a command (or, with `view`/`original`, with a click on a shown message) */
  responseUrl(opts?: { channelId?: string; userId?: string; on?: ResponseUrl; original?: ShownMessage }): ResponseUrl;
  /** the response URLs handed out, oldest first */
  responseUrls(): ResponseUrl[];
  /** the Web API as a function (also what the app serves at /api/<method>) */
  call(method: string, args: Args, token: string | undefined): Promise<Record<string, unknown>>;
}

const json = (v: string, what: string): unknown => {
  try {
    return JSON.parse(v);
  } catch {
    throw new SlackApiError(`invalid_${what}_format`);
  }
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function createSlackService(opts: SlackServiceOptions = {}): SlackService {
  const clock = opts.clock ?? Date.now;
  const team = { name: DEFAULT_TEAM.name, ...(opts.team ?? DEFAULT_TEAM) };
  const bot = DEFAULT_BOT;
  const faults = createSlackFaults();
  const requests: SlackRequestRecord[] = [];
  const channelMap = new Map<string, Channel>();
  const groups = new Map<string, string[]>(Object.entries(opts.usergroups ?? {}).map(([k, v]) => [k, [...v]]));
  const files = new Map<string, StoredFile>();
  const responses = new Map<string, ResponseUrlState>();
  let revoked = false;
  let seq = 0;
  let lastTsMicros = 0;
  let ids = 0;

  /** Slack's message ts: seconds.microseconds, unique and increasing within the stand-in. */
  const nextTs = (): string => {
    lastTsMicros = Math.max(clock() * 1000, lastTsMicros + 1);
    const s = Math.floor(lastTsMicros / 1e6);
    return `${s}.${String(lastTsMicros % 1e6).padStart(6, '0')}`;
  };
  const newId = (prefix: string): string => `${prefix}0${(++ids).toString(36).toUpperCase().padStart(8, '0')}`;

  const channels: SlackService['channels'] = {
    create(name, o = {}) {
      const clean = name.replace(/^#/, '');
      if (channels.get(clean)) throw new Error(`the stand-in already has a channel #${clean}`);
      const ch: Channel = {
        id: o.id ?? newId('C'),
        name: clean,
        isPrivate: o.isPrivate ?? false,
        botMember: o.botMember ?? true,
        messages: [],
        thread: (ts) => ch.messages.find((m) => m.ts === ts)?.replies ?? [],
      };
      channelMap.set(ch.id, ch);
      return ch;
    },
    get(idOrName) {
      const byId = channelMap.get(idOrName);
      if (byId) return byId;
      const name = idOrName.replace(/^#/, '');
      return [...channelMap.values()].find((c) => c.name === name);
    },
    all: () => [...channelMap.values()],
  };
  for (const c of opts.channels ?? DEFAULT_CHANNELS) channels.create(c.name, c);

  const svc = { baseUrl: '' } as SlackService;

  /** The message JSON Slack answers with (replies summarised as reply_count, as history shows a parent). */
  const messageJson = (m: StoredMessage, withMetadata: boolean): Record<string, unknown> => {
    const { replies, metadata, ...rest } = m;
    return {
      ...rest,
      ...(replies.length ? { reply_count: replies.length, latest_reply: replies.at(-1)!.ts } : {}),
      ...(withMetadata && metadata ? { metadata } : {}),
    };
  };

  /**
   * The channel a call names, checked as Slack checks it for a bot. Only chat.postMessage takes a
   * name (#security); every other method wants the id (C…), and a name is channel_not_found there.
   */
  const channelFor = (args: Args, key = 'channel', forWrite = false, byName = false): Channel => {
    const name = args[key];
    if (typeof name !== 'string' || name === '') throw new SlackApiError('channel_not_found');
    const ch = byName ? channels.get(name) : channelMap.get(name);
    // A private channel the bot is not in does not exist for it.
    if (!ch || (ch.isPrivate && !ch.botMember)) throw new SlackApiError('channel_not_found');
    if (!ch.botMember && !(forWrite && svc.scopes.has('chat:write.public'))) throw new SlackApiError('not_in_channel');
    return ch;
  };

  const checkMessage = (args: Args, required: boolean): { text?: string; blocks?: unknown[] } => {
    const text = typeof args.text === 'string' ? args.text : undefined;
    let blocks: unknown;
    if (args.blocks !== undefined && args.blocks !== '') blocks = typeof args.blocks === 'string' ? json(args.blocks, 'blocks') : args.blocks;
    if (required && (text === undefined || text === '') && blocks === undefined) throw new SlackApiError('no_text');
    if (text !== undefined && text.length > BLOCK_LIMITS.messageText) throw new SlackApiError('msg_too_long');
    if (blocks !== undefined) {
      const p = blocksProblem(blocks);
      if (p) throw new SlackApiError(p.error, { errors: p.messages, response_metadata: { messages: p.messages } });
    }
    return { ...(text !== undefined ? { text } : {}), ...(blocks !== undefined ? { blocks: blocks as unknown[] } : {}) };
  };

  const metadataOf = (args: Args): StoredMessage['metadata'] => {
    if (args.metadata === undefined || args.metadata === '') return undefined;
    const m = typeof args.metadata === 'string' ? json(args.metadata, 'metadata') : args.metadata;
    if (!isObject(m) || typeof m.event_type !== 'string' || !/^[A-Za-z0-9_]{1,255}$/.test(m.event_type) || !isObject(m.event_payload)) {
      throw new SlackApiError('invalid_metadata_format');
    }
    if (JSON.stringify(m).length > 8000) throw new SlackApiError('metadata_too_large');
    return { event_type: m.event_type, event_payload: m.event_payload };
  };

  const findMessage = (ch: Channel, ts: string): StoredMessage | undefined => {
    for (const m of ch.messages) {
      if (m.ts === ts) return m;
      const r = m.replies.find((x) => x.ts === ts);
      if (r) return r;
    }
    return undefined;
  };

  const newMessage = (ch: Channel, body: { text?: string; blocks?: unknown[] }, extra: Partial<StoredMessage> = {}): StoredMessage => ({
    type: 'message',
    ts: nextTs(),
    channel: ch.id,
    text: body.text ?? '',
    ...(body.blocks ? { blocks: body.blocks } : {}),
    user: bot.userId,
    bot_id: bot.botId,
    app_id: bot.appId,
    replies: [],
    ...extra,
  });

  const post = (ch: Channel, m: StoredMessage, threadTs: string | undefined, broadcast: boolean): void => {
    if (threadTs === undefined) {
      ch.messages.push(m);
      return;
    }
    const parent = findMessage(ch, threadTs);
    if (!parent) throw new SlackApiError('thread_not_found');
    // A reply to a reply goes into the parent's thread, as in Slack.
    const root = parent.thread_ts && parent.thread_ts !== parent.ts ? ch.messages.find((x) => x.ts === parent.thread_ts)! : parent;
    root.thread_ts = root.ts;
    m.thread_ts = root.ts;
    root.replies.push(m);
    if (broadcast) ch.messages.push({ ...m, replies: [] });
  };

  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
  const bool = (v: unknown): boolean => v === true || v === 'true' || v === '1' || v === 1;

  const methods: Record<string, (args: Args) => Record<string, unknown>> = {
    'auth.test': () => ({
      url: `https://${team.domain}.slack.com/`,
      team: team.name,
      user: bot.name,
      team_id: team.id,
      user_id: bot.userId,
      bot_id: bot.botId,
      is_enterprise_install: false,
    }),

    'chat.postMessage': (args) => {
      const ch = channelFor(args, 'channel', true, true);
      const body = checkMessage(args, true);
      const metadata = metadataOf(args);
      const m = newMessage(ch, body, metadata ? { metadata } : {});
      post(ch, m, str(args.thread_ts), bool(args.reply_broadcast));
      return { channel: ch.id, ts: m.ts, message: messageJson(m, true) };
    },

    'chat.update': (args) => {
      const ch = channelFor(args, 'channel', true);
      const ts = str(args.ts);
      const m = ts ? findMessage(ch, ts) : undefined;
      if (!m) throw new SlackApiError('message_not_found');
      if (m.bot_id !== bot.botId) throw new SlackApiError('cant_update_message');
      const body = checkMessage(args, false);
      if (body.text === undefined && body.blocks === undefined) throw new SlackApiError('no_text');
      if (body.text !== undefined) m.text = body.text;
      // Text without blocks drops the old blocks (Slack's documented behaviour).
      if (body.blocks !== undefined) m.blocks = body.blocks;
      else if (body.text !== undefined) delete m.blocks;
      const metadata = metadataOf(args);
      if (metadata) m.metadata = metadata;
      m.edited = { user: bot.userId, ts: nextTs() };
      return { channel: ch.id, ts: m.ts, text: m.text, message: messageJson(m, true) };
    },

    'conversations.history': (args) => {
      const ch = channelFor(args);
      const limit = Math.min(Math.max(Number(args.limit ?? 100) || 100, 1), 999);
      const inclusive = bool(args.inclusive);
      const oldest = Number(str(args.oldest) ?? '0');
      let latest = Number(str(args.latest) ?? 'Infinity');
      const cursor = str(args.cursor);
      if (cursor) {
        const m = /^next_ts:(\d+\.\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
        if (!m) throw new SlackApiError('invalid_cursor');
        latest = Number(m[1]);
      }
      const withMeta = bool(args.include_all_metadata);
      const inWindow = ch.messages
        .filter((m) => {
          const t = Number(m.ts);
          const afterOldest = inclusive ? t >= oldest : t > oldest;
          const beforeLatest = inclusive && !cursor ? t <= latest : t < latest;
          return afterOldest && beforeLatest;
        })
        .reverse();
      const page = inWindow.slice(0, limit);
      const more = inWindow.length > limit;
      return {
        messages: page.map((m) => messageJson(m, withMeta)),
        has_more: more,
        pin_count: 0,
        response_metadata: { next_cursor: more ? Buffer.from(`next_ts:${page.at(-1)!.ts}`).toString('base64') : '' },
      };
    },

    'conversations.replies': (args) => {
      const ch = channelFor(args);
      const ts = str(args.ts);
      const parent = ts ? ch.messages.find((m) => m.ts === ts) : undefined;
      if (!parent) throw new SlackApiError('thread_not_found');
      const withMeta = bool(args.include_all_metadata);
      return { messages: [messageJson(parent, withMeta), ...parent.replies.map((r) => messageJson(r, withMeta))], has_more: false, response_metadata: { next_cursor: '' } };
    },

    'conversations.list': (args) => {
      const types = (str(args.types) ?? 'public_channel').split(',').map((t) => t.trim());
      const visible = channels
        .all()
        .filter((c) => (c.isPrivate ? types.includes('private_channel') && c.botMember : types.includes('public_channel')))
        .filter((c) => (c.isPrivate ? svc.scopes.has('groups:read') : true));
      const limit = Math.min(Math.max(Number(args.limit ?? 100) || 100, 1), 1000);
      const start = str(args.cursor) ? Number(Buffer.from(str(args.cursor)!, 'base64').toString('utf8').replace(/^offset:/, '')) : 0;
      if (!Number.isInteger(start) || start < 0) throw new SlackApiError('invalid_cursor');
      const page = visible.slice(start, start + limit);
      const next = start + limit < visible.length ? Buffer.from(`offset:${start + limit}`).toString('base64') : '';
      return {
        channels: page.map((c) => ({ id: c.id, name: c.name, is_channel: !c.isPrivate, is_group: c.isPrivate, is_private: c.isPrivate, is_archived: false, is_member: c.botMember })),
        response_metadata: { next_cursor: next },
      };
    },

    'usergroups.users.list': (args) => {
      const id = str(args.usergroup);
      const users = id ? groups.get(id) : undefined;
      if (!users) throw new SlackApiError('no_such_subteam');
      return { users: [...users] };
    },

    'files.getUploadURLExternal': (args) => {
      const filename = str(args.filename);
      const length = Number(args.length);
      if (!filename || !Number.isInteger(length) || length <= 0) throw new SlackApiError('invalid_arguments');
      const id = newId('F');
      files.set(id, { id, filename, length, completed: false });
      return { upload_url: `${svc.baseUrl}/upload/v1/${id}`, file_id: id };
    },

    'files.completeUploadExternal': (args) => {
      const list = typeof args.files === 'string' ? json(args.files, 'arguments') : args.files;
      if (!Array.isArray(list) || list.length === 0 || !list.every((f) => isObject(f) && typeof f.id === 'string')) throw new SlackApiError('invalid_arguments');
      const picked = (list as { id: string; title?: string }[]).map((f) => {
        const file = files.get(f.id);
        if (!file?.bytes) throw new SlackApiError('file_not_found');
        if (f.title) file.title = f.title;
        return file;
      });
      const channelId = str(args.channel_id) ?? str(args.channels);
      if (channelId) {
        const ch = channelFor({ channel: channelId }, 'channel', true);
        const comment = typeof args.initial_comment === 'string' ? args.initial_comment : '';
        const m = newMessage(ch, { text: comment }, { files: picked.map((f) => ({ id: f.id, name: f.filename, title: f.title ?? f.filename })) });
        post(ch, m, str(args.thread_ts), false);
        for (const f of picked) Object.assign(f, { channel: ch.id, comment });
      }
      for (const f of picked) f.completed = true;
      return { files: picked.map((f) => ({ id: f.id, name: f.filename, title: f.title ?? f.filename, size: f.bytes!.length })) };
    },
  };

  const call: SlackService['call'] = async (method, args, token) => {
    const handler = methods[method];
    if (!handler) throw new SlackApiError('unknown_method', { req_method: method });
    if (!token) throw new SlackApiError('not_authed');
    if (token !== svc.token) throw new SlackApiError('invalid_auth');
    if (revoked) throw new SlackApiError('token_revoked');
    const scope = METHOD_SCOPES[method];
    const needed = typeof scope === 'function' ? scope(typeof args.channel === 'string' ? channels.get(args.channel) : undefined) : scope;
    if (needed && !svc.scopes.has(needed)) throw new SlackApiError('missing_scope', { needed, provided: [...svc.scopes].join(',') });
    return { ok: true, ...handler(args) };
  };

  /** The arguments of a Web API call: query string, then the body (form, JSON or multipart). */
  async function argsOf(req: Request): Promise<Args> {
    const url = new URL(req.url);
    const args: Args = Object.fromEntries(url.searchParams);
    if (req.method !== 'POST') return args;
    const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/json') {
      const body = (await req.json().catch(() => undefined)) as unknown;
      if (!isObject(body)) throw new SlackApiError('invalid_json');
      return { ...args, ...body };
    }
    if (type === 'multipart/form-data') {
      const form = await req.formData();
      for (const [k, v] of form) args[k] = typeof v === 'string' ? v : new Uint8Array(await v.arrayBuffer());
      return args;
    }
    const text = await req.text();
    return { ...args, ...Object.fromEntries(new URLSearchParams(text)) };
  }

  const record = (r: Omit<SlackRequestRecord, 'seq' | 'at'>): void => {
    requests.push({ seq: ++seq, at: new Date(clock()).toISOString(), ...r });
  };

  const app = new Hono();

  // The Web API.
  app.on(['GET', 'POST'], '/api/:method', async (c) => {
    const started = performance.now();
    const method = c.req.param('method');
    if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));
    const fault = faults.take(method);
    if (fault) {
      record({ method, params: {}, status: fault.status, ok: false, error: fault.status === 429 ? 'ratelimited' : 'server_error', fault: fault.status === 429 ? '429' : '5xx', durationMs: performance.now() - started });
      return fault;
    }
    let args: Args = {};
    try {
      args = await argsOf(c.req.raw);
      const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1];
      const token = bearer ?? (typeof args.token === 'string' ? args.token : undefined);
      delete args.token;
      const result = await call(method, args, token);
      record({ method, params: args, status: 200, ok: true, durationMs: performance.now() - started });
      return c.json(result, 200, { 'x-oauth-scopes': [...svc.scopes].join(',') });
    } catch (e) {
      if (!(e instanceof SlackApiError)) throw e;
      record({ method, params: args, status: 200, ok: false, error: e.error, durationMs: performance.now() - started });
      return c.json({ ok: false, error: e.error, ...e.extra }, 200);
    }
  });

  // The upload URLs files.getUploadURLExternal hands out (pre-signed in Slack: no token needed).
  app.post('/upload/v1/:id', async (c) => {
    const file = files.get(c.req.param('id'));
    if (!file) return c.text('file not found', 404);
    const type = (c.req.header('content-type') ?? '').toLowerCase();
    let bytes: Uint8Array;
    if (type.startsWith('multipart/form-data')) {
      const form = await c.req.raw.formData();
      const part = [...form.values()][0];
      bytes = part === undefined ? new Uint8Array() : typeof part === 'string' ? new TextEncoder().encode(part) : new Uint8Array(await part.arrayBuffer());
    } else {
      bytes = new Uint8Array(await c.req.arrayBuffer());
    }
    file.bytes = bytes;
    return c.text(`OK - ${bytes.length}`, 200);
  });

  // response_url receivers.
  app.post('/commands/:team/:id/:secret', async (c) => {
    const started = performance.now();
    const r = responses.get(c.req.param('id'));
    if (!r || r.secret !== c.req.param('secret') || r.team !== c.req.param('team')) return c.json({ ok: false, error: 'invalid_url' }, 404);
    if (faults.latencyMs) await new Promise((res) => setTimeout(res, faults.latencyMs));
    const fault = faults.take('response_url');
    if (fault) {
      record({ method: 'response_url', params: { id: r.id }, status: fault.status, ok: false, fault: fault.status === 429 ? '429' : '5xx', durationMs: performance.now() - started });
      return fault;
    }
    const body = (await c.req.json().catch(() => undefined)) as unknown;
    const refuse = (status: 400 | 404, error: string, extra: Record<string, unknown> = {}) => {
      r.posts.push({ at: clock(), body: isObject(body) ? body : {}, status, error });
      record({ method: 'response_url', params: { id: r.id }, status, ok: false, error, durationMs: performance.now() - started });
      return c.json({ ok: false, error, ...extra }, status);
    };
    if (clock() - r.createdAt > RESPONSE_URL_TTL_MS) return refuse(404, 'expired_url');
    if (r.accepted >= RESPONSE_URL_USES) return refuse(404, 'used_url');
    if (!isObject(body)) return refuse(400, 'invalid_payload');
    let msg: { text?: string; blocks?: unknown[] };
    try {
      msg = body.delete_original ? {} : checkMessage(body, true);
    } catch (e) {
      if (!(e instanceof SlackApiError)) throw e;
      return refuse(400, e.error, e.extra);
    }
    r.accepted++;
    r.posts.push({ at: clock(), body, status: 200 });
    record({ method: 'response_url', params: { id: r.id, ...body }, status: 200, ok: true, durationMs: performance.now() - started });
    const view = r.view.messages;
    if (body.delete_original) {
      if (r.original) view.splice(view.indexOf(r.original), 1);
      r.original = undefined;
    } else if (bool(body.replace_original) && r.original && view.includes(r.original)) {
      r.original.text = msg.text ?? '';
      if (msg.blocks) r.original.blocks = msg.blocks;
      else delete r.original.blocks;
      r.original.replaced++;
    } else {
      const shown: ShownMessage = { text: msg.text ?? '', ...(msg.blocks ? { blocks: msg.blocks } : {}), responseType: body.response_type === 'in_channel' ? 'in_channel' : 'ephemeral', replaced: 0 };
      view.push(shown);
      r.original = shown;
      // In the channel for everyone: the channel's history shows it too.
      const ch = channels.get(r.channelId);
      if (shown.responseType === 'in_channel' && ch) ch.messages.push(newMessage(ch, msg));
    }
    for (const w of [...r.view.waiters]) w();
    return c.json({ ok: true }, 200);
  });

  svc.responseUrl = ({ channelId, userId, on, original } = {}) => {
    const id = String(Date.now()).slice(-6) + String(++ids).padStart(6, '0');
    const secret = randomBytes(18).toString('base64url');
    const parent = on ? responses.get(on.id) : undefined;
    const view: View = parent?.view ?? { messages: [], waiters: new Set() };
    const state: ResponseUrlState = {
      id,
      secret,
      url: `${svc.baseUrl}/commands/${team.id}/${id}/${secret}`,
      team: team.id,
      channelId: channelId ?? parent?.channelId ?? channels.all()[0]?.id ?? 'C0SECURITY',
      userId: userId ?? parent?.userId ?? 'U0ANALYST',
      createdAt: clock(),
      posts: [],
      view,
      original: original ?? (on ? on.latest : undefined),
      accepted: 0,
      get messages() {
        return view.messages;
      },
      get latest() {
        return view.messages.at(-1);
      },
      waitForPosts(n = 1, timeoutMs = 10_000) {
        const ok = () => state.posts.filter((p) => p.status === 200);
        if (ok().length >= n) return Promise.resolve(ok());
        return new Promise<ResponsePost[]>((resolve, reject) => {
          const check = () => {
            if (ok().length < n) return;
            clearTimeout(timer);
            view.waiters.delete(check);
            resolve(ok());
          };
          const timer = setTimeout(() => {
            view.waiters.delete(check);
            const refused = state.posts.filter((p) => p.status !== 200).map((p) => p.error);
            reject(new Error(`the response_url got ${ok().length} accepted post(s) of ${n} within ${timeoutMs} ms${refused.length ? `; refused: ${refused.join(', ')}` : ''}`));
          }, timeoutMs);
          view.waiters.add(check);
        });
      },
    };
    responses.set(id, state);
    return state;
  };

  // Control routes (no auth): what a person trying it by hand needs; tests use the object API.
  app.get('/__standin/channels', (c) =>
    c.json(channels.all().map((ch) => ({ id: ch.id, name: ch.name, isPrivate: ch.isPrivate, botMember: ch.botMember, messages: ch.messages.map((m) => ({ ...messageJson(m, true), replies: m.replies.map((r) => messageJson(r, true)) })) }))),
  );
  app.get('/__standin/requests', (c) => c.json(requests));
  app.get('/__standin/response-urls', (c) => c.json(svc.responseUrls().map((r) => ({ id: r.id, channelId: r.channelId, userId: r.userId, posts: r.posts, messages: r.messages }))));
  app.post('/__standin/faults', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { rateLimit?: Parameters<SlackFaults['rateLimit']>[0]; serverError?: Parameters<SlackFaults['serverError']>[0]; latencyMs?: number };
    if (body.rateLimit) faults.rateLimit(body.rateLimit);
    if (body.serverError) faults.serverError(body.serverError);
    if (typeof body.latencyMs === 'number') faults.latency(body.latencyMs);
    return c.json({ pending: faults.pending, latencyMs: faults.latencyMs });
  });
  app.delete('/__standin/faults', (c) => {
    faults.clear();
    return c.json({ pending: [], latencyMs: 0 });
  });
  app.put('/__standin/usergroups/:id', async (c) => {
    const users = (await c.req.json().catch(() => undefined)) as unknown;
    if (!Array.isArray(users) || !users.every((u) => typeof u === 'string')) return c.json({ error: 'send a JSON array of user ids' }, 400);
    groups.set(c.req.param('id'), users);
    return c.json({ id: c.req.param('id'), users });
  });
  app.notFound((c) => c.json({ ok: false, error: 'unknown_method' }, 404));

  return Object.assign(svc, {
    app,
    token: opts.token ?? DEFAULT_TOKEN,
    signingSecret: opts.signingSecret ?? DEFAULT_SIGNING_SECRET,
    team,
    bot,
    scopes: new Set(opts.scopes ?? MANIFEST_SCOPES),
    faults,
    requests,
    channels,
    usergroups: {
      set(id: string, users: readonly string[]) {
        groups.set(id, [...users]);
      },
      members: (id: string) => (groups.has(id) ? [...groups.get(id)!] : undefined),
    },
    files,
    revokeToken() {
      revoked = true;
    },
    responseUrls: () => [...responses.values()],
    call,
  });
}
