import { closest } from '../../../flows/config.ts';
import { parseTime } from '../../../time.ts';

/**
 * The `/trail` command's grammar, pure (no I/O, no clock but the `now` it is given):
 *
 *   /trail <who> [24h|7d|30d|since YYYY-MM-DD|between YYYY-MM-DD and YYYY-MM-DD]
 *                [writes] [denied] [console] [region:<r>] [service:<s>] [account:<id>] [live]
 *   /trail help
 *
 * `<who>` comes first and is kept as typed (the store resolves it as `trailbot trail` does:
 * src/store/queries.ts resolvePrincipals); the other words come in any order, each at most once.
 * The window defaults to 24 hours; `between A and B` takes whole days, both included (UTC); dates
 * go through the one time grammar (src/time.ts). Whatever is wrong comes back as a `Problem` (a
 * code and the words involved): the words shown to people live in src/templates/slack/trail.
 */

export const SPANS = ['24h', '7d', '30d'] as const;
export type Span = (typeof SPANS)[number];
export const SPAN_MS: Record<Span, number> = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 };
const DAY = 86_400_000;

export type TrailWindow = { kind: 'last'; span: Span } | { kind: 'since'; from: string } | { kind: 'between'; from: string; to: string };

export interface TrailRequest {
  /** As typed (Slack's `<mailto:a@b|a@b>` markup unwrapped). */
  who: string;
  window: TrailWindow;
  /** The window resolved against `now`: ISO times, both ends included. Pages of one answer keep them. */
  since: string;
  until: string;
  writes: boolean;
  denied: boolean;
  console: boolean;
  live: boolean;
  region?: string | undefined;
  /** The event source, e.g. `s3.amazonaws.com` (`service:s3` is read as that). */
  service?: string | undefined;
  account?: string | undefined;
}

/** The longest window the store is asked about: a year keeps every answer a few index scans. */
export const MAX_WINDOW_DAYS = 366;
/** LookupEvents keeps 90 days: `live` cannot reach further back. */
export const LIVE_MAX_DAYS = 90;
/** Longer than any e-mail, ARN or name a person types; the rest would not fit a button's value. */
export const WHO_MAX = 256;

/** What was wrong with the command; `words` fill the template of that code (src/templates/slack/trail/words.yaml). */
export type Problem =
  | { code: 'empty' }
  | { code: 'who-first'; word: string }
  | { code: 'who-too-long'; max: number }
  | { code: 'unknown-word'; word: string; near?: string | undefined }
  | { code: 'twice'; what: string }
  | { code: 'two-windows'; first: string; second: string }
  | { code: 'date-missing'; after: string }
  | { code: 'and-missing'; from: string }
  | { code: 'bad-date'; word: string }
  | { code: 'future-date'; date: string }
  | { code: 'order'; from: string; to: string }
  | { code: 'too-long'; days: number; max: number }
  | { code: 'live-too-old'; date: string; max: number }
  | { code: 'bad-region'; value: string }
  | { code: 'bad-service'; value: string }
  | { code: 'bad-account'; value: string };

export type Parsed = { kind: 'help' } | { kind: 'query'; query: TrailRequest } | { kind: 'usage'; problem: Problem };

export const FLAGS = ['writes', 'denied', 'console', 'live'] as const;
type Flag = (typeof FLAGS)[number];
const KEYED = ['region', 'service', 'account'] as const;
type Keyed = (typeof KEYED)[number];
const KEYWORDS: readonly string[] = [...SPANS, 'since', 'between', ...FLAGS, ...KEYED.map((k) => `${k}:`), 'help'];

/** AWS Regions: us-east-1, eu-central-2, us-gov-west-1, cn-north-1, ap-southeast-4. */
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
/** An event source (s3.amazonaws.com, sso.amazonaws.com, signin.amazonaws.com) or its first label (s3). */
export const SERVICE = /^[a-z0-9][a-z0-9-]{0,62}(\.amazonaws\.com)?$/;
export const ACCOUNT = /^\d{12}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Slack may send an e-mail as `<mailto:a@b.example|a@b.example>` and a link as `<https://…|label>`
 * (apps that ask Slack to escape command text); the label is what the person typed.
 */
function unwrap(word: string): string {
  const m = /^<(?:mailto:)?([^|>]*)(?:\|([^>]*))?>$/.exec(word);
  if (!m) return word;
  return (m[2] ?? m[1] ?? '').trim();
}

