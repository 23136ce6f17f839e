import { parse } from 'yaml';
import { describeError, TrailbotError } from '../../errors.ts';
import { slackEscape } from '../../flows/render.ts';
import type { SlackMessage, SlackPort } from '../../integrations/slack/port.ts';
import { type Cell, type Report, renderReport } from '../../reports/index.ts';
import type { StoredReport } from '../../reports/scheduled.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { Db } from '../../store/index.ts';
import { compileText, readTemplate, textEnv } from '../../templates/index.ts';
import { checkBlocks, clip, fitSection, LIMITS } from './blocks.ts';

/**
 * Delivers a kept scheduled report (src/reports/scheduled.ts) to its Slack channel
 * (`reports[].slack.channel`): a short summary message (the period, the totals, the top items) and
 * the whole report as a Markdown file (its sections are tables of different columns, which Markdown
 * shows as they are and Slack previews; CSV would flatten them into one table).
 *
 * Idempotent per kept report and channel (table report_deliveries): the summary is posted with the
 * report id in its metadata (`trailbot_report`) after an intent row, so a retry after a crash
 * between the post and its record finds it in the channel instead of posting again; the file is
 * uploaded only once the summary is recorded, and its upload recorded after. A retried report job
 * whose delivery is recorded posts nothing. (Slack offers no lookup for a file upload by our
 * metadata: a crash in the moment between the upload and its record would upload the file again
 * on the retry, rather than lose it.)
 */

export const REPORT_EVENT = 'trailbot_report';

interface Words {
  fallback: string;
  file: string;
  fileTitle: string;
  top: Record<string, string>;
}
const env = textEnv();
const words = parse(readTemplate('slack/reports/words.yaml')) as Words;
const t = {
  summary: compileText(env, readTemplate('slack/reports/summary.hbs')),
  fallback: compileText(env, words.fallback),
  file: compileText(env, words.file),
  fileTitle: compileText(env, words.fileTitle),
};

const day = (iso: string): string => iso.replace(/T00:00:00(\.000)?Z$/, '').replace('T', ' ').replace(/(:00)?(\.000)?Z$/, ' UTC');
const num = (v: Cell | undefined): number => (typeof v === 'number' ? v : Number(v ?? 0) || 0);
const text = (v: Cell | undefined): string => (v === null || v === undefined ? '' : String(v));

/** The numbers and top items the summary says, by kind. */
function summaryView(r: Report): Record<string, unknown> {
  const rows = (id: string) => r.sections.find((s) => s.id === id)?.rows ?? [];
  const view: Record<string, unknown> = { since: day(r.since), until: day(r.until), topTitle: words.top[r.kind] ?? '' };
  let top: { name: string; n: number }[] = [];
  if (r.kind === 'denied') {
    const calls = rows('calls');
    const total = calls.reduce((n, x) => n + num(x.count), 0);
    const principals = rows('principals').length;
    view.denied = { total, oneCall: total === 1, pairs: calls.length, onePair: calls.length === 1, principals, onePrincipal: principals === 1, fresh: rows('new').length };
    top = calls.slice(0, 3).map((x) => ({ name: `${text(x.action)}${x.service ? ` (${text(x.service)})` : ''}`, n: num(x.count) }));
  } else if (r.kind === 'clickops') {
    const [cur, prev] = rows('totals');
    const changes = num(cur?.changes);
    view.clickops = {
      changes,
      oneChange: changes === 1,
      people: num(cur?.people),
      onePerson: num(cur?.people) === 1,
      resources: num(cur?.resources),
      oneResource: num(cur?.resources) === 1,
      previous: num(prev?.changes),
    };
    top = rows('people')
      .filter((x) => num(x.changes) > 0)
      .slice(0, 3)
      .map((x) => ({ name: text(x.person), n: num(x.changes) }));
  } else {
    const ids = rows('identities');
    const days = Math.round((Date.parse(r.until) - Date.parse(r.since)) / 86_400_000);
    view.inactive = { identities: ids.length, oneIdentity: ids.length === 1, days, oneDay: days === 1 };
    top = ids.slice(0, 3).map((x) => ({ name: text(x.identity), n: num(x.daysIdle) }));
  }
  view.top = top.map((x) => ({ name: slackEscape(clip(x.name, 200)), n: x.n }));
  return view;
}

/** The summary message of a kept report (Block Kit: a header and one section). */
export function reportSummary(r: Report): SlackMessage {
  const view = summaryView(r);
  const body = t.summary(view).replace(/\n{2,}/g, '\n').trim();
  const message: SlackMessage = {
    text: clip(t.fallback({ title: r.title, since: view.since, until: view.until }), LIMITS.fallback),
    blocks: [
      { type: 'header', block_id: 'title', text: { type: 'plain_text', text: clip(r.title, LIMITS.headerText), emoji: true } },
      { type: 'section', block_id: 'summary', text: { type: 'mrkdwn', text: fitSection(body) } },
    ],
  };
  checkBlocks(message);
  return message;
}

