import type { RawRecord, TrailEvent } from '../events/model.ts';
import type { Db } from '../store/index.ts';
import { ADVISORY_LOCKS, isoText } from '../store/sql.ts';
import { eventsAt, rawsAt } from '../store/queries.ts';
import { type CompiledFlows, severityFor } from './compile.ts';
import { TrailbotError } from '../errors.ts';
import type { Dimension, FlowKind, Severity } from './define.ts';
import { type Changes, emptySnapshot, type FindingHead, type HitGroup, inner, type LoadRequest, type Snapshot, type SubjectState } from './engine/index.ts';
import type { Finding, FindingStatus } from './finding.ts';
import { type Breakdown, breakdownOf, renderFinding } from './render.ts';

/** The flows' state in the store (tables from migration 002_findings.sql, the feed's seq from 011). */

/**
 * Takes the findings lock (`ADVISORY_LOCKS.findings`) for the rest of the transaction and returns the
 * database's clock read after it (ISO, microseconds). Evaluations must not race to open the same
 * finding, and the feed's cursor depends on the lock: every write to a finding runs under it and sets `seq =
 * nextval('findings_seq')` after it: writers are serialized until commit, so seq values commit in the
 * order they are taken and a reader at cursor n can never later see a change below n (a bare sequence
 * could: a transaction holding 10 may commit after one holding 11). The lock rather than a horizon
 * (pg_snapshot_xmin) because evaluations already serialize on it, and PGlite has one connection anyway.
 * The time is read after the lock too, so `updated_at` follows seq instead of going backwards.
 */
export async function lockFindings(tx: Db): Promise<string> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.findings]);
  const r = await tx.query<{ t: string }>(`SELECT ${isoText('clock_timestamp()', 'us')} AS t`);
  return r.rows[0]!.t;
}

const SEP = '\u0000';
const MS = (col: string): string => `(extract(epoch FROM ${col}) * 1000)::float8`;
const ts = (ms: number): string => new Date(ms).toISOString();

function subjectState(s: Snapshot, scope: string, subject: string): SubjectState {
  let m = s.subjects.get(scope);
  if (!m) s.subjects.set(scope, (m = new Map()));
  let st = m.get(subject);
  if (!st) m.set(subject, (st = { firstSeen: Number.NaN, values: new Map() }));
  return st;
}

