import { createHash } from 'node:crypto';
import { durationMs } from '../time.ts';
import { TrailbotError } from '../errors.ts';
import type { Store } from '../store/index.ts';
import { buildReport, DEFAULT_PERIOD, type Report, type ReportKind } from './index.ts';
import { isoText } from '../store/sql.ts';

/** A report as configured under `reports:` in trailbot.config.yaml. */
export interface ReportSchedule {
  id: string;
  kind: ReportKind;
  /** The period each run covers, ending when it runs (`7d`); the kind's default otherwise. */
  period?: string | undefined;
}

export interface StoredReport {
  id: string;
  reportId: string;
  kind: ReportKind;
  since: string;
  until: string;
  createdAt: string;
  report: Report;
}

/** Runs end on the minute, so a retried job covers the same period and lands on the same row. */
function floorMinute(ms: number): number {
  return Math.floor(ms / 60_000) * 60_000;
}

/**
 * The `report` job: builds the configured report for its period (ending at `until`, else at `at`, the
 * time the scheduled run was due, else now; on the minute) and keeps it in the store. A retry of a
 * scheduled run carries the same `at`, so it reports the same period however late it runs. Idempotent: the same report for the same period is one row, however often
 * the job runs. Delivery to Slack and Jira reads these rows (later work).
 */
export async function runScheduledReport(
  store: Store,
  schedules: readonly ReportSchedule[],
  p: { report: string; since?: string | undefined; until?: string | undefined; at?: string | undefined },
  now: Date = new Date(),
): Promise<{ id: string; created: boolean; kind: ReportKind; since: string; until: string; rows: number }> {
  const s = schedules.find((x) => x.id === p.report);
  if (!s) {
    throw new TrailbotError('E_INPUT_SHAPE', `no report ${JSON.stringify(p.report)} is configured`, {
      hint: schedules.length ? `configured reports: ${schedules.map((x) => x.id).join(', ')}` : 'add one under reports: in trailbot.config.yaml',
    });
  }
  const untilMs = p.until ? Date.parse(p.until) : floorMinute(p.at ? Date.parse(p.at) : now.getTime());
  const periodMs = durationMs(s.period ?? DEFAULT_PERIOD[s.kind])!;
  const sinceMs = p.since ? Date.parse(p.since) : untilMs - periodMs;
  const since = new Date(sinceMs).toISOString();
  const until = new Date(untilMs).toISOString();
  const id = `${s.id}-${createHash('sha256').update(`${since}|${until}`).digest('hex').slice(0, 16)}`;
  const report = await buildReport(store, s.kind, { since, until });
  const r = await store.db.query(
    `INSERT INTO reports (id, report_id, kind, since, until, data) VALUES ($1, $2, $3, $4, $5, $6::jsonb)
     ON CONFLICT (id) DO NOTHING`,
    [id, s.id, s.kind, since, until, JSON.stringify(report)],
  );
  const rows = report.sections.reduce((n, sec) => n + sec.rows.length, 0);
  return { id, created: r.rowCount > 0, kind: s.kind, since, until, rows };
}

interface Row {
  id: string;
  report_id: string;
  kind: ReportKind;
  since: string;
  until: string;
  created_at: string;
  data: Report | string;
}

const COLS = `id, report_id, kind, ${isoText('since')} AS since, ${isoText('until')} AS until, ${isoText('created_at')} AS created_at`;

function toStored(r: Row): StoredReport {
  return {
    id: r.id,
    reportId: r.report_id,
    kind: r.kind,
    since: r.since,
    until: r.until,
    createdAt: r.created_at,
    report: typeof r.data === 'string' ? (JSON.parse(r.data) as Report) : r.data,
  };
}

/** Kept reports, newest first (without their contents). */
export async function listReports(store: Store, opts: { reportId?: string | undefined; limit?: number } = {}): Promise<Omit<StoredReport, 'report'>[]> {
  const r = await store.db.query<Omit<Row, 'data'>>(
    `SELECT ${COLS} FROM reports WHERE ($1::text IS NULL OR report_id = $1) ORDER BY created_at DESC, id LIMIT $2`,
    [opts.reportId ?? null, opts.limit ?? 50],
  );
  return r.rows.map((x) => ({ id: x.id, reportId: x.report_id, kind: x.kind, since: x.since, until: x.until, createdAt: x.created_at }));
}

export async function getReport(store: Store, id: string): Promise<StoredReport | null> {
  const r = await store.db.query<Row>(`SELECT ${COLS}, data FROM reports WHERE id = $1`, [id]);
  return r.rows[0] ? toStored(r.rows[0]) : null;
}
