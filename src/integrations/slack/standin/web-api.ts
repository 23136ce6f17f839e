// The Web API at /api/<method>, as @slack/web-api's WebClient calls it: an injected fault answers first;
// then the method must exist, the token be the bot's (not revoked) and hold the method's scope; the
// answer is HTTP 200 `{ok:true,…}` or `{ok:false,error}` (http.ts), every call in the request log.
import type { Context } from 'hono';
import { type Args, argsOf, errorBody, SlackApiError, sleep, tokenOf } from './http.ts';
import { WEB_API_METHODS } from './methods/index.ts';
import type { SlackState } from './state.ts';

/** A Web API call as a function: the checks Slack makes, then the method. */
export async function callMethod(s: SlackState, method: string, args: Args, token: string | undefined): Promise<Record<string, unknown>> {
  const m = Object.hasOwn(WEB_API_METHODS, method) ? WEB_API_METHODS[method] : undefined;
  if (!m) throw new SlackApiError('unknown_method', { req_method: method });
  if (!token) throw new SlackApiError('not_authed');
  if (token !== s.live.token) throw new SlackApiError('invalid_auth');
  if (s.revoked) throw new SlackApiError('token_revoked');
  const needed = typeof m.scope === 'function' ? m.scope(typeof args.channel === 'string' ? s.channels.get(args.channel) : undefined) : m.scope;
  if (needed && !s.live.scopes.has(needed)) throw new SlackApiError('missing_scope', { needed, provided: [...s.live.scopes].join(',') });
  return { ok: true, ...m.handle(args, s) };
}

/** GET or POST /api/:method. */
export async function serveWebApi(c: Context, s: SlackState): Promise<Response> {
  const started = performance.now();
  const method = c.req.param('method') ?? '';
  if (s.faults.latencyMs) await sleep(s.faults.latencyMs);
  const fault = s.faults.take(method);
  if (fault) {
    s.record({ method, params: {}, status: fault.status, ok: false, error: fault.status === 429 ? 'ratelimited' : 'server_error', fault: fault.status === 429 ? '429' : '5xx', durationMs: performance.now() - started });
    return fault;
  }
  let args: Args = {};
  try {
    args = await argsOf(c.req.raw);
    const token = tokenOf(c.req.raw, args);
    delete args.token;
    const result = await callMethod(s, method, args, token);
    s.record({ method, params: args, status: 200, ok: true, durationMs: performance.now() - started });
    return c.json(result, 200, { 'x-oauth-scopes': [...s.live.scopes].join(',') });
  } catch (e) {
    if (!(e instanceof SlackApiError)) throw e;
    s.record({ method, params: args, status: 200, ok: false, error: e.error, durationMs: performance.now() - started });
    return c.json(errorBody(e), 200);
  }
}