export async function loadSnapshot(db: Db, req: LoadRequest): Promise<Snapshot> {
  const s: Snapshot = emptySnapshot();
  if (req.eventIds.length) {
    const r = await db.query<{ flow: string; event_id: string }>('SELECT flow, event_id FROM finding_events WHERE event_id = ANY($1::text[])', [req.eventIds]);
    for (const row of r.rows) {
      let ids = s.done.get(row.flow);
      if (!ids) s.done.set(row.flow, (ids = new Set()));
      ids.add(row.event_id);
    }
  }
  if (req.groups.length) {
    const r = await db.query<{ id: string; key: string; flow: string; group_key: string; anchor: number; first_seen: number; last_seen: number; count: number; dimension: Dimension | null }>(
      `SELECT f.id, f.key, f.flow, f.group_key, ${MS('f.anchor')} AS anchor, ${MS('f.first_seen')} AS first_seen, ${MS('f.last_seen')} AS last_seen, f.count, f.dimension
       FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS q(flow, g, lo, hi)
       JOIN findings f ON f.flow = q.flow AND f.group_key = q.g AND f.anchor > q.lo AND f.anchor < q.hi
       ORDER BY f.anchor`,
      [req.groups.map((g) => g[0]), req.groups.map((g) => g[1]), req.groups.map((g) => ts(g[2])), req.groups.map((g) => ts(g[3]))],
    );
    for (const row of r.rows) {
      const head: FindingHead = {
        id: row.id,
        key: row.key,
        flow: row.flow,
        group: row.group_key,
        anchor: Number(row.anchor),
        firstSeen: Number(row.first_seen),
        lastSeen: Number(row.last_seen),
        count: Number(row.count),
        dim: row.dimension,
      };
      const groups = inner(s.open, row.flow);
      let list = groups.get(row.group_key);
      if (!list) groups.set(row.group_key, (list = []));
      list.push(head);
    }
  }
  if (req.hitGroups.length) {
    const r = await db.query<{ flow: string; group_key: string; event_id: string; t: number; finding_id: string | null; distinct_values: string[] | null }>(
      `SELECT h.flow, h.group_key, h.event_id, ${MS('h.time')} AS t, fe.finding_id, h.distinct_values
       FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS q(flow, g, lo, hi)
       JOIN flow_hits h ON h.flow = q.flow AND h.group_key = q.g AND h.time > q.lo AND h.time <= q.hi
       LEFT JOIN finding_events fe ON fe.flow = h.flow AND fe.event_id = h.event_id
       ORDER BY h.time, h.event_id`,
      [req.hitGroups.map((g) => g[0]), req.hitGroups.map((g) => g[1]), req.hitGroups.map((g) => ts(g[2])), req.hitGroups.map((g) => ts(g[3]))],
    );
    for (const row of r.rows) {
      const groups = inner(s.hits, row.flow);
      let g: HitGroup | undefined = groups.get(row.group_key);
      if (!g) groups.set(row.group_key, (g = { list: [], ids: new Set() }));
      g.list.push({ eventId: row.event_id, t: Number(row.t), findingId: row.finding_id, values: row.distinct_values });
      g.ids.add(row.event_id);
    }
  }
  if (req.subjects.length) {
    const r = await db.query<{ scope: string; subject: string; first_seen: number }>(
      `SELECT b.scope, b.subject, ${MS('b.first_seen')} AS first_seen
       FROM unnest($1::text[], $2::text[]) AS q(scope, subject) JOIN baseline_subjects b USING (scope, subject)`,
      [req.subjects.map((x) => x[0]), req.subjects.map((x) => x[1])],
    );
    for (const row of r.rows) subjectState(s, row.scope, row.subject).firstSeen = Number(row.first_seen);
  }
  if (req.values.length) {
    const r = await db.query<{ scope: string; subject: string; value: string; first_seen: number; first_event_id: string }>(
      `SELECT b.scope, b.subject, b.value, ${MS('b.first_seen')} AS first_seen, b.first_event_id
       FROM unnest($1::text[], $2::text[], $3::text[]) AS q(scope, subject, value) JOIN baselines b USING (scope, subject, value)`,
      [req.values.map((x) => x[0]), req.values.map((x) => x[1]), req.values.map((x) => x[2])],
    );
    const reported = new Set<string>();
    for (const groups of s.open.values()) for (const list of groups.values()) for (const f of list) if (f.dim) reported.add(`${f.dim.scope}${SEP}${f.dim.subject}${SEP}${f.dim.value}`);
    for (const row of r.rows) {
      subjectState(s, row.scope, row.subject).values.set(row.value, {
        firstSeen: Number(row.first_seen),
        firstEventId: row.first_event_id,
        reported: reported.has(row.scope + SEP + row.subject + SEP + row.value),
      });
    }
  }
  return s;
}

/**
 * Writes what a fold changed. Every statement is idempotent (primary keys, least()). Runs under
 * lockFindings (`now` is the time it returned, or the caller's).
 */
