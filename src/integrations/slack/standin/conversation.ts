// The Slack side of the conversation: what Slack sends trailbot when a person types a slash command
// or clicks a button, signed (v0) with the app's signing secret exactly as Slack signs it, form-encoded,
// with a fresh response_url whose posts the stand-in records (service.ts). Each send returns trailbot's
// HTTP answer and how long it took (Slack gives up after 3 s and shows the person an error).
import { randomBytes } from 'node:crypto';
import { slackSignedHeaders } from '../signature.ts';
import type { ResponseUrl, ShownMessage, SlackService } from './service.ts';

/** Slack's deadline for the HTTP answer to a command or a click. */
export const SLACK_ACK_DEADLINE_MS = 3000;

export interface SentRequest {
  status: number;
  headers: Headers;
  /** the answer's body as text ('' when empty) */
  text: string;
  /** the answer parsed as JSON, when it is JSON */
  json: unknown;
  /** from sending to the whole answer received */
  ms: number;
  /** whether Slack would have given up waiting (over 3 s) */
  late: boolean;
  /** the response_url sent with it, recording what trailbot posts there */
  responseUrl: ResponseUrl;
}

export interface SendOptions {
  /** sign with this secret instead of the app's (to test refusals) */
  secret?: string;
  /** the X-Slack-Request-Timestamp to sign with (seconds; default now) */
  timestamp?: number;
  /** give up after this long (default 10 s) */
  timeoutMs?: number;
}

export interface CommandFields {
  command: string;
  text: string;
  user_id: string;
  user_name: string;
  channel_id: string;
  channel_name: string;
  team_id: string;
  team_domain: string;
  api_app_id: string;
  trigger_id: string;
  /** given: used as is; otherwise a new response_url of the stand-in */
  response_url: string;
  enterprise_id: string;
  is_enterprise_install: string;
}

export interface ClickOptions {
  action_id: string;
  /** default: the value of the button with this action_id on the clicked message */
  value?: string;
  block_id?: string;
  user_id?: string;
  user_name?: string;
  channel_id?: string;
  /** click on the newest message shown through this response_url (the button must be there): the click's new response_url replaces that message */
  on?: ResponseUrl;
  /** or on this message */
  message?: ShownMessage;
  /** given: used as is */
  response_url?: string;
}

const triggerId = (): string => `${Date.now()}.${Math.floor(Math.random() * 1e11)}.${randomBytes(16).toString('hex')}`;

type Button = { type: 'button'; action_id?: string; value?: string; text?: { text?: string } };

/** The buttons of a message, with the block each sits in. */
export function buttonsOf(message: { blocks?: unknown[] } | undefined): { blockId: string | undefined; button: Button }[] {
  const out: { blockId: string | undefined; button: Button }[] = [];
  for (const b of (message?.blocks ?? []) as { type?: string; block_id?: string; elements?: unknown[]; accessory?: unknown }[]) {
    const els = b.type === 'actions' ? (b.elements ?? []) : b.accessory ? [b.accessory] : [];
    for (const e of els as Button[]) if (e?.type === 'button') out.push({ blockId: b.block_id, button: e });
  }
  return out;
}

export function createConversation(svc: SlackService) {
  const send = async (target: string, body: string, responseUrl: ResponseUrl, o: SendOptions): Promise<SentRequest> => {
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      ...slackSignedHeaders(o.secret ?? svc.signingSecret, body, o.timestamp ?? Math.floor(Date.now() / 1000)),
    };
    const started = performance.now();
    const res = await fetch(target, { method: 'POST', headers, body, signal: AbortSignal.timeout(o.timeoutMs ?? 10_000) });
    const text = await res.text();
    const ms = performance.now() - started;
    let parsed: unknown;
    if ((res.headers.get('content-type') ?? '').includes('json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    return { status: res.status, headers: res.headers, text, json: parsed, ms, late: ms > SLACK_ACK_DEADLINE_MS, responseUrl };
  };

  return {
    /** Sends a slash command to trailbot (`target`: its /slack/events URL) as Slack does. */
    async sendCommand(target: string, fields: Partial<CommandFields> = {}, o: SendOptions = {}): Promise<SentRequest> {
      const channel = svc.channels.get(fields.channel_id ?? '') ?? svc.channels.all()[0];
      const channelId = fields.channel_id ?? channel?.id ?? 'C0SECURITY';
      const userId = fields.user_id ?? 'U0ANALYST';
      const responseUrl = svc.responseUrl({ channelId, userId });
      const form: Record<string, string> = {
        token: 'legacy-verification-token-unused',
        team_id: svc.team.id,
        team_domain: svc.team.domain,
        channel_id: channelId,
        channel_name: channel?.name ?? 'directmessage',
        user_id: userId,
        user_name: fields.user_name ?? 'analyst',
        command: '/trail',
        text: '',
        api_app_id: svc.bot.appId,
        is_enterprise_install: 'false',
        response_url: responseUrl.url,
        trigger_id: triggerId(),
        ...fields,
      };
      return send(target, new URLSearchParams(form).toString(), responseUrl, o);
    },

    /** Sends a block_actions click on a button to trailbot, as Slack does. */
    async clickButton(target: string, click: ClickOptions, o: SendOptions = {}): Promise<SentRequest> {
      const message = click.message ?? click.on?.latest;
      const found = buttonsOf(message).find((b) => b.button.action_id === click.action_id);
      if ((click.on || click.message) && !found) {
        throw new Error(`no button with action_id ${click.action_id} on the message (buttons: ${buttonsOf(message).map((b) => b.button.action_id).join(', ') || 'none'})`);
      }
      const channelId = click.channel_id ?? click.on?.channelId ?? svc.channels.all()[0]?.id ?? 'C0SECURITY';
      const userId = click.user_id ?? click.on?.userId ?? 'U0ANALYST';
      const responseUrl = svc.responseUrl({ channelId, userId, ...(click.on ? { on: click.on } : {}), ...(message ? { original: message } : {}) });
      const channel = svc.channels.get(channelId);
      const payload = {
        type: 'block_actions',
        user: { id: userId, username: click.user_name ?? 'analyst', name: click.user_name ?? 'analyst', team_id: svc.team.id },
        api_app_id: svc.bot.appId,
        token: 'legacy-verification-token-unused',
        container: { type: 'message', message_ts: `${Math.floor(Date.now() / 1000)}.000100`, channel_id: channelId, is_ephemeral: message?.responseType !== 'in_channel' },
        trigger_id: triggerId(),
        team: { id: svc.team.id, domain: svc.team.domain },
        enterprise: null,
        is_enterprise_install: false,
        channel: { id: channelId, name: channel?.name ?? 'directmessage' },
        state: { values: {} },
        response_url: click.response_url ?? responseUrl.url,
        actions: [
          {
            type: 'button',
            action_id: click.action_id,
            block_id: click.block_id ?? found?.blockId ?? 'actions',
            text: { type: 'plain_text', text: found?.button.text?.text ?? 'Button', emoji: true },
            ...((click.value ?? found?.button.value) !== undefined ? { value: click.value ?? found?.button.value } : {}),
            action_ts: `${(Date.now() / 1000).toFixed(6)}`,
          },
        ],
      };
      return send(target, new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), responseUrl, o);
    },
  };
}

export type Conversation = ReturnType<typeof createConversation>;
