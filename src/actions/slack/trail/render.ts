import { parse } from 'yaml';
import type { TrailEvent } from '../../../events/model.ts';
import { resourceLabel, summarize } from '../../../events/summary.ts';
import { slackEscape } from '../../../flows/render.ts';
import type { SlackBlock, SlackMessage } from '../../../integrations/slack/port.ts';
import type { Principal } from '../../../store/index.ts';
import { compileText, readTemplate, textEnv } from '../../../templates/index.ts';
import type { AccessVerdict } from './access.ts';
import { type Cursor, encodeCursor } from './cursor.ts';
import { LIVE_MAX_DAYS, MAX_WINDOW_DAYS, type Problem, type TrailRequest } from './grammar.ts';
import type { TicketLink, TrailCounts } from './query.ts';

/**
 * `/trail`'s messages as Block Kit, built as data from the templates in src/templates/slack/trail
 * and kept within Slack's limits (LIMITS; `blockProblems` checks a message against them): a header
 * naming the person, who it matched, the counts, the most frequent actions and resources, a page
 * of calls as plain-language lines newest first, links to Jira tickets and to the dashboard, and a
 * "More" button. Everything trailbot did not write itself is escaped for mrkdwn (& < >), so a
 * resource named `<!channel>` stays text. Pure: no I/O.
 */

export const LIMITS = {
  blocks: 50,
  sectionText: 3000,
  headerText: 150,
  contextText: 3000,
  fieldText: 2000,
  fields: 10,
  buttonText: 75,
  buttonValue: 2000,
  blockId: 255,
  actionId: 255,
} as const;

/** Calls on one page: about 20 sentences fill two sections, far from the 50-block limit. */
export const PAGE_SIZE = 20;
/** Principals listed by name; the rest are counted. */
export const PRINCIPALS_SHOWN = 10;
/**
 * The text of all blocks together: Slack refuses a message whose blocks hold more than about
 * 13,200 characters although no single limit is passed (msg_blocks_too_long, slackapi/bolt-js#2509).
 * Calls that do not fit go to the next page.
 */
export const BLOCKS_TEXT_MAX = 12_000;
/** One call's line at most: a sentence with a monstrous resource name must not crowd the others out. */
const LINE_MAX = 700;

export const MORE_ACTION = 'trail-more';
/** The alerts' "Trail of <actor>" button (S3's finding messages): value = who. */
export const RUN_ACTION = 'trail-run';

interface Words {
  windows: Record<'24h' | '7d' | '30d' | 'since' | 'between', string>;
  filters: Record<'writes' | 'denied' | 'console' | 'region' | 'service' | 'account', string>;
  problems: Record<Problem['code'], string>;
  refusals: Record<Extract<AccessVerdict, { allowed: false }>['why'], string>;
  notices: Record<'damaged' | 'unavailable', string>;
  errors: Record<string, string>;
  looking: string;
  failed: string;
  header: string;
  fallback: string;
  more: string;
  calls: string;
  'more-principals': string;
  open: string;
}

const DIR = 'slack/trail';
const env = textEnv();
env.registerHelper('plural', (n: unknown, one: string, many: string) => (Number(String(n).replace(/,/g, '')) === 1 ? one : many));
const words = parse(readTemplate(`${DIR}/words.yaml`)) as Words;
const c = (source: string) => compileText(env, source);
const file = (name: string) => c(readTemplate(`${DIR}/${name}.hbs`));
const t = {
  usage: file('usage'),
  help: file('help'),
  stats: file('stats'),
  principals: file('principals'),
  tops: file('tops'),
  live: file('live'),
  links: file('links'),
  empty: file('empty'),
  windows: Object.fromEntries(Object.entries(words.windows).map(([k, v]) => [k, c(v)])) as Record<keyof Words['windows'], HandlebarsTemplateDelegate>,
  filters: Object.fromEntries(Object.entries(words.filters).map(([k, v]) => [k, c(v)])) as Record<keyof Words['filters'], HandlebarsTemplateDelegate>,
  problems: Object.fromEntries(Object.entries(words.problems).map(([k, v]) => [k, c(v)])) as Record<Problem['code'], HandlebarsTemplateDelegate>,
  looking: c(words.looking),
  failed: c(words.failed),
  header: c(words.header),
  fallback: c(words.fallback),
  more: c(words.more),
  calls: c(words.calls),
  morePrincipals: c(words['more-principals']),
};
type HandlebarsTemplateDelegate = (context: unknown) => string;

