import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Slack's v0 request signing (api.slack.com/authentication/verifying-requests-from-slack):
 * `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret, "v0:" + X-Slack-Request-Timestamp + ":" + raw body)>`.
 * The receiver (src/http/slack-events.ts) verifies with it; the stand-in signs what it sends with it.
 * Bytes throughout: the HMAC is over the body as received, never over a re-encoded parse.
 */

/** Requests older, or further in the future, than this are refused (Slack's own rule is 5 minutes; Bolt ignores the future). */
export const SLACK_TIMESTAMP_TOLERANCE_S = 5 * 60;

/** `v0=<hex>` for a request body sent at `timestamp` (seconds since the epoch). */
export function slackSignature(secret: string, timestamp: number | string, body: Uint8Array | string): string {
  const mac = createHmac('sha256', secret);
  mac.update(`v0:${timestamp}:`);
  mac.update(body);
  return `v0=${mac.digest('hex')}`;
}

/** The headers Slack sends with a request it signed. */
export function slackSignedHeaders(secret: string, body: Uint8Array | string, timestamp: number = Math.floor(Date.now() / 1000)): Record<string, string> {
  return { 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': slackSignature(secret, timestamp, body) };
}

export type SignatureVerdict = { ok: true } | { ok: false; why: string };

/**
 * Checks a request's signature: the timestamp must be a whole number of seconds within
 * `toleranceS` of now in either direction (a replay is refused once that window passes; a future
 * timestamp would stretch it), and the signature must match in constant time. `why` says what
 * failed, for the log; it never contains the signature or the secret.
 */
export function verifySlackSignature(args: {
  secret: string;
  body: Uint8Array;
  timestamp: string | undefined;
  signature: string | undefined;
  nowMs: number;
  toleranceS?: number;
}): SignatureVerdict {
  const { secret, body, timestamp, signature, nowMs, toleranceS = SLACK_TIMESTAMP_TOLERANCE_S } = args;
  if (timestamp === undefined) return { ok: false, why: 'no X-Slack-Request-Timestamp header' };
  if (signature === undefined) return { ok: false, why: 'no X-Slack-Signature header' };
  if (!/^\d{1,12}$/.test(timestamp.trim())) return { ok: false, why: 'X-Slack-Request-Timestamp is not a number of seconds' };
  const ts = Number(timestamp.trim());
  const skew = ts - Math.floor(nowMs / 1000);
  if (skew < -toleranceS) return { ok: false, why: `the request is ${-skew} s old (more than ${toleranceS} s: a replay, or this host's clock is wrong)` };
  if (skew > toleranceS) return { ok: false, why: `the request is dated ${skew} s in the future (more than ${toleranceS} s: this host's clock is wrong, or a forged timestamp)` };
  const m = /^v0=([0-9a-f]{64})$/i.exec(signature.trim());
  if (!m) return { ok: false, why: 'X-Slack-Signature is not v0=<64 hex digits>' };
  const got = Buffer.from(m[1]!.toLowerCase(), 'hex');
  const want = Buffer.from(slackSignature(secret, timestamp.trim(), body).slice(3), 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want)) return { ok: false, why: 'the signature does not match the body (wrong SLACK_SIGNING_SECRET, or the body was altered)' };
  return { ok: true };
}
