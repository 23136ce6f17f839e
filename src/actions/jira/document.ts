import { parse } from 'yaml';
import type { TrailEvent } from '../../events/model.ts';
import { resourceLabel } from '../../events/summary.ts';
import { type AdfDoc, type AdfNode, type AdfText, bulletList, findingSections, heading, linked, paragraph, table, text } from '../../flows/adf.ts';
import type { Finding } from '../../flows/finding.ts';
import { FLOWS } from '../../flows/registry.ts';
import { findingUrl } from '../../http/dashboard-links.ts';
import { compileText, readTemplate, textEnv } from '../../templates/index.ts';

/**
 * What a Jira ticket says: its summary, its description and the coalesced "more events" comment.
 * Pure functions; the words come from src/templates/jira/ and the finding's own rendered words
 * (summary, who/what/where/how/when, why it matters); the structure is ADF built as data and
 * checked against @atlaskit/adf-schema by the tests. Nothing is escaped by hand: ADF is data.
 */

interface JiraWords {
  labels: Record<'events' | 'next' | 'links', string>;
  columns: Record<'time' | 'action' | 'resource' | 'region' | 'ip' | 'via', string>;
  vias: Record<string, string>;
  outcomes: Record<'denied' | 'failed', string>;
  none: string;
  more: string;
  trailbot: string;
  untitled: string;
}

const DIR = 'jira';
const words = parse(readTemplate(`${DIR}/words.yaml`)) as JiraWords;
const env = textEnv();
const tpl = (name: string) => compileText(env, readTemplate(`${DIR}/${name}.hbs`));
const t = {
  summary: tpl('summary'),
  lead: tpl('lead'),
  context: tpl('context'),
  comment: tpl('comment'),
  action: tpl('action'),
  via: tpl('via'),
  more: compileText(env, words.more),
  trailbot: compileText(env, words.trailbot),
  untitled: compileText(env, words.untitled),
};

/** Jira's limit on an issue summary (characters, as Java counts them: UTF-16 code units). */
export const SUMMARY_MAX = 255;
/** Events listed in a description or comment; the rest are counted. */
export const EVENTS_SHOWN = 20;
/** Room for one piece of free text (a summary paragraph, a fact, a table cell), so a document stays far below Jira's 32,767-character field limit. */
const PARAGRAPH_MAX = 2000;
const FACT_MAX = 500;
const CELL_MAX = 120;

// Control characters other than tab and newlines, and UTF-16 halves without their other half.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

function clean(s: string | null | undefined): string {
  return (s ?? '').replace(LONE_SURROGATE, '\uFFFD').replace(CONTROL, '');
}

/** One line: every run of white space (newlines, tabs, Unicode separators) becomes one space. */
export function oneLine(s: string | null | undefined): string {
  return clean(s).replace(/\s+/g, ' ').trim();
}

/** At most `max` UTF-16 units, cut on a word boundary when there is one near the end, with an ellipsis. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, max - 1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  const space = cut.search(/\s\S*$/);
  if (space > max * 0.6) cut = cut.slice(0, space);
  return `${cut.trimEnd()}…`;
}

const flowsById = new Map(FLOWS.map((f) => [f.id, f]));

/** The ticket's summary: the finding's title on one line, at most 255 characters, never empty. */
export function ticketSummary(f: Pick<Finding, 'title' | 'flow' | 'id'>): string {
  const s = oneLine(t.summary({ title: f.title ?? '' }));
  return clip(s || oneLine(t.untitled({ flow: f.flow, id: f.id })) || 'trailbot finding', SUMMARY_MAX);
}

/** ISO time → `2020-06-09 13:37:34` (UTC), or the placeholder. */
function clock(iso: string | null | undefined): string {
  if (!iso) return '';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return m ? `${m[1]} ${m[2]}` : oneLine(iso);
}

// aws, aws-cn and aws-us-gov regions; anything else (nothing, the isolated ISO partitions, a made-up name) gets no console link.
const REGION = /^(?![a-z]{2}-iso[a-z]?-)(?:(cn)|(us-gov)|[a-z]{2})-(?:[a-z]+-)*\d{1,2}$/;

/**
 * The event in the CloudTrail console's event history, or null when it cannot be found there: no
 * region, a region name that is not one, an id trailbot derived itself (the record had none) or
 * one longer than any CloudTrail writes (a UUID).
 */
export function consoleEventUrl(e: Pick<TrailEvent, 'region' | 'eventId' | 'derivedId'>): string | null {
  const region = e.region ?? '';
  const m = REGION.exec(region);
  if (!m || !e.eventId || e.eventId.length > 128 || e.derivedId) return null;
  const host = m[1] ? 'console.amazonaws.cn' : m[2] ? 'console.amazonaws-us-gov.com' : 'console.aws.amazon.com';
  return `https://${region}.${host}/cloudtrailv2/home?region=${region}#/events/${encodeURIComponent(e.eventId)}`;
}

const cell = (s: string | null | undefined, marks?: Parameters<typeof text>[1]): AdfText[] => text(clip(oneLine(s), CELL_MAX) || words.none, marks);