const esc = (s: string | null | undefined): string => slackEscape(s ?? '');
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** At most `max` characters, cut at a word when one is near, with an ellipsis. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  const space = cut.search(/\s\S*$/);
  if (space > max * 0.7) cut = cut.slice(0, space);
  // Never leave half an escape (&amp;) or half a link at the end.
  cut = cut.replace(/&[a-z]{0,4}$/, '').replace(/<[^>]*$/, '');
  return `${cut.trimEnd()}…`;
}

/** A URL inside `<url|label>`: nothing in it may close the link early. */
function linkUrl(u: string): string {
  return u.replace(/&/g, '&amp;').replace(/\|/g, '%7C').replace(/</g, '%3C').replace(/>/g, '%3E').replace(/\s/g, '%20');
}

/** `in the last 24 hours`, `since 2024-08-01`, `between 2024-08-01 and 2024-08-03`: each with its preposition. */
export function windowWords(q: Pick<TrailRequest, 'window'>): string {
  const w = q.window;
  return w.kind === 'last' ? t.windows[w.span]({}) : w.kind === 'since' ? t.windows.since({ from: w.from }) : t.windows.between({ from: w.from, to: w.to });
}

/** The filters in words: `changes only, in eu-west-1, service s3.amazonaws.com`. */
export function filterWords(q: TrailRequest): string {
  const out: string[] = [];
  if (q.writes) out.push(t.filters.writes({}));
  if (q.denied) out.push(t.filters.denied({}));
  if (q.console) out.push(t.filters.console({}));
  if (q.region) out.push(t.filters.region({ value: esc(q.region) }));
  if (q.service) out.push(t.filters.service({ value: esc(q.service) }));
  if (q.account) out.push(t.filters.account({ value: esc(q.account) }));
  return out.join(', ');
}

const span = (q: TrailRequest): string => `${q.since.slice(0, 16).replace('T', ' ')} – ${q.until.slice(0, 16).replace('T', ' ')} UTC`;

let blockSeq = 0;
/** Block ids new on every message (Slack keeps a replaced message's input state by block id). */
function ids(page: number): () => string {
  const stamp = `${Date.now().toString(36)}${(blockSeq++ % 1296).toString(36)}`;
  let n = 0;
  return () => `trail-p${page}-${stamp}-${n++}`;
}

const mrkdwn = (text: string) => ({ type: 'mrkdwn', text });
const section = (id: string, text: string): SlackBlock => ({ type: 'section', block_id: id, text: mrkdwn(clip(text, LIMITS.sectionText)) });

/** One message: text plus the same words as a single section (Slack shows `text` in notifications). */
function simple(text: string): SlackMessage {
  const id = ids(0);
  return { text: clip(text, 3000), blocks: [section(id(), text)] };
}

export function renderUsage(problem: Problem): SlackMessage {
  const p = Object.fromEntries(Object.entries(problem).map(([k, v]) => [k, typeof v === 'string' ? esc(v) : v]));
  return simple(t.usage({ problem: t.problems[problem.code](p) }));
}

export function renderHelp(): SlackMessage {
  return simple(t.help({ maxDays: MAX_WINDOW_DAYS, liveDays: LIVE_MAX_DAYS }));
}

export function renderRefusal(why: Extract<AccessVerdict, { allowed: false }>['why']): SlackMessage {
  return simple(c(words.refusals[why])({}));
}

export function renderNotice(kind: keyof Words['notices']): SlackMessage {
  return simple(c(words.notices[kind])({}));
}

/** The acknowledgement, at once: "Looking up alana@corp in the last 24 hours…". */
export function renderLooking(q: TrailRequest): SlackMessage {
  return simple(t.looking({ who: esc(q.who), window: windowWords(q), filters: filterWords(q), live: q.live }));
}

/** What the person reads when the answer could not be made: a reason in words and the code, never a stack. */
export function renderFailure(q: Pick<TrailRequest, 'who'>, code: string): SlackMessage {
  const reason = c(words.errors[code] ?? words.errors.default!)({});
  return simple(t.failed({ who: esc(q.who), reason, code: esc(code) }));
}

