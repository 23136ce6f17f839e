import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { at, record, records, replay } from '../../../test/fixtures/flows/load.ts';
import { createTestDatabase } from '../../../test/helpers/db.ts';
import type { Ingestible } from '../../events/model.ts';
import { normalize } from '../../events/normalize.ts';
import { createSlackClient } from '../../integrations/slack/client.ts';
import type { SlackPort } from '../../integrations/slack/port.ts';
import { type SlackStandin, startSlackStandin } from '../../integrations/slack/standin/index.ts';
import { renderReport } from '../../reports/index.ts';
import { getReport, runScheduledReport } from '../../reports/scheduled.ts';
import { createLogger } from '../../runtime/logger.ts';
import { openStore, type Store } from '../../store/index.ts';
import { deliverReport, REPORT_EVENT, reportSummary } from './reports.ts';

/**
 * Scheduled reports delivered to Slack through the real client and the Slack stand-in: the summary
 * (period, totals, top items), the whole report as a Markdown file (its bytes checked), and nothing
 * posted twice when the report job is retried, even after a crash between a post and its record.
 */
const R = 'records/';
const ing = (raws: Record<string, unknown>[]): Ingestible[] => raws.map((raw) => ({ event: normalize(raw), raw }));
const log = createLogger({ level: 'silent' });

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let slack: SlackStandin;
let port: SlackPort;
const schedules = [
  { id: 'weekly-denied', kind: 'denied' as const, slack: { channel: '#security' } },
  { id: 'monthly-clickops', kind: 'clickops' as const, period: '30d', slack: { channel: '#security' } },
  { id: 'idle', kind: 'inactive' as const, period: '1d', slack: { channel: '#security' } },
];
const WEEK = { at: '2024-08-04T00:00:00Z' };

beforeAll(async () => {
  db = await createTestDatabase('trailbot_slack_reports');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  slack = await startSlackStandin();
  port = createSlackClient({ botToken: slack.token, apiUrl: `${slack.url}/api` });
  const denied = records(`${R}stratus-aws.credential-access.ec2-get-password-data.json`); // 2024-07-30: 30 denied GetPasswordData
  const scpNow = replay(at(`${R}denied.json`, 0), 3, 60, '2024-07-29T10:00:00Z');
  const clicks = replay(record(`${R}writes-iam.json`, 'UploadSSHPublicKey'), 5, 3600, '2024-07-29T08:00:00Z');
  await store.ingest(ing([...denied, ...scpNow, ...clicks]));
});
afterAll(async () => {
  await slack?.close();
  await store?.close();
  await db?.drop();
});

const channel = () => slack.channels.get('security')!;
const summaries = (id: string) => channel().messages.filter((m) => m.metadata?.event_type === REPORT_EVENT && m.metadata.event_payload.report === id);
const uploads = (name: string) => [...slack.files.values()].filter((f) => f.filename === name && f.completed);

async function kept(report: string, p: Record<string, string> = WEEK) {
  const r = await runScheduledReport(store, schedules, { report, ...p });
  return (await getReport(store, r.id))!;
}

