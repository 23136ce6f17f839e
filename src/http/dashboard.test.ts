import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRecords } from '../../bench/lib/generate/index.ts';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { allIngestible } from '../../test/helpers/fixtures.ts';
import { ticketDescription } from '../actions/jira/document.ts';
import { findingMessage } from '../actions/slack/blocks.ts';
import { answerPage, dashboardUrl } from '../actions/slack/trail/answer.ts';
import { parseTrail, type TrailRequest } from '../actions/slack/trail/grammar.ts';
import { trailCounts, trailPage } from '../actions/slack/trail/query.ts';
import type { AdfDoc } from '../flows/adf.ts';
import type { RawRecord } from '../events/model.ts';
import { normalize } from '../events/normalize.ts';
import { defaultFlowsConfig, evaluateFlows, findingEventIds, getFinding } from '../flows/index.ts';
import { createLogger } from '../runtime/logger.ts';
import { createMetrics } from '../runtime/metrics.ts';
import { openInlineQueue } from '../runtime/inline.ts';
import type { LiveLookupResult } from '../sources/index.ts';
import { openStore, type Store } from '../store/index.ts';
import { resolvePrincipals } from '../store/queries.ts';
import { readTemplate } from '../templates/index.ts';
import { createApp } from './app.ts';
import { EVENT_FILTERS, findingUrl } from './dashboard-links.ts';

/**
 * The dashboard at the HTTP level, against a real PostgreSQL store: the links Slack and Jira carry open
 * the Events page with the same filters applied (src/http/dashboard-links.ts builds both sides), the
 * form names every filter the page reads, and the stylesheet's colours pass WCAG AA.
 * test/dashboard.test.ts drives the same pages in chromium.
 */
const PUBLIC_URL = 'https://trailbot.example.com';
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  db = await createTestDatabase('trailbot_dashboard_http');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  const fixtures = allIngestible();
  const generated = [...generateRecords({ count: 3000, start: new Date('2025-03-03T00:00:00Z'), days: 28, seed: 11 })].map((raw) => ({ event: normalize(raw as RawRecord), raw: raw as RawRecord }));
  await store.ingest([...fixtures, ...generated]);
  await evaluateFlows(store, fixtures, defaultFlowsConfig());
  const queue = openInlineQueue(store.db, 'dashboard-http-test');
  app = createApp({ store, queue, metrics: createMetrics({ store, queue }), log: createLogger({ level: 'silent' }), role: 'web' });
});

afterAll(async () => {
  await store?.close();
  await db?.drop();
});

/** A link from Slack or Jira, opened on the dashboard (PUBLIC_URL is this server). */
async function open(url: string): Promise<{ status: number; html: string }> {
  expect(url.startsWith(`${PUBLIC_URL}/`)).toBe(true);
  const r = await app.request(`http://localhost${url.slice(PUBLIC_URL.length)}`, { headers: { accept: 'text/html' } });
  return { status: r.status, html: await r.text() };
}

