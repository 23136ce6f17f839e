import { parse } from 'yaml';
import { TrailbotError } from '../../errors.ts';
import type { TrailEvent } from '../../events/model.ts';
import { summarize } from '../../events/summary.ts';
import type { Finding } from '../../flows/index.ts';
import { slackEscape } from '../../flows/render.ts';
import { findingUrl } from '../../http/dashboard-links.ts';
import type { SlackBlock, SlackMessage } from '../../integrations/slack/port.ts';
import { compileText, readTemplate, textEnv } from '../../templates/index.ts';

/**
 * The Slack messages of a finding, built as Block Kit data (the words are in
 * src/templates/slack/findings) and checked against Block Kit's limits before they are sent:
 *
 *   header   the finding's title ("Resolved: …" once its ticket is closed)
 *   context  severity · flow · account · how many events since when
 *   section  the finding in plain language (who, what, where, how, when, why, what to do), cut to fit
 *   context  (resolved) that it was resolved and by which ticket
 *   actions  "Open ticket SEC-12" (URL) · "Trail of <actor>" (action_id trail-run) · "In trailbot" (URL)
 *
 * A thread reply is one section: "N more events, newest …" and the newest events, one line each.
 */

/** Block Kit's limits (FACTS.md §4 and §7). */
export const LIMITS = { blocks: 50, sectionText: 3000, headerText: 150, contextElements: 10, buttonText: 75, buttonValue: 2000, url: 3000, actionId: 255, fallback: 4000 } as const;

/** The action_id of the "Trail of <actor>" button; /trail's handler (src/http, S2) runs `trail` on its value. */
export const TRAIL_ACTION_ID = 'trail-run';

interface Words {
  buttons: { ticket: string; trail: string; trailbot: string };
  resolvedHeader: string;
  fallback: string;
  replyFallback: string;
  cut: string;
}

const DIR = 'slack/findings';
const env = textEnv();
const words = parse(readTemplate(`${DIR}/words.yaml`)) as Words;
const severities = (parse(readTemplate('flows/words.yaml')) as { severities: Record<string, string> }).severities;
const t = {
  context: compileText(env, readTemplate(`${DIR}/context.hbs`)),
  resolved: compileText(env, readTemplate(`${DIR}/resolved.hbs`)),
  reply: compileText(env, readTemplate(`${DIR}/reply.hbs`)),
  ticket: compileText(env, words.buttons.ticket),
  trail: compileText(env, words.buttons.trail),
  resolvedHeader: compileText(env, words.resolvedHeader),
  fallback: compileText(env, words.fallback),
  replyFallback: compileText(env, words.replyFallback),
};

