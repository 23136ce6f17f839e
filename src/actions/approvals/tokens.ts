import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The token of an approval link, `PUBLIC_URL/approvals/<token>`: `<claims>.<signature>`, both
 * base64url. The claims name the approval (the proposal row), the finding, the action and the target
 * principal (by digest) and when the link stops working; the signature is HMAC-SHA256 with a key
 * derived from APPROVAL_SECRET, checked in constant time before anything in the claims is believed.
 * "Works once" is not in the token: the approval row is, and a decision spends every link of it.
 */

export const LINK_ACTIONS = ['deactivate', 'dismiss', 'reactivate'] as const;
export type LinkAction = (typeof LINK_ACTIONS)[number];

export interface LinkClaims {
  /** The approval (row id). */
  approval: string;
  finding: string;
  action: LinkAction;
  /** The target principal's ARN (the token carries its digest). */
  principal: string;
  /** When the link stops working (ms since the epoch, kept to the second). */
  expiresAt: number;
}

/** What a link turned out to be: good (with its claims), or why not. */
export type LinkCheck =
  | { ok: true; claims: Omit<LinkClaims, 'principal'> & { principalDigest: string } }
  | { ok: false; reason: 'malformed' | 'signature' }
  | { ok: false; reason: 'expired'; claims: Omit<LinkClaims, 'principal'> & { principalDigest: string } };

const b64 = (b: Buffer | string): string => Buffer.from(b).toString('base64url');

/** A key for one purpose, so the link key is not the session key (src/http/signin.ts) nor the CSRF key. */
export function derivedKey(secret: string, purpose: string): Buffer {
  return createHmac('sha256', secret).update(`trailbot ${purpose} v1`).digest();
}

/** The digest the token binds the principal with: short, and the ARN stays out of URLs and logs. */
export function principalDigest(arn: string): string {
  return createHash('sha256').update(arn).digest('base64url').slice(0, 22);
}

const sign = (key: Buffer, body: string): Buffer => createHmac('sha256', key).update(body).digest();

export function signLink(secret: string, c: LinkClaims): string {
  const body = b64(JSON.stringify({ v: 1, id: c.approval, f: c.finding, a: c.action, p: principalDigest(c.principal), e: Math.floor(c.expiresAt / 1000) }));
  return `${body}.${b64(sign(derivedKey(secret, 'approval link'), body))}`;
}

/** At most this long: a token is a few hundred characters; anything longer is not one of ours. */
const TOKEN_MAX = 1024;

/**
 * Checks a link's token: the signature first (constant time, over digests of equal length), then
 * its shape, then its expiry. Binding to the finding, the action and the principal is checked
 * against the approval row by the caller (a signed token can still name a row of another finding).
 */
export function checkLink(secret: string, token: string, now: number = Date.now()): LinkCheck {
  if (token.length > TOKEN_MAX || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) return { ok: false, reason: 'malformed' };
  const [body, sig] = token.split('.') as [string, string];
  const expected = sign(derivedKey(secret, 'approval link'), body);
  const given = Buffer.from(sig, 'base64url');
  // Equal lengths for timingSafeEqual, whatever was sent: compare digests of both.
  const same = timingSafeEqual(createHash('sha256').update(expected).digest(), createHash('sha256').update(given).digest()) && given.length === expected.length;
  if (!same) return { ok: false, reason: 'signature' };
  let c: { v?: unknown; id?: unknown; f?: unknown; a?: unknown; p?: unknown; e?: unknown };
  try {
    c = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof c;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (
    c?.v !== 1 ||
    typeof c.id !== 'string' ||
    typeof c.f !== 'string' ||
    typeof c.p !== 'string' ||
    typeof c.e !== 'number' ||
    !Number.isInteger(c.e) ||
    !(LINK_ACTIONS as readonly unknown[]).includes(c.a)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  const expiresAt = c.e * 1000;
  const claims = { approval: c.id, finding: c.f, action: c.a as LinkAction, principalDigest: c.p, expiresAt };
  if (now >= expiresAt) return { ok: false, reason: 'expired', claims };
  return { ok: true, claims };
}

/** Whether the claims' principal digest is this ARN's (constant time). */
export function samePrincipal(digest: string, arn: string): boolean {
  const a = Buffer.from(digest);
  const b = Buffer.from(principalDigest(arn));
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The page of a link. */
export function linkUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/approvals/${token}`;
}