/** The file: the report in Markdown, named after the report and its period. */
export function reportFile(stored: Pick<StoredReport, 'reportId' | 'since' | 'until' | 'report'>): { filename: string; content: string; title: string; comment: string } {
  const filename = `${stored.reportId}-${stored.since.slice(0, 10)}-to-${stored.until.slice(0, 10)}.md`;
  return {
    filename,
    content: renderReport(stored.report, 'md'),
    title: clip(t.fileTitle({ title: stored.report.title, since: day(stored.since), until: day(stored.until) }), 250),
    comment: t.file({ filename }),
  };
}

type DeliveryState = 'intent' | 'summary' | 'delivered' | 'failed';
interface DeliveryRow {
  state: DeliveryState;
  channel_id: string | null;
  summary_ts: string | null;
  file_id: string | null;
  attempts: number;
  created_ms: number;
}

async function row(db: Db, report: string, channel: string): Promise<DeliveryRow> {
  await db.query(`INSERT INTO report_deliveries (report, channel, state) VALUES ($1, $2, 'intent') ON CONFLICT (report, channel) DO NOTHING`, [report, channel]);
  const r = await db.query<DeliveryRow>(
    `SELECT state, channel_id, summary_ts, file_id, attempts, (extract(epoch FROM created_at) * 1000)::float8 AS created_ms FROM report_deliveries WHERE report = $1 AND channel = $2`,
    [report, channel],
  );
  const x = r.rows[0]!;
  return { ...x, attempts: Number(x.attempts), created_ms: Number(x.created_ms) };
}

const set = (db: Db, report: string, channel: string, sql: string, values: unknown[]) =>
  db.query(`UPDATE report_deliveries SET ${sql}, updated_at = now() WHERE report = $1 AND channel = $2`, [report, channel, ...values]);

export interface ReportDelivery {
  channel: string;
  delivered: boolean;
  ts: string | null;
  fileId: string | null;
  reason?: string;
}

/** Delivers the kept report to `channel` once: the summary, then the file (see the top of this file). */
export async function deliverReport(ctx: { db: Db; log: Logger }, slack: SlackPort, stored: StoredReport, channel: string): Promise<ReportDelivery> {
  const { db } = ctx;
  let d = await row(db, stored.id, channel);
  if (d.state === 'delivered') return { channel: d.channel_id ?? channel, delivered: false, ts: d.summary_ts, fileId: d.file_id, reason: 'already delivered' };
  try {
    if (d.state === 'intent' || d.state === 'failed') {
      let hit = null;
      if (d.attempts > 0) {
        // A post may have reached Slack before its answer was lost: look for it before posting again.
        [hit = null] = await slack.findByMetadata(channel, REPORT_EVENT, { report: stored.id }, ((d.created_ms - 300_000) / 1000).toFixed(6));
      }
      if (!hit) {
        await set(db, stored.id, channel, 'attempts = attempts + 1', []);
        try {
          hit = await slack.post(channel, reportSummary(stored.report), { metadata: { eventType: REPORT_EVENT, payload: { report: stored.id, report_id: stored.reportId } } });
        } catch (e) {
          // Slack refused: nothing was posted, the next try need not look first.
          if (e instanceof TrailbotError && ['E_SLACK_RATE_LIMITED', 'E_SLACK_REJECTED', 'E_SLACK_AUTH'].includes(e.code)) await set(db, stored.id, channel, 'attempts = $3', [d.attempts]);
          throw e;
        }
      }
      await set(db, stored.id, channel, "state = 'summary', channel_id = $3, summary_ts = $4, error = NULL", [hit.channel, hit.ts]);
      d = await row(db, stored.id, channel);
    }
    await set(db, stored.id, channel, 'upload_attempts = upload_attempts + 1', []);
    const { fileId } = await slack.uploadFile(d.channel_id ?? channel, reportFile(stored));
    await set(db, stored.id, channel, "state = 'delivered', file_id = $3, error = NULL", [fileId]);
    ctx.log.info({ report: stored.id, channel }, `report ${stored.reportId} (${stored.since} to ${stored.until}) delivered to Slack ${channel}`);
    return { channel: d.channel_id ?? channel, delivered: true, ts: d.summary_ts, fileId };
  } catch (e) {
    if (e instanceof TrailbotError && (e.code === 'E_SLACK_REJECTED' || e.code === 'E_SLACK_AUTH')) {
      await set(db, stored.id, channel, "state = CASE WHEN state = 'intent' THEN 'failed' ELSE state END, error = $3", [describeError(e)]);
      throw new TrailbotError(e.code, `report ${stored.reportId} was not delivered to Slack ${channel}: ${e.message}`, { hint: e.hint, cause: e });
    }
    throw e;
  }
}