/** Cuts `s` to `max` characters (an ellipsis marks the cut). */
export function clip(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

const plain = (text: string, max: number) => ({ type: 'plain_text', text: clip(text, max), emoji: true });
const mrkdwn = (text: string) => ({ type: 'mrkdwn', text });

/**
 * A section's mrkdwn within the 3,000 characters: cut at a line break when one is near the limit,
 * followed by the words that say it was cut. An escape (`&amp;`) or link (`<…|…>`) is never split.
 */
export function fitSection(text: string, max: number = LIMITS.sectionText): string {
  if ([...text].length <= max) return text;
  const tail = `\n${words.cut}`;
  let head = [...text].slice(0, max - [...tail].length).join('');
  const nl = head.lastIndexOf('\n');
  if (nl > head.length * 0.6) head = head.slice(0, nl);
  // Do not leave half an entity or half a link at the cut.
  head = head.replace(/&[a-z]{0,5}$/, '').replace(/<[^>]*$/, '');
  return `${head.trimEnd()}${tail}`;
}

/** The who-string of the "Trail of" button: what `trailbot trail` finds the person by. */
export function whoOf(actor: TrailEvent['actor'] | undefined): { who: string; label: string } | null {
  if (!actor || actor.type === 'AWSService' || actor.type === 'AWSAccount') return null;
  const who = actor.email ?? actor.arn ?? actor.userName ?? actor.name;
  if (!who || who.length > LIMITS.buttonValue) return null;
  return { who, label: actor.name ?? who };
}

export interface FindingMessageInput {
  finding: Pick<Finding, 'id' | 'title' | 'flow' | 'severity' | 'slack' | 'count' | 'firstSeen'>;
  /** The account of the finding's first event. */
  account: string | null;
  /** The actor of the finding's first event (the "Trail of" button), when it is a person or role. */
  actor: { who: string; label: string } | null;
  /** The finding's current Jira ticket, once it has one. */
  ticket: { key: string; url: string } | null;
  /** The finding is resolved (its ticket closed): the message says so. */
  resolved: boolean;
  publicUrl: string;
  /** More link buttons (approvals: "Review deactivation of …", "Dismiss"), shown while the finding is open. */
  links?: { text: string; url: string }[] | undefined;
}

/** The finding's mrkdwn without its first paragraph (the title and severity line the header and context show). */
function bodyOf(slack: string): string {
  const parts = slack.split(/\n{2,}/);
  return (parts.length > 1 && /^\*/.test(parts[0]!) ? parts.slice(1) : parts).join('\n\n').trim();
}

/** The first message of a finding (posted once, updated when its ticket or status changes). */
export function findingMessage(i: FindingMessageInput): SlackMessage {
  const f = i.finding;
  const severity = severities[f.severity] ?? f.severity;
  const title = i.resolved ? t.resolvedHeader({ title: f.title }) : f.title;
  const blocks: SlackBlock[] = [
    { type: 'header', block_id: 'title', text: plain(title, LIMITS.headerText) },
    {
      type: 'context',
      block_id: 'facts',
      elements: [mrkdwn(t.context({ severity: severity.charAt(0).toUpperCase() + severity.slice(1), flow: slackEscape(f.flow), account: i.account === null ? null : slackEscape(i.account), count: f.count, one: f.count === 1, firstSeen: f.firstSeen.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC') }).trim())],
    },
  ];
  const body = bodyOf(f.slack);
  if (body) blocks.push({ type: 'section', block_id: 'finding', text: mrkdwn(fitSection(body)) });
  if (i.resolved) blocks.push({ type: 'context', block_id: 'resolved', elements: [mrkdwn(t.resolved({ ticket: i.ticket?.key ?? null }).trim())] });
  const buttons: SlackBlock[] = [];
  if (i.ticket) buttons.push({ type: 'button', action_id: 'open-ticket', text: plain(t.ticket({ key: i.ticket.key }), LIMITS.buttonText), url: i.ticket.url });
  if (i.actor) {
    buttons.push({ type: 'button', action_id: TRAIL_ACTION_ID, text: plain(t.trail({ who: i.actor.label }), LIMITS.buttonText), value: i.actor.who });
  }
  buttons.push({ type: 'button', action_id: 'open-trailbot', text: plain(words.buttons.trailbot, LIMITS.buttonText), url: findingUrl(i.publicUrl, f.id) });
  if (!i.resolved) for (const [n, l] of (i.links ?? []).entries()) buttons.push({ type: 'button', action_id: `link-${n}`, text: plain(l.text, LIMITS.buttonText), url: l.url });
  blocks.push({ type: 'actions', block_id: 'buttons', elements: buttons });
  // The notification text is parsed like mrkdwn: the title (CloudTrail's words) is escaped there too.
  const message = { text: clip(t.fallback({ severity, title: slackEscape(title) }), LIMITS.fallback), blocks };
  checkBlocks(message);
  return message;
}

export interface ReplyInput {
  finding: Pick<Finding, 'title' | 'count'>;
  /** How many events the reply tells of (those since the last message). */
  n: number;
  /** The newest of them, newest first (at most `shown`). */
  events: readonly TrailEvent[];
  shown?: number;
}

/** A thread reply: "N more events, newest …" and the newest events in plain language. */
export function replyMessage(i: ReplyInput): SlackMessage {
  const shown = i.events.slice(0, i.shown ?? 5);
  const lines = shown.map((e) => slackEscape(clip(summarize(e), 400)));
  const newest = shown[0]?.time ? shown[0].time.replace('T', ' ').replace(/Z$/, ' UTC') : '';
  const text = t
    .reply({ n: i.n, one: i.n === 1, newest, total: i.finding.count > i.n ? i.finding.count : null, lines, more: i.n > shown.length ? i.n - shown.length : null })
    .replace(/\n{2,}/g, '\n')
    .trim();
  const message = {
    text: clip(t.replyFallback({ n: i.n, one: i.n === 1, title: slackEscape(i.finding.title) }), LIMITS.fallback),
    blocks: [{ type: 'section', block_id: 'more', text: mrkdwn(fitSection(text)) }],
  };
  checkBlocks(message);
  return message;
}

/**
 * Checks a message against Block Kit's limits (a bug here would make Slack refuse the message with
 * invalid_blocks, every retry alike). Throws E_INTERNAL naming the block.
 */
export function checkBlocks(m: SlackMessage): void {
  const bad = (what: string): never => {
    throw new TrailbotError('E_INTERNAL', `a Slack message trailbot built breaks Block Kit's limits: ${what}`, { hint: 'a bug in src/actions/slack/blocks.ts; the message was not sent' });
  };
  if (!m.text) bad('no fallback text');
  const blocks = m.blocks ?? [];
  if (blocks.length > LIMITS.blocks) bad(`${blocks.length} blocks (at most ${LIMITS.blocks})`);
  const len = (s: unknown): number => (typeof s === 'string' ? [...s].length : 0);
  for (const [n, b] of blocks.entries()) {
    const at = `block ${n} (${String(b.type)})`;
    const text = (b.text as { text?: string } | undefined)?.text;
    if (b.type === 'section' && len(text) > LIMITS.sectionText) bad(`${at}: ${len(text)} characters (at most ${LIMITS.sectionText})`);
    if (b.type === 'header' && len(text) > LIMITS.headerText) bad(`${at}: ${len(text)} characters (at most ${LIMITS.headerText})`);
    if (b.type === 'context' && ((b.elements as unknown[]) ?? []).length > LIMITS.contextElements) bad(`${at}: more than ${LIMITS.contextElements} elements`);
    if (b.type === 'actions') {
      const ids = new Set<string>();
      for (const el of (b.elements as Record<string, unknown>[]) ?? []) {
        const id = String(el.action_id ?? '');
        if (ids.has(id)) bad(`${at}: action_id ${id} twice`);
        ids.add(id);
        if (len((el.text as { text?: string } | undefined)?.text) > LIMITS.buttonText) bad(`${at}: button text over ${LIMITS.buttonText} characters`);
        if (len(el.value) > LIMITS.buttonValue) bad(`${at}: button value over ${LIMITS.buttonValue} characters`);
        if (len(el.url) > LIMITS.url) bad(`${at}: button URL over ${LIMITS.url} characters`);
        if (len(id) > LIMITS.actionId) bad(`${at}: action_id over ${LIMITS.actionId} characters`);
      }
    }
  }
}