export interface EmptyAnswer {
  query: TrailRequest;
  /** How many principals the store matched (none had calls in the window). */
  principals: number;
  /** Whether CloudTrail was asked live (a lookup source is configured), and what it said. */
  liveAsked: boolean;
  liveNote?: string | undefined;
}

/** "No activity found for <who> in <window> (searched …)". */
export function renderEmpty(a: EmptyAnswer): SlackMessage {
  return simple(
    t.empty({
      who: esc(a.query.who),
      window: windowWords(a.query),
      filters: filterWords(a.query),
      principals: a.principals,
      liveAsked: a.liveAsked,
      liveNote: esc(a.liveNote?.replace(/\.\s*$/, '')),
    }),
  );
}

export interface TrailAnswer {
  query: TrailRequest;
  principals: readonly Principal[];
  counts: TrailCounts;
  /** This page's calls, newest first (those that do not fit go to the next page). */
  events: readonly TrailEvent[];
  /** Whether more calls follow these. */
  more: boolean;
  page: number;
  /** Calls shown on the pages before this one. */
  offset: number;
  /** Where the calls came from: the store, or CloudTrail live when the store could not say who they were. */
  source: 'store' | 'live';
  /** Asked CloudTrail live for this answer: what it said (partial or complete), and what was new. */
  live?: { note: string; stored: number } | undefined;
  tickets: readonly TicketLink[];
  /** The same question on the dashboard's Events page (PUBLIC_URL, answer.ts dashboardUrl). */
  dashboardUrl: string;
}

/** Room for each part of the head of an answer, so the calls always keep a good part of BLOCKS_TEXT_MAX. */
const ROOM = { principals: 2500, tops: 1500, live: 1000, links: 1500 } as const;

function principalsText(principals: readonly Principal[]): string {
  const line = (p: Principal) =>
    t.principals({
      one: principals.length === 1,
      count: fmt(principals.length),
      principals: [
        {
          name: esc(clip(p.name ?? p.actorKey, 200)),
          type: esc(p.type ?? 'unknown type'),
          account: esc(p.account),
          arn: p.arn && p.arn !== p.name ? esc(clip(p.arn, 300)) : '',
          events: fmt(p.events),
          lastSeen: esc(p.lastSeen.slice(0, 16).replace('T', ' ')),
        },
      ],
    });
  // The template's heading line, then one line per principal while they fit; the rest are counted.
  const [heading, ...first] = line(principals[0]!).trimEnd().split('\n');
  let text = heading!;
  let shown = 0;
  for (const p of principals.slice(0, PRINCIPALS_SHOWN)) {
    const l = shown === 0 ? first.join('\n') : line(p).trimEnd().split('\n').slice(1).join('\n');
    if (text.length + 1 + l.length > ROOM.principals - 40) break;
    text += `\n${l}`;
    shown++;
  }
  if (principals.length > shown) text += `\n${t.morePrincipals({ count: fmt(principals.length - shown) })}`;
  return text;
}

function topsText(what: string, items: { label: string; count: number }[]): string {
  return clip(t.tops({ what, items: items.map((i) => ({ label: esc(clip(i.label, 250)), count: fmt(i.count) })) }).trimEnd(), ROOM.tops);
}

/** Lines packed into sections of at most 3,000 characters each. */
function packLines(lines: string[], max: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const line of lines) {
    const l = clip(line, max);
    if (cur && cur.length + 1 + l.length > max) {
      out.push(cur);
      cur = '';
    }
    cur = cur ? `${cur}\n${l}` : l;
  }
  if (cur) out.push(cur);
  return out;
}

/** The text Slack counts in blocks (every text object's characters), for BLOCKS_TEXT_MAX. */
export function blocksText(blocks: readonly SlackBlock[]): number {
  let n = 0;
  const add = (t: unknown) => {
    if (t && typeof t === 'object' && typeof (t as { text?: unknown }).text === 'string') n += (t as { text: string }).text.length;
  };
  for (const b of blocks) {
    add(b.text);
    for (const f of (b.fields as unknown[] | undefined) ?? []) add(f);
    for (const e of (b.elements as { type?: string; text?: unknown }[] | undefined) ?? []) add(e.type === 'button' ? e.text : e);
  }
  return n;
}

export interface RenderedAnswer {
  message: SlackMessage;
  /** Calls on this page (fewer than given when the rest did not fit). */
  shown: number;
  /** The next page's cursor (the "More" button's value), when calls follow. */
  next: Cursor | undefined;
}

