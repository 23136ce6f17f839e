import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAudit } from '../actions/approvals/store.ts';
import { createLogger } from '../runtime/logger.ts';
import { openStore, type Store } from '../store/index.ts';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { Browser, startOidcProvider, type TestProvider } from '../../test/helpers/oidc.ts';
import { createSignIn, localPath, SESSION_COOKIE } from './signin.ts';

/**
 * Sign-in against a real OpenID provider (oidc-provider) on this machine: the whole code flow with
 * PKCE through a browser that keeps cookies, the session cookie, the refusals.
 */

const SECRET = 'approval-secret-0123456789-0123456789-abcdef';
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let server: Server;
let base: string;
let app: Hono = new Hono();
const providers: TestProvider[] = [];

const people = {
  ana: { email: 'Ana@Corp.Example', name: 'Ana Analyst', groups: ['security-oncall'] },
  unverified: { email: 'mallory@corp.example', email_verified: false },
};

function mount(provider: TestProvider | undefined, secret: string | undefined = SECRET): void {
  // (mount(p, undefined) would take the default: callers pass '' for no secret.)
  const signin = createSignIn({
    oidc: provider ? { issuer: provider.issuer, clientId: provider.clientId, clientSecret: provider.clientSecret } : undefined,
    secret: secret || undefined,
    publicUrl: base,
    groupsClaim: 'groups',
    db: store.db,
    log: createLogger({ level: 'silent' }),
  });
  app = new Hono();
  app.route('/auth', signin.route);
}