export async function applyChanges(db: Db, c: CompiledFlows, ch: Changes, now: string): Promise<void> {
  if (ch.newFindings.length) {
    const f = ch.newFindings;
    await db.query(
      `INSERT INTO findings (id, key, flow, group_key, kind, severity, anchor, first_seen, last_seen, count, dimension, created_at, updated_at, seq)
       SELECT id, key, flow, g, kind, severity, anchor, anchor, anchor, 0, dim::jsonb, $9, $9, nextval('findings_seq')
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[])
         AS u(id, key, flow, g, kind, severity, anchor, dim)
       ON CONFLICT (id) DO NOTHING`,
      [
        f.map((x) => x.id),
        f.map((x) => x.key),
        f.map((x) => x.flow),
        f.map((x) => x.group),
        f.map((x) => c.byId.get(x.flow)!.def.kind),
        f.map((x) => c.byId.get(x.flow)!.severity),
        f.map((x) => ts(x.anchor)),
        f.map((x) => (x.dim ? JSON.stringify(x.dim) : null)),
        now,
      ],
    );
  }
  if (ch.joins.length) {
    const j = ch.joins;
    await db.query(
      `INSERT INTO finding_events (flow, event_id, finding_id, time)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) ON CONFLICT DO NOTHING`,
      [j.map((x) => x.flow), j.map((x) => x.eventId), j.map((x) => x.findingId), j.map((x) => ts(x.t))],
    );
  }
  if (ch.hits.length) {
    const h = ch.hits;
    await db.query(
      `INSERT INTO flow_hits (flow, group_key, event_id, time, distinct_values)
       SELECT flow, g, id, t, CASE WHEN v IS NULL THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(v)) END
       FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::jsonb[]) AS u(flow, g, id, t, v)
       ON CONFLICT DO NOTHING`,
      [h.map((x) => x.flow), h.map((x) => x.group), h.map((x) => x.eventId), h.map((x) => ts(x.t)), h.map((x) => (x.values ? JSON.stringify(x.values) : null))],
    );
  }
  if (ch.subjects.length) {
    const m = new Map<string, { scope: string; subject: string; firstSeen: number }>();
    for (const x of ch.subjects) {
      const k = x.scope + SEP + x.subject;
      const cur = m.get(k);
      if (!cur || x.firstSeen < cur.firstSeen) m.set(k, x);
    }
    const v = [...m.values()];
    await db.query(
      `INSERT INTO baseline_subjects AS b (scope, subject, first_seen)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
       ON CONFLICT (scope, subject) DO UPDATE SET first_seen = least(b.first_seen, excluded.first_seen)`,
      [v.map((x) => x.scope), v.map((x) => x.subject), v.map((x) => ts(x.firstSeen))],
    );
  }
  if (ch.values.length) {
    const m = new Map<string, Changes['values'][number]>();
    for (const x of ch.values) {
      const k = x.scope + SEP + x.subject + SEP + x.value;
      const cur = m.get(k);
      if (!cur || x.firstSeen < cur.firstSeen) m.set(k, x);
    }
    const v = [...m.values()];
    await db.query(
      `INSERT INTO baselines AS b (scope, subject, value, first_seen, first_event_id)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])
       ON CONFLICT (scope, subject, value) DO UPDATE SET first_seen = least(b.first_seen, excluded.first_seen)`,
      [v.map((x) => x.scope), v.map((x) => x.subject), v.map((x) => x.value), v.map((x) => ts(x.firstSeen)), v.map((x) => x.firstEventId)],
    );
  }
  if (ch.touched.size) {
    await db.query(
      `UPDATE findings f SET count = s.n, first_seen = s.mn, last_seen = s.mx, updated_at = $2, seq = nextval('findings_seq')
       FROM (SELECT finding_id, count(*)::int AS n, min(time) AS mn, max(time) AS mx
             FROM finding_events WHERE finding_id = ANY($1::text[]) GROUP BY finding_id) s
       WHERE f.id = s.finding_id`,
      [[...ch.touched], now],
    );
  }
}

interface FindingRow {
  id: string;
  key: string;
  flow: string;
  kind: FlowKind;
  severity: Severity;
  status: FindingStatus;
  count: number;
  first_seen: number;
  last_seen: number;
  dimension: Dimension | null;
}

const SHOWN_IDS = 100;

/**
 * Renders the findings' words from their events (joined from the `events` table; events of the
 * current batch that are not stored yet are taken from `batch`) and saves them on the findings.
 * Runs under lockFindings.
 */