/** The answer: a page of someone's activity. Page n > 1 replaces page n − 1 (paging, not scrolling). */
export function renderAnswer(a: TrailAnswer): RenderedAnswer {
  const id = ids(a.page);
  const q = a.query;
  const window = windowWords(q);
  const who = esc(clip(q.who, 120));
  const head: SlackBlock[] = [];
  head.push({ type: 'header', block_id: id(), text: { type: 'plain_text', text: clip(t.header({ who: clip(q.who, 120) }), LIMITS.headerText), emoji: false } });
  if (a.principals.length > 0) head.push(section(id(), principalsText(a.principals)));
  head.push(
    section(
      id(),
      t.stats({ total: fmt(a.counts.total), writes: fmt(a.counts.writes), denied: fmt(a.counts.denied), console: fmt(a.counts.console), window, span: span(q), filters: filterWords(q) }).trim(),
    ),
  );
  if (a.counts.total > 0) {
    const actions = a.counts.topActions.map((x) => ({ label: x.service ? `${x.action} (${x.service.replace(/\.amazonaws\.com$/, '')})` : x.action, count: x.count }));
    const resources = a.counts.topResources.map((x) => ({ label: x.type ? `${resourceLabel(x.type)} ${x.id}` : x.id, count: x.count }));
    head.push({ type: 'section', block_id: id(), fields: [mrkdwn(topsText('actions', actions)), mrkdwn(topsText('resources', resources))] });
  }
  if (a.live) head.push({ type: 'context', block_id: id(), elements: [mrkdwn(clip(t.live({ note: esc(a.live.note), stored: a.live.stored > 0 ? fmt(a.live.stored) : '' }).trim(), ROOM.live))] });
  const tail: SlackBlock[] = [
    { type: 'divider', block_id: id() },
    {
      type: 'context',
      block_id: id(),
      elements: [mrkdwn(clip(t.links({ tickets: a.tickets.map((x) => ({ url: linkUrl(x.url), key: esc(x.key), title: esc(clip(x.title, 150)), status: esc(x.status) })), dashboardUrl: linkUrl(a.dashboardUrl), open: words.open }).trim(), ROOM.links))],
    },
  ];

  // The calls: as many of the page's as fit the text Slack takes in one message; the others go to the next page.
  const total = Math.max(a.counts.total, a.offset + a.events.length);
  const moreText = (from: number) => clip(t.more({ from: fmt(from), to: fmt(Math.min(from + PAGE_SIZE - 1, Math.max(total, from))), total: fmt(Math.max(total, from)) }), LIMITS.buttonText);
  let budget = BLOCKS_TEXT_MAX - blocksText(head) - blocksText(tail) - moreText(total).length - 2;
  const heading = (shown: number) => t.calls({ from: fmt(a.offset + 1), to: fmt(a.offset + shown), total: fmt(total), live: a.source === 'live' });
  budget -= heading(a.events.length).length + 1;
  const lines: string[] = [];
  for (const e of a.events) {
    const line = clip(`• ${esc(summarize(e))}`, LINE_MAX);
    if (line.length + 1 > budget && lines.length > 0) break;
    budget -= line.length + 1;
    lines.push(line);
  }
  const shown = lines.length;
  const calls: SlackBlock[] = [];
  if (shown > 0) {
    calls.push({ type: 'divider', block_id: id() });
    // Room for the blocks around the calls (header, matched, stats, tops, live, divider, links, button).
    for (const text of packLines([heading(shown), ...lines], LIMITS.sectionText).slice(0, LIMITS.blocks - 10)) calls.push(section(id(), text));
  }
  const lastShown = a.events[shown - 1];
  const next: Cursor | undefined =
    (a.more || shown < a.events.length) && lastShown?.time ? { query: q, page: a.page + 1, offset: a.offset + shown, after: { time: lastShown.time, eventId: lastShown.eventId } } : undefined;
  const blocks = [...head, ...calls, ...tail];
  if (next) {
    blocks.push({
      type: 'actions',
      block_id: id(),
      elements: [{ type: 'button', action_id: MORE_ACTION, text: { type: 'plain_text', text: moreText(a.offset + shown + 1), emoji: false }, value: encodeCursor(next) }],
    });
  }
  const text = clip(t.fallback({ who, total: fmt(a.counts.total), window }), 3000);
  return { message: { text, blocks }, shown, next };
}