describe('reports to Slack', () => {
  it('the weekly denied-calls report: a short summary, then the whole report as a Markdown file', async () => {
    const stored = await kept('weekly-denied');
    const d = await deliverReport({ db: store.db, log }, port, stored, '#security');
    expect(d).toMatchObject({ delivered: true, channel: channel().id });
    const [summary, ...more] = summaries(stored.id);
    expect(more).toEqual([]);
    expect(summary!.text).toBe('Denied calls, 2024-07-28 to 2024-08-04');
    const text = (summary!.blocks as { type: string; text: { text: string } }[]).map((b) => b.text.text).join('\n');
    expect(text).toContain('*2024-07-28 to 2024-08-04*');
    // The numbers are the kept report's: calls summed, service/action pairs, principals, pairs new this week.
    const rows = (id: string) => stored.report.sections.find((s) => s.id === id)!.rows;
    const total = rows('calls').reduce((n, r) => n + Number(r.count), 0);
    expect(total).toBeGreaterThan(30);
    expect(text).toContain(`*${total}* denied calls of ${rows('calls').length} actions by ${rows('principals').length} principals; ${rows('new').length} denied for the first time.`);
    expect(text).toContain('Most denied:\n• GetPasswordData (ec2.amazonaws.com) (30)');
    const [file, ...again] = uploads('weekly-denied-2024-07-28-to-2024-08-04.md');
    expect(again).toEqual([]);
    expect(file!.channel).toBe(channel().id);
    expect(file!.comment).toBe('The whole report: weekly-denied-2024-07-28-to-2024-08-04.md');
    expect(new TextDecoder().decode(file!.bytes)).toBe(renderReport(stored.report, 'md'));
    expect(new TextDecoder().decode(file!.bytes)).toContain('| GetPasswordData |');
  });

  it('a retried report job posts nothing more', async () => {
    const stored = await kept('weekly-denied');
    const before = slack.requests.length;
    expect(await deliverReport({ db: store.db, log }, port, stored, '#security')).toMatchObject({ delivered: false, reason: 'already delivered' });
    expect(slack.requests.length).toBe(before);
    expect(summaries(stored.id)).toHaveLength(1);
  });

  it('a crash between the summary and its record: the retry finds the summary, posts it not again, and uploads the file', async () => {
    const stored = await kept('monthly-clickops');
    const dying: SlackPort = {
      ...port,
      post: async (c, m, o) => {
        await port.post(c, m, o);
        throw new Error('worker killed');
      },
    };
    await expect(deliverReport({ db: store.db, log }, dying, stored, '#security')).rejects.toThrow('worker killed');
    expect(summaries(stored.id)).toHaveLength(1);
    const d = await deliverReport({ db: store.db, log }, port, stored, '#security');
    expect(d).toMatchObject({ delivered: true, ts: summaries(stored.id)[0]!.ts });
    expect(summaries(stored.id)).toHaveLength(1);
    const files = uploads(`monthly-clickops-${stored.since.slice(0, 10)}-to-2024-08-04.md`);
    expect(files).toHaveLength(1);
    expect(new TextDecoder().decode(files[0]!.bytes)).toBe(renderReport(stored.report, 'md'));
    const text = JSON.stringify(summaries(stored.id)[0]!.blocks);
    expect(text).toMatch(/changes made by hand in the console by 1 person to 1 resource/);
  });

  it('a 429 on the upload: the summary is kept, the retry uploads the file once', async () => {
    const stored = await kept('weekly-denied', { since: '2024-07-29T00:00:00Z', until: '2024-07-31T00:00:00Z' });
    slack.faults.rateLimit({ count: 1, retryAfterSeconds: 2, method: 'files.getUploadURLExternal' });
    const e = (await deliverReport({ db: store.db, log }, port, stored, '#security').catch((x: unknown) => x)) as { code: string; retryAfterMs: number };
    expect(e).toMatchObject({ code: 'E_SLACK_RATE_LIMITED', retryAfterMs: 2000 });
    expect(summaries(stored.id)).toHaveLength(1);
    expect(await deliverReport({ db: store.db, log }, port, stored, '#security')).toMatchObject({ delivered: true });
    expect(summaries(stored.id)).toHaveLength(1);
    expect(uploads('weekly-denied-2024-07-29-to-2024-07-31.md')).toHaveLength(1);
  });

  it('every kind says its totals in a few lines, within Block Kit limits', async () => {
    const idle = await kept('idle');
    const text = JSON.stringify(reportSummary(idle.report).blocks);
    const n = idle.report.sections[0]!.rows.length;
    expect(n).toBeGreaterThan(1);
    expect(text).toContain(`*${n}* identities made no calls in 1 day.`);
    expect(text).toContain(`Idle the longest (days):\\n• ${String(idle.report.sections[0]!.rows[0]!.identity)}`);
    const empty = await kept('weekly-denied', { since: '2020-01-01T00:00:00Z', until: '2020-01-02T00:00:00Z' });
    expect(JSON.stringify(reportSummary(empty.report).blocks)).toContain('No denied calls.');
  });
});
