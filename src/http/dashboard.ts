import { createHash } from 'node:crypto';
import Handlebars from 'handlebars';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { listAudit } from '../actions/approvals/store.ts';
import { type TicketBrief, ticketBriefs } from '../actions/jira/tickets.ts';
import { parseLimit } from '../cli/time.ts';
import { asTrailbotError, TrailbotError } from '../errors.ts';
import { OUTCOMES, type Outcome, VIAS, type Via } from '../events/model.ts';
import { withSummary } from '../events/summary.ts';
import { type Finding, getFinding, getFindings } from '../flows/index.ts';
import { type Count, clickOps, findingCounts, findingIds, pendingApprovals } from '../store/dashboard.ts';
import type { SearchQuery, Store } from '../store/index.ts';
import { readTemplate } from '../templates/index.ts';
import { parseRange, parseTime } from '../time.ts';
import { queryTime } from './api.ts';
import { type AuthOptions, auth, isOpen, sameOrigin } from './auth.ts';
import { type EventFilters, eventsPath, readEventFilters, WRITES_ON } from './dashboard-links.ts';

/**
 * The dashboard: HTML pages rendered on the server from src/templates/dashboard, served by the web role
 * at `/` (Events), `/events/<id>` (one event and its raw record), `/clickops`, `/findings` and `/audit`
 * (approvals). No script and no framework: filters are a GET form (so they live in the URL and a link
 * can be shared), paging is a link carrying a cursor, charts are inline SVG drawn here with a data table
 * beside each. A page is one request and a few kilobytes; nothing is fetched from anywhere else.
 *
 * Access is the API's: a bearer token (TRAILBOT_API_TOKENS) or, for a browser, the OIDC session of
 * src/http/signin.ts; with neither configured, this machine only, and every page says so.
 */

const env = Handlebars.create();
env.registerHelper('eq', (a: unknown, b: unknown) => a === b);
env.registerHelper('json', (v: unknown) => JSON.stringify(v, null, 2));
env.registerHelper('enc', (v: unknown) => encodeURIComponent(String(v ?? '')));
/** `{{eventsPath finding=id}}`: the Events page with these filters (src/http/dashboard-links.ts builds every such link). */
env.registerHelper('eventsPath', (options: Handlebars.HelperOptions) => eventsPath(options.hash as EventFilters));

const style = readTemplate('dashboard/style.css');
const STYLE_HASH = createHash('sha256').update(style).digest('base64');
for (const p of ['bars', 'columns', 'nav']) env.registerPartial(p, readTemplate(`dashboard/${p}.hbs`));
const layout = env.compile(readTemplate('dashboard/layout.hbs'), { strict: false });
const compiled = new Map<string, Handlebars.TemplateDelegate>();
function template(name: string): Handlebars.TemplateDelegate {
  let t = compiled.get(name);
  if (!t) {
    t = env.compile(readTemplate(`dashboard/${name}.hbs`), { strict: false });
    compiled.set(name, t);
  }
  return t;
}

/** No script at all, no images but inline SVG, forms only to this site, the one stylesheet by its hash. */
export const DASHBOARD_CSP = `default-src 'none'; style-src 'sha256-${STYLE_HASH}'; img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`;

const PAGE = 50;

export interface DashboardOptions {
  /** The store as requests use it (forRequests: statement timeout, bounded scans). */
  store: Store;
  auth?: AuthOptions | undefined;
  /** Whether OIDC sign-in is configured (then a browser without a session is sent to /auth/login). */
  signIn?: boolean | undefined;
}

/** The cursor of the next page: the last event's time and id. */
const encodeCursor = (time: string, id: string): string => Buffer.from(`${time}|${id}`).toString('base64url');
function decodeCursor(s: string): { time: string; eventId: string } {
  const [time, eventId] = Buffer.from(s, 'base64url').toString('utf8').split('|');
  if (!time || !eventId || Number.isNaN(Date.parse(time))) throw new TrailbotError('E_USAGE', 'the cursor is not one this page wrote', { hint: 'follow the Next link, or start again from the first page' });
  return { time, eventId };
}

/** Horizontal bars, 330 units for the largest, labels left of them: for the bars partial. */
function bars(counts: Count[]): { label: string; n: number; y: number; w: number; ty: number }[] {
  const max = Math.max(1, ...counts.map((c) => c.n));
  return counts.map((c, i) => ({ n: c.n, y: i * 28, ty: i * 28 + 15, w: Math.max(1, (c.n / max) * 330), label: c.label.length > 36 ? `${c.label.slice(0, 35)}…` : c.label }));
}

