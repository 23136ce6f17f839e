// The Slack stand-in as one Hono app:
// - the Web API at /api/<method> (web-api.ts; the methods, one table entry each, in methods/), checked
//   as Slack checks what matters to trailbot (tokens, scopes, channels, Block Kit);
// - the file upload URLs files.getUploadURLExternal hands out (/upload/v1/<file id>, methods/files.ts);
// - response_url receivers (/commands/<team>/<id>/<secret>, response-urls.ts);
// - /__standin/ (no auth) to drive it by hand (admin.ts, cli.ts and README.md).
// Refusals and argument parsing are in http.ts, the state they share in state.ts, messages and
// channels as Slack checks them in messages.ts. The Slack side of the conversation (signed slash
// commands and button clicks sent to trailbot) is in conversation.ts.
import { Hono } from 'hono';
import { mountAdmin } from './admin.ts';
import { createSlackFaults, type SlackFaults } from './faults.ts';
import type { Args, SlackRequestRecord } from './http.ts';
import { receiveUpload } from './methods/files.ts';
import { createResponseUrls } from './response-urls.ts';
import type { ResponseUrl, ResponseUrlOptions } from './response-urls.ts';
import { createSlackState, type DEFAULT_BOT, DEFAULT_CHANNELS, DEFAULT_SIGNING_SECRET, DEFAULT_TEAM, DEFAULT_TOKEN, MANIFEST_SCOPES } from './state.ts';
import type { Channels, ChannelSeed, StoredFile } from './state.ts';
import { callMethod, serveWebApi } from './web-api.ts';

export { SlackApiError } from './http.ts';
export type { SlackRequestRecord } from './http.ts';
export { RESPONSE_URL_TTL_MS, RESPONSE_URL_USES } from './response-urls.ts';
export type { ResponsePost, ResponseUrl, ShownMessage } from './response-urls.ts';
export { DEFAULT_BOT, DEFAULT_CHANNELS, DEFAULT_SIGNING_SECRET, DEFAULT_TEAM, DEFAULT_TOKEN, MANIFEST_SCOPES } from './state.ts';
export type { Channel, ChannelSeed, StoredFile, StoredMessage } from './state.ts';

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
  channels: Channels;
  usergroups: {
    set(id: string, users: readonly string[]): void;
    members(id: string): string[] | undefined;
  };
  files: Map<string, StoredFile>;
  /** revokes the token: every later call answers token_revoked */
  revokeToken(): void;
  /** a new response_url, as Slack sends with a command (or, with `view`/`original`, with a click on a shown message) */
  responseUrl(opts?: ResponseUrlOptions): ResponseUrl;
  /** the response URLs handed out, oldest first */
  responseUrls(): ResponseUrl[];
  /** the Web API as a function (also what the app serves at /api/<method>) */
  call(method: string, args: Args, token: string | undefined): Promise<Record<string, unknown>>;
}

export function createSlackService(opts: SlackServiceOptions = {}): SlackService {
  const svc = {
    baseUrl: '',
    token: opts.token ?? DEFAULT_TOKEN,
    signingSecret: opts.signingSecret ?? DEFAULT_SIGNING_SECRET,
    scopes: new Set<string>(opts.scopes ?? MANIFEST_SCOPES),
  } as SlackService;
  const s = createSlackState({
    clock: opts.clock ?? Date.now,
    team: { name: DEFAULT_TEAM.name, ...(opts.team ?? DEFAULT_TEAM) },
    faults: createSlackFaults(),
    channels: opts.channels ?? DEFAULT_CHANNELS,
    usergroups: opts.usergroups ?? {},
    live: svc,
  });
  const responseUrls = createResponseUrls(s);

  const app = new Hono();
  app.on(['GET', 'POST'], '/api/:method', (c) => serveWebApi(c, s));
  // The upload URLs files.getUploadURLExternal hands out (pre-signed in Slack: no token needed).
  app.post('/upload/v1/:id', (c) => receiveUpload(c, s));
  app.post('/commands/:team/:id/:secret', (c) => responseUrls.receive(c));
  mountAdmin(app, s, responseUrls);
  app.notFound((c) => c.json({ ok: false, error: 'unknown_method' }, 404));

  return Object.assign(svc, {
    app,
    team: s.team,
    bot: s.bot,
    faults: s.faults,
    requests: s.requests,
    channels: s.channels,
    usergroups: {
      set(id: string, users: readonly string[]) {
        s.groups.set(id, [...users]);
      },
      members: (id: string) => (s.groups.has(id) ? [...s.groups.get(id)!] : undefined),
    },
    files: s.files,
    revokeToken() {
      s.revoked = true;
    },
    responseUrl: responseUrls.create,
    responseUrls: responseUrls.all,
    call: (method: string, args: Args, token: string | undefined) => callMethod(s, method, args, token),
  });
}