/** Every way `message` breaks Slack's Block Kit limits (empty when it is within them). */
export function blockProblems(message: SlackMessage): string[] {
  const out: string[] = [];
  const blocks = message.blocks ?? [];
  if (blocks.length > LIMITS.blocks) out.push(`${blocks.length} blocks (at most ${LIMITS.blocks})`);
  const seen = new Set<string>();
  blocks.forEach((b, i) => {
    const at = `blocks[${i}] (${String(b.type)})`;
    const id = b.block_id as string | undefined;
    if (id !== undefined) {
      if (id.length > LIMITS.blockId) out.push(`${at}: block_id longer than ${LIMITS.blockId}`);
      if (seen.has(id)) out.push(`${at}: block_id ${id} used twice`);
      seen.add(id);
    }
    const text = (b.text as { text?: string } | undefined)?.text;
    if (b.type === 'section') {
      if (text !== undefined && text.length > LIMITS.sectionText) out.push(`${at}: text of ${text.length} characters (at most ${LIMITS.sectionText})`);
      const fields = (b.fields as { text: string }[] | undefined) ?? [];
      if (fields.length > LIMITS.fields) out.push(`${at}: ${fields.length} fields (at most ${LIMITS.fields})`);
      fields.forEach((f, j) => {
        if (f.text.length > LIMITS.fieldText) out.push(`${at}.fields[${j}]: ${f.text.length} characters (at most ${LIMITS.fieldText})`);
      });
      if (text === undefined && fields.length === 0) out.push(`${at}: neither text nor fields`);
    }
    if (b.type === 'header' && (text ?? '').length > LIMITS.headerText) out.push(`${at}: text of ${text!.length} characters (at most ${LIMITS.headerText})`);
    if (b.type === 'context') {
      for (const [j, e] of ((b.elements as { text?: string }[] | undefined) ?? []).entries()) {
        if ((e.text ?? '').length > LIMITS.contextText) out.push(`${at}.elements[${j}]: ${e.text!.length} characters (at most ${LIMITS.contextText})`);
      }
    }
    if (b.type === 'actions') {
      for (const [j, e] of ((b.elements as { text?: { text: string }; value?: string; action_id?: string }[] | undefined) ?? []).entries()) {
        if ((e.text?.text ?? '').length > LIMITS.buttonText) out.push(`${at}.elements[${j}]: button text of ${e.text!.text.length} characters (at most ${LIMITS.buttonText})`);
        if ((e.value ?? '').length > LIMITS.buttonValue) out.push(`${at}.elements[${j}]: value of ${e.value!.length} characters (at most ${LIMITS.buttonValue})`);
        if ((e.action_id ?? '').length > LIMITS.actionId) out.push(`${at}.elements[${j}]: action_id longer than ${LIMITS.actionId}`);
      }
    }
  });
  return out;
}

/** Counts and tops from calls in hand (CloudTrail's live answer, when the store cannot say whose they are). */
export function countsOf(events: readonly TrailEvent[], top = 5): TrailCounts {
  const actions = new Map<string, { action: string; service: string | null; count: number }>();
  const resources = new Map<string, { type: string | null; id: string; count: number }>();
  let writes = 0;
  let denied = 0;
  let console = 0;
  for (const e of events) {
    if (e.readOnly !== true) writes++;
    if (e.outcome === 'denied') denied++;
    if (e.via === 'console') console++;
    const ak = `${e.action ?? ''}\u0000${e.service ?? ''}`;
    const a = actions.get(ak) ?? { action: e.action ?? '(unnamed call)', service: e.service, count: 0 };
    a.count++;
    actions.set(ak, a);
    const r = e.primaryResource;
    const rid = r ? (r.id ?? r.arn) : null;
    if (r && rid) {
      const rk = `${r.type}\u0000${rid}`;
      const x = resources.get(rk) ?? { type: r.type, id: rid, count: 0 };
      x.count++;
      resources.set(rk, x);
    }
  }
  const order = <T extends { count: number }>(m: Map<string, T>) => [...m.values()].sort((x, y) => y.count - x.count).slice(0, top);
  return { total: events.length, writes, denied, console, topActions: order(actions), topResources: order(resources) };
}
