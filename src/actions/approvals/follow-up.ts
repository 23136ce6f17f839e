import { type AdfDoc, type AdfNode, bulletList, linked, paragraph, text } from '../../flows/adf.ts';
import { slackEscape } from '../../flows/render.ts';
import type { JiraPort } from '../../integrations/jira/port.ts';
import type { SlackPort } from '../../integrations/slack/port.ts';
import { TrailbotError } from '../../errors.ts';
import type { JobContext } from '../../runtime/pipeline.ts';
import type { Db } from '../../store/index.ts';
import { currentTicket } from '../jira/tickets.ts';
import { messageOf } from '../slack/messages.ts';
import { type Execution, getExecution } from './execute.ts';
import type { Target } from './plan.ts';
import { linkFor, word } from './proposals.ts';
import type { ApprovalSettings } from './rules.ts';
import { type Approval, audit, finishApproval, getApproval, proposeReactivation, reactivationOf } from './store.ts';

/**
 * After a decision: the approval's outcome recorded (done / partial / failed, or dismissed), the
 * reactivation proposed when something can be undone, and the finding's Jira ticket and Slack thread
 * told, each by a queued `approval` job (tell-jira, tell-slack) that says one outcome once:
 * - Jira: a comment (approvers, time, each step and its result, the Reactivate link), then the ticket
 *   moves to `approvals.jiraStatus` when one is set. The comment carries a marker; a retry of a try
 *   that may have reached Jira looks for it before commenting again.
 * - Slack: a reply in the finding's thread, with message metadata a retry looks for first.
 */

export interface FollowUpOptions {
  jira: JiraPort | undefined;
  slack: SlackPort | undefined;
  /** APPROVAL_SECRET: the Reactivate link is signed with it. */
  secret: string | undefined;
  publicUrl: string;
  settings: ApprovalSettings;
}

export type ToldState = 'done' | 'partial' | 'failed' | 'dismissed';
const SLACK_EVENT = 'trailbot_approval';
/** Failures a person must fix (a permission, a role that cannot be changed, something gone): final at once. */
const NEEDS_PERSON = new Set(['E_IAM_DENIED', 'E_IAM_REJECTED', 'E_IAM_NOT_FOUND']);

const when = (iso: string | null | undefined): string => (iso ? `on ${iso.replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC')}` : '');

function whoOf(a: Approval): { who: string; target: string } {
  const t = a.target as Target;
  return { who: t.name, target: a.principal };
}

interface Notice {
  state: 'intent' | 'done' | 'skipped' | 'failed';
  attempts: number;
  told: string | null;
}

/** The notice row of (approval, target) for this outcome: made, or reset when a new outcome is to be told. */
async function notice(db: Db, approvalId: string, target: 'jira' | 'slack', state: ToldState): Promise<Notice> {
  await db.query(
    `INSERT INTO approval_notices (approval_id, target, state, detail) VALUES ($1, $2, 'intent', $3)
     ON CONFLICT (approval_id, target) DO UPDATE SET state = 'intent', attempts = 0, detail = excluded.detail, error = NULL, updated_at = now()
       WHERE approval_notices.detail->>'state' IS DISTINCT FROM $4`,
    [approvalId, target, JSON.stringify({ state }), state],
  );
  const r = await db.query<{ state: Notice['state']; attempts: number; detail: { state?: string } | null }>(`SELECT state, attempts, detail FROM approval_notices WHERE approval_id = $1 AND target = $2`, [approvalId, target]);
  const row = r.rows[0]!;
  return { state: row.state, attempts: Number(row.attempts), told: row.detail?.state ?? null };
}

async function noteAttempt(db: Db, approvalId: string, target: string): Promise<void> {
  await db.query(`UPDATE approval_notices SET attempts = attempts + 1, updated_at = now() WHERE approval_id = $1 AND target = $2`, [approvalId, target]);
}

async function settle(db: Db, approvalId: string, target: string, state: 'done' | 'skipped' | 'failed', detail: Record<string, unknown>, error?: string): Promise<void> {
  await db.query(`UPDATE approval_notices SET state = $3, detail = detail || $4::jsonb, error = $5, updated_at = now() WHERE approval_id = $1 AND target = $2`, [approvalId, target, state, JSON.stringify(detail), error ?? null]);
}

export interface Told {
  lead: string;
  steps: string[];
  notes: string[];
  reactivate: { text: string; url: string } | null;
  page: { text: string; url: string } | null;
  marker: string;
}

