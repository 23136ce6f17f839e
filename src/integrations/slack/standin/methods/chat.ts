// chat.*: post a message (in a channel or a thread) and update one the bot posted; and auth.test,
// which says who the token is.
import { bool, SlackApiError, str } from '../http.ts';
import { channelFor, checkMessage, findMessage, messageJson, metadataOf, newMessage, post } from '../messages.ts';
import type { WebApiMethod } from '../state.ts';

export const CHAT_METHODS: Record<string, WebApiMethod> = {
  'auth.test': {
    scope: null,
    handle: (_args, s) => ({
      url: `https://${s.team.domain}.slack.com/`,
      team: s.team.name,
      user: s.bot.name,
      team_id: s.team.id,
      user_id: s.bot.userId,
      bot_id: s.bot.botId,
      is_enterprise_install: false,
    }),
  },

  'chat.postMessage': {
    scope: 'chat:write',
    handle(args, s) {
      const ch = channelFor(s, args, 'channel', true, true);
      const body = checkMessage(args, true);
      const metadata = metadataOf(args);
      const m = newMessage(s, ch, body, metadata ? { metadata } : {});
      post(ch, m, str(args.thread_ts), bool(args.reply_broadcast));
      return { channel: ch.id, ts: m.ts, message: messageJson(m, true) };
    },
  },

  'chat.update': {
    scope: 'chat:write',
    handle(args, s) {
      const ch = channelFor(s, args, 'channel', true);
      const ts = str(args.ts);
      const m = ts ? findMessage(ch, ts) : undefined;
      if (!m) throw new SlackApiError('message_not_found');
      if (m.bot_id !== s.bot.botId) throw new SlackApiError('cant_update_message');
      const body = checkMessage(args, false);
      if (body.text === undefined && body.blocks === undefined) throw new SlackApiError('no_text');
      if (body.text !== undefined) m.text = body.text;
      // Text without blocks drops the old blocks (Slack's documented behaviour).
      if (body.blocks !== undefined) m.blocks = body.blocks;
      else if (body.text !== undefined) delete m.blocks;
      const metadata = metadataOf(args);
      if (metadata) m.metadata = metadata;
      m.edited = { user: s.bot.userId, ts: s.nextTs() };
      return { channel: ch.id, ts: m.ts, text: m.text, message: messageJson(m, true) };
    },
  },
};
