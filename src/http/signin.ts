import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import * as oidc from 'openid-client';
import { derivedKey } from '../actions/approvals/tokens.ts';
import { audit, auditAnonymous, endSession, sessionEnded } from '../actions/approvals/store.ts';
import { isLoopback } from '../config/index.ts';
import { describeError, TrailbotError } from '../errors.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Db } from '../store/index.ts';
import { clientOf, type PageFrame, sameSitePost, sendNotice, sendPage } from './pages.ts';

/**
 * Sign-in with the company's OpenID Connect provider (openid-client 6), for approvers:
 *
 * - `GET /auth/login?next=<local path>`: discovery at `OIDC_ISSUER/.well-known/openid-configuration`
 *   (once, then kept), then the authorization-code flow with PKCE (S256), `state` and `nonce`, scopes
 *   `openid email profile`, redirect URI `PUBLIC_URL/auth/callback`. The verifier, state, nonce and
 *   `next` wait in a short-lived signed cookie (path /auth).
 * - `GET /auth/callback`: the code is exchanged (client authentication as the discovery document
 *   allows: client_secret_basic, else client_secret_post), the id token checked by openid-client
 *   (signature, issuer, audience, nonce, expiry); the person is its `email`, refused when
 *   `email_verified` is false. The session is a signed, HttpOnly, SameSite=Lax cookie (Secure when
 *   PUBLIC_URL is https) holding the e-mail, name and groups (the `approvals.groupsClaim` claim).
 * - `POST /auth/logout` ends it: the cookie is deleted and the session id recorded as ended
 *   (`ended_sessions`, until the session would have ended anyway), so a copy of the cookie kept
 *   elsewhere stops working too. `GET /auth/me` says who is signed in.
 *
 * Cookies are signed with keys derived from APPROVAL_SECRET (HMAC-SHA256, checked in constant time).
 * Every sign-in and sign-out goes to the audit log; refusals of someone not signed in are coalesced
 * (one row per address and reason a minute, with a count: auditAnonymous).
 */

export interface Session {
  /** A random id: CSRF tokens are bound to it. */
  sid: string;
  email: string;
  name: string | undefined;
  groups: string[];
  /** When it ends (ms since the epoch). */
  exp: number;
}

export interface SignInOptions {
  oidc: { issuer: string; clientId: string; clientSecret: string } | undefined;
  /** APPROVAL_SECRET: the cookies' signing keys derive from it; without it there is no sign-in. */
  secret: string | undefined;
  publicUrl: string;
  /** The id token claim with the person's groups (approvals.groupsClaim). */
  groupsClaim: string;
  db: Db;
  log: Logger;
  /** How long a session lasts (default 8 h). */
  sessionTtlMs?: number;
}

export const SESSION_COOKIE = 'trailbot_session';
const FLOW_COOKIE = 'trailbot_signin';
const FLOW_TTL_MS = 10 * 60_000;
const SCOPES = 'openid email profile';
const COOKIE_MAX = 3800;

/** `<base64url JSON>.<base64url HMAC>`: what the cookies hold. */
export function seal(key: Buffer, value: unknown): string {
  const body = Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
}

