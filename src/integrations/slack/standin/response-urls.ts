// The response URLs Slack hands out with each command and click (/commands/<team>/<id>/<secret>), and
// their receiver: it records what trailbot posts, with Slack's limits (5 posts within 30 minutes), and
// keeps the messages the person sees (replace_original / delete_original act on them;
// `response_type: in_channel` also lands in the channel).
import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import { bool, errorBody, isObject, SlackApiError, sleep } from './http.ts';
import { checkMessage, newMessage } from './messages.ts';
import type { SlackState } from './state.ts';

/** How many times a response_url takes a post, and for how long (Slack: 5 times within 30 minutes). */
export const RESPONSE_URL_USES = 5;
export const RESPONSE_URL_TTL_MS = 30 * 60_000;

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

export interface ResponseUrlOptions {
  channelId?: string;
  userId?: string;
  /** a click on the message shown through this URL: the new URL shares its view */
  on?: ResponseUrl;
  /** what replace_original replaces (default: the newest message shown through `on`) */
  original?: ShownMessage;
}

/** The messages one person sees, and who waits for them to change. */
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

export interface ResponseUrls {
  /** a new response_url, as Slack sends with a command (or, with `on`/`original`, with a click on a shown message) */
  create(o?: ResponseUrlOptions): ResponseUrl;
  /** oldest first */
  all(): ResponseUrl[];
  /** POST /commands/:team/:id/:secret */
  receive(c: Context): Promise<Response>;
}

export function createResponseUrls(s: SlackState): ResponseUrls {
  const urls = new Map<string, ResponseUrlState>();

  const create = ({ channelId, userId, on, original }: ResponseUrlOptions = {}): ResponseUrl => {
    const id = String(Date.now()).slice(-6) + String(s.nextSerial()).padStart(6, '0');
    const secret = randomBytes(18).toString('base64url');
    const parent = on ? urls.get(on.id) : undefined;
    const view: View = parent?.view ?? { messages: [], waiters: new Set() };
    const state: ResponseUrlState = {
      id,
      secret,
      url: `${s.live.baseUrl}/commands/${s.team.id}/${id}/${secret}`,
      team: s.team.id,
      channelId: channelId ?? parent?.channelId ?? s.channels.all()[0]?.id ?? 'C0SECURITY',
      userId: userId ?? parent?.userId ?? 'U0ANALYST',
      createdAt: s.clock(),
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
    urls.set(id, state);
    return state;
  };

  const receive = async (c: Context): Promise<Response> => {
    const started = performance.now();
    const r = urls.get(c.req.param('id') ?? '');
    if (!r || r.secret !== c.req.param('secret') || r.team !== c.req.param('team')) return c.json({ ok: false, error: 'invalid_url' }, 404);
    if (s.faults.latencyMs) await sleep(s.faults.latencyMs);
    const fault = s.faults.take('response_url');
    if (fault) {
      s.record({ method: 'response_url', params: { id: r.id }, status: fault.status, ok: false, fault: fault.status === 429 ? '429' : '5xx', durationMs: performance.now() - started });
      return fault;
    }
    const body = (await c.req.json().catch(() => undefined)) as unknown;
    const refuse = (status: 400 | 404, e: SlackApiError) => {
      r.posts.push({ at: s.clock(), body: isObject(body) ? body : {}, status, error: e.error });
      s.record({ method: 'response_url', params: { id: r.id }, status, ok: false, error: e.error, durationMs: performance.now() - started });
      return c.json(errorBody(e), status);
    };
    if (s.clock() - r.createdAt > RESPONSE_URL_TTL_MS) return refuse(404, new SlackApiError('expired_url'));
    if (r.accepted >= RESPONSE_URL_USES) return refuse(404, new SlackApiError('used_url'));
    if (!isObject(body)) return refuse(400, new SlackApiError('invalid_payload'));
    let msg: { text?: string; blocks?: unknown[] };
    try {
      msg = body.delete_original ? {} : checkMessage(body, true);
    } catch (e) {
      if (!(e instanceof SlackApiError)) throw e;
      return refuse(400, e);
    }
    r.accepted++;
    r.posts.push({ at: s.clock(), body, status: 200 });
    s.record({ method: 'response_url', params: { id: r.id, ...body }, status: 200, ok: true, durationMs: performance.now() - started });
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
      const ch = s.channels.get(r.channelId);
      if (shown.responseType === 'in_channel' && ch) ch.messages.push(newMessage(s, ch, msg));
    }
    for (const w of [...r.view.waiters]) w();
    return c.json({ ok: true }, 200);
  };

  return { create, all: () => [...urls.values()], receive };
}