const htmlText = (s: string): string => s.replace(/&quot;/g, '"').replace(/&#x27;/g, "'").replace(/&#x3D;/g, '=').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
/** The filter form as the page shows it: each text field's value, the selected options, the checkbox. */
function form(html: string): Record<string, string> {
  const f = /<form class="filters"[^>]*>([\s\S]*?)<\/form>/.exec(html)![1]!;
  const out: Record<string, string> = {};
  for (const m of f.matchAll(/<input ([^>]*)>/g)) {
    const a = m[1]!;
    const name = /name="([^"]*)"/.exec(a)![1]!;
    const value = htmlText(/value="([^"]*)"/.exec(a)?.[1] ?? '');
    if (/type="checkbox"/.test(a)) out[name] = / checked/.test(a) ? value : '';
    else out[name] = value;
  }
  for (const m of f.matchAll(/<select [^>]*name="([^"]*)"[^>]*>([\s\S]*?)<\/select>/g)) out[m[1]!] = /<option value="([^"]*)" selected>/.exec(m[2]!)?.[1] ?? '';
  return out;
}
/** The event ids the page lists, in order (each line's "Raw record" link). */
const listed = (html: string): string[] => [...html.matchAll(/<a class="raw" href="\/events\/([^"]+)"/g)].map((m) => decodeURIComponent(m[1]!));

const noLookup = async (_s: Store, o: { who: string }): Promise<LiveLookupResult> => ({ who: o.who, events: [], queries: [], partial: [], note: 'No account-region to ask.', stored: 0 });

/** The /trail answer a person gets in Slack for this command, and the dashboard link in it. */
async function slackAnswer(command: string): Promise<{ query: TrailRequest; link: string }> {
  const parsed = parseTrail(command, { now: Date.parse('2025-04-01T00:00:00Z') });
  if (parsed.kind !== 'query') throw new Error(`not a query: ${JSON.stringify(parsed)}`);
  const { message } = await answerPage({ store }, { live: noLookup, publicUrl: PUBLIC_URL }, { query: parsed.query, page: 1, offset: 0 });
  const m = /<(https:\/\/trailbot\.example\.com\/[^|>]*)\|Open in trailbot's dashboard>/.exec(JSON.stringify(message.blocks));
  expect(m, 'the answer links to the dashboard').not.toBeNull();
  return { query: parsed.query, link: htmlText(m![1]!) };
}

describe('links into the dashboard', () => {
  it('a /trail answer opens the Events page on the same person, window and filters, listing the same calls', async () => {
    const { rows } = await store.db.query<{ email: string; account: string; region: string; n: string }>(
      `SELECT email, account, region, count(*) AS n FROM events
        WHERE via = 'console' AND read_only IS NOT TRUE AND email IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1 LIMIT 1`,
    );
    const who = rows[0]!;
    const { query, link } = await slackAnswer(`${who.email} between 2025-03-01 and 2025-03-31 writes console region:${who.region} account:${who.account}`);
    expect(link).toBe(dashboardUrl(PUBLIC_URL, query));
    const page = await open(link);
    expect(page.status).toBe(200);
    expect(form(page.html)).toEqual({
      person: who.email,
      resource: '',
      action: '',
      service: '',
      account: who.account,
      region: who.region,
      outcome: '',
      via: 'console',
      writes: '1',
      since: query.since,
      until: query.until,
    });
    // The same principals, the same calls, newest first: what the Slack answer pages through.
    const principals = await resolvePrincipals(store.db, query.who);
    const counts = await trailCounts(store.db, principals, query);
    const expected = await trailPage(store.db, principals, query, { limit: 50 });
    expect(counts.total).toBeGreaterThan(0);
    expect(listed(page.html)).toEqual(expected.events.map((e) => e.eventId));
    if (counts.total <= 50) expect(listed(page.html)).toHaveLength(counts.total);

    // `denied` and `service:` become the page's outcome and service.
    const denied = await store.db.query<{ email: string; service: string }>(
      `SELECT email, service FROM events WHERE outcome = 'denied' AND email IS NOT NULL GROUP BY 1, 2 ORDER BY count(*) DESC, 1 LIMIT 1`,
    );
    const d = denied.rows[0]!;
    const second = await slackAnswer(`${d.email} between 2025-03-01 and 2025-03-31 denied service:${d.service}`);
    const page2 = await open(second.link);
    expect(page2.status).toBe(200);
    expect(form(page2.html)).toMatchObject({ person: d.email, outcome: 'denied', service: d.service, via: '', writes: '' });
    const p2 = await resolvePrincipals(store.db, d.email);
    const calls = await trailPage(store.db, p2, second.query, { limit: 50 });
    expect(calls.events.length).toBeGreaterThan(0);
    expect(listed(page2.html)).toEqual(calls.events.map((e) => e.eventId));
  });

  it("a Jira ticket's and a Slack alert's link open the finding's events", async () => {
    const { rows } = await store.db.query<{ id: string }>('SELECT finding_id AS id FROM finding_events GROUP BY 1 HAVING count(*) BETWEEN 2 AND 50 ORDER BY count(*) DESC, 1 LIMIT 1');
    const finding = (await getFinding(store.db, rows[0]!.id))!;
    const ids = await findingEventIds(store.db, finding.id);

    const doc = ticketDescription({ finding, events: [], totalEvents: finding.count, publicUrl: PUBLIC_URL });
    const hrefs: string[] = [];
    const walk = (n: AdfDoc | AdfDoc['content'][number]): void => {
      for (const m of ('marks' in n ? (n.marks ?? []) : []) as { type: string; attrs?: { href?: string } }[]) if (m.type === 'link' && m.attrs?.href) hrefs.push(m.attrs.href);
      for (const c of ('content' in n ? (n.content ?? []) : []) as AdfDoc['content']) walk(c);
    };
    walk(doc);
    const fromJira = hrefs.filter((h) => h.startsWith(PUBLIC_URL));
    expect(fromJira).toEqual([findingUrl(PUBLIC_URL, finding.id)]);

    const alert = findingMessage({ finding, account: null, actor: null, ticket: null, resolved: false, publicUrl: PUBLIC_URL });
    const buttons = (alert.blocks ?? []).flatMap((b) => (b.type === 'actions' ? (b.elements as { action_id: string; url?: string }[]) : []));
    const fromSlack = buttons.find((b) => b.action_id === 'open-trailbot')!.url!;
    expect(fromSlack).toBe(fromJira[0]);

    const page = await open(fromSlack);
    expect(page.status).toBe(200);
    expect(page.html).toMatch(/<p class="note finding">The events of the finding <strong>[^<]+<\/strong>/);
    expect(form(page.html).finding).toBe(finding.id);
    expect(new Set(listed(page.html))).toEqual(new Set(ids));
  });

  it('a link to a finding that is not stored says so on the page', async () => {
    const page = await open(findingUrl(PUBLIC_URL, 'ffffffffffffffffffffffff'));
    expect(page.status).toBe(400);
    expect(page.html).toContain('no finding ffffffffffffffffffffffff');
  });
});

describe('the Events page', () => {
  it("its form sends every filter the page reads, under the links' names", async () => {
    const { rows } = await store.db.query<{ id: string }>('SELECT id FROM findings ORDER BY id LIMIT 1');
    const r = await app.request(`http://localhost/?finding=${rows[0]!.id}`, { headers: { accept: 'text/html' } });
    expect(Object.keys(form(await r.text())).sort()).toEqual([...EVENT_FILTERS].sort());
  });

  it('changes only: no read-only call is listed, and the pager keeps every filter', async () => {
    const writes = await store.db.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE read_only IS NOT TRUE AND time >= '2025-03-01' AND time <= '2025-03-31'");
    expect(Number(writes.rows[0]!.n)).toBeGreaterThan(50);
    const r = await app.request('http://localhost/?writes=1&since=2025-03-01&until=2025-03-31', { headers: { accept: 'text/html' } });
    const html = await r.text();
    const ids = listed(html);
    expect(ids.length).toBe(50);
    const { rows } = await store.db.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE event_id = ANY($1::text[]) AND read_only IS TRUE', [ids]);
    expect(Number(rows[0]!.n)).toBe(0);
    const next = htmlText(/<a href="([^"]+)" rel="next">Next page<\/a>/.exec(html)![1]!);
    expect(Object.fromEntries(new URL(next, 'http://localhost').searchParams)).toMatchObject({ writes: '1', since: '2025-03-01', until: '2025-03-31' });
    const page2 = listed(await (await app.request(`http://localhost${next}`, { headers: { accept: 'text/html' } })).text());
    expect(page2.length).toBeGreaterThan(0);
    expect(page2.filter((id) => ids.includes(id))).toEqual([]);
  });
});

