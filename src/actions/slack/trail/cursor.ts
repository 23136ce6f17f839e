import { createHash } from 'node:crypto';
import { z } from 'zod';
import { trailQuerySchema } from '../../../runtime/jobs.ts';
import { MAX_WINDOW_DAYS, SPAN_MS, type TrailRequest } from './grammar.ts';
import type { PagePosition } from './query.ts';

/**
 * The "More" button's value: the question and where the last page ended, compact enough for
 * Slack's 2,000 characters: `t1.<base64url JSON>.<check>`. The check (12 hex characters of
 * SHA-256 over the rest) catches a value that was cut, edited or made up by hand; it is not a
 * secret, and need not be: a forged value can only ask what its clicker may ask with `/trail`
 * (access is checked on every click), and is then checked like a typed command (the job schema),
 * its window included: the times it carries must be the ones its words give (`since 2024-08-01`
 * starts on that day, `7d` spans 7 days, `between A and B` is those whole days), at most 366 days.
 */

export const CURSOR_MAX = 2000;
const PREFIX = 't1';

export interface Cursor {
  query: TrailRequest;
  /** The page this button asks for (2 for the first "More"). */
  page: number;
  /** Calls shown on the pages before it. */
  offset: number;
  after: PagePosition;
}

/** Short keys: the value travels in every message and every click. */
const compact = z.strictObject({
  w: z.string(),
  k: z.string(),
  s: z.number().int(),
  u: z.number().int(),
  f: z.number().int().min(0).max(15),
  r: z.string().optional(),
  v: z.string().optional(),
  a: z.string().optional(),
  p: z.number().int().min(2).max(10_000),
  o: z.number().int().min(1).max(10_000_000),
  t: z.number().int(),
  e: z.string(),
});

const FLAGS = ['writes', 'denied', 'console', 'live'] as const;

function check(body: string): string {
  return createHash('sha256').update(`${PREFIX}.${body}`).digest('hex').slice(0, 12);
}

/** `kind` of the window in one word: `24h`, `7d`, `30d`, `s:2024-08-01`, `b:2024-08-01:2024-08-03`. */
function windowWord(q: TrailRequest): string {
  const w = q.window;
  return w.kind === 'last' ? w.span : w.kind === 'since' ? `s:${w.from}` : `b:${w.from}:${w.to}`;
}

function parseWindow(word: string): TrailRequest['window'] | undefined {
  if (word === '24h' || word === '7d' || word === '30d') return { kind: 'last', span: word };
  const s = /^s:(\d{4}-\d{2}-\d{2})$/.exec(word);
  if (s) return { kind: 'since', from: s[1]! };
  const b = /^b:(\d{4}-\d{2}-\d{2}):(\d{4}-\d{2}-\d{2})$/.exec(word);
  if (b) return { kind: 'between', from: b[1]!, to: b[2]! };
  return undefined;
}

export function encodeCursor(c: Cursor): string {
  const q = c.query;
  const body = Buffer.from(
    JSON.stringify({
      w: q.who,
      k: windowWord(q),
      s: Date.parse(q.since),
      u: Date.parse(q.until),
      f: FLAGS.reduce((n, flag, i) => n | (q[flag] ? 1 << i : 0), 0),
      ...(q.region ? { r: q.region } : {}),
      ...(q.service ? { v: q.service } : {}),
      ...(q.account ? { a: q.account } : {}),
      p: c.page,
      o: c.offset,
      t: Date.parse(c.after.time) / 1000,
      e: c.after.eventId,
    }),
  ).toString('base64url');
  const value = `${PREFIX}.${body}.${check(body)}`;
  if (value.length > CURSOR_MAX) throw new Error(`a trail cursor of ${value.length} characters does not fit a button (${CURSOR_MAX})`);
  return value;
}

/** The cursor a button carried, or undefined when the value is not one this code wrote (cut, edited, made up). */
export function decodeCursor(value: unknown): Cursor | undefined {
  try {
    return decode(value);
  } catch {
    // A number no Date can hold, and the like: not a value this code wrote.
    return undefined;
  }
}

function decode(value: unknown): Cursor | undefined {
  if (typeof value !== 'string' || value.length > CURSOR_MAX) return undefined;
  const m = /^t1\.([A-Za-z0-9_-]+)\.([0-9a-f]{12})$/.exec(value);
  if (!m || check(m[1]!) !== m[2]) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(m[1]!, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const c = compact.safeParse(raw);
  if (!c.success) return undefined;
  const x = c.data;
  const window = parseWindow(x.k);
  if (!window || !Number.isFinite(x.s) || !Number.isFinite(x.u) || x.s > x.u) return undefined;
  if (!windowHolds(window, x.s, x.u)) return undefined;
  const time = new Date(x.t * 1000);
  if (Number.isNaN(time.getTime())) return undefined;
  const query = trailQuerySchema.safeParse({
    who: x.w,
    window,
    since: new Date(x.s).toISOString(),
    until: new Date(x.u).toISOString(),
    writes: Boolean(x.f & 1),
    denied: Boolean(x.f & 2),
    console: Boolean(x.f & 4),
    live: Boolean(x.f & 8),
    ...(x.r !== undefined ? { region: x.r } : {}),
    ...(x.v !== undefined ? { service: x.v } : {}),
    ...(x.a !== undefined ? { account: x.a } : {}),
  });
  if (!query.success) return undefined;
  const eventId = x.e;
  if (eventId === '' || eventId.length > 256) return undefined;
  return { query: query.data, page: x.p, offset: x.o, after: { time: time.toISOString().replace(/\.000Z$/, 'Z'), eventId } };
}

const DAY = 86_400_000;

/** Whether since/until (ms) are what the window's words give (grammar.ts), within MAX_WINDOW_DAYS. */
function windowHolds(w: TrailRequest['window'], since: number, until: number): boolean {
  if (Math.ceil((until - since) / DAY) > MAX_WINDOW_DAYS) return false;
  if (w.kind === 'last') return until - since === SPAN_MS[w.span];
  if (since !== Date.parse(`${w.from}T00:00:00Z`)) return false;
  return w.kind === 'since' || until === Date.parse(`${w.to}T00:00:00Z`) + DAY - 1;
}
