import type { Db } from '../../store/index.ts';
import { isoText } from '../../store/sql.ts';

/** The Slack messages of findings in the store (migration 014_slack_messages.sql): one row per finding. */

export type MessageState = 'intent' | 'posted' | 'failed';

export interface SlackMessageRow {
  findingId: string;
  state: MessageState;
  channel: string;
  channelId: string | null;
  ts: string | null;
  intentAt: string | null;
  attempts: number;
  leaseJob: string | null;
  error: string | null;
  shownTicket: string | null;
  shownResolved: boolean;
  reportedCount: number;
  reportedLastSeen: string | null;
  replies: number;
  lastReplyAt: string | null;
  replyUpto: number | null;
  replyAttempts: number;
  createdAt: string;
  updatedAt: string;
}

const COLS = `finding_id, state, channel, channel_id, ts, ${isoText('intent_at', 'ms')} AS intent_at, attempts, lease_job, error, shown_ticket, shown_resolved,
  reported_count, ${isoText('reported_last_seen', 'ms')} AS reported_last_seen, replies, ${isoText('last_reply_at', 'ms')} AS last_reply_at, reply_upto, reply_attempts, ${isoText('created_at', 'ms')} AS created_at, ${isoText('updated_at', 'ms')} AS updated_at`;

interface Row {
  finding_id: string;
  state: MessageState;
  channel: string;
  channel_id: string | null;
  ts: string | null;
  intent_at: string | null;
  attempts: number;
  lease_job: string | null;
  error: string | null;
  shown_ticket: string | null;
  shown_resolved: boolean;
  reported_count: number;
  reported_last_seen: string | null;
  replies: number;
  last_reply_at: string | null;
  reply_upto: number | null;
  reply_attempts: number;
  created_at: string;
  updated_at: string;
}