export async function renderStored(db: Db, c: CompiledFlows, ids: string[], batch: ReadonlyMap<string, TrailEvent>, raws: Map<string, RawRecord>): Promise<void> {
  if (ids.length === 0) return;
  const heads = await db.query<FindingRow>(
    `SELECT id, key, flow, kind, severity, status, count, ${MS('first_seen')} AS first_seen, ${MS('last_seen')} AS last_seen, dimension
     FROM findings WHERE id = ANY($1::text[])`,
    [ids],
  );
  const idRows = await db.query<{ finding_id: string; event_id: string }>(
    `SELECT finding_id, event_id FROM (
       SELECT finding_id, event_id, row_number() OVER (PARTITION BY finding_id ORDER BY time, event_id) AS rn
       FROM finding_events WHERE finding_id = ANY($1::text[])) x
     WHERE rn <= ${SHOWN_IDS} ORDER BY finding_id, rn`,
    [ids],
  );
  const edge = await db.query<{ finding_id: string; edge: string; event_id: string; time: Date }>(
    `(SELECT DISTINCT ON (finding_id) finding_id, 'first' AS edge, event_id, time FROM finding_events
      WHERE finding_id = ANY($1::text[]) ORDER BY finding_id, time, event_id)
     UNION ALL
     (SELECT DISTINCT ON (finding_id) finding_id, 'last' AS edge, event_id, time FROM finding_events
      WHERE finding_id = ANY($1::text[]) ORDER BY finding_id, time DESC, event_id DESC)`,
    [ids],
  );
  // By id and time: each edge event is read from its own day's partition (events is partitioned by day).
  const edgeRefs = new Map(edge.rows.map((r) => [r.event_id, { eventId: r.event_id, time: new Date(r.time).toISOString() }]));
  const stored = new Map((await eventsAt(db, [...edgeRefs.values()])).map((e) => [e.eventId, e]));
  const counts = await db.query<{ finding_id: string; action: string | null; region: string | null; primary_id: string | null; n: number }>(
    `SELECT fe.finding_id, e.action, e.region, e.primary_id, count(*)::int AS n
     FROM finding_events fe JOIN events e ON e.event_id = fe.event_id AND e.time = fe.time
     WHERE fe.finding_id = ANY($1::text[]) GROUP BY 1, 2, 3, 4`,
    [ids],
  );
  const eventIds = new Map<string, string[]>();
  for (const r of idRows.rows) {
    let l = eventIds.get(r.finding_id);
    if (!l) eventIds.set(r.finding_id, (l = []));
    l.push(r.event_id);
  }
  const first = new Map<string, TrailEvent>();
  const last = new Map<string, TrailEvent>();
  for (const r of edge.rows) {
    const e = stored.get(r.event_id) ?? batch.get(r.event_id);
    if (e) (r.edge === 'first' ? first : last).set(r.finding_id, e);
  }
  const agg = new Map<string, Breakdown>();
  const grouped = new Map<string, typeof counts.rows>();
  for (const r of counts.rows) {
    let l = grouped.get(r.finding_id);
    if (!l) grouped.set(r.finding_id, (l = []));
    l.push(r);
  }
  for (const [id, rows] of grouped) agg.set(id, breakdownFromCounts(rows));

  // Records the request-reading flows need for their context, for the first events not in the batch.
  const missingRaw = [...first.values()].filter((e) => !raws.has(e.eventId) && e.action !== null && c.requestActions.has(e.action)).map((e) => ({ eventId: e.eventId, time: e.time }));
  if (missingRaw.length) {
    for (const [id, raw] of await rawsAt(db, missingRaw)) raws.set(id, raw);
  }
  const env = c.env(raws);

  const updates: { id: string; title: string; summary: string; body: string; slack: string; jira: string; severity: Severity }[] = [];
  for (const h of heads.rows) {
    const flow = c.byId.get(h.flow);
    if (!flow) continue;
    const ids = eventIds.get(h.id) ?? [];
    const f = first.get(h.id) ?? batch.get(ids[0] ?? '');
    const l = last.get(h.id) ?? batch.get(ids[ids.length - 1] ?? '') ?? f;
    if (!f || !l) continue;
    const breakdown = agg.get(h.id) ?? breakdownOf(ids.map((x) => batch.get(x)).filter((x): x is TrailEvent => x !== undefined));
    const r = renderFinding({ flow, count: Number(h.count), firstSeen: Number(h.first_seen), lastSeen: Number(h.last_seen), dim: h.dimension, first: f, last: l, eventIds: ids, breakdown, env });
    // The opening event decides the severity (`severityFor`), set here in the transaction that inserted the finding.
    updates.push({ id: h.id, title: r.title, summary: r.summary, body: r.body, slack: r.slack, jira: JSON.stringify(r.jira), severity: severityFor(flow, f, env) });
  }
  if (updates.length) {
    await db.query(
      `UPDATE findings f SET title = u.title, summary = u.summary, body = u.body, slack = u.slack, jira = u.jira::jsonb, severity = u.severity, seq = nextval('findings_seq')
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(id, title, summary, body, slack, jira, severity)
       WHERE f.id = u.id`,
      [
        updates.map((u) => u.id), updates.map((u) => u.title), updates.map((u) => u.summary), updates.map((u) => u.body), updates.map((u) => u.slack), updates.map((u) => u.jira),
        updates.map((u) => u.severity),
      ],
    );
  }
}