/** Words as typed: Slack's smart quotes and non-breaking spaces are spaces too. */
function words(text: string): string[] {
  return text
    .replace(/[\u00A0\u2000-\u200B\u202F\u205F\u3000]/g, ' ')
    .trim()
    .split(/\s+/)
    .filter((w) => w !== '');
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** A calendar date (YYYY-MM-DD, UTC midnight) as epoch ms, or a `bad-date` problem. */
function day(word: string): number | Problem {
  if (!DATE.test(word)) return { code: 'bad-date', word };
  try {
    return parseTime(word, { name: 'date' });
  } catch {
    return { code: 'bad-date', word };
  }
}

const isProblem = (x: unknown): x is Problem => typeof x === 'object' && x !== null && 'code' in x;

export interface ParseOptions {
  /** What `24h`, `7d` and `30d` count back from, and what counts as the future (ms; default now). */
  now?: number;
}

/** Parses the text after `/trail`. */
export function parseTrail(text: string, { now = Date.now() }: ParseOptions = {}): Parsed {
  const all = words(text);
  if (all.length === 0) return { kind: 'usage', problem: { code: 'empty' } };
  // `help` first is a request for help whatever follows (`/trail help me`): nobody is called "help".
  if (all[0]!.toLowerCase() === 'help') return { kind: 'help' };
  const who = unwrap(all[0]!);
  const lowerWho = who.toLowerCase();
  if (who === '' || KEYWORDS.includes(lowerWho) || /^(region|service|account):/.test(lowerWho)) return { kind: 'usage', problem: { code: 'who-first', word: all[0]! } };
  if (who.length > WHO_MAX) return { kind: 'usage', problem: { code: 'who-too-long', max: WHO_MAX } };

  let window: TrailWindow | undefined;
  let windowText: string | undefined;
  const flags: Record<Flag, boolean> = { writes: false, denied: false, console: false, live: false };
  const keyed: Partial<Record<Keyed, string>> = {};
  const today = Math.floor(now / DAY) * DAY;

  const rest = all.slice(1);
  const setWindow = (w: TrailWindow, text: string): Problem | undefined => {
    if (window) return { code: 'two-windows', first: windowText!, second: text };
    window = w;
    windowText = text;
    return undefined;
  };
  for (let i = 0; i < rest.length; i++) {
    const raw = rest[i]!;
    const w = raw.toLowerCase();
    let problem: Problem | undefined;
    if ((SPANS as readonly string[]).includes(w)) {
      problem = setWindow({ kind: 'last', span: w as Span }, raw);
    } else if (w === 'since') {
      const d = rest[i + 1];
      if (d === undefined) problem = { code: 'date-missing', after: raw };
      else {
        const from = day(d);
        if (isProblem(from)) problem = from;
        else if (from > today) problem = { code: 'future-date', date: d };
        else problem = setWindow({ kind: 'since', from: d }, `since ${d}`);
        i++;
      }
    } else if (w === 'between') {
      const a = rest[i + 1];
      const and = rest[i + 2];
      const b = rest[i + 3];
      if (a === undefined) problem = { code: 'date-missing', after: raw };
      else if (and?.toLowerCase() !== 'and' || b === undefined) problem = isProblem(day(a)) ? (day(a) as Problem) : { code: 'and-missing', from: a };
      else {
        const from = day(a);
        const to = day(b);
        if (isProblem(from)) problem = from;
        else if (isProblem(to)) problem = to;
        else if (from > to) problem = { code: 'order', from: a, to: b };
        else if (from > today) problem = { code: 'future-date', date: a };
        else if (to > today) problem = { code: 'future-date', date: b };
        else problem = setWindow({ kind: 'between', from: a, to: b }, `between ${a} and ${b}`);
        i += 3;
      }
    } else if ((FLAGS as readonly string[]).includes(w)) {
      if (flags[w as Flag]) problem = { code: 'twice', what: w };
      flags[w as Flag] = true;
    } else if (/^(region|service|account):/.test(w)) {
      const key = w.slice(0, w.indexOf(':')) as Keyed;
      const value = raw.slice(key.length + 1).trim();
      if (keyed[key] !== undefined) problem = { code: 'twice', what: `${key}:` };
      else if (key === 'region') {
        if (REGION.test(value.toLowerCase())) keyed.region = value.toLowerCase();
        else problem = { code: 'bad-region', value };
      } else if (key === 'service') {
        const v = value.toLowerCase();
        if (SERVICE.test(v)) keyed.service = v.endsWith('.amazonaws.com') ? v : `${v}.amazonaws.com`;
        else problem = { code: 'bad-service', value };
      } else if (ACCOUNT.test(value)) keyed.account = value;
      else problem = { code: 'bad-account', value };
    } else {
      const near = closest(w.replace(/:.*$/, ''), [...SPANS, 'since', 'between', ...FLAGS, ...KEYED]);
      problem = { code: 'unknown-word', word: raw, near: near && KEYED.includes(near as Keyed) ? `${near}:` : (near ?? undefined) };
    }
    if (problem) return { kind: 'usage', problem };
  }

  const win: TrailWindow = window ?? { kind: 'last', span: '24h' };
  let since: number;
  let until: number;
  if (win.kind === 'last') {
    until = now;
    since = now - SPAN_MS[win.span];
  } else if (win.kind === 'since') {
    since = day(win.from) as number;
    until = now;
  } else {
    since = day(win.from) as number;
    // Whole days, the last one included: up to its final millisecond.
    until = (day(win.to) as number) + DAY - 1;
  }
  const days = Math.ceil((until - since) / DAY);
  if (days > MAX_WINDOW_DAYS) return { kind: 'usage', problem: { code: 'too-long', days, max: MAX_WINDOW_DAYS } };
  if (flags.live && since < today - LIVE_MAX_DAYS * DAY) {
    return { kind: 'usage', problem: { code: 'live-too-old', date: iso(since).slice(0, 10), max: LIVE_MAX_DAYS } };
  }
  return {
    kind: 'query',
    query: {
      who,
      window: win,
      since: iso(since),
      until: iso(until),
      ...flags,
      ...(keyed.region ? { region: keyed.region } : {}),
      ...(keyed.service ? { service: keyed.service } : {}),
      ...(keyed.account ? { account: keyed.account } : {}),
    },
  };
}