/** What the ticket and the thread are told of an approval's outcome (words from src/templates/approvals/people.yaml). */
export async function toldOf(db: Db, a: Approval, state: ToldState, o: Pick<FollowUpOptions, 'secret' | 'publicUrl'>): Promise<Told> {
  const { who, target } = whoOf(a);
  const marker = word('told.marker', { id: `${a.id.slice(0, 12)}-${state}` });
  const page = o.secret ? { text: word('links.page'), url: linkFor(o.secret, o.publicUrl, a, a.kind === 'reactivate' ? 'reactivate' : 'deactivate') } : null;
  if (state === 'dismissed') {
    return { lead: word('told.dismissed', { by: a.decidedBy ?? 'someone', kind: word(`kinds.${a.kind}`), who, target, at: when(a.decidedAt) }), steps: [], notes: [], reactivate: null, page, marker };
  }
  const run: Execution | undefined = await getExecution(db, a.id);
  const approvers = a.approvedBy.map((m) => m.email).join(' and ') || (a.decidedBy ?? 'someone');
  const lead = word(`told.${a.kind}-${state}`, { approvers, who, target, at: when(run?.finishedAt ?? a.finishedAt) });
  const again = a.kind === 'deactivate' ? await reactivationOf(db, a.id) : undefined;
  const reactivate = again && o.secret ? { text: word('links.reactivate', { who }), url: linkFor(o.secret, o.publicUrl, again, 'reactivate') } : null;
  return { lead, steps: run?.steps.map((s) => s.line) ?? [], notes: run?.warnings ?? [], reactivate, page, marker };
}

/** The Jira comment: the lead, the steps and their results, notes, the Reactivate link, the page, the marker. */
export function toldComment(t: Told): AdfDoc {
  const content: AdfNode[] = [paragraph(text(t.lead))];
  if (t.steps.length) content.push(paragraph(text(word('told.steps'), [{ type: 'strong' }])), ...bulletList(t.steps.map((s) => [text(s)])));
  content.push(...bulletList(t.notes.map((n) => [text(n)])));
  if (t.reactivate) content.push(paragraph(text(word('told.reactivate-offer'))), paragraph(linked(t.reactivate.text, t.reactivate.url)));
  if (t.page) content.push(paragraph(linked(t.page.text, t.page.url)));
  content.push(paragraph(text(t.marker, [{ type: 'em' }])));
  return { type: 'doc', version: 1, content };
}

/** The Slack thread reply (mrkdwn, escaped; Slack's 3,000 characters per section kept). */
export function toldMessage(t: Told): { text: string; blocks: Record<string, unknown>[] } {
  const link = (l: { text: string; url: string }): string => `<${l.url}|${slackEscape(l.text)}>`;
  const lines = [slackEscape(t.lead)];
  if (t.steps.length) lines.push(`*${slackEscape(word('told.steps'))}*`, ...t.steps.map((s) => `• ${slackEscape(s)}`));
  lines.push(...t.notes.map((n) => `• ${slackEscape(n)}`));
  if (t.reactivate) lines.push(`${slackEscape(word('told.reactivate-offer'))} ${link(t.reactivate)}`);
  if (t.page) lines.push(link(t.page));
  let body = lines.join('\n');
  if (body.length > 2900) body = `${body.slice(0, 2899)}…`;
  return { text: t.lead.slice(0, 300), blocks: [{ type: 'section', block_id: 'approval', text: { type: 'mrkdwn', text: body } }] };
}

