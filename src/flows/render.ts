import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { TrailEvent } from '../events/model.ts';
import { summarize, summaryContext } from '../events/summary.ts';
import { compileText, readTemplate, textEnv } from '../templates/index.ts';
import { type AdfDoc, findingAdf } from './adf.ts';
import type { CompiledFlow } from './compile.ts';
import type { Dimension, FlowEnv } from './define.ts';

/**
 * Turns a finding into words. Every sentence comes from `src/templates/flows/`: shared templates
 * (title, summary, body, Slack) with the who/what/where partials, and per flow an optional
 * `catalog/<id>.hbs` holding inline partials (`title`, `why`) that replace the generic ones. A flow
 * without its own file renders with the generic title and its description as "why it matters".
 */

interface FlowWords {
  labels: Record<'who' | 'what' | 'where' | 'how' | 'when' | 'often' | 'why' | 'next' | 'events' | 'severity' | 'flow', string>;
  severities: Record<string, string>;
  units: Record<string, [string, string]>;
  scopes: Record<string, string>;
  more: string;
}

const DIR = 'flows';
const words = parse(readTemplate(`${DIR}/words.yaml`)) as FlowWords;

const env = textEnv();
env.registerPartial('actor', compileText(env, readTemplate('summary/who.hbs')));
for (const p of ['who', 'did', 'what', 'where', 'how', 'when', 'often']) env.registerPartial(p, compileText(env, readTemplate(`${DIR}/partials/${p}.hbs`)));
env.registerPartial('why', compileText(env, readTemplate(`${DIR}/why.hbs`)));
env.registerPartial('title', compileText(env, readTemplate(`${DIR}/title.hbs`)));

const FACTS = ['who', 'what', 'where', 'how', 'when', 'often'] as const;
const factTemplates = FACTS.map((f) => ({ name: f, tpl: compileText(env, `{{> ${f}}}`) }));
const shared = {
  title: readTemplate(`${DIR}/title.hbs`),
  summary: readTemplate(`${DIR}/summary.hbs`),
  body: readTemplate(`${DIR}/body.hbs`),
  slack: readTemplate(`${DIR}/slack.hbs`),
};

interface FlowTemplates {
  title: Handlebars.TemplateDelegate;
  why: Handlebars.TemplateDelegate;
  body: Handlebars.TemplateDelegate;
  slack: Handlebars.TemplateDelegate;
  own: boolean;
}

const catalogDir = join(import.meta.dirname, '..', 'templates', DIR, 'catalog');
const cache = new Map<string, FlowTemplates>();

/** The flow's own inline partials (`{{#*inline "title"}}…{{/inline}}`), whitespace between blocks removed. */
function ownPartials(flowId: string): string {
  const file = join(catalogDir, `${flowId}.hbs`);
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8')
    .replace(/\{\{!--[\s\S]*?--\}\}/g, '')
    .replace(/\}\}\s+\{\{/g, (m) => (m.includes('\n') ? '}}{{' : m))
    .trim();
}

function templatesFor(flowId: string): FlowTemplates {
  let t = cache.get(flowId);
  if (t) return t;
  const own = ownPartials(flowId);
  const c = (s: string): Handlebars.TemplateDelegate => compileText(env, own + s);
  t = { title: c('{{> title}}'), why: c('{{> why}}'), body: c(shared.body), slack: c(shared.slack), own: own !== '' };
  cache.set(flowId, t);
  return t;
}

/** Whether a flow has its own template file (the rest render with the generic fallback). */
export function hasOwnTemplate(flowId: string): boolean {
  return templatesFor(flowId).own;
}

const summaryTpl = compileText(env, shared.summary);
const moreTpl = compileText(env, words.more);

function durationWords(d: string): string {
  const m = /^(\d+)([smhdw])$/.exec(d);
  if (!m) return d;
  const n = Number(m[1]);
  const [one, many] = words.units[m[2]!] ?? [m[2]!, m[2]!];
  return `${n} ${n === 1 ? one : many}`;
}