function eventRow(e: TrailEvent): AdfText[][] {
  const action = clip(oneLine(t.action({ action: e.action ?? words.none, denied: e.outcome === 'denied', failed: e.outcome === 'failed', errorCode: e.errorCode, outcomes: words.outcomes })), CELL_MAX);
  const r = e.primaryResource;
  const tool = e.tool && e.tool !== e.via ? e.tool : null;
  return [
    cell(clock(e.time)),
    linked(action || words.none, consoleEventUrl(e)),
    cell(r ? `${resourceLabel(r.type)} ${r.id}` : ''),
    cell(e.region),
    cell(e.sourceIp ?? e.sourceAddress),
    cell(t.via({ via: words.vias[e.via] ?? e.via, tool })),
  ];
}

/** The events table (newest first as given, at most EVENTS_SHOWN rows) and the count of the rest. */
function eventsBlock(events: readonly TrailEvent[], totalEvents: number): AdfNode[] {
  const shown = events.slice(0, EVENTS_SHOWN);
  const total = Math.max(totalEvents, events.length);
  const out: AdfNode[] = [];
  if (shown.length) {
    const c = words.columns;
    out.push(table([c.time, c.action, c.resource, c.region, c.ip, c.via], shown.map(eventRow)));
  }
  const rest = total - shown.length;
  if (rest > 0) out.push(paragraph(text(oneLine(t.more({ n: rest, one: rest === 1 })), [{ type: 'em' }])));
  return out;
}

function linksBlock(f: Pick<Finding, 'id'>, publicUrl: string, links: readonly { text: string; url: string }[] = []): AdfNode[] {
  const items: AdfText[][][] = [[linked(clip(oneLine(t.trailbot({ id: f.id })), CELL_MAX), findingUrl(publicUrl, f.id))]];
  for (const l of links) items.push([linked(clip(oneLine(l.text) || oneLine(l.url), CELL_MAX), l.url)]);
  return bulletList(items);
}

export interface TicketDescriptionInput {
  finding: Finding;
  /** Newest first, already capped (only the first EVENTS_SHOWN are listed). */
  events: TrailEvent[];
  /** How many events the finding has in all (the ones not listed are counted). */
  totalEvents: number;
  /** PUBLIC_URL: the ticket links back to the finding's events on the dashboard there. */
  publicUrl: string;
  /** More links (approvals, later). */
  links?: { text: string; url: string }[];
}

/**
 * The ticket's description: what happened and why it matters in one paragraph, severity and span,
 * who/what/where/how/when, the events table, what to do next, and the links back.
 */
export function ticketDescription(i: TicketDescriptionInput): AdfDoc {
  const f = i.finding;
  const s = findingSections(f.jira);
  const flow = flowsById.get(f.flow);
  const summary = oneLine(s.summary || f.summary);
  const why = oneLine(s.why || flow?.description);
  const next = oneLine(flow?.runbook || s.next);
  const count = Math.max(f.count ?? 0, i.totalEvents, i.events.length);
  const content: AdfNode[] = [
    paragraph(text(clip(oneLine(t.lead({ summary, why })), PARAGRAPH_MAX))),
    paragraph(text(clip(oneLine(t.context({ severity: f.severity, flow: f.flow, count, one: count === 1, firstSeen: clock(f.firstSeen), lastSeen: clock(f.lastSeen) })), PARAGRAPH_MAX), [{ type: 'em' }])),
    ...bulletList(s.facts.map((x) => [text(x.label ? `${clip(oneLine(x.label), CELL_MAX)}: ` : '', [{ type: 'strong' }]), text(clip(oneLine(x.value), FACT_MAX) || words.none)])),
    heading(3, words.labels.events),
    ...eventsBlock(i.events, i.totalEvents),
  ];
  if (next) content.push(heading(3, words.labels.next), paragraph(text(clip(next, PARAGRAPH_MAX))));
  content.push(heading(3, words.labels.links), ...linksBlock(f, i.publicUrl, i.links));
  return { type: 'doc', version: 1, content: content.filter(nonEmpty) };
}

export interface TicketCommentInput {
  finding: Finding;
  /** The events not reported yet, newest first, already capped. */
  events: TrailEvent[];
  /** How many events were not reported yet. */
  totalEvents: number;
  publicUrl: string;
  /** When the last report was (ISO); without it, the comment says when the latest event was. */
  since?: string | null;
}

/** The coalesced comment: "N more events since …", the same events table, and the link back. */
export function ticketComment(i: TicketCommentInput): AdfDoc {
  const n = Math.max(i.totalEvents, i.events.length);
  const latest = i.events.map((e) => e.time ?? '').sort().at(-1) ?? '';
  const lead = oneLine(t.comment({ n, one: n === 1, since: clock(i.since), latest: clock(latest), count: i.finding.count > n ? i.finding.count : 0 }));
  const content: AdfNode[] = [paragraph(text(clip(lead, PARAGRAPH_MAX))), ...eventsBlock(i.events, n), ...linksBlock(i.finding, i.publicUrl)];
  return { type: 'doc', version: 1, content: content.filter(nonEmpty) };
}

/** ADF forbids empty text nodes; an empty heading or paragraph is allowed but says nothing. */
function nonEmpty(n: AdfNode): boolean {
  return !((n.type === 'paragraph' || n.type === 'heading') && !n.content?.length);
}
