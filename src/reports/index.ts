import { parse } from 'yaml';
import { TrailbotError } from '../errors.ts';
import { consoleChangeSql } from '../flows/housekeeping.ts';
import type { Store } from '../store/index.ts';
import { compileText, readTemplate, textEnv } from '../templates/index.ts';
import { isoText, queryParams } from '../store/sql.ts';

/**
 * Scheduled reports over the store: weekly denied calls, monthly ClickOps, inactive identities.
 * `buildReport(store, kind, range)` returns data; `renderReport(report, format)` turns it into
 * Markdown, CSV or JSON. The runtime's schedulers call both and deliver the result.
 */

export const REPORT_KINDS = ['denied', 'clickops', 'inactive'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];
export const REPORT_FORMATS = ['md', 'csv', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface ReportRange {
  /** ISO times; the period is [since, until). */
  since: string;
  until: string;
}

export type Cell = string | number | boolean | null;

export interface ReportSection {
  id: string;
  title: string;
  note?: string;
  columns: { key: string; label: string }[];
  rows: Record<string, Cell>[];
}

export interface Report {
  kind: ReportKind;
  title: string;
  intro: string;
  since: string;
  until: string;
  /** The period compared against (same length, just before `since`). */
  previousSince: string;
  sections: ReportSection[];
}

interface SectionWords {
  title: string;
  note?: string;
  columns: Record<string, string>;
}
interface KindWords {
  title: string;
  intro: string;
  sections: Record<string, SectionWords>;
  periods?: Record<string, string>;
  kinds?: Record<string, string>;
}
type ReportWords = Record<ReportKind, KindWords> & { empty: string };

const words = parse(readTemplate('flows/reports/words.yaml')) as ReportWords;
const env = textEnv();
const mdTemplate = compileText(env, readTemplate('flows/reports/report.md.hbs'));
const fill = (s: string, vars: Record<string, unknown>): string => compileText(env, s)(vars);

function section(kind: ReportKind, id: string, vars: Record<string, unknown>, rows: Record<string, Cell>[]): ReportSection {
  const w = words[kind].sections[id]!;
  const s: ReportSection = {
    id,
    title: fill(w.title, vars),
    columns: Object.entries(w.columns).map(([key, label]) => ({ key, label: fill(label, vars) })),
    rows,
  };
  if (w.note) s.note = fill(w.note, vars);
  return s;
}

const DAY = 86_400_000;

function checkRange(r: ReportRange): { since: number; until: number } {
  const since = Date.parse(r.since);
  const until = Date.parse(r.until);
  if (Number.isNaN(since) || Number.isNaN(until) || since >= until) {
    throw new TrailbotError('E_USAGE', `report period ${r.since} – ${r.until} is empty or not a time range`, { hint: '--since must be before --until' });
  }
  return { since, until };
}

const iso = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
const join = (xs: (string | null)[] | null, max = 5): string => {
  const v = (xs ?? []).filter((x): x is string => x !== null).sort();
  return v.length > max ? `${v.slice(0, max).join(', ')} (+${v.length - max})` : v.join(', ');
};

async function deniedReport(store: Store, since: number, until: number): Promise<Report> {
  const prev = since - (until - since);
  const vars = { since: iso(since), until: iso(until), previousSince: iso(prev) };
  const calls = await store.db.query<{ service: string | null; action: string | null; n: number; regions: (string | null)[]; principals: (string | null)[]; is_new: boolean }>(
    `SELECT e.service, e.action, count(*)::int AS n, array_agg(DISTINCT e.region) AS regions,
            array_agg(DISTINCT coalesce(e.actor_name, e.actor_key)) AS principals,
            NOT EXISTS (SELECT 1 FROM events p WHERE p.action = e.action AND p.service IS NOT DISTINCT FROM e.service
                          AND p.outcome = 'denied' AND p.time >= $3 AND p.time < $1) AS is_new
     FROM events e WHERE e.outcome = 'denied' AND e.time >= $1 AND e.time < $2
     GROUP BY e.service, e.action ORDER BY n DESC, e.service, e.action`,
    [vars.since, vars.until, vars.previousSince],
  );
  const rows = calls.rows.map((r) => ({
    service: r.service,
    action: r.action,
    count: Number(r.n),
    regions: join(r.regions),
    principals: join(r.principals),
    isNew: r.is_new,
  }));
  const principals = await store.db.query<{ principal: string | null; account: string | null; n: number; actions: (string | null)[] }>(
    `SELECT coalesce(actor_name, actor_key) AS principal, account, count(*)::int AS n, array_agg(DISTINCT action) AS actions
     FROM events WHERE outcome = 'denied' AND time >= $1 AND time < $2
     GROUP BY 1, 2 ORDER BY n DESC, 1 LIMIT 100`,
    [vars.since, vars.until],
  );
  return {
    kind: 'denied',
    title: fill(words.denied.title, vars),
    intro: fill(words.denied.intro, vars),
    ...vars,
    sections: [
      section('denied', 'calls', vars, rows),
      section(
        'denied',
        'new',
        vars,
        rows.filter((r) => r.isNew).map(({ service, action, count, principals: p }) => ({ service, action, count, principals: p })),
      ),
      section(
        'denied',
        'principals',
        vars,
        principals.rows.map((r) => ({ principal: r.principal, account: r.account, count: Number(r.n), actions: join(r.actions) })),
      ),
    ],
  };
}

async function clickopsReport(store: Store, since: number, until: number): Promise<Report> {
  const prev = since - (until - since);
  const vars = { since: iso(since), until: iso(until), previousSince: iso(prev) };
  const { params, param } = queryParams([vars.previousSince, vars.since, vars.until]);
  const change = consoleChangeSql('e', param);
  const base = `SELECT e.*, (e.time >= $2) AS current FROM events e WHERE e.time >= $1 AND e.time < $3 AND ${change}`;
  const totals = await store.db.query<{ current: boolean; n: number; people: number; resources: number }>(
    `WITH c AS (${base}) SELECT current, count(*)::int AS n, count(DISTINCT actor_key)::int AS people,
       count(DISTINCT primary_type || ':' || primary_id)::int AS resources FROM c GROUP BY current`,
    params,
  );
  const people = await store.db.query<{ person: string | null; cur: number; prev: number; resources: number }>(
    `WITH c AS (${base}) SELECT coalesce(email, actor_name, actor_key) AS person,
       (count(*) FILTER (WHERE current))::int AS cur, (count(*) FILTER (WHERE NOT current))::int AS prev,
       (count(DISTINCT primary_type || ':' || primary_id) FILTER (WHERE current))::int AS resources
     FROM c GROUP BY 1 ORDER BY cur DESC, prev DESC, 1 LIMIT 200`,
    params,
  );
  const resources = await store.db.query<{ resource: string; type: string | null; n: number; people: number; last: string }>(
    `WITH c AS (${base}) SELECT coalesce(primary_arn, primary_id) AS resource, primary_type AS type, count(*)::int AS n,
       count(DISTINCT actor_key)::int AS people, ${isoText('max(time)')} AS last
     FROM c WHERE current AND primary_id IS NOT NULL GROUP BY 1, 2 ORDER BY n DESC, last DESC LIMIT 25`,
    params,
  );
  const byPeriod = new Map(totals.rows.map((r) => [r.current, r]));
  const periods = words.clickops.periods ?? {};
  const totalRow = (current: boolean): Record<string, Cell> => {
    const r = byPeriod.get(current);
    return { period: current ? periods.current ?? 'current' : periods.previous ?? 'previous', changes: r ? Number(r.n) : 0, people: r ? Number(r.people) : 0, resources: r ? Number(r.resources) : 0 };
  };
  const trend = (cur: number, prv: number): string => (prv === 0 ? (cur === 0 ? '0' : 'new') : `${cur >= prv ? '+' : ''}${Math.round(((cur - prv) / prv) * 100)}%`);
  return {
    kind: 'clickops',
    title: fill(words.clickops.title, vars),
    intro: fill(words.clickops.intro, vars),
    ...vars,
    sections: [
      section('clickops', 'totals', vars, [totalRow(true), totalRow(false)]),
      section(
        'clickops',
        'people',
        vars,
        people.rows.map((r) => ({ person: r.person, changes: Number(r.cur), previous: Number(r.prev), trend: trend(Number(r.cur), Number(r.prev)), resources: Number(r.resources) })),
      ),
      section(
        'clickops',
        'resources',
        vars,
        resources.rows.map((r) => ({ resource: r.resource, type: r.type, changes: Number(r.n), people: Number(r.people), lastChange: r.last })),
      ),
    ],
  };
}

async function inactiveReport(store: Store, since: number, until: number): Promise<Report> {
  const days = Math.round((until - since) / DAY);
  const vars = { since: iso(since), until: iso(until), previousSince: iso(since), days };
  // One identity per person (e-mail), role (its sessions together), IAM user or root; AWS services left out.
  const r = await store.db.query<{ identity: string; kind: string; account: string | null; last_seen: string; days_idle: number; events: number }>(
    `WITH p AS (
       SELECT CASE WHEN email IS NOT NULL THEN 'person'
                   WHEN type = 'AssumedRole' AND role_name IS NOT NULL THEN 'role'
                   WHEN type = 'IAMUser' THEN 'user'
                   WHEN type = 'Root' THEN 'root' ELSE 'other' END AS kind,
              CASE WHEN email IS NOT NULL THEN lower(email)
                   WHEN type = 'AssumedRole' AND role_name IS NOT NULL THEN role_name
                   ELSE coalesce(name, actor_key) END AS identity,
              account, last_seen, events
       FROM principals WHERE type IS DISTINCT FROM 'AWSService' AND type IS DISTINCT FROM 'AWSAccount')
     SELECT identity, kind, account, ${isoText('max(last_seen)')} AS last_seen,
            floor(extract(epoch FROM ($2::timestamptz - max(last_seen))) / 86400)::int AS days_idle, sum(events)::bigint AS events
     FROM p GROUP BY identity, kind, account
     HAVING max(last_seen) < $1
     ORDER BY max(last_seen), identity LIMIT 1000`,
    [vars.since, vars.until],
  );
  const kinds = words.inactive.kinds ?? {};
  return {
    kind: 'inactive',
    title: fill(words.inactive.title, vars),
    intro: fill(words.inactive.intro, vars),
    since: vars.since,
    until: vars.until,
    previousSince: vars.since,
    sections: [
      section(
        'inactive',
        'identities',
        vars,
        r.rows.map((x) => ({ identity: x.identity, kind: kinds[x.kind] ?? x.kind, account: x.account, lastSeen: x.last_seen, daysIdle: Number(x.days_idle), events: Number(x.events) })),
      ),
    ],
  };
}

/** Builds a report from the store. For `inactive`, the period is the stretch without calls. */
export async function buildReport(store: Store, kind: ReportKind, range: ReportRange): Promise<Report> {
  const { since, until } = checkRange(range);
  switch (kind) {
    case 'denied':
      return deniedReport(store, since, until);
    case 'clickops':
      return clickopsReport(store, since, until);
    case 'inactive':
      return inactiveReport(store, since, until);
    default:
      throw new TrailbotError('E_USAGE', `unknown report ${JSON.stringify(kind)}`, { hint: `use one of ${REPORT_KINDS.join(', ')}` });
  }
}

/** Default periods: denied calls weekly, ClickOps monthly, inactive identities 90 days. */
export const DEFAULT_PERIOD: Record<ReportKind, string> = { denied: '7d', clickops: '30d', inactive: '90d' };

function cellText(v: Cell): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

/** One Markdown table cell: pipes escaped, line breaks flattened. */
function mdCell(v: Cell): string {
  return cellText(v).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break, quotes doubled.
 * Text starting with = + - @ (or a tab or carriage return) is prefixed with ' so spreadsheets do not
 * run it as a formula (OWASP CSV injection).
 */
export function csvField(v: Cell): string {
  let s = cellText(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function renderReport(r: Report, format: ReportFormat): string {
  if (format === 'json') return `${JSON.stringify(r, null, 2)}\n`;
  if (format === 'csv') {
    // One table: the section id first, then every column of every section (empty where a section has none).
    const cols: string[] = [];
    for (const s of r.sections) for (const c of s.columns) if (!cols.includes(c.key)) cols.push(c.key);
    const lines = [['section', ...cols].map(csvField).join(',')];
    for (const s of r.sections) for (const row of s.rows) lines.push([s.id, ...cols.map((c) => row[c] ?? null)].map(csvField).join(','));
    return `${lines.join('\r\n')}\r\n`;
  }
  const view = {
    ...r,
    empty: words.empty,
    sections: r.sections.map((s) => ({ ...s, cells: s.rows.map((row) => s.columns.map((c) => mdCell(row[c.key] ?? null))) })),
  };
  return `${mdTemplate(view).replace(/\n{3,}/g, '\n\n').trim()}\n`;
}