/** Columns, one a day, in a 600×160 box: for the columns partial. */
function columns(counts: Count[]): { bars: { label: string; n: number; x: number; y: number; w: number; h: number }[]; max: number; first: string; last: string } {
  const max = Math.max(1, ...counts.map((c) => c.n));
  const w = 600 / Math.max(1, counts.length);
  return {
    bars: counts.map((c, i) => {
      const h = (c.n / max) * 150;
      return { label: c.label, n: c.n, x: i * w + 1, w: Math.max(1, w - 2), h, y: 160 - h };
    }),
    max,
    first: counts[0]?.label ?? '',
    last: counts[counts.length - 1]?.label ?? '',
  };
}

export function createDashboard(o: DashboardOptions): Hono {
  const { store } = o;
  const open = isOpen(o.auth);
  const origin = sameOrigin({ loopbackHost: open, origins: o.auth?.origins });
  const check = auth(o.auth);
  const app = new Hono();

  const page = (c: Context, status: 200 | 400 | 401 | 403 | 404 | 503, name: string, title: string, data: Record<string, unknown>): Response => {
    const body = template(name)({ ...data, here: c.req.path });
    return c.html(layout({ title, style, body, open, section: name, signIn: o.signIn }), status, {
      'content-security-policy': DASHBOARD_CSP,
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
    });
  };

  /** The API's access rules, answered as a page: sign in when that is configured, else what to set. */
  const guard: MiddlewareHandler = async (c, next) => {
    try {
      let passed = false;
      await origin(c, async () => {
        await check(c, async () => {
          passed = true;
        });
      });
      if (passed) return next();
    } catch (e) {
      const err = asTrailbotError(e);
      if (err.code === 'E_UNAUTHORIZED' && o.signIn) return c.redirect(`/auth/login?next=${encodeURIComponent(c.req.path + (new URL(c.req.url).search || ''))}`, 302);
      const status = err.code === 'E_UNAUTHORIZED' ? 401 : 403;
      // With no sign-in configured, a refusal is nearly always "not from this machine": said first, in the page's words.
      return page(c, status, 'refused', 'Not allowed', { code: err.code, message: err.message, hint: err.hint, localOnly: open && err.code === 'E_FORBIDDEN' });
    }
  };

  /** An error a person can fix (a bad filter, a time range too wide) is shown on the page; others go to onError. */
  const usage = (e: unknown): TrailbotError | undefined => {
    const err = asTrailbotError(e);
    return err.code === 'E_USAGE' || err.code === 'E_QUERY_TIMEOUT' ? err : undefined;
  };

  app.get('/', guard, async (c) => {
    const q = c.req.query();
    const f = readEventFilters(q);
    f.since ??= f.person || f.resource || f.action || f.finding ? undefined : '7d';
    const filters = {
      ...f,
      writesOn: WRITES_ON,
      outcomes: OUTCOMES.map((v) => ({ v, selected: v === f.outcome })),
      vias: VIAS.map((v) => ({ v, selected: v === f.via })),
    };
    // The filters as the page applies them: every link of this page (pager, "all events") starts from them.
    const applied = f as EventFilters;
    let error: TrailbotError | undefined;
    let events: ReturnType<typeof withSummary>[] = [];
    let principals: Awaited<ReturnType<Store['search']>>['principals'] = [];
    let next: string | undefined;
    let finding: (Finding & { ticket: TicketBrief | undefined }) | null = null;
    try {
      if (f.outcome && !(OUTCOMES as readonly string[]).includes(f.outcome)) throw new TrailbotError('E_USAGE', `outcome must be one of ${OUTCOMES.join(', ')}`);
      if (f.via && !(VIAS as readonly string[]).includes(f.via)) throw new TrailbotError('E_USAGE', `via must be one of ${VIAS.join(', ')}`);
      if (f.finding) {
        const found = await getFinding(store.db, f.finding);
        if (!found) throw new TrailbotError('E_USAGE', `no finding ${f.finding}`, { hint: 'check the id in the link (findings are kept whatever the retention; their events go with it); open the Findings page for the ones stored' });
        finding = { ...found, ticket: (await ticketBriefs(store.db, [found.id])).get(found.id) };
      }
      const query: SearchQuery = {
        user: f.person,
        resourceName: f.resource,
        eventName: f.action,
        eventSource: f.service,
        account: f.account,
        region: f.region,
        outcome: f.outcome as Outcome | undefined,
        via: f.via as Via | undefined,
        readOnly: f.writes ? false : undefined,
        findingId: finding?.id,
        ...parseRange(queryTime(f.since), queryTime(f.until)),
        before: q.cursor ? decodeCursor(q.cursor) : undefined,
        limit: PAGE + 1,
      };
      const r = await store.search(query);
      principals = r.principals;
      events = r.events.slice(0, PAGE).map(withSummary);
      const last = events[events.length - 1];
      if (r.events.length > PAGE && last?.time) next = eventsPath(applied, encodeCursor(last.time, last.eventId));
    } catch (e) {
      error = usage(e);
      if (!error) throw e;
    }
    const first = q.cursor ? eventsPath(applied) : undefined;
    const withoutFinding = f.finding ? eventsPath({ ...applied, finding: undefined }) : undefined;
    return page(c, error ? 400 : 200, 'events', 'Events', { filters, finding, withoutFinding, principals, events, next, first, error, count: events.length });
  });

  app.get('/events/:id', guard, async (c) => {
    const id = c.req.param('id');
    const r = await store.search({ eventId: id, limit: 1 });
    const event = r.events[0];
    if (!event) return page(c, 404, 'refused', 'No such event', { code: 'E_NOT_FOUND', message: `no event ${id}` });
    return page(c, 200, 'event', 'Event', { event: withSummary(event), raw: await store.raw(id) });
  });

  app.get('/clickops', guard, async (c) => {
    let until = Date.now();
    let error: TrailbotError | undefined;
    try {
      const u = c.req.query('until');
      if (u) until = parseTime(queryTime(u)!, { name: 'until' });
    } catch (e) {
      error = usage(e);
      if (!error) throw e;
    }
    const d = await clickOps(store.db, until);
    const months = [d.previousMonth, d.thisMonth].map((m) => ({ label: m.label, n: m.n }));
    // Attempts that did not go through are not ClickOps (nothing changed); the Events page shows them.
    const attempts = (outcome: Outcome) => eventsPath({ via: 'console', writes: true, outcome, since: d.since, until: d.until });
    return page(c, error ? 400 : 200, 'clickops', 'ClickOps', {
      error,
      denied: attempts('denied'),
      failed: attempts('failed'),
      until: c.req.query('until') ?? '',
      total: d.total,
      perDay: { ...columns(d.perDay), counts: d.perDay },
      byPerson: { bars: bars(d.byPerson), height: d.byPerson.length * 28, counts: d.byPerson },
      byResourceType: { bars: bars(d.byResourceType), height: d.byResourceType.length * 28, counts: d.byResourceType },
      topResources: { bars: bars(d.topResources), height: d.topResources.length * 28, counts: d.topResources },
      months: { bars: bars(months), height: months.length * 28, counts: months },
    });
  });

  app.get('/findings', guard, async (c) => {
    const state = c.req.query('state') === 'closed' ? 'closed' : 'open';
    const offset = c.req.query('offset') ? parseLimit(c.req.query('offset')!, 'offset', 1_000_000) : 0;
    const counts = await findingCounts(store.db);
    const statuses = state === 'open' ? ['open', 'acknowledged'] : ['resolved'];
    const ids = await findingIds(store.db, statuses, PAGE + 1, offset);
    const found = new Map((await getFindings(store.db, ids.slice(0, PAGE))).map((x) => [x.id, x]));
    const tickets = await ticketBriefs(store.db, ids);
    const findings = ids
      .slice(0, PAGE)
      .map((id) => found.get(id))
      .filter((x) => x !== undefined)
      .map((x) => ({ ...x, ticket: tickets.get(x.id) }));
    const sum = (pred: (x: { status: string; severity: string }) => boolean): number => counts.filter(pred).reduce((a, b) => a + b.n, 0);
    const severities = ['critical', 'high', 'medium', 'low', 'info'].map((s) => ({
      severity: s,
      open: sum((x) => x.severity === s && x.status !== 'resolved'),
      closed: sum((x) => x.severity === s && x.status === 'resolved'),
    }));
    return page(c, 200, 'findings', 'Findings and tickets', {
      state,
      open: sum((x) => x.status !== 'resolved'),
      closed: sum((x) => x.status === 'resolved'),
      severities,
      findings,
      next: ids.length > PAGE ? `?state=${state}&offset=${offset + PAGE}` : undefined,
    });
  });

  app.get('/audit', guard, async (c) => {
    const before = c.req.query('before') ? parseLimit(c.req.query('before')!, 'before', Number.MAX_SAFE_INTEGER) : undefined;
    const [pending, entries] = await Promise.all([pendingApprovals(store.db), listAudit(store.db, { before, limit: PAGE + 1 })]);
    const shown = entries.slice(0, PAGE);
    return page(c, 200, 'approvals', 'Approvals', { pending, entries: shown, next: entries.length > PAGE ? `?before=${shown[shown.length - 1]!.seq}` : undefined });
  });

  return app;
}

/** Whether a request asks for a page (a browser) rather than JSON. */
export function wantsHtml(c: Context): boolean {
  const accept = c.req.header('accept') ?? '';
  return /text\/html/i.test(accept);
}
