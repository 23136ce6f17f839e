// Messages as Slack keeps and checks them: the channel a call names (as a bot sees it), a message's
// text, blocks (blocks.ts) and metadata, threads, and the message JSON Slack answers with.
import { BLOCK_LIMITS, blocksProblem } from './blocks.ts';
import { type Args, isObject, json, SlackApiError } from './http.ts';
import type { Channel, SlackState, StoredMessage } from './state.ts';

/** The message JSON Slack answers with (replies summarised as reply_count, as history shows a parent). */
export function messageJson(m: StoredMessage, withMetadata: boolean): Record<string, unknown> {
  const { replies, metadata, ...rest } = m;
  return {
    ...rest,
    ...(replies.length ? { reply_count: replies.length, latest_reply: replies.at(-1)!.ts } : {}),
    ...(withMetadata && metadata ? { metadata } : {}),
  };
}

/**
 * The channel a call names, checked as Slack checks it for a bot. Only chat.postMessage takes a
 * name (#security); every other method wants the id (C…), and a name is channel_not_found there.
 */
export function channelFor(s: SlackState, args: Args, key = 'channel', forWrite = false, byName = false): Channel {
  const name = args[key];
  if (typeof name !== 'string' || name === '') throw new SlackApiError('channel_not_found');
  const ch = byName ? s.channels.get(name) : s.channelById(name);
  // A private channel the bot is not in does not exist for it.
  if (!ch || (ch.isPrivate && !ch.botMember)) throw new SlackApiError('channel_not_found');
  if (!ch.botMember && !(forWrite && s.live.scopes.has('chat:write.public'))) throw new SlackApiError('not_in_channel');
  return ch;
}

/** A message's `text` and `blocks`, checked (`required`: one of them must be there). */
export function checkMessage(args: Args, required: boolean): { text?: string; blocks?: unknown[] } {
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
}

/** A message's `metadata` `{event_type, event_payload}`, checked; undefined when not given. */
export function metadataOf(args: Args): StoredMessage['metadata'] {
  if (args.metadata === undefined || args.metadata === '') return undefined;
  const m = typeof args.metadata === 'string' ? json(args.metadata, 'metadata') : args.metadata;
  if (!isObject(m) || typeof m.event_type !== 'string' || !/^[A-Za-z0-9_]{1,255}$/.test(m.event_type) || !isObject(m.event_payload)) {
    throw new SlackApiError('invalid_metadata_format');
  }
  if (JSON.stringify(m).length > 8000) throw new SlackApiError('metadata_too_large');
  return { event_type: m.event_type, event_payload: m.event_payload };
}

/** A message or a thread reply by its ts. */
export function findMessage(ch: Channel, ts: string): StoredMessage | undefined {
  for (const m of ch.messages) {
    if (m.ts === ts) return m;
    const r = m.replies.find((x) => x.ts === ts);
    if (r) return r;
  }
  return undefined;
}

/** A new message from the bot (not yet posted). */
export function newMessage(s: SlackState, ch: Channel, body: { text?: string; blocks?: unknown[] }, extra: Partial<StoredMessage> = {}): StoredMessage {
  return {
    type: 'message',
    ts: s.nextTs(),
    channel: ch.id,
    text: body.text ?? '',
    ...(body.blocks ? { blocks: body.blocks } : {}),
    user: s.bot.userId,
    bot_id: s.bot.botId,
    app_id: s.bot.appId,
    replies: [],
    ...extra,
  };
}

/** Posts `m` in the channel, or as a reply in the thread of `threadTs` (`broadcast`: also in the channel). */
export function post(ch: Channel, m: StoredMessage, threadTs: string | undefined, broadcast: boolean): void {
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
}