beforeAll(async () => {
  db = await createTestDatabase();
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  server = createServer((req, res) => getRequestListener(app.fetch)(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  providers.push(await startOidcProvider({ redirectUri: `${base}/auth/callback`, people }));
});

afterAll(async () => {
  for (const p of providers) await p.close();
  server?.close();
  await store?.close();
  await db?.drop();
});

describe('sign-in with the OpenID provider', () => {
  it('signs in with code + PKCE + state + nonce and keeps the person in a signed HttpOnly SameSite=Lax cookie', async () => {
    mount(providers[0]);
    const b = new Browser();
    const first = await b.fetch(`${base}/auth/login?next=${encodeURIComponent('/auth/me?x=1')}`);
    expect(first.status).toBe(302);
    const auth = new URL(first.headers.get('location')!);
    expect(auth.origin).toBe(providers[0]!.issuer);
    expect(auth.searchParams.get('redirect_uri')).toBe(`${base}/auth/callback`);
    expect(auth.searchParams.get('scope')).toBe('openid email profile');
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('response_type')).toBe('code');
    for (const p of ['state', 'nonce', 'code_challenge']) expect(auth.searchParams.get(p)).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    b.clear();

    const { url, res } = await b.signIn(base, 'ana', '/auth/me?x=1');
    expect(url).toBe(`${base}/auth/me?x=1`);
    const page = await res.text();
    expect(page).toContain('ana@corp.example');
    expect(page).toContain('security-oncall');
    expect(b.cookie(base, SESSION_COOKIE)).toBeTruthy();
    const audit = await listAudit(store.db, { action: 'signed-in' });
    expect(audit[0]).toMatchObject({ actor: 'ana@corp.example', outcome: 'ok' });
  });

  it('sets the session cookie HttpOnly, SameSite=Lax, on /', async () => {
    mount(providers[0]);
    const b = new Browser();
    // Walk the flow by hand to see the callback's Set-Cookie.
    let res = await b.fetch(`${base}/auth/login`);
    let at = res.headers.get('location')!;
    let setCookie = '';
    for (let i = 0; i < 30; i++) {
      if (res.status >= 300 && res.status < 400) {
        at = new URL(res.headers.get('location')!, at).href;
        res = await b.fetch(at);
      } else if (new URL(at).origin === providers[0]!.issuer) {
        const html = await res.text();
        const prompt = /name="prompt" value="([a-z]+)"/.exec(html)![1]!;
        res = await b.fetch(new URL(/<form[^>]*action="([^"]+)"/.exec(html)![1]!, at).href, { form: prompt === 'login' ? { prompt, login: 'ana', password: 'x' } : { prompt } });
      } else break;
      if (at.startsWith(`${base}/auth/callback`)) {
        setCookie = res.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? '';
        break;
      }
    }
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).toMatch(/Path=\//i);
    expect(setCookie).not.toMatch(/Secure/i); // PUBLIC_URL is http here; https adds Secure
  });

  it('refuses an e-mail the provider says is not verified, and audits the refusal', async () => {
    mount(providers[0]);
    const b = new Browser();
    const { url, res } = await b.signIn(base, 'unverified');
    expect(url).toContain('/auth/callback');
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('not a verified e-mail address');
    expect(b.cookie(base, SESSION_COOKIE)).toBeUndefined();
    const audit = await listAudit(store.db, { action: 'sign-in-refused' });
    expect(audit[0]).toMatchObject({ actor: 'mallory@corp.example', outcome: 'refused', detail: { reason: 'email-not-verified' } });
  });

  it('authenticates with client_secret_post when that is all the provider allows', async () => {
    const postOnly = await startOidcProvider({ redirectUri: `${base}/auth/callback`, people, authMethods: ['client_secret_post'] });
    providers.push(postOnly);
    mount(postOnly);
    const { res } = await new Browser().signIn(base, 'ana');
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('ana@corp.example');
  });

  it('refuses a callback whose state is not the one it sent (another browser’s sign-in), and one with no sign-in started', async () => {
    mount(providers[0]);
    const victim = new Browser();
    const attacker = new Browser();
    // The attacker starts a sign-in and gets a code for their own account…
    let { url } = await attacker.follow(`${base}/auth/login`);
    let res: Response;
    for (;;) {
      res = await attacker.fetch(url);
      if (res.status >= 300 && res.status < 400) {
        const next = new URL(res.headers.get('location')!, url).href;
        if (next.startsWith(`${base}/auth/callback`)) {
          url = next;
          break;
        }
        url = next;
        continue;
      }
      const html = await res.text();
      const prompt = /name="prompt" value="([a-z]+)"/.exec(html)![1]!;
      const r = await attacker.fetch(new URL(/<form[^>]*action="([^"]+)"/.exec(html)![1]!, url).href, { form: prompt === 'login' ? { prompt, login: 'ana', password: 'x' } : { prompt } });
      url = new URL(r.headers.get('location')!, url).href;
      if (url.startsWith(`${base}/auth/callback`)) break;
    }
    // …and makes the victim's browser open the callback: no sign-in was started there.
    const none = await victim.fetch(url);
    expect(none.status).toBe(400);
    expect(victim.cookie(base, SESSION_COOKIE)).toBeUndefined();
    // The victim had started one of their own: its state does not match the attacker's code.
    await victim.fetch(`${base}/auth/login`);
    const mismatch = await victim.fetch(url);
    expect(mismatch.status).toBe(400);
    expect(await mismatch.text()).toContain('Sign-in did not complete');
    expect(victim.cookie(base, SESSION_COOKIE)).toBeUndefined();
  });

  it('comes back only to a local path', () => {
    expect(localPath('/approvals/abc.def?x=1')).toBe('/approvals/abc.def?x=1');
    for (const bad of ['https://evil.example/', '//evil.example/x', '/\\evil.example', 'javascript:alert(1)', 'evil', '', undefined, '/\u0000x']) expect(localPath(bad), String(bad)).toBe('/auth/me');
  });

  it('comes back only to a local path after the URL is normalised too: /..//host, /.//host and their encoded forms', async () => {
    // new URL('/..//evil.example', base).pathname is '//evil.example': a Location a browser reads as another host.
    for (const bad of ['/..//evil.example/x', '/.//evil.example', '/a/..//evil.example', '/%2e%2e//evil.example', '/%2E//evil.example', '/a/%2e%2e//evil.example?x=1']) {
      const p = localPath(bad);
      expect(p, bad).toMatch(/^\/(?![/\\])/);
      expect(new URL(p, 'https://trailbot.example').origin, bad).toBe('https://trailbot.example');
    }
    // Through a route that redirects to it: sign-out's next.
    mount(providers[0]);
    const out = await new Browser().fetch(`${base}/auth/logout`, { form: { next: '/..//evil.example/x' }, headers: { origin: base } });
    expect(out.status).toBe(303);
    expect(new URL(out.headers.get('location')!, base).origin).toBe(base);
  });

  it('ignores a session cookie it did not sign, and signs out', async () => {
    mount(providers[0]);
    const b = new Browser();
    await b.signIn(base, 'ana');
    const good = b.cookie(base, SESSION_COOKIE)!;
    const [body, sig] = good.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), email: 'boss@corp.example' })).toString('base64url');
    b.setCookie(base, SESSION_COOKIE, `${forged}.${sig}`);
    expect(await (await b.fetch(`${base}/auth/me`)).text()).toContain('Nobody is signed in');
    b.setCookie(base, SESSION_COOKIE, good);
    expect(await (await b.fetch(`${base}/auth/me`)).text()).toContain('ana@corp.example');
    // A page of another site cannot sign someone out; this one can.
    expect((await b.fetch(`${base}/auth/logout`, { form: {}, headers: { origin: 'https://evil.example' } })).status).toBe(403);
    const out = await b.fetch(`${base}/auth/logout`, { form: { next: '/auth/me' }, headers: { origin: base } });
    expect(out.status).toBe(303);
    expect(b.cookie(base, SESSION_COOKIE)).toBeUndefined();
    expect((await listAudit(store.db, { action: 'signed-out' }))[0]).toMatchObject({ actor: 'ana@corp.example' });
  });

  it('sign-out ends the session on the server: a copy of the cookie kept elsewhere (stolen) stops working too, until then it works', async () => {
    mount(providers[0]);
    const b = new Browser();
    await b.signIn(base, 'ana');
    const stolen = new Browser();
    stolen.setCookie(base, SESSION_COOKIE, b.cookie(base, SESSION_COOKIE)!);
    expect(await (await stolen.fetch(`${base}/auth/me`)).text()).toContain('ana@corp.example');
    // Another session of the same person is not touched by this sign-out.
    const other = new Browser();
    await other.signIn(base, 'ana');
    expect((await b.fetch(`${base}/auth/logout`, { form: {}, headers: { origin: base } })).status).toBe(303);
    expect(b.cookie(base, SESSION_COOKIE)).toBeUndefined();
    const page = await (await stolen.fetch(`${base}/auth/me`)).text();
    expect(page).toContain('Nobody is signed in');
    expect(page).not.toContain('ana@corp.example');
    expect(await (await other.fetch(`${base}/auth/me`)).text()).toContain('ana@corp.example');
    // The stolen copy cannot sign out anyone either (nobody is signed in with it: nothing audited).
    const outs = (await listAudit(store.db, { action: 'signed-out' })).length;
    expect((await stolen.fetch(`${base}/auth/logout`, { form: {}, headers: { origin: base } })).status).toBe(303);
    expect((await listAudit(store.db, { action: 'signed-out' })).length).toBe(outs);
    // Kept until the session would have ended anyway (8 h), then removed at a later sign-out.
    const rows = (await store.db.query<{ left: number }>(`SELECT extract(epoch FROM expires_at - ended_at) / 3600 AS left FROM ended_sessions ORDER BY ended_at DESC LIMIT 1`)).rows;
    expect(Number(rows[0]!.left)).toBeGreaterThan(7.9);
    expect(Number(rows[0]!.left)).toBeLessThanOrEqual(8);
    await store.db.query(`UPDATE ended_sessions SET expires_at = now() - interval '1 second'`);
    await other.fetch(`${base}/auth/logout`, { form: {}, headers: { origin: base } });
    expect((await store.db.query(`SELECT 1 FROM ended_sessions`)).rows).toHaveLength(1);
  });

  it('coalesces refused sign-ins of nobody: one audit row per address and kind of reason a minute, with how many came', async () => {
    mount(providers[0]);
    const noFlow = async () => (await listAudit(store.db, { action: 'sign-in-refused', limit: 1000 })).filter((r) => (r.detail as { reason: string }).reason === 'no-flow');
    const before = await noFlow();
    for (let i = 0; i < 25; i++) {
      const res = await new Browser().fetch(`${base}/auth/callback?code=x${i}&state=junk${i}&error=e${i}`);
      expect(res.status).toBe(400);
    }
    const after = await noFlow();
    // At most one new row (another when the minute turned meanwhile; none when this minute had one), counting all 25.
    expect(after.length - before.length).toBeLessThanOrEqual(2);
    expect(after.reduce((n, r) => n + r.count, 0) - before.reduce((n, r) => n + r.count, 0)).toBe(25);
    expect(after[0]).toMatchObject({ actor: null, ip: '127.0.0.1', outcome: 'refused' });
    expect(after[0]!.count).toBeGreaterThan(1);
    expect((after[0]!.detail as { coalesced: { by: string } }).coalesced.by).toBe('127.0.0.1');
  });

  it('without OIDC settings (or APPROVAL_SECRET), says what to set', async () => {
    mount(undefined);
    const res = await new Browser().fetch(`${base}/auth/login?next=/x`);
    expect(res.status).toBe(404);
    const text = await res.text();
    expect(text).toContain('OIDC_ISSUER');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    mount(providers[0], '');
    expect(await (await new Browser().fetch(`${base}/auth/login`)).text()).toContain('APPROVAL_SECRET');
  });
});
