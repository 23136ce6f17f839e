import type { AdfDoc } from '../../flows/adf.ts';
import type { Db } from '../../store/index.ts';
import { isoText } from '../../store/sql.ts';

/** The tickets of findings in the store (migration 012_tickets.sql): one row per finding and generation. */

export type TicketState = 'intent' | 'created' | 'not-sent' | 'failed';

export interface Ticket {
  findingId: string;
  generation: number;
  state: TicketState;
  project: string;
  issueType: string;
  labels: string[];
  priority: string | null;
  summary: string;
  description: AdfDoc;
  key: string | null;
  jiraId: string | null;
  url: string | null;
  status: string | null;
  statusCategory: string | null;
  assignee: { accountId: string; displayName?: string | undefined; email?: string | undefined } | null;
  linksKey: string | null;
  intentAt: string | null;
  attempts: number;
  leaseJob: string | null;
  error: string | null;
  reportedCount: number;
  reportedLastSeen: string | null;
  comments: number;
  lastCommentAt: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What /api/findings shows of a finding's current ticket. */
export interface TicketBrief {
  key: string | null;
  url: string | null;
  status: string;
}

/** The columns of a ticket row; `alias` is the table's alias (with its dot) when joined. */
const cols = (alias = ''): string => {
  const col = (name: string): string => `${alias}${name}`;
  return `${['finding_id', 'generation', 'state', 'project', 'issue_type', 'labels', 'priority', 'summary', 'description', 'jira_key', 'jira_id', 'url', 'status', 'status_category', 'assignee', 'links_key'].map(col).join(', ')},
  ${isoText(col('intent_at'), 'ms')} AS intent_at, ${col('attempts')}, ${col('lease_job')}, ${col('error')}, ${col('reported_count')},
  ${isoText(col('reported_last_seen'), 'ms')} AS reported_last_seen, ${col('comments')}, ${isoText(col('last_comment_at'), 'ms')} AS last_comment_at,
  ${isoText(col('created_at'), 'ms')} AS created_at, ${isoText(col('updated_at'), 'ms')} AS updated_at`;
};
const COLS = cols();

interface Row {
  finding_id: string;
  generation: number;
  state: TicketState;
  project: string;
  issue_type: string;
  labels: string[];
  priority: string | null;
  summary: string;
  description: AdfDoc | string;
  jira_key: string | null;
  jira_id: string | null;
  url: string | null;
  status: string | null;
  status_category: string | null;
  assignee: Ticket['assignee'] | string | null;
  links_key: string | null;
  intent_at: string | null;
  attempts: number;
  lease_job: string | null;
  error: string | null;
  reported_count: number;
  reported_last_seen: string | null;
  comments: number;
  last_comment_at: string | null;
  created_at: string;
  updated_at: string;
}

const json = <T>(v: T | string | null): T | null => (typeof v === 'string' ? (JSON.parse(v) as T) : v);

function toTicket(r: Row): Ticket {
  return {
    findingId: r.finding_id,
    generation: Number(r.generation),
    state: r.state,
    project: r.project,
    issueType: r.issue_type,
    labels: r.labels,
    priority: r.priority,
    summary: r.summary,
    description: json<AdfDoc>(r.description)!,
    key: r.jira_key,
    jiraId: r.jira_id,
    url: r.url,
    status: r.status,
    statusCategory: r.status_category,
    assignee: json(r.assignee),
    linksKey: r.links_key,
    intentAt: r.intent_at,
    attempts: Number(r.attempts),
    leaseJob: r.lease_job,
    error: r.error,
    reportedCount: Number(r.reported_count),
    reportedLastSeen: r.reported_last_seen,
    comments: Number(r.comments),
    lastCommentAt: r.last_comment_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** The finding's current ticket (its newest generation), if it has one. */
export async function currentTicket(db: Db, findingId: string): Promise<Ticket | undefined> {
  const r = await db.query<Row>(`SELECT ${COLS} FROM tickets WHERE finding_id = $1 ORDER BY generation DESC LIMIT 1`, [findingId]);
  return r.rows[0] ? toTicket(r.rows[0]) : undefined;
}

export async function ticketByKey(db: Db, key: string): Promise<Ticket | undefined> {
  const r = await db.query<Row>(`SELECT ${COLS} FROM tickets WHERE jira_key = $1`, [key]);
  return r.rows[0] ? toTicket(r.rows[0]) : undefined;
}

export interface NewTicket {
  findingId: string;
  generation: number;
  state: 'intent' | 'not-sent';
  project: string;
  issueType: string;
  labels: string[];
  priority: string | undefined;
  summary: string;
  description: AdfDoc;
  linksKey: string | undefined;
  reportedCount: number;
  reportedLastSeen: string;
  /** The notify job that holds the row (intent rows). */
  leaseJob: string | undefined;
  leaseMs: number;
}

/**
 * Writes a new ticket row, committed before anything is sent to Jira. False when the row exists
 * already (another job wrote it first): the caller reads it and goes on from there.
 */
export async function insertTicket(db: Db, t: NewTicket): Promise<boolean> {
  const r = await db.query(
    `INSERT INTO tickets (finding_id, generation, state, project, issue_type, labels, priority, summary, description, links_key,
       reported_count, reported_last_seen, lease_job, lease_until)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, CASE WHEN $13::text IS NULL THEN NULL ELSE now() + $14 * interval '1 millisecond' END)
     ON CONFLICT (finding_id, generation) DO NOTHING`,
    [
      t.findingId,
      t.generation,
      t.state,
      t.project,
      t.issueType,
      t.labels,
      t.priority ?? null,
      t.summary,
      JSON.stringify(t.description),
      t.linksKey ?? null,
      t.reportedCount,
      t.reportedLastSeen,
      t.leaseJob ?? null,
      t.leaseMs,
    ],
  );
  return r.rowCount > 0;
}

/**
 * Takes the row for this job: free, already this job's (a retry of it, e.g. after its worker was
 * killed), or held by a job whose lease ran out. False when another job is working on it.
 */
export async function claimTicket(db: Db, findingId: string, generation: number, job: string, leaseMs: number): Promise<boolean> {
  const r = await db.query(
    `UPDATE tickets SET lease_job = $3, lease_until = now() + $4 * interval '1 millisecond'
     WHERE finding_id = $1 AND generation = $2 AND (lease_job IS NULL OR lease_job = $3 OR lease_until < now())`,
    [findingId, generation, job, leaseMs],
  );
  return r.rowCount > 0;
}

export async function releaseTicket(db: Db, findingId: string, generation: number, job: string): Promise<void> {
  await db.query('UPDATE tickets SET lease_job = NULL, lease_until = NULL WHERE finding_id = $1 AND generation = $2 AND lease_job = $3', [findingId, generation, job]);
}

/** About to send the create request: counts the attempt and notes its time (the search settle window starts there). */
export async function noteCreateAttempt(db: Db, findingId: string, generation: number): Promise<void> {
  await db.query('UPDATE tickets SET attempts = attempts + 1, intent_at = now(), updated_at = now() WHERE finding_id = $1 AND generation = $2', [findingId, generation]);
}

/**
 * Jira answered the create with a refusal (429, 400, 401/403): nothing was made, so the attempt is
 * taken back (count and time as before it), and the next try creates without searching or waiting.
 */
export async function undoCreateAttempt(db: Db, findingId: string, generation: number, before: { attempts: number; intentAt: string | null }): Promise<void> {
  await db.query('UPDATE tickets SET attempts = $3, intent_at = $4::timestamptz, updated_at = now() WHERE finding_id = $1 AND generation = $2', [findingId, generation, before.attempts, before.intentAt]);
}

/** Milliseconds since the last create attempt (the database's clock), or null when none was made. */
export async function sinceCreateAttempt(db: Db, findingId: string, generation: number): Promise<number | null> {
  const r = await db.query<{ ms: number | null }>(
    `SELECT (extract(epoch FROM now() - intent_at) * 1000)::float8 AS ms FROM tickets WHERE finding_id = $1 AND generation = $2`,
    [findingId, generation],
  );
  const ms = r.rows[0]?.ms;
  return ms === null || ms === undefined ? null : Number(ms);
}

export async function markCreated(db: Db, findingId: string, generation: number, ref: { id: string; key: string; url: string }): Promise<void> {
  await db.query(
    `UPDATE tickets SET state = 'created', jira_id = $3, jira_key = $4, url = $5, status = coalesce(status, 'To Do'),
       status_category = coalesce(status_category, 'new'), error = NULL, updated_at = now()
     WHERE finding_id = $1 AND generation = $2`,
    [findingId, generation, ref.id, ref.key, ref.url],
  );
}

export async function markFailed(db: Db, findingId: string, generation: number, error: string): Promise<void> {
  await db.query(`UPDATE tickets SET state = 'failed', error = $3, updated_at = now() WHERE finding_id = $1 AND generation = $2`, [findingId, generation, error]);
}

/** A failed row is tried again (an operator fixed the setting and retried the job): back to intent. */
export async function markIntent(db: Db, findingId: string, generation: number, content: { summary: string; description: AdfDoc; project: string; issueType: string; labels: string[]; priority: string | undefined }): Promise<void> {
  await db.query(
    `UPDATE tickets SET state = 'intent', error = NULL, summary = $3, description = $4::jsonb, project = $5, issue_type = $6, labels = $7, priority = $8, updated_at = now()
     WHERE finding_id = $1 AND generation = $2`,
    [findingId, generation, content.summary, JSON.stringify(content.description), content.project, content.issueType, content.labels, content.priority ?? null],
  );
}

/** What Jira has now been told (a comment was added, or a not-sent ticket brought up to date). */
export async function markReported(db: Db, findingId: string, generation: number, r: { count: number; lastSeen: string; commented: boolean }): Promise<void> {
  await db.query(
    `UPDATE tickets SET reported_count = $3, reported_last_seen = $4, comments = comments + $5::int,
       last_comment_at = CASE WHEN $5::int > 0 THEN now() ELSE last_comment_at END, updated_at = now()
     WHERE finding_id = $1 AND generation = $2`,
    [findingId, generation, r.count, r.lastSeen, r.commented ? 1 : 0],
  );
}

/** Jira's view of the ticket (GET issue or a webhook). */
/** Where a Jira webhook event stands in the issue's history: its timestamp (ms), then its changelog id. */
export interface JiraEventPosition {
  at: number;
  seq: number;
}

/**
 * Records the status and assignee Jira reports for a ticket. With `position` (a webhook event), the
 * change is applied only when the event is not older than the newest applied to this ticket: Jira
 * sends its webhooks concurrently and a late, older event must not undo a newer one. Returns the
 * ticket and whether the change was applied; undefined when no ticket has this key.
 */
export async function setJiraState(
  db: Db,
  key: string,
  s: { status?: string | undefined; statusCategory?: string | undefined; assignee?: Ticket['assignee'] | undefined },
  position?: JiraEventPosition,
): Promise<{ ticket: Ticket; applied: boolean } | undefined> {
  const r = await db.query<Row>(
    `UPDATE tickets SET status = coalesce($2, status), status_category = coalesce($3, status_category),
       assignee = CASE WHEN $4::boolean THEN $5::jsonb ELSE assignee END, updated_at = now(),
       jira_event_at = coalesce($6::bigint, jira_event_at), jira_event_seq = CASE WHEN $6::bigint IS NULL THEN jira_event_seq ELSE $7::bigint END
     WHERE jira_key = $1
       AND ($6::bigint IS NULL OR jira_event_at IS NULL OR ($6::bigint, $7::bigint) >= (jira_event_at, coalesce(jira_event_seq, 0)))
     RETURNING ${COLS}`,
    [key, s.status ?? null, s.statusCategory ?? null, s.assignee !== undefined, s.assignee === undefined ? null : JSON.stringify(s.assignee), position?.at ?? null, position?.seq ?? 0],
  );
  if (r.rows[0]) return { ticket: toTicket(r.rows[0]), applied: true };
  const t = await db.query<Row>(`SELECT ${COLS} FROM tickets WHERE jira_key = $1`, [key]);
  return t.rows[0] ? { ticket: toTicket(t.rows[0]), applied: false } : undefined;
}

/** `{key, url, status}` of each finding's current ticket (what /api/findings carries). */
export async function ticketBriefs(db: Db, findingIds: readonly string[]): Promise<Map<string, TicketBrief>> {
  const out = new Map<string, TicketBrief>();
  if (findingIds.length === 0) return out;
  const r = await db.query<{ finding_id: string; state: TicketState; jira_key: string | null; url: string | null; status: string | null }>(
    `SELECT DISTINCT ON (finding_id) finding_id, state, jira_key, url, status FROM tickets
     WHERE finding_id = ANY($1::text[]) ORDER BY finding_id, generation DESC`,
    [findingIds],
  );
  for (const row of r.rows) {
    const b = briefOf(row.state, row.jira_key, row.url, row.status);
    if (b) out.set(row.finding_id, b);
  }
  return out;
}

/**
 * A sent ticket shows Jira's status; one kept without Jira shows `not sent`. A ticket being created
 * or refused by Jira is no ticket (null): `trailbot tickets` lists those with their state and reason.
 */
export function briefOf(state: TicketState, key: string | null, url: string | null, status: string | null): TicketBrief | null {
  if (state === 'created') return { key, url, status: status ?? 'To Do' };
  if (state === 'not-sent') return { key: null, url: null, status: 'not sent' };
  return null;
}

export interface TicketListing {
  findingId: string;
  generation: number;
  state: TicketState;
  key: string | null;
  url: string | null;
  status: string;
  project: string;
  summary: string;
  error: string | null;
  findingStatus: string;
  flow: string;
  severity: string;
  comments: number;
  updatedAt: string;
}

/** Tickets, the most recently changed first (`trailbot tickets`, GET /api/tickets). */
export async function listTickets(db: Db, q: { limit?: number; state?: TicketState | undefined } = {}): Promise<TicketListing[]> {
  const r = await db.query<Row & { finding_status: string; flow: string; severity: string }>(
    `SELECT ${cols('t.')}, f.status AS finding_status, f.flow, f.severity
     FROM tickets t JOIN findings f ON f.id = t.finding_id
     WHERE ($1::text IS NULL OR t.state = $1) ORDER BY t.updated_at DESC, t.finding_id, t.generation DESC LIMIT $2`,
    [q.state ?? null, q.limit ?? 100],
  );
  return r.rows.map((row) => {
    const b = briefOf(row.state, row.jira_key, row.url, row.status);
    return {
      findingId: row.finding_id,
      generation: Number(row.generation),
      state: row.state,
      key: row.jira_key,
      url: row.url,
      status: b?.status ?? (row.state === 'intent' ? 'creating' : 'failed'),
      project: row.project,
      summary: row.summary,
      error: row.error,
      findingStatus: row.finding_status,
      flow: row.flow,
      severity: row.severity,
      comments: Number(row.comments),
      updatedAt: row.updated_at,
    };
  });
}

/** Where the tickets catch-up has read the findings feed up to. */
export async function syncCursor(db: Db): Promise<string | undefined> {
  const r = await db.query<{ cursor: string }>('SELECT cursor FROM tickets_sync');
  return r.rows[0]?.cursor;
}

/** Moves the cursor forward only (two passes at once never move it back). */
export async function saveSyncCursor(db: Db, cursor: string): Promise<void> {
  await db.query(
    `INSERT INTO tickets_sync AS s (id, cursor, updated_at) VALUES (true, $1, now())
     ON CONFLICT (id) DO UPDATE SET cursor = CASE WHEN s.cursor::bigint < excluded.cursor::bigint THEN excluded.cursor ELSE s.cursor END, updated_at = now()`,
    [cursor],
  );
}

/** The current ticket's state and what it reported, for each finding that has one. */
export async function ticketsOf(db: Db, findingIds: readonly string[]): Promise<Map<string, { state: TicketState; reportedCount: number }>> {
  const out = new Map<string, { state: TicketState; reportedCount: number }>();
  if (findingIds.length === 0) return out;
  const r = await db.query<{ finding_id: string; state: TicketState; reported_count: number }>(
    `SELECT DISTINCT ON (finding_id) finding_id, state, reported_count FROM tickets WHERE finding_id = ANY($1::text[]) ORDER BY finding_id, generation DESC`,
    [findingIds],
  );
  for (const row of r.rows) out.set(row.finding_id, { state: row.state, reportedCount: Number(row.reported_count) });
  return out;
}
