// conversations.*: a channel's history (top-level messages, newest first, paged by a cursor), a
// thread's replies, and the channels the bot can see. Reading a channel needs the bot in it.
import { bool, SlackApiError, str } from '../http.ts';
import { channelFor, messageJson } from '../messages.ts';
import type { Channel, WebApiMethod } from '../state.ts';

/** history and replies need channels:history, or groups:history for a private channel. */
const historyScope = (c: Channel | undefined) => (c?.isPrivate ? 'groups:history' : 'channels:history');

export const CONVERSATION_METHODS: Record<string, WebApiMethod> = {
  'conversations.history': {
    scope: historyScope,
    handle(args, s) {
      const ch = channelFor(s, args);
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
  },

  'conversations.replies': {
    scope: historyScope,
    handle(args, s) {
      const ch = channelFor(s, args);
      const ts = str(args.ts);
      const parent = ts ? ch.messages.find((m) => m.ts === ts) : undefined;
      if (!parent) throw new SlackApiError('thread_not_found');
      const withMeta = bool(args.include_all_metadata);
      return { messages: [messageJson(parent, withMeta), ...parent.replies.map((r) => messageJson(r, withMeta))], has_more: false, response_metadata: { next_cursor: '' } };
    },
  },

  'conversations.list': {
    scope: 'channels:read',
    handle(args, s) {
      const types = (str(args.types) ?? 'public_channel').split(',').map((t) => t.trim());
      const visible = s.channels
        .all()
        .filter((c) => (c.isPrivate ? types.includes('private_channel') && c.botMember : types.includes('public_channel')))
        .filter((c) => (c.isPrivate ? s.live.scopes.has('groups:read') : true));
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
  },
};
