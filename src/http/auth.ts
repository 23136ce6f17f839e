import { createHash, timingSafeEqual } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { isLoopback } from '../config/index.ts';
import { TrailbotError } from '../errors.ts';

/** Who is signed in through the request's session, or undefined: the sign-in work plugs in here. */
export type SessionCheck = (c: Context) => Promise<string | undefined>;

export interface AuthOptions {
  /** The bearer tokens this server accepts (TRAILBOT_API_TOKENS). */
  tokens?: readonly string[];
  /** A signed-in session, checked when the request carries no valid bearer token. */
  session?: SessionCheck;
}

/** Fixed-length digests, so comparing never reveals a token's length. */
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** The caller's socket address under @hono/node-server; `in-process` for `app.request` (no socket at all). */
function remote(c: Context): string | undefined {
  if ((c.env as { incoming?: unknown } | undefined)?.incoming === undefined) return 'in-process';
  return getConnInfo(c).remote.address;
}

/**
 * Who may call the API. A valid `Authorization: Bearer <token>` passes, else a signed-in session.
 * With neither tokens nor sign-in configured the API is open, but only to this machine: the server
 * then listens on 127.0.0.1, and a request from any other address is refused all the same.
 */
export function auth({ tokens = [], session }: AuthOptions = {}): MiddlewareHandler {
  const accepted = tokens.map(digest);
  const open = accepted.length === 0 && session === undefined;
  const known = (token: string): boolean => {
    const d = digest(token);
    let ok = false;
    // Every token is compared, so the time taken says nothing about which one matched.
    for (const a of accepted) ok = timingSafeEqual(a, d) || ok;
    return ok;
  };

  return async function auth(c, next) {
    if (open) {
      const from = remote(c);
      if (from !== 'in-process' && (from === undefined || !isLoopback(from))) {
        throw new TrailbotError('E_FORBIDDEN', `the API answers only this machine while the server has no authentication configured; this request came from ${from ?? 'an unknown address'}`, {
          hint: "set TRAILBOT_API_TOKENS on the server, then send Authorization: Bearer <token>",
        });
      }
      return next();
    }
    const header = c.req.header('authorization');
    const bearer = header === undefined ? undefined : /^Bearer +(\S+) *$/i.exec(header)?.[1];
    if (bearer !== undefined && known(bearer)) return next();
    if (session && (await session(c)) !== undefined) return next();
    const message = header === undefined ? 'the API needs Authorization: Bearer <token>' : bearer === undefined ? 'the Authorization header must be Bearer <token>' : 'the bearer token is not one this server accepts';
    throw new TrailbotError('E_UNAUTHORIZED', message, { hint: "send Authorization: Bearer <token> with one of the tokens in the server's TRAILBOT_API_TOKENS" });
  };
}