describe('the stylesheet', () => {
  /** WCAG 2 relative luminance and contrast ratio of two #rgb / #rrggbb colours. */
  const rgb = (hex: string): number[] => {
    const h = hex.slice(1);
    const full = h.length === 3 ? [...h].map((c) => c + c).join('') : h;
    return [0, 2, 4].map((i) => Number.parseInt(full.slice(i, i + 2), 16));
  };
  const lum = (hex: string): number => {
    const [r, g, b] = rgb(hex).map((v) => {
      const c = v / 255;
      return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
  };
  const ratio = (a: string, b: string): number => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x! + 0.05) / (y! + 0.05);
  };

  interface Rule {
    selector: string;
    decls: Record<string, string>;
  }
  const rules: Rule[] = readTemplate('dashboard/style.css')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .split('}')
    .map((block) => block.split('{'))
    .filter((p) => p.length === 2)
    .flatMap(([sel, body]) => {
      const decls = Object.fromEntries(
        body!
          .split(';')
          .map((d) => d.split(':').map((s) => s.trim()))
          .filter((d) => d.length >= 2 && d[0])
          .map(([k, ...v]) => [k!, v.join(':')]),
      );
      return sel!.split(',').map((s) => ({ selector: s.trim(), decls }));
    });
  const hex = (v: string | undefined): string | undefined => /#[0-9a-f]{6}\b|#[0-9a-f]{3}\b/i.exec(v ?? '')?.[0];
  const bodyRule = rules.find((r) => r.selector === 'body')!;
  const PAGE = hex(bodyRule.decls.background)!;
  const TEXT = hex(bodyRule.decls.color)!;
  const LINK = hex(rules.find((r) => r.selector === 'a')!.decls.color)!;
  const PANEL = '#fff';
  /** The background a rule's element sits on: its own, else that of the nearest rule its selector starts with (nav a → nav), else the page and the white panels. */
  const backgrounds = (r: Rule): string[] => {
    const own = hex(r.decls.background ?? r.decls['background-color']);
    if (own) return [own];
    const outer = rules
      .filter((o) => o !== r && r.selector.startsWith(`${o.selector} `) && hex(o.decls.background ?? o.decls['background-color']))
      .sort((a, b) => b.selector.length - a.selector.length)[0];
    return outer ? [hex(outer.decls.background ?? outer.decls['background-color'])!] : [PAGE, PANEL];
  };

  it('every text colour has 4.5:1 against what is behind it (WCAG AA 1.4.3)', () => {
    const problems: string[] = [];
    const check = (what: string, fg: string, bg: string) => {
      const c = ratio(fg, bg);
      if (c < 4.5) problems.push(`${what}: ${fg} on ${bg} is ${c.toFixed(2)}:1`);
    };
    let checked = 0;
    for (const r of rules) {
      const bgs = backgrounds(r);
      // Text drawn in SVG takes `fill`; charts sit on white panels.
      const fg = hex(r.decls.color) ?? (/\btext\b/.test(r.selector) ? hex(r.decls.fill) : undefined);
      const pairs: [string, string, string][] = [];
      if (fg) for (const bg of /^svg/.test(r.selector) ? [PANEL] : bgs) pairs.push([r.selector, fg, bg]);
      // A background without a colour of its own: the body's text and links may sit on it.
      else if (hex(r.decls.background ?? r.decls['background-color'])) for (const t of [TEXT, LINK]) pairs.push([`${r.selector} (inherited text)`, t, bgs[0]!]);
      for (const [what, f, b] of pairs) {
        check(what, f, b);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
    expect(problems).toEqual([]);
  });

  it('focus rings, form field borders and chart marks have 3:1 (WCAG AA 1.4.11)', () => {
    const problems: string[] = [];
    let checked = 0;
    for (const r of rules) {
      const marks = [
        ['outline', hex(r.decls.outline) ?? hex(r.decls['outline-color'])],
        ['border', /input|select|button/.test(r.selector) ? hex(r.decls.border) : undefined],
        ['fill', /^svg/.test(r.selector) && !/\btext\b/.test(r.selector) ? hex(r.decls.fill) : undefined],
        ['stroke', hex(r.decls.stroke)],
      ] as const;
      for (const [what, colour] of marks) {
        if (!colour) continue;
        for (const bg of /^svg/.test(r.selector) ? [PANEL] : backgrounds(r)) {
          checked++;
          const c = ratio(colour, bg);
          if (c < 3) problems.push(`${r.selector} ${what}: ${colour} on ${bg} is ${c.toFixed(2)}:1`);
        }
      }
    }
    expect(checked).toBeGreaterThan(5);
    expect(problems).toEqual([]);
  });
});
