import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/**
 * A real OpenID Connect provider (oidc-provider 9) on 127.0.0.1 for the sign-in tests, with its
 * development login pages (any login name becomes the subject; the password is ignored). People are
 * looked up by their login name in `people`; their claims go into the id token.
 */

export interface Person {
  email: string;
  email_verified?: boolean;
  name?: string;
  groups?: string[];
}

export interface TestProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Token endpoint auth methods the discovery document lists. */
  authMethods: string[];
  close(): Promise<void>;
}

/** oidc-provider's development warnings and notices (expected here) kept out of the test output. */
let quieted = false;
function quiet(): void {
  if (quieted) return;
  quieted = true;
  for (const level of ['warn', 'info', 'log'] as const) {
    const original = console[level].bind(console);
    console[level] = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider ')) return;
      original(...args);
    };
  }
}

export async function startOidcProvider(o: { redirectUri: string; people: Record<string, Person>; authMethods?: string[] }): Promise<TestProvider> {
  quiet();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clientId = 'trailbot';
  const clientSecret = 'trailbot-oidc-client-secret-0123456789';
  const authMethods = o.authMethods ?? ['client_secret_basic', 'client_secret_post'];
  const provider = new Provider(issuer, {
    clients: [{ client_id: clientId, client_secret: clientSecret, redirect_uris: [o.redirectUri], token_endpoint_auth_method: authMethods[0] as 'client_secret_basic' }],
    clientAuthMethods: authMethods as never,
    findAccount: (_ctx, id) => {
      const p = o.people[id];
      if (!p) return undefined;
      return { accountId: id, claims: () => ({ sub: id, email: p.email, email_verified: p.email_verified ?? true, name: p.name, groups: p.groups ?? [] }) };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'] },
    // The e-mail in the id token itself (oidc-provider keeps scope claims for UserInfo unless told).
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    cookies: { keys: ['test-cookie-key-0123456789'] },
  });
  // Its own console warnings (development keys, development interactions) are expected here.
  provider.on('server_error', (_ctx: unknown, err: Error) => console.error('oidc-provider', err));
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    authMethods,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A browser enough for these tests: cookies per host (path-scoped), redirects followed by hand, forms posted. */
export class Browser {
  private readonly jar = new Map<string, Map<string, { value: string; path: string }>>();

  cookie(origin: string, name: string): string | undefined {
    return this.jar.get(new URL(origin).host)?.get(name)?.value;
  }

  setCookie(origin: string, name: string, value: string, path = '/'): void {
    const host = new URL(origin).host;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    this.jar.get(host)!.set(name, { value, path });
  }

  clear(): void {
    this.jar.clear();
  }

  /** One request, no redirect followed; cookies sent and kept. */
  async fetch(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<Response> {
    const u = new URL(url);
    const cookies = [...(this.jar.get(u.host)?.entries() ?? [])].filter(([, c]) => u.pathname.startsWith(c.path)).map(([k, c]) => `${k}=${c.value}`);
    const headers: Record<string, string> = { ...(init.headers ?? {}) };
    if (cookies.length) headers.cookie = cookies.join('; ');
    let body: string | undefined;
    if (init.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(init.form).toString();
    }
    const res = await fetch(u, { method: init.method ?? (init.form ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const at = pair!.indexOf('=');
      const name = pair!.slice(0, at).trim();
      const value = pair!.slice(at + 1).trim();
      const path = attrs.map((a) => a.trim()).find((a) => /^path=/i.test(a))?.slice(5) ?? '/';
      const gone = attrs.some((a) => /^\s*max-age=0$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || value === '';
      if (!this.jar.has(u.host)) this.jar.set(u.host, new Map());
      if (gone) this.jar.get(u.host)!.delete(name);
      else this.jar.get(u.host)!.set(name, { value, path });
    }
    return res;
  }

  /** Follows redirects (GET after 302/303) until a page answers; its final URL and response. */
  async follow(url: string, init: { method?: string; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<{ url: string; res: Response }> {
    let res = await this.fetch(url, init);
    let at = url;
    for (let i = 0; i < 20 && res.status >= 300 && res.status < 400; i++) {
      at = new URL(res.headers.get('location')!, at).href;
      res = await this.fetch(at);
    }
    return { url: at, res };
  }

  /**
   * Signs in through trailbot's /auth/login as the provider's `login` (its development pages: the
   * login form, then consent), ending on the page `next` names. The final response is returned.
   */
  async signIn(trailbot: string, login: string, next = '/auth/me'): Promise<{ url: string; res: Response }> {
    let { url, res } = await this.follow(`${trailbot}/auth/login?next=${encodeURIComponent(next)}`);
    for (let i = 0; i < 4 && new URL(url).origin !== new URL(trailbot).origin; i++) {
      const html = await res.text();
      const prompt = /name="prompt" value="([a-z]+)"/.exec(html)?.[1];
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1] ?? new URL(url).pathname;
      if (!prompt) throw new Error(`the provider's page at ${url} has no prompt form: ${html.slice(0, 300)}`);
      ({ url, res } = await this.follow(new URL(action, url).href, { form: prompt === 'login' ? { prompt, login, password: 'x' } : { prompt } }));
    }
    return { url, res };
  }
}
