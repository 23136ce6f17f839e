// The Slack stand-in's state, as one object the Web API methods, the response_url receivers and the
// control routes are given: the team and the bot, channels and their messages, user groups, uploaded
// files, the request log, and the ids and message timestamps it hands out (response URLs: response-urls.ts).
import type { SlackFaults } from './faults.ts';
import type { Args, SlackRequestRecord } from './http.ts';

/** The bot scopes slack/manifest.yaml asks for. */
export const MANIFEST_SCOPES = ['commands', 'chat:write', 'chat:write.public', 'usergroups:read', 'files:write', 'channels:history', 'groups:history', 'channels:read', 'groups:read'] as const;

export const DEFAULT_TOKEN = 'xoxb-0000000000-standin-bot-token';
export const DEFAULT_SIGNING_SECRET = 'standin-signing-secret-0123456789abcdef';
export const DEFAULT_TEAM = { id: 'T0STANDIN', domain: 'trailbot-standin', name: 'trailbot stand-in' } as const;
export const DEFAULT_BOT = { userId: 'U0TRAILBOT', botId: 'B0TRAILBOT', name: 'trailbot', appId: 'A0TRAILBOT' } as const;
export const DEFAULT_CHANNELS: readonly ChannelSeed[] = [{ id: 'C0SECURITY', name: 'security' }];

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

export interface Channels {
  create(name: string, opts?: Omit<ChannelSeed, 'name'>): Channel;
  /** by id (C…) or name (with or without #) */
  get(idOrName: string): Channel | undefined;
  all(): Channel[];
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

export interface SlackState {
  readonly clock: () => number;
  readonly team: { id: string; domain: string; name: string };
  readonly bot: typeof DEFAULT_BOT;
  readonly faults: SlackFaults;
  /** every call in arrival order (the live array) */
  readonly requests: SlackRequestRecord[];
  readonly channels: Channels;
  /** a channel by its id only (what every method but chat.postMessage takes) */
  channelById(id: string): Channel | undefined;
  /** user group id (S…) → member user ids */
  readonly groups: Map<string, string[]>;
  readonly files: Map<string, StoredFile>;
  /** read on each use: the listener sets the URL, a test may change the token or the scopes */
  readonly live: { readonly baseUrl: string; readonly token: string; readonly scopes: Set<string> };
  /** set by revokeToken() */
  revoked: boolean;
  /** Slack's message ts: seconds.microseconds, unique and increasing within the stand-in. */
  nextTs(): string;
  /** the next of the numbers the stand-in's ids are made of */
  nextSerial(): number;
  /** an id Slack would give a channel (C…), a file (F…): the prefix, a 0, the serial */
  newId(prefix: string): string;
  /** adds a call to the request log */
  record(r: Omit<SlackRequestRecord, 'seq' | 'at'>): void;
}

/** One Web API method: the scope it needs (by the channel it names, for the history methods) and what it does. */
export interface WebApiMethod {
  scope: string | ((c: Channel | undefined) => string) | null;
  handle(args: Args, s: SlackState): Record<string, unknown>;
}

export interface SlackStateOptions {
  clock: () => number;
  team: { id: string; domain: string; name: string };
  faults: SlackFaults;
  channels: readonly ChannelSeed[];
  usergroups: Record<string, readonly string[]>;
  live: SlackState['live'];
}

export function createSlackState(o: SlackStateOptions): SlackState {
  const { clock } = o;
  const channelMap = new Map<string, Channel>();
  let seq = 0;
  let lastTsMicros = 0;
  let serial = 0;
  const newId = (prefix: string): string => `${prefix}0${(++serial).toString(36).toUpperCase().padStart(8, '0')}`;

  const channels: Channels = {
    create(name, c = {}) {
      const clean = name.replace(/^#/, '');
      if (channels.get(clean)) throw new Error(`the stand-in already has a channel #${clean}`);
      const ch: Channel = {
        id: c.id ?? newId('C'),
        name: clean,
        isPrivate: c.isPrivate ?? false,
        botMember: c.botMember ?? true,
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
  for (const c of o.channels) channels.create(c.name, c);

  const requests: SlackRequestRecord[] = [];
  return {
    clock,
    team: o.team,
    bot: DEFAULT_BOT,
    faults: o.faults,
    requests,
    channels,
    channelById: (id) => channelMap.get(id),
    groups: new Map(Object.entries(o.usergroups).map(([k, v]) => [k, [...v]])),
    files: new Map(),
    live: o.live,
    revoked: false,
    nextTs() {
      lastTsMicros = Math.max(clock() * 1000, lastTsMicros + 1);
      const s = Math.floor(lastTsMicros / 1e6);
      return `${s}.${String(lastTsMicros % 1e6).padStart(6, '0')}`;
    },
    nextSerial: () => ++serial,
    newId,
    record(r) {
      requests.push({ seq: ++seq, at: new Date(clock()).toISOString(), ...r });
    },
  };
}