function iso(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** What a finding's events add up to: the calls, regions and resources involved. */
export interface Breakdown {
  actions: { name: string; count: number }[];
  moreActions: number;
  regions: string[];
  resources: string[];
}

export function breakdownOf(events: readonly TrailEvent[]): Breakdown {
  const actions = new Map<string, number>();
  const regions = new Set<string>();
  const resources = new Set<string>();
  for (const e of events) {
    const name = e.action ?? 'unknown';
    actions.set(name, (actions.get(name) ?? 0) + 1);
    if (e.region) regions.add(e.region);
    if (e.primaryResource) resources.add(e.primaryResource.id);
  }
  const sorted = [...actions.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return {
    actions: sorted.slice(0, 5).map(([name, count]) => ({ name, count })),
    moreActions: Math.max(0, sorted.length - 5),
    regions: [...regions].sort().slice(0, 10),
    resources: [...resources].sort().slice(0, 10),
  };
}

export interface RenderInput {
  flow: CompiledFlow;
  count: number;
  firstSeen: number;
  lastSeen: number;
  dim: Dimension | null;
  /** The earliest and latest events of the finding. */
  first: TrailEvent;
  last: TrailEvent;
  /** The first event ids, in time order (at least the first 20; `count` says how many there are). */
  eventIds: readonly string[];
  breakdown: Breakdown;
  env: FlowEnv;
}

export interface Rendered {
  title: string;
  summary: string;
  body: string;
  slack: string;
  jira: AdfDoc;
}

/** Slack mrkdwn needs `&`, `<` and `>` escaped in text it did not write itself. */
export function slackEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function escapeDeep(v: unknown): unknown {
  if (typeof v === 'string') return slackEscape(v);
  if (Array.isArray(v)) return v.map(escapeDeep);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = escapeDeep(x);
    return out;
  }
  return v;
}

const MAX_IDS = 20;

/** The data every finding template reads. */
export function viewOf(r: RenderInput): Record<string, unknown> {
  const f = r.flow;
  const e = { ...summaryContext(r.first), summary: summarize(r.first) };
  const many = r.count > 1;
  const first = iso(r.firstSeen);
  const last = iso(r.lastSeen);
  const several = r.breakdown.actions.length > 1 || r.breakdown.moreActions > 0;
  return {
    flow: { id: f.id, kind: f.def.kind, severity: f.severity, description: f.def.description, runbook: f.def.runbook },
    severity: f.severity,
    severityWord: words.severities[f.severity] ?? f.severity,
    labels: words.labels,
    count: r.count,
    many,
    firstSeen: first,
    lastSeen: last,
    firstDate: first.slice(0, 10),
    firstClock: first.slice(11, 19),
    lastDate: last.slice(0, 10),
    lastClock: last.slice(11, 19),
    e,
    last: many ? { ...summaryContext(r.last), summary: summarize(r.last) } : null,
    ctx: f.def.context ? f.def.context(r.first, f.params, r.env) : {},
    params: f.params,
    threshold: f.def.kind === 'threshold' ? { moreThan: f.moreThan, window: durationWords(String(f.params.window)) } : null,
    dim: r.dim ? { ...r.dim, scopeWord: words.scopes[r.dim.scope] ?? r.dim.scope } : null,
    breakdown: { ...r.breakdown, several },
    eventIds: r.eventIds.slice(0, MAX_IDS),
    moreText: moreText(r),
  };
}

function moreText(r: RenderInput): string {
  const shown = Math.min(r.eventIds.length, MAX_IDS);
  return r.count > shown ? moreTpl({ n: r.count - shown }) : '';
}

/** Renders title, one-paragraph summary, plain body, Slack mrkdwn and Jira ADF for a finding. */
export function renderFinding(r: RenderInput): Rendered {
  const t = templatesFor(r.flow.id);
  const view = viewOf(r);
  const title = t.title(view).trim();
  const summary = summaryTpl(view).trim();
  const facts = factTemplates.map(({ name, tpl }) => ({ label: words.labels[name], value: tpl(view).trim() }));
  const why = t.why(view).trim();
  const body = t.body({ ...view, summary, facts }).replace(/\n{3,}/g, '\n\n').trim();
  const sview = escapeDeep({ ...view, summary, facts }) as Record<string, unknown>;
  const slack = t.slack(sview).replace(/\n{3,}/g, '\n\n').trim();
  const jira = findingAdf({
    title,
    summary,
    facts,
    whyLabel: words.labels.why,
    why,
    nextLabel: words.labels.next,
    next: r.flow.def.runbook,
    eventsLabel: words.labels.events,
    eventIds: r.eventIds.slice(0, MAX_IDS),
    moreText: moreText(r),
  });
  return { title, summary, body, slack, jira };
}