function breakdownFromCounts(rows: { action: string | null; region: string | null; primary_id: string | null; n: number }[]): Breakdown {
  const actions = new Map<string, number>();
  const regions = new Set<string>();
  const resources = new Set<string>();
  for (const r of rows) {
    const a = r.action ?? 'unknown';
    actions.set(a, (actions.get(a) ?? 0) + Number(r.n));
    if (r.region) regions.add(r.region);
    if (r.primary_id) resources.add(r.primary_id);
  }
  const sorted = [...actions.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  return {
    actions: sorted.slice(0, 5).map(([name, count]) => ({ name, count })),
    moreActions: Math.max(0, sorted.length - 5),
    regions: [...regions].sort().slice(0, 10),
    resources: [...resources].sort().slice(0, 10),
  };
}

const FINDING_COLS = `f.id, f.key, f.flow, f.kind, f.severity, f.status, f.title, f.summary, f.body, f.slack, f.jira, f.count,
  ${isoText('f.first_seen')} AS first_seen, ${isoText('f.last_seen')} AS last_seen, ${isoText('f.updated_at')} AS updated_at,
  ${isoText('f.updated_at', 'us')} AS updated_at_precise, f.seq,
  ARRAY(SELECT fe.event_id FROM finding_events fe WHERE fe.finding_id = f.id ORDER BY fe.time, fe.event_id LIMIT ${SHOWN_IDS}) AS event_ids`;

interface StoredFindingRow {
  id: string;
  key: string;
  flow: string;
  kind: FlowKind;
  severity: Severity;
  status: FindingStatus;
  title: string;
  summary: string;
  body: string;
  slack: string;
  jira: Finding['jira'] | string;
  count: number;
  first_seen: string;
  last_seen: string;
  updated_at: string;
  updated_at_precise: string;
  seq: number;
  event_ids: string[];
}

function toFinding(r: StoredFindingRow): Finding {
  return {
    id: r.id,
    key: r.key,
    flow: r.flow,
    kind: r.kind,
    severity: r.severity,
    status: r.status,
    title: r.title,
    summary: r.summary,
    body: r.body,
    slack: r.slack,
    jira: typeof r.jira === 'string' ? (JSON.parse(r.jira) as Finding['jira']) : r.jira,
    count: Number(r.count),
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
    eventIds: r.event_ids,
    updatedAt: r.updated_at_precise,
    cursor: String(r.seq),
  };
}

export interface FindingQuery {
  /**
   * The feed's cursor: only findings changed after the change it names (a finding's `cursor`, or the
   * `next` of a page). Poll with the last `next` to get every change once, in commit order.
   */
  after?: string | undefined;
  /** Only findings changed after this time (ISO, microseconds kept): a filter, not a cursor. */
  updatedSince?: string | undefined;
  flow?: string | undefined;
  status?: FindingStatus | undefined;
  limit?: number | undefined;
}

export interface FindingPage {
  /** Oldest change first. */
  findings: Finding[];
  /**
   * Where the next poll starts: always set. The last finding's cursor when the page is full, else
   * the newest change the query could see (the same cursor again when nothing changed).
   */
  next: string;
}

const CURSOR = /^\d{1,15}$/;

function parseCursor(after: string | undefined): number {
  if (after === undefined || after === '') return 0;
  if (!CURSOR.test(after)) {
    throw new TrailbotError('E_USAGE', `after ${JSON.stringify(after)} is not a findings cursor`, {
      hint: 'pass the `next` of the previous page (or a finding\'s `cursor`); leave it out to start from the beginning',
    });
  }
  return Number(after);
}

/**
 * One page of the findings feed: the changes after `q.after`, oldest first, and the cursor to poll
 * with next. Sound with concurrent writers (see lockFindings): a change never slips behind a cursor
 * already handed out, and an old finding changed again comes back with a new cursor.
 */
export async function findingsPage(db: Db, q: FindingQuery = {}): Promise<FindingPage> {
  const after = parseCursor(q.after);
  const limit = q.limit ?? 500;
  // One statement, one snapshot: the newest seq it sees bounds what the page could have held.
  const r = await db.query<StoredFindingRow & { newest: number | null }>(
    `SELECT n.newest, p.* FROM (SELECT max(seq) AS newest FROM findings) n
     LEFT JOIN LATERAL (
       SELECT ${FINDING_COLS} FROM findings f
       WHERE f.seq > $1 AND ($2::timestamptz IS NULL OR f.updated_at > $2) AND ($3::text IS NULL OR f.flow = $3) AND ($4::text IS NULL OR f.status = $4)
       ORDER BY f.seq LIMIT $5) p ON true
     ORDER BY p.seq`,
    [after, q.updatedSince ?? null, q.flow ?? null, q.status ?? null, limit],
  );
  const rows = r.rows.filter((x) => x.id !== null);
  const findings = rows.map(toFinding);
  const last = rows.length ? Number(rows[rows.length - 1]!.seq) : after;
  // A full page may have more behind it; a short one saw everything up to the newest change.
  const next = rows.length === limit ? last : Math.max(after, last, Number(r.rows[0]?.newest ?? 0));
  return { findings, next: String(next) };
}

/** Findings oldest change first (see findingsPage, which also says where to poll next). */
export async function listFindings(db: Db, q: FindingQuery = {}): Promise<Finding[]> {
  return (await findingsPage(db, q)).findings;
}

export async function getFinding(db: Db, id: string): Promise<Finding | null> {
  const r = await db.query<StoredFindingRow>(`SELECT ${FINDING_COLS} FROM findings f WHERE f.id = $1`, [id]);
  return r.rows[0] ? toFinding(r.rows[0]) : null;
}

/** The findings with these ids (in no particular order; ids not found are left out), in one query. */
export async function getFindings(db: Db, ids: readonly string[]): Promise<Finding[]> {
  if (ids.length === 0) return [];
  const r = await db.query<StoredFindingRow>(`SELECT ${FINDING_COLS} FROM findings f WHERE f.id = ANY($1::text[])`, [ids]);
  return r.rows.map(toFinding);
}

/** Every event id of a finding, in time order. */
export async function findingEventIds(db: Db, id: string): Promise<string[]> {
  const r = await db.query<{ event_id: string }>('SELECT event_id FROM finding_events WHERE finding_id = $1 ORDER BY time, event_id', [id]);
  return r.rows.map((x) => x.event_id);
}

/** Sets a finding's status; `now` defaults to the database's clock under the findings lock. */
export async function setFindingStatus(db: Db, id: string, status: FindingStatus, now?: Date): Promise<boolean> {
  return db.transaction(async (tx) => {
    const at = await lockFindings(tx);
    const r = await tx.query("UPDATE findings SET status = $2, updated_at = $3, seq = nextval('findings_seq') WHERE id = $1", [id, status, now?.toISOString() ?? at]);
    return r.rowCount > 0;
  });
}