export function createApprovalFollowUp(o: FollowUpOptions) {
  /** The remediate job's end (createRemediator's onExecuted): the outcome kept, the reactivation proposed, the telling queued. */
  async function onExecuted(ctx: JobContext, e: Execution): Promise<void> {
    const db = ctx.store.db;
    const a = await getApproval(db, e.approvalId);
    if (!a) return;
    const last = ctx.job.attempt >= ctx.job.attempts;
    const final = e.state === 'done' || last || e.steps.some((s) => s.state === 'failed' && s.error !== null && NEEDS_PERSON.has(s.error.code));
    // A run the queue will try again is told when it ends for good (one comment, not one per try).
    if (!final || (e.state !== 'done' && e.state !== 'partial' && e.state !== 'failed')) return;
    await finishApproval(db, a.id, e.state, { done: e.done, notDone: e.notDone, warnings: e.warnings });
    const undoable = e.steps.some((s) => s.state === 'done' && s.outcome === 'changed' && s.reversible);
    if (a.kind === 'deactivate' && undoable) await proposeReactivation(db, a, { required: o.settings.required, ttlMs: o.settings.linkTtlMs });
    await ctx.enqueue('approval', { approvalId: a.id, task: 'tell-jira', state: e.state });
    await ctx.enqueue('approval', { approvalId: a.id, task: 'tell-slack', state: e.state });
  }

  async function tellJira(ctx: JobContext, a: Approval, state: ToldState): Promise<Record<string, unknown>> {
    const db = ctx.store.db;
    const n = await notice(db, a.id, 'jira', state);
    if (n.state === 'done' || n.state === 'skipped') return { jira: n.state, state };
    const ticket = await currentTicket(db, a.findingId);
    if (!o.jira || !ticket || ticket.state !== 'created' || !ticket.key) {
      const why = !o.jira ? 'Jira is not configured' : 'the finding has no ticket in Jira';
      await settle(db, a.id, 'jira', 'skipped', { why });
      return { jira: 'skipped', why };
    }
    const t = await toldOf(db, a, state, o);
    let commentId = n.attempts > 0 ? await o.jira.findComment(ticket.key, t.marker) : undefined;
    if (!commentId) {
      await noteAttempt(db, a.id, 'jira');
      commentId = (await o.jira.comment(ticket.key, toldComment(t))).id;
    }
    let moved: string | null = null;
    if (o.settings.jiraStatus && state !== 'dismissed') {
      moved = await o.jira.transitionTo(ticket.key, o.settings.jiraStatus);
      if (moved === 'unavailable') ctx.log.warn({ key: ticket.key, status: o.settings.jiraStatus }, `${ticket.key} was not moved to ${o.settings.jiraStatus}: no transition from its status leads there (approvals.jiraStatus)`);
    }
    await settle(db, a.id, 'jira', 'done', { key: ticket.key, commentId, moved });
    await audit(db, { action: 'told', actor: 'trailbot', approvalId: a.id, findingId: a.findingId, target: a.principal, outcome: state, detail: { jira: ticket.key, commentId, moved, status: o.settings.jiraStatus ?? null } });
    return { jira: 'commented', key: ticket.key, commentId, moved };
  }

  async function tellSlack(ctx: JobContext, a: Approval, state: ToldState): Promise<Record<string, unknown>> {
    const db = ctx.store.db;
    const n = await notice(db, a.id, 'slack', state);
    if (n.state === 'done' || n.state === 'skipped') return { slack: n.state, state };
    const m = await messageOf(db, a.findingId);
    if (!o.slack || !m || m.state !== 'posted' || !m.channelId || !m.ts) {
      const why = !o.slack ? 'Slack is not configured' : 'the finding has no Slack message';
      await settle(db, a.id, 'slack', 'skipped', { why });
      return { slack: 'skipped', why };
    }
    const match = { approval_id: a.id, state };
    let ts: string | undefined;
    if (n.attempts > 0) ts = (await o.slack.findByMetadata(m.channelId, SLACK_EVENT, match, m.ts, { threadTs: m.ts }))[0]?.ts;
    if (!ts) {
      await noteAttempt(db, a.id, 'slack');
      const t = await toldOf(db, a, state, o);
      ts = (await o.slack.post(m.channelId, toldMessage(t), { threadTs: m.ts, metadata: { eventType: SLACK_EVENT, payload: match } })).ts;
    }
    await settle(db, a.id, 'slack', 'done', { channel: m.channelId, ts });
    await audit(db, { action: 'told', actor: 'trailbot', approvalId: a.id, findingId: a.findingId, target: a.principal, outcome: state, detail: { slack: m.channelId, ts } });
    return { slack: 'replied', channel: m.channelId, ts };
  }

  /** The tell-jira and tell-slack tasks of an `approval` job. */
  async function tell(ctx: JobContext, p: { approvalId: string; task: 'tell-jira' | 'tell-slack'; state?: ToldState | undefined }): Promise<Record<string, unknown>> {
    const a = await getApproval(ctx.store.db, p.approvalId);
    if (!a) throw new TrailbotError('E_INPUT_SHAPE', `there is no approval ${p.approvalId}`);
    const state = p.state ?? (a.state === 'dismissed' || a.state === 'done' || a.state === 'partial' || a.state === 'failed' ? a.state : undefined);
    if (!state) throw new TrailbotError('E_INPUT_SHAPE', `approval ${p.approvalId} is ${a.state}: there is no outcome to tell yet`);
    return p.task === 'tell-jira' ? tellJira(ctx, a, state) : tellSlack(ctx, a, state);
  }

  return { onExecuted, tell };
}
