import { createHash } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import Handlebars from 'handlebars';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { readTemplate } from '../templates/index.ts';

/**
 * The HTML pages people open (approvals, sign-in): rendered on the server from the handlebars
 * templates in src/templates/pages, which escape every value ({{…}}; `{{{…}}}` only for what trailbot
 * rendered itself). No script, no external asset: the one stylesheet is inline and allowed by its hash
 * in a strict Content-Security-Policy. Pages are never cached and never send a Referer: the URL of an
 * approval page is a credential.
 */

const env = Handlebars.create();
env.registerHelper('eq', (a: unknown, b: unknown) => a === b);
const style = readTemplate('pages/style.css');
const STYLE_HASH = createHash('sha256').update(style).digest('base64');
const layout = env.compile(readTemplate('pages/layout.hbs'), { strict: false });
const compiled = new Map<string, Handlebars.TemplateDelegate>();

function template(name: string): Handlebars.TemplateDelegate {
  let t = compiled.get(name);
  if (!t) {
    t = env.compile(readTemplate(`pages/${name}.hbs`), { strict: false });
    compiled.set(name, t);
  }
  return t;
}

/** No script at all, no frames, forms only to this site, the inline style by its hash. */
export const PAGE_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

export interface PageFrame {
  title: string;
  /** Who is signed in (the header shows it, with Sign out). */
  session?: { email: string } | undefined;
  /** Where "Sign in" goes when nobody is; none: no link. */
  signInUrl?: string | undefined;
  /** This page's path (Sign out comes back here). */
  here?: string | undefined;
  /** Reload after this many seconds (while a dry run is being read). */
  refreshSeconds?: number | undefined;
}

/** The page `name` (src/templates/pages/<name>.hbs) with `data`, in the layout. */
export function renderPage(name: string, frame: PageFrame, data: Record<string, unknown>): string {
  const body = template(name)({ ...data, signInUrl: data.signInUrl ?? frame.signInUrl });
  return layout({ ...frame, style, body });
}

/** Answers with a page, and the headers every page carries. */
export function sendPage(c: Context, status: ContentfulStatusCode, name: string, frame: PageFrame, data: Record<string, unknown>): Response {
  return c.html(renderPage(name, frame, data), status, pageHeaders());
}

export function pageHeaders(): Record<string, string> {
  return {
    'content-security-policy': PAGE_CSP,
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
  };
}

/** A notice page: a headline, a few lines, the error code when there is one. */
export function sendNotice(
  c: Context,
  status: ContentfulStatusCode,
  frame: PageFrame,
  n: { headline: string; lines?: string[]; code?: string; kind?: 'notice' | 'refused' | 'done' | 'failed'; back?: string; signInUrl?: string },
): Response {
  return sendPage(c, status, 'notice', frame, { kind: n.kind ?? 'refused', headline: n.headline, lines: n.lines ?? [], code: n.code, back: n.back, signInUrl: n.signInUrl });
}

/** Who sent the request, for the audit log: the socket's address (or `in-process`) and the user agent. */
export function clientOf(c: Context): { ip: string | null; userAgent: string | null } {
  let ip: string | null;
  if ((c.env as { incoming?: unknown } | undefined)?.incoming === undefined) ip = 'in-process';
  else {
    try {
      ip = getConnInfo(c).remote.address ?? null;
    } catch {
      ip = null;
    }
  }
  return { ip, userAgent: c.req.header('user-agent')?.slice(0, 500) ?? null };
}

/**
 * Whether a form post comes from a page of this site: an `Origin` (or, without one, a `Referer`… which
 * pages here never send) naming another site, or `Sec-Fetch-Site: cross-site`, is refused. Browsers
 * send `Origin` on every POST; curl and tests send none, and then the CSRF token alone decides.
 */
export function sameSitePost(c: Context, publicUrl: string): boolean {
  const site = c.req.header('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') return false;
  const origin = c.req.header('origin');
  if (origin === undefined) return true;
  let o: string;
  try {
    o = new URL(origin).origin;
  } catch {
    return false;
  }
  if (o === new URL(publicUrl).origin) return true;
  const host = c.req.header('host');
  if (!host) return false;
  for (const scheme of ['http', 'https']) {
    try {
      if (new URL(`${scheme}://${host}`).origin === o) return true;
    } catch {
      return false;
    }
  }
  return false;
}