/** The sealed value, or undefined when it is not one this key sealed (constant-time check). */
export function unseal<T>(key: Buffer, sealed: string | undefined): T | undefined {
  if (!sealed || sealed.length > COOKIE_MAX || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(sealed)) return undefined;
  const [body, sig] = sealed.split('.') as [string, string];
  const expected = createHash('sha256').update(createHmac('sha256', key).update(body).digest('base64url')).digest();
  if (!timingSafeEqual(expected, createHash('sha256').update(sig).digest())) return undefined;
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

/** A local path to come back to: `/…` only (not `//host`, not `/\host`, no scheme, also once `..` and `.` are resolved); anything else is `/auth/me`. */
export function localPath(next: string | undefined): string {
  if (!next || next.length > 2048 || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || /[\u0000-\u001f\\]/.test(next)) return '/auth/me';
  try {
    const u = new URL(next, 'http://trailbot.invalid');
    if (u.origin !== 'http://trailbot.invalid') return '/auth/me';
    // Checked again once normalised: `/..//evil.example` (or `/%2e%2e//…`) becomes `//evil.example`, another host to a browser.
    const path = `${u.pathname}${u.search}`;
    return path.startsWith('//') || path.startsWith('/\\') ? '/auth/me' : path;
  } catch {
    return '/auth/me';
  }
}

/** Where "Sign in" takes someone on `path`. */
export const signInUrl = (path: string): string => `/auth/login?next=${encodeURIComponent(path)}`;

/** The CSRF token of a form on a page for a session: HMAC of the session id and the page's subject. */
export function csrfToken(secret: string, sid: string, subject: string): string {
  return createHmac('sha256', derivedKey(secret, 'csrf')).update(`${sid}\n${subject}`).digest('base64url');
}

/** Whether `given` is the CSRF token of this session and subject (constant time). */
export function csrfOk(secret: string, sid: string, subject: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length > 200) return false;
  const a = createHash('sha256').update(csrfToken(secret, sid, subject)).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

interface Flow {
  state: string;
  nonce: string;
  verifier: string;
  next: string;
  exp: number;
}

const WHAT_TO_SET = 'set OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET (the company\'s OpenID Connect provider, with PUBLIC_URL/auth/callback as the client\'s redirect URI) and APPROVAL_SECRET on the web role';

export interface SignIn {
  /** /auth/login, /auth/callback, /auth/logout, /auth/me (mount at /auth). */
  route: Hono;
  /** The signed-in person of a request, if any: a cookie this trailbot signed, not expired, not signed out. */
  session(c: Context): Promise<Session | undefined>;
  /** Whether sign-in is configured (OIDC settings and APPROVAL_SECRET). */
  configured: boolean;
  /** What to set for sign-in, when it is not configured. */
  missing: string;
}

export function createSignIn(o: SignInOptions): SignIn {
  const ttl = o.sessionTtlMs ?? 8 * 3600_000;
  const secure = o.publicUrl.startsWith('https:');
  const sessionKey = o.secret ? derivedKey(o.secret, 'session') : undefined;
  const flowKey = o.secret ? derivedKey(o.secret, 'sign-in flow') : undefined;
  const configured = Boolean(o.oidc && o.secret);
  const redirectUri = `${o.publicUrl.replace(/\/+$/, '')}/auth/callback`;
  let discovered: Promise<oidc.Configuration> | undefined;

  /** The cookie's session, if this trailbot signed it and it has not expired (signed out or not). */
  const sealed = (c: Context): Session | undefined => {
    if (!sessionKey) return undefined;
    const s = unseal<Session>(sessionKey, getCookie(c, SESSION_COOKIE));
    if (!s || typeof s.email !== 'string' || typeof s.sid !== 'string' || typeof s.exp !== 'number' || s.exp <= Date.now()) return undefined;
    return { sid: s.sid, email: s.email, name: typeof s.name === 'string' ? s.name : undefined, groups: Array.isArray(s.groups) ? s.groups.filter((g) => typeof g === 'string') : [], exp: s.exp };
  };
  // One look-up per request, however many times it is asked.
  const known = new WeakMap<Request, Promise<Session | undefined>>();
  const session = (c: Context): Promise<Session | undefined> => {
    let p = known.get(c.req.raw);
    if (!p) {
      const s = sealed(c);
      // A signed-out session is nobody's, whoever kept a copy of its cookie. When the store cannot say, nobody is signed in.
      p = s
        ? sessionEnded(o.db, s.sid).then(
            (ended) => (ended ? undefined : s),
            (e: unknown) => {
              o.log.error({ err: e }, `could not check whether a session was signed out: ${describeError(e)}`);
              return undefined;
            },
          )
        : Promise.resolve(undefined);
      known.set(c.req.raw, p);
    }
    return p;
  };

  const frame = async (c: Context, title: string): Promise<PageFrame> => ({ title, session: await session(c), here: '/auth/me' });

  /** The provider's configuration: discovered once (a failure is not kept: the next sign-in tries again). */
  const configuration = (): Promise<oidc.Configuration> => {
    discovered ??= discover().catch((e: unknown) => {
      discovered = undefined;
      throw e;
    });
    return discovered;
  };

  async function discover(): Promise<oidc.Configuration> {
    const { issuer, clientId, clientSecret } = o.oidc!;
    const url = new URL(issuer);
    // Plain http only to a provider on this machine (tests, trying it out); anything else must be https.
    const insecure = url.protocol === 'http:';
    if (insecure && !isLoopback(url.hostname)) {
      throw new TrailbotError('E_SIGNIN', `OIDC_ISSUER ${issuer} is plain http on another machine: the sign-in would travel unencrypted`, { hint: 'use the provider\'s https issuer URL' });
    }
    const execute = insecure ? [oidc.allowInsecureRequests] : [];
    let base: oidc.Configuration;
    try {
      base = await oidc.discovery(url, clientId, clientSecret, undefined, { execute, timeout: 10 });
    } catch (e) {
      throw new TrailbotError('E_SIGNIN', `the OpenID provider at ${issuer} could not be discovered: ${(e as Error).message}`, {
        hint: 'check OIDC_ISSUER (its /.well-known/openid-configuration must answer, with the same issuer) and that this host reaches it',
        cause: e,
      });
    }
    const meta = base.serverMetadata();
    // Client authentication as the discovery document allows it; OpenID's default is client_secret_basic.
    const methods = meta.token_endpoint_auth_methods_supported ?? ['client_secret_basic'];
    const auth = methods.includes('client_secret_basic') ? oidc.ClientSecretBasic(clientSecret) : methods.includes('client_secret_post') ? oidc.ClientSecretPost(clientSecret) : undefined;
    if (!auth) {
      throw new TrailbotError('E_SIGNIN', `the OpenID provider at ${issuer} takes neither client_secret_basic nor client_secret_post at its token endpoint (it lists ${methods.join(', ')})`, {
        hint: 'register trailbot as a confidential client with a client secret (OIDC_CLIENT_SECRET) sent as client_secret_basic or client_secret_post',
      });
    }
    const config = new oidc.Configuration(meta, clientId, { client_secret: clientSecret }, auth);
    for (const f of execute) f(config);
    config.timeout = 10;
    return config;
  }

  const route = new Hono();

  route.get('/login', async (c) => {
    const next = localPath(c.req.query('next'));
    if (!configured) {
      return sendNotice(c, 404, await frame(c, 'Sign-in is not set up'), { kind: 'notice', headline: 'Sign-in is not set up on this trailbot.', lines: [`To sign approvers in, ${WHAT_TO_SET}.`] });
    }
    let config: oidc.Configuration;
    try {
      config = await configuration();
    } catch (e) {
      o.log.error({ err: e }, describeError(e));
      return sendNotice(c, 502, await frame(c, 'Sign-in is unavailable'), { headline: 'The company sign-in cannot be reached right now.', lines: ['Try again in a moment; if it persists, the server log says why.'], code: 'E_SIGNIN' });
    }
    const verifier = oidc.randomPKCECodeVerifier();
    const flow: Flow = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier, next, exp: Date.now() + FLOW_TTL_MS };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: SCOPES,
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    });
    setCookie(c, FLOW_COOKIE, seal(flowKey!, flow), { path: '/auth', httpOnly: true, sameSite: 'Lax', secure, maxAge: FLOW_TTL_MS / 1000 });
    c.header('cache-control', 'no-store');
    c.header('referrer-policy', 'no-referrer');
    return c.redirect(url.href, 302);
  });

  route.get('/callback', async (c) => {
    const who = clientOf(c);
    if (!configured) return sendNotice(c, 404, await frame(c, 'Sign-in is not set up'), { kind: 'notice', headline: 'Sign-in is not set up on this trailbot.', lines: [`To sign approvers in, ${WHAT_TO_SET}.`] });
    const flow = unseal<Flow>(flowKey!, getCookie(c, FLOW_COOKIE));
    deleteCookie(c, FLOW_COOKIE, { path: '/auth', secure });
    const refuse = async (status: 400 | 403, headline: string, reason: string, lines: string[], email: string | null = null) => {
      // Anyone may call /auth/callback: without an e-mail the provider vouched for, refusals are coalesced
      // by address and kind of reason (the provider's `error` is the caller's to choose).
      const written = email
        ? audit(o.db, { action: 'sign-in-refused', actor: email, ...who, outcome: 'refused', detail: { reason } })
        : auditAnonymous(o.db, { action: 'sign-in-refused', actor: null, ...who, outcome: 'refused', detail: { reason }, reason: reason.replace(/:.*$/s, '') });
      await written.catch((e: unknown) => o.log.error({ err: e }, 'could not write the audit log'));
      return sendNotice(c, status, await frame(c, 'Sign-in refused'), { headline, lines, code: 'E_SIGNIN', signInUrl: flow ? `/auth/login?next=${encodeURIComponent(flow.next)}` : '/auth/login' });
    };
    if (!flow || typeof flow.exp !== 'number' || flow.exp <= Date.now()) {
      return refuse(400, 'This sign-in was not started here, or took too long.', 'no-flow', ['Start again: sign-in must finish within 10 minutes, in the browser that started it.']);
    }
    const error = c.req.query('error');
    if (error) return refuse(403, 'The company sign-in did not sign you in.', `provider: ${error.slice(0, 100)}`, [`It answered: ${error.slice(0, 100)}${c.req.query('error_description') ? ` (${c.req.query('error_description')!.slice(0, 300)})` : ''}.`]);
    let claims: oidc.IDToken | undefined;
    let email: unknown;
    let verified: unknown;
    try {
      const config = await configuration();
      // The redirect URI as registered (behind a proxy the request's own URL may differ), with the answer's query.
      const current = new URL(redirectUri);
      current.search = new URL(c.req.url).search;
      const tokens = await oidc.authorizationCodeGrant(config, current, { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce, idTokenExpected: true });
      claims = tokens.claims();
      email = claims?.email;
      verified = claims?.email_verified;
      // Providers that keep the e-mail out of the id token (scope claims at UserInfo only) give it there, for the same subject.
      if (claims && typeof email !== 'string' && tokens.access_token) {
        const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
        email = info.email;
        verified = info.email_verified;
      }
    } catch (e) {
      o.log.warn({ err: e }, `sign-in failed: ${(e as Error).message}`);
      return refuse(400, 'Sign-in did not complete.', `exchange: ${(e as Error).message.slice(0, 200)}`, [`${(e as Error).message.slice(0, 300)}`, 'Start again from the approval page.']);
    }
    if (typeof email !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(email)) {
      return refuse(403, 'The company sign-in gave no e-mail address for you.', 'no-email', ['trailbot knows approvers by e-mail: the provider must release the email claim for the scopes openid email profile.']);
    }
    if (verified === false || verified === 'false') {
      return refuse(403, `${email} is not a verified e-mail address at the company sign-in.`, 'email-not-verified', ['Approvers are known by a verified e-mail address (email_verified): verify it with the provider, then sign in again.'], email.toLowerCase());
    }
    const raw = (claims as Record<string, unknown> | undefined)?.[o.groupsClaim];
    const groups = (Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : []).filter((g): g is string => typeof g === 'string').slice(0, 200);
    const s: Session = {
      sid: randomBytes(16).toString('base64url'),
      email: email.toLowerCase(),
      name: typeof claims?.name === 'string' ? claims.name.slice(0, 200) : undefined,
      groups,
      exp: Date.now() + ttl,
    };
    let sealed = seal(sessionKey!, s);
    if (sealed.length > COOKIE_MAX) sealed = seal(sessionKey!, { ...s, groups: [] });
    setCookie(c, SESSION_COOKIE, sealed, { path: '/', httpOnly: true, sameSite: 'Lax', secure, maxAge: Math.floor(ttl / 1000) });
    await audit(o.db, { action: 'signed-in', actor: s.email, ...who, outcome: 'ok', detail: { groups: groups.length, claim: o.groupsClaim } });
    c.header('cache-control', 'no-store');
    return c.redirect(flow.next, 303);
  });

  route.post('/logout', bodyLimit({ maxSize: 16 * 1024, onError: async (c) => sendNotice(c, 413, await frame(c, 'Refused'), { headline: 'This is not the sign-out form; nothing was done.', code: 'E_TOO_LARGE' }) }), async (c) => {
    if (!sameSitePost(c, o.publicUrl)) return sendNotice(c, 403, await frame(c, 'Refused'), { headline: 'A page of another site tried to sign you out; nothing was done.', code: 'E_FORBIDDEN' });
    const s = await session(c);
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    if (s) {
      // Ended on the server, not only in this browser: a copy of the cookie is refused from now on.
      // Recorded before the answer, so a failure says so instead of pretending to have signed out.
      try {
        await endSession(o.db, s.sid, s.exp);
      } catch (e) {
        o.log.error({ err: e }, `could not record the sign-out: ${describeError(e)}`);
        return sendNotice(c, 503, await frame(c, 'Not signed out'), { headline: 'Signing out could not be recorded; you are still signed in.', lines: ['Try again in a moment.'], code: 'E_STORE_UNAVAILABLE' });
      }
    }
    deleteCookie(c, SESSION_COOKIE, { path: '/', secure });
    if (s) await audit(o.db, { action: 'signed-out', actor: s.email, ...clientOf(c), outcome: 'ok' }).catch((e: unknown) => o.log.error({ err: e }, 'could not write the audit log'));
    return c.redirect(localPath(typeof form.next === 'string' ? form.next : undefined), 303);
  });

  route.get('/me', async (c) => {
    const s = await session(c);
    if (s) return sendPage(c, 200, 'signed-in', await frame(c, 'Signed in'), { email: s.email, name: s.name, groups: s.groups, until: new Date(s.exp).toISOString().slice(0, 16).replace('T', ' ') });
    return sendPage(c, 200, 'signed-in', { ...(await frame(c, 'Not signed in')), signInUrl: configured ? '/auth/login?next=%2Fauth%2Fme' : undefined }, { configured, missing: WHAT_TO_SET });
  });

  return { route, session, configured, missing: WHAT_TO_SET };
}