function toMessage(r: Row): SlackMessageRow {
  return {
    findingId: r.finding_id,
    state: r.state,
    channel: r.channel,
    channelId: r.channel_id,
    ts: r.ts,
    intentAt: r.intent_at,
    attempts: Number(r.attempts),
    leaseJob: r.lease_job,
    error: r.error,
    shownTicket: r.shown_ticket,
    shownResolved: Boolean(r.shown_resolved),
    reportedCount: Number(r.reported_count),
    reportedLastSeen: r.reported_last_seen,
    replies: Number(r.replies),
    lastReplyAt: r.last_reply_at,
    replyUpto: r.reply_upto === null ? null : Number(r.reply_upto),
    replyAttempts: Number(r.reply_attempts),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

export async function messageOf(db: Db, findingId: string): Promise<SlackMessageRow | undefined> {
  const r = await db.query<Row>(`SELECT ${COLS} FROM slack_messages WHERE finding_id = $1`, [findingId]);
  return r.rows[0] ? toMessage(r.rows[0]) : undefined;
}

/** Messages, the most recently changed first. */
export async function listMessages(db: Db, q: { limit?: number } = {}): Promise<SlackMessageRow[]> {
  const r = await db.query<Row>(`SELECT ${COLS} FROM slack_messages ORDER BY updated_at DESC, finding_id LIMIT $1`, [q.limit ?? 100]);
  return r.rows.map(toMessage);
}

/** What each finding's message stands at, for the catch-up. */
export async function messagesOf(db: Db, findingIds: readonly string[]): Promise<Map<string, SlackMessageRow>> {
  const out = new Map<string, SlackMessageRow>();
  if (findingIds.length === 0) return out;
  const r = await db.query<Row>(`SELECT ${COLS} FROM slack_messages WHERE finding_id = ANY($1::text[])`, [findingIds]);
  for (const row of r.rows) out.set(row.finding_id, toMessage(row));
  return out;
}

/**
 * The intent row, committed before the first message is posted and held by this job. False when the
 * row exists already (another job wrote it first): the caller reads it and goes on from there.
 */
export async function insertIntent(
  db: Db,
  m: { findingId: string; channel: string; reportedCount: number; reportedLastSeen: string; shownTicket: string | null; shownResolved: boolean; job: string; leaseMs: number },
): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO slack_messages (finding_id, state, channel, reported_count, reported_last_seen, shown_ticket, shown_resolved, lease_job, lease_until)
     VALUES ($1, 'intent', $2, $3, $4, $5, $6, $7, now() + $8 * interval '1 millisecond')
     ON CONFLICT (finding_id) DO NOTHING`,
    [m.findingId, m.channel, m.reportedCount, m.reportedLastSeen, m.shownTicket, m.shownResolved, m.job, m.leaseMs],
  );
  return r.rowCount > 0;
}

/** Takes the row for this job: free, already this job's (a retry of it), or held by a job whose lease ran out. */
export async function claimMessage(db: Db, findingId: string, job: string, leaseMs: number): Promise<boolean> {
  const r = await db.query(
    `UPDATE slack_messages SET lease_job = $2, lease_until = now() + $3 * interval '1 millisecond'
     WHERE finding_id = $1 AND (lease_job IS NULL OR lease_job = $2 OR lease_until < now())`,
    [findingId, job, leaseMs],
  );
  return r.rowCount > 0;
}

export async function releaseMessage(db: Db, findingId: string, job: string): Promise<void> {
  await db.query('UPDATE slack_messages SET lease_job = NULL, lease_until = NULL WHERE finding_id = $1 AND lease_job = $2', [findingId, job]);
}

/** About to post the first message: counts the attempt (a retry after it looks for the message first). */
export async function notePostAttempt(db: Db, findingId: string, m: { reportedCount: number; reportedLastSeen: string; shownTicket: string | null; shownResolved: boolean }): Promise<void> {
  await db.query(
    `UPDATE slack_messages SET attempts = attempts + 1, intent_at = now(), reported_count = $2, reported_last_seen = $3, shown_ticket = $4, shown_resolved = $5, updated_at = now()
     WHERE finding_id = $1`,
    [findingId, m.reportedCount, m.reportedLastSeen, m.shownTicket, m.shownResolved],
  );
}

/** Slack refused the post (429, a refusal): nothing was posted, so the next try need not look for it. */
export async function undoPostAttempt(db: Db, findingId: string, before: { attempts: number; intentAt: string | null }): Promise<void> {
  await db.query('UPDATE slack_messages SET attempts = $2, intent_at = $3::timestamptz, updated_at = now() WHERE finding_id = $1', [findingId, before.attempts, before.intentAt]);
}

export async function markPosted(db: Db, findingId: string, p: { channel: string; ts: string }): Promise<void> {
  await db.query(`UPDATE slack_messages SET state = 'posted', channel_id = $2, ts = $3, error = NULL, updated_at = now() WHERE finding_id = $1`, [findingId, p.channel, p.ts]);
}

export async function markFailed(db: Db, findingId: string, error: string): Promise<void> {
  await db.query(`UPDATE slack_messages SET state = 'failed', error = $2, updated_at = now() WHERE finding_id = $1`, [findingId, error]);
}

/** A failed row tried again (the setting fixed, the job retried): back to intent, in the channel routed now. */
export async function markIntent(db: Db, findingId: string, channel: string): Promise<void> {
  await db.query(`UPDATE slack_messages SET state = 'intent', channel = $2, error = NULL, updated_at = now() WHERE finding_id = $1`, [findingId, channel]);
}

/** The first message was updated to show this ticket and status. */
export async function markShown(db: Db, findingId: string, s: { ticket: string | null; resolved: boolean }): Promise<void> {
  await db.query('UPDATE slack_messages SET shown_ticket = $2, shown_resolved = $3, updated_at = now() WHERE finding_id = $1', [findingId, s.ticket, s.resolved]);
}

/** About to post a reply bringing the thread up to `upto` events: counted before the post. */
export async function noteReplyAttempt(db: Db, findingId: string, upto: number): Promise<void> {
  await db.query(
    `UPDATE slack_messages SET reply_attempts = CASE WHEN reply_upto = $2 THEN reply_attempts + 1 ELSE 1 END, reply_upto = $2, updated_at = now() WHERE finding_id = $1`,
    [findingId, upto],
  );
}

/** Slack refused the reply: nothing was posted (the next try need not look for it). */
export async function undoReplyAttempt(db: Db, findingId: string, before: { replyUpto: number | null; replyAttempts: number }): Promise<void> {
  await db.query('UPDATE slack_messages SET reply_upto = $2, reply_attempts = $3, updated_at = now() WHERE finding_id = $1', [findingId, before.replyUpto, before.replyAttempts]);
}

/** The reply is in the thread: the thread has been told up to `count` events. */
export async function markReplied(db: Db, findingId: string, r: { count: number; lastSeen: string }): Promise<void> {
  await db.query(
    `UPDATE slack_messages SET reported_count = $2, reported_last_seen = $3, replies = replies + 1, last_reply_at = now(),
       reply_upto = NULL, reply_attempts = 0, updated_at = now()
     WHERE finding_id = $1`,
    [findingId, r.count, r.lastSeen],
  );
}

/** Milliseconds since the last reply (the database's clock), or null when there was none. */
export async function sinceLastReply(db: Db, findingId: string): Promise<number | null> {
  const r = await db.query<{ ms: number | null }>(`SELECT (extract(epoch FROM now() - last_reply_at) * 1000)::float8 AS ms FROM slack_messages WHERE finding_id = $1`, [findingId]);
  const ms = r.rows[0]?.ms;
  return ms === null || ms === undefined ? null : Number(ms);
}
