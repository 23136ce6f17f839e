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
  /** Origins browsers see this server under besides its Host's own (PUBLIC_URL's, behind a proxy). */
  origins?: readonly string[];
}

/** Neither tokens nor sign-in: the API answers this machine only. */
export const isOpen = ({ tokens = [], session }: AuthOptions = {}): boolean => tokens.length === 0 && session === undefined;

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
  const open = isOpen({ tokens, session });
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

/** The types of body the API takes unless a route says otherwise. */
export const JSON_BODY: readonly string[] = ['application/json'];

export interface SameOriginOptions {
  /** Open mode: answer only requests addressed to a loopback name (a DNS-rebinding page sends its own). */
  loopbackHost?: boolean;
  /** Origins browsers see this server under besides its Host's own (PUBLIC_URL's). */
  origins?: readonly string[];
  /** The media types a write's body may have on this path (default: JSON only). */
  bodyTypes?: (path: string) => readonly string[];
}

const WRITE_HINT =
  "call the API from a script or the command line (curl, trailbot), not from a web page of another site; behind a proxy that rewrites the Host, set PUBLIC_URL to the address people open";

/** `localhost`, `*.localhost` (RFC 6761: never resolved through DNS), 127.0.0.0/8 and [::1], with any port. */
function loopbackHostHeader(host: string): boolean {
  const m = /^\[([0-9a-f:.]+)\](?::\d*)?$/i.exec(host) ?? /^([^:[\]]+)(?::\d*)?$/.exec(host);
  const name = m?.[1]?.toLowerCase();
  return name !== undefined && (isLoopback(name) || /^([a-z0-9-]+\.)+localhost$/.test(name));
}

/** Whether `origin` is this server's: the Host it was asked under (http or https), or one of `own`. */
function sameAs(origin: string, host: string, own: ReadonlySet<string>): boolean {
  let o: string;
  try {
    o = new URL(origin).origin;
  } catch {
    return false;
  }
  if (o === 'null') return false;
  if (own.has(o)) return true;
  for (const scheme of ['http', 'https']) {
    try {
      if (new URL(`${scheme}://${host}`).origin === o) return true;
    } catch {
      return false;
    }
  }
  return false;
}

/** The body's media type (`application/json` of `application/json; charset=utf-8`), lower-cased. */
const mediaType = (header: string | undefined): string | undefined => header?.split(';')[0]?.trim().toLowerCase() || undefined;

/** Whether a write carries a body: a length above 0, chunks, or (in-process, `app.request`) a body at all. */
function hasBody(c: Context): boolean {
  const length = c.req.header('content-length');
  if (c.req.header('transfer-encoding') !== undefined) return true;
  if (length !== undefined) return length.trim() !== '0';
  return remote(c) === 'in-process' && c.req.raw.body !== null;
}

/**
 * Requests made by pages of other sites, refused before anything else looks at them. A page the
 * operator opens runs on this machine too, so "from loopback" does not tell the operator from it:
 * - in open mode, a Host that is not a loopback name (DNS rebinding: the page's own name, pointed at 127.0.0.1);
 * - an `Origin` other than the server's own (Host or PUBLIC_URL), and `Sec-Fetch-Site: cross-site`
 *   or `same-site` (except a plain GET navigation: a link in a Jira ticket);
 * - a write whose body is not of a type the route takes (JSON), with 415: the types a page may send
 *   without a CORS preflight (text/plain, forms, none) never are, and the server answers no preflight.
 */
export function sameOrigin({ loopbackHost = false, origins = [], bodyTypes = () => JSON_BODY }: SameOriginOptions = {}): MiddlewareHandler {
  const own = new Set<string>();
  for (const o of origins) {
    try {
      own.add(new URL(o).origin);
    } catch {
      /* not a URL: config validation says so */
    }
  }
  return async function sameOrigin(c, next) {
    const url = new URL(c.req.url);
    const host = c.req.header('host') ?? url.host;
    if (loopbackHost) {
      // The URL's host too: an absolute request target names its own.
      for (const h of [host, url.host]) {
        if (!loopbackHostHeader(h)) {
          throw new TrailbotError('E_FORBIDDEN', `the API answers only requests addressed to this machine (localhost, 127.0.0.1 or [::1]) while the server has no authentication configured; this one was addressed to ${JSON.stringify(h.slice(0, 200))}`, {
            hint: 'open it as http://localhost:<port> (a web page that reached it under another name may be a DNS-rebinding attack); to serve it under a name, set TRAILBOT_API_TOKENS',
          });
        }
      }
    }
    const origin = c.req.header('origin');
    if (origin !== undefined && !sameAs(origin, host, own)) {
      throw new TrailbotError('E_FORBIDDEN', `the API refuses requests made by a page of another site (Origin: ${JSON.stringify(origin.slice(0, 200))})`, { hint: WRITE_HINT });
    }
    const site = c.req.header('sec-fetch-site');
    const read = c.req.method === 'GET' || c.req.method === 'HEAD';
    if ((site === 'cross-site' || site === 'same-site') && !(read && c.req.header('sec-fetch-mode') === 'navigate')) {
      throw new TrailbotError('E_FORBIDDEN', `the API refuses requests made by a page of another site (Sec-Fetch-Site: ${site})`, { hint: WRITE_HINT });
    }
    if (!read && c.req.method !== 'OPTIONS') {
      const type = mediaType(c.req.header('content-type'));
      const takes = bodyTypes(c.req.path);
      if ((type !== undefined || hasBody(c)) && !takes.includes(type ?? '')) {
        throw new TrailbotError('E_CONTENT_TYPE', `${c.req.method} ${c.req.path} takes a body of type ${takes.join(' or ')}, not ${type ?? 'one without a Content-Type'}`, {
          hint: `send Content-Type: ${takes.join(' or ')} (curl -H 'Content-Type: ${takes[0]}'); a page of another site cannot send those without asking first, which is why nothing else is taken`,
        });
      }
    }
    return next();
  };
}
