import type { Actor, Ingestible, Outcome, Resource, TrailEvent, Via } from '../events/model.ts';
import { BinaryCopyWriter, type CopyType } from './copy-binary.ts';
import type { Db } from './db.ts';
import { addToOutbox } from './outbox.ts';
import { spanOf, type TimeSpan } from './span.ts';
import { greatest, isoText } from './sql.ts';

/** Columns written per event, in the order of the unnest() arrays below. */
const COLUMNS: [string, string][] = [
  ['event_id', 'text'],
  ['time', 'timestamptz'],
  ['account', 'text'],
  ['region', 'text'],
  ['service', 'text'],
  ['action', 'text'],
  ['read_only', 'boolean'],
  ['event_type', 'text'],
  ['event_category', 'text'],
  ['outcome', 'text'],
  ['error_code', 'text'],
  ['error_message', 'text'],
  ['actor_key', 'text'],
  ['actor_type', 'text'],
  ['actor_name', 'text'],
  ['actor_arn', 'text'],
  ['actor_account', 'text'],
  ['principal_id', 'text'],
  ['access_key_id', 'text'],
  ['user_name', 'text'],
  ['role_name', 'text'],
  ['session_name', 'text'],
  ['email', 'text'],
  ['invoked_by', 'text'],
  ['mfa', 'boolean'],
  ['via', 'text'],
  ['tool', 'text'],
  ['source_ip', 'text'],
  ['source_address', 'text'],
  ['user_agent', 'text'],
  ['resources', 'jsonb'],
  ['resource_keys', 'text[]'],
  ['primary_type', 'text'],
  ['primary_id', 'text'],
  ['primary_arn', 'text'],
  ['primary_named', 'boolean'],
  ['derived_id', 'boolean'],
  // Where the raw record is: its chunk (raw_chunks) and line (migration 022). `raw` itself is written
  // NULL (events stored before 022 keep theirs there).
  ['raw_chunk', 'int8'],
  ['raw_at', 'int4'],
];

const colList = COLUMNS.map(([c]) => c).join(', ');
/** unnest() cannot take an array of arrays, so resource keys travel joined by \x1f and are split in SQL. */
const unnestArgs = COLUMNS.map(([c, t], i) => (c === 'resource_keys' ? `$${i + 1}::text[]` : `$${i + 1}::${t}[]`)).join(', ');
const unnestSelect = COLUMNS.map(([c]) => (c === 'resource_keys' ? "string_to_array(u.resource_keys, E'\\x1f')" : `u.${c}`)).join(', ');

/**
 * Writing a batch, idempotent on event id, in one transaction:
 * 1. The raw records go into chunks (RECORDS_PER_CHUNK records of one UTC day each, one JSON record a
 *    line, compressed by PostgreSQL: migration 022) and each event row says where its record is.
 *    PostgreSQL server: COPY the chunks, then COPY straight into `events` (the fast path: every event
 *    new). If an event is already there (unique violation), roll back to the savepoint, look up which
 *    of the batch's events are stored, and COPY the chunks and rows of the others only (again, should
 *    another writer have stored some of them meanwhile), so a batch delivered twice adds no chunk.
 *    Embedded store: the same lookup, then INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING.
 * 2. Fold only the events that were new into `principals` and `access_keys` (fold()).
 * 3. With the flows outbox on, one `flow_outbox` row listing exactly those new ids (outbox.ts), so a
 *    crash after the commit cannot lose their flow evaluation.
 */
const UNNEST_INSERT_SQL = `INSERT INTO events (${colList})
  SELECT ${unnestSelect} FROM unnest(${unnestArgs}) AS u(${colList})
  ON CONFLICT (event_id, time) DO NOTHING RETURNING event_id`;
const COPY_EVENTS_SQL = `COPY events (${colList}) FROM STDIN WITH (FORMAT binary)`;
const COPY_CHUNKS_SQL = 'COPY raw_chunks (id, time, records) FROM STDIN WITH (FORMAT binary)';
const INSERT_CHUNKS_SQL = 'INSERT INTO raw_chunks (id, time, records) SELECT * FROM unnest($1::int8[], $2::timestamptz[], $3::text[])';
const CHUNK_IDS_SQL = "SELECT nextval('raw_chunks_id_seq')::text AS id FROM generate_series(1, $1)";
/** Which of some (id, time) pairs are stored: one primary-key probe each, in its day's partition. */
const STORED_SQL = `SELECT x.event_id FROM unnest($1::text[], $2::timestamptz[]) AS r(id, t)
  CROSS JOIN LATERAL (SELECT event_id FROM events WHERE event_id = r.id AND time = r.t LIMIT 1) x`;

/**
 * Raw records per chunk. Records written together (a trail file's, a LookupEvents page's) share
 * their account, region and shapes; together they compress ~5.5× with lz4 (~1,660 → ~300 B a record,
 * measured on 64,000 generated records; 256 a chunk: ~255 B), while reading one record back
 * decompresses its whole chunk (~100 KB at 64: a fraction of a millisecond).
 */
export const RECORDS_PER_CHUNK = 64;
const DAY_MS = 86_400_000;

const PRINCIPALS_SQL = `INSERT INTO principals AS p (actor_key, type, name, arn, account, principal_id, user_name, role_name, session_name, email, first_seen, last_seen, events)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::bigint[])
  ON CONFLICT (actor_key) DO UPDATE SET
    first_seen = least(p.first_seen, excluded.first_seen),
    last_seen = greatest(p.last_seen, excluded.last_seen),
    events = p.events + excluded.events,
    name = coalesce(excluded.name, p.name),
    email = coalesce(excluded.email, p.email),
    arn = coalesce(excluded.arn, p.arn),
    principal_id = coalesce(excluded.principal_id, p.principal_id)`;

const ACCESS_KEYS_SQL = `INSERT INTO access_keys AS k (access_key_id, actor_key, first_seen, last_seen)
  SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])
  ON CONFLICT (access_key_id) DO UPDATE SET
    first_seen = least(k.first_seen, excluded.first_seen),
    last_seen = greatest(k.last_seen, excluded.last_seen)`;

const SEP = '\x1f';

export interface IngestResult {
  inserted: number;
  duplicates: number;
  /**
   * The ids this call newly stored, one list per transaction (at most INGEST_BATCH each). With the
   * flows outbox on, each list is one `flow_outbox` row, committed with the events.
   */
  fresh: string[][];
  /**
   * Per list of `fresh`, the span of the times its events were stored at (an id twice in a batch is
   * stored at its first copy's): which day partitions to read them back from.
   */
  spans: (TimeSpan | null)[];
}

export interface InsertOptions {
  /** Write the flows outbox row in the events' transaction (the store's setting unless given). */
  outbox?: boolean;
}

/** Rows per transaction: large enough to amortize round trips, small enough to keep memory flat. */
export const INGEST_BATCH = 5000;

export async function insertEvents(db: Db, batch: Ingestible[], opts: InsertOptions = {}): Promise<IngestResult> {
  if (batch.length === 0) return { inserted: 0, duplicates: 0, fresh: [], spans: [] };
  let inserted = 0;
  const fresh: string[][] = [];
  const spans: (TimeSpan | null)[] = [];
  for (let off = 0; off < batch.length; off += INGEST_BATCH) {
    const part = batch.length <= INGEST_BATCH ? batch : batch.slice(off, off + INGEST_BATCH);
    const stored = await withRetry(() => db.transaction((tx) => insertPart(tx, part, opts.outbox ?? false)));
    inserted += stored.length;
    if (stored.length > 0) {
      fresh.push(stored.map((r) => r.event.eventId));
      spans.push(spanOf(stored.map((r) => r.event.time)));
    }
  }
  return { inserted, duplicates: batch.length - inserted, fresh, spans };
}

/** Two writers inserting the same new events in different orders can deadlock; PostgreSQL then aborts one. */
async function withRetry<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (i >= attempts || (code !== '40P01' && code !== '40001')) throw e;
      await new Promise((r) => setTimeout(r, 20 * i + Math.random() * 30));
    }
  }
}

/** Stores one part in the caller's transaction; returns the events it newly inserted. */
async function insertPart(tx: Db, part: Ingestible[], outbox: boolean): Promise<Ingestible[]> {
  // De-duplicate within the batch first (COPY would fail on the second copy of an id).
  const seen = new Set<string>();
  const rows: Ingestible[] = [];
  for (const it of part) {
    if (seen.has(it.event.eventId)) continue;
    seen.add(it.event.eventId);
    rows.push(it);
  }
  let fresh: Ingestible[];
  if (tx.copyFrom) {
    await tx.query('SET LOCAL synchronous_commit = off');
    await tx.query('SAVEPOINT ingest_copy');
    try {
      await copyRows(tx, rows);
      fresh = rows;
    } catch (e) {
      if ((e as { code?: string }).code !== '23505') throw e;
      await tx.query('ROLLBACK TO SAVEPOINT ingest_copy');
      fresh = await insertUnstored(tx, rows);
    }
  } else {
    fresh = await insertUnstored(tx, rows);
  }
  await fold(tx, fresh);
  if (outbox) await addToOutbox(tx, fresh.map((r) => r.event.eventId));
  return fresh;
}

/** COPY a batch's chunks, then its rows (PostgreSQL server). */
async function copyRows(tx: Db, rows: Ingestible[]): Promise<void> {
  const chunks = await chunkRecords(tx, rows);
  await tx.copyFrom!(COPY_CHUNKS_SQL, chunkData(chunks));
  await tx.copyFrom!(COPY_EVENTS_SQL, copyData(rows, chunks.refs));
}

/**
 * Stores the events of `rows` that are not stored yet (a batch partly or wholly delivered before),
 * with chunks holding their records only. On the server a writer storing the same events at the same
 * moment can still win the race: the COPY then fails on the unique key and this looks again.
 */
async function insertUnstored(tx: Db, rows: Ingestible[]): Promise<Ingestible[]> {
  for (let attempt = 1; ; attempt++) {
    const stored = await tx.query<{ event_id: string }>(STORED_SQL, [rows.map((r) => r.event.eventId), rows.map((r) => r.event.time)]);
    const have = new Set(stored.rows.map((r) => r.event_id));
    const todo = have.size === 0 ? rows : rows.filter((r) => !have.has(r.event.eventId));
    if (todo.length === 0) return [];
    if (!tx.copyFrom) {
      const chunks = await chunkRecords(tx, todo);
      await tx.query(INSERT_CHUNKS_SQL, [chunks.ids, chunks.days, chunks.records]);
      const cols: unknown[][] = COLUMNS.map(() => new Array(todo.length));
      for (let i = 0; i < todo.length; i++) {
        const row = rowOf(todo[i]!, chunks.refs[2 * i]!, chunks.refs[2 * i + 1]!);
        row[KEYS_COL] = (row[KEYS_COL] as string[]).join(SEP);
        for (let c = 0; c < row.length; c++) cols[c]![i] = row[c];
      }
      return pick(todo, (await tx.query<{ event_id: string }>(UNNEST_INSERT_SQL, cols)).rows);
    }
    await tx.query('SAVEPOINT ingest_unstored');
    try {
      await copyRows(tx, todo);
      return todo;
    } catch (e) {
      if ((e as { code?: string }).code !== '23505' || attempt >= 5) throw e;
      await tx.query('ROLLBACK TO SAVEPOINT ingest_unstored');
    }
  }
}

interface Chunks {
  ids: string[];
  /** Each chunk's UTC day (midnight, ISO): its partition. */
  days: string[];
  records: string[];
  /** Per row, in the batch's order: chunk id, then line. */
  refs: (string | number)[];
}

/**
 * Puts the rows' raw records into chunks: by UTC day, then in the batch's order (a file's records
 * stay together), RECORDS_PER_CHUNK to a chunk; the chunk ids come from raw_chunks_id_seq.
 */
async function chunkRecords(tx: Db, rows: Ingestible[]): Promise<Chunks> {
  const byDay = new Map<number, number[]>();
  for (let i = 0; i < rows.length; i++) {
    const day = Math.floor(Date.parse(rows[i]!.event.time!) / DAY_MS) * DAY_MS;
    let l = byDay.get(day);
    if (!l) byDay.set(day, (l = []));
    l.push(i);
  }
  let n = 0;
  for (const l of byDay.values()) n += Math.ceil(l.length / RECORDS_PER_CHUNK);
  const ids = (await tx.query<{ id: string }>(CHUNK_IDS_SQL, [n])).rows.map((r) => r.id);
  const out: Chunks = { ids, days: [], records: [], refs: new Array(rows.length * 2) };
  let c = 0;
  for (const [day, l] of byDay) {
    const iso = new Date(day).toISOString();
    for (let off = 0; off < l.length; off += RECORDS_PER_CHUNK, c++) {
      const lines: string[] = [];
      for (let k = off; k < Math.min(l.length, off + RECORDS_PER_CHUNK); k++) {
        const i = l[k]!;
        // JSON.stringify never writes a raw newline (it escapes them), so one record is one line.
        lines.push(JSON.stringify(rows[i]!.raw));
        out.refs[2 * i] = ids[c]!;
        out.refs[2 * i + 1] = k - off;
      }
      out.days.push(iso);
      out.records.push(lines.join('\n'));
    }
  }
  return out;
}

function chunkData(chunks: Chunks): Buffer[] {
  const w = new BinaryCopyWriter();
  for (let c = 0; c < chunks.ids.length; c++) {
    w.row(3);
    w.int8(Number(chunks.ids[c]));
    w.timestamptz(chunks.days[c]!);
    w.text(chunks.records[c]!);
  }
  return w.finish();
}

function pick(rows: Ingestible[], inserted: { event_id: string }[]): Ingestible[] {
  if (inserted.length === rows.length) return rows;
  const ids = new Set(inserted.map((r) => r.event_id));
  return rows.filter((r) => ids.has(r.event.eventId));
}

const KEYS_COL = COLUMNS.findIndex(([c]) => c === 'resource_keys');

const TYPES = COLUMNS.map(([, t]) => t as CopyType);

/** The batch in PostgreSQL's binary COPY format (see copy-binary.ts for why binary). */
function copyData(rows: Ingestible[], refs: (string | number)[]): Buffer[] {
  const w = new BinaryCopyWriter();
  const n = COLUMNS.length;
  for (let i = 0; i < rows.length; i++) {
    const row = rowOf(rows[i]!, Number(refs[2 * i]), refs[2 * i + 1]!);
    w.row(n);
    for (let c = 0; c < n; c++) w.value(TYPES[c]!, row[c]);
  }
  return w.finish();
}

/** Folds new events into `principals` (names, first/last seen, count) and `access_keys`, keys sorted. */
async function fold(tx: Db, fresh: Ingestible[]): Promise<void> {
  if (fresh.length === 0) return;
  type P = { type: string | null; name: string | null; arn: string | null; account: string | null; principalId: string | null; userName: string | null; roleName: string | null; sessionName: string | null; email: string | null; first: string; last: string; n: number };
  const principals = new Map<string, P>();
  const keys = new Map<string, { actor: string; first: string; last: string }>();
  for (const { event: e } of fresh) {
    const k = e.actorKey;
    if (!k || !e.time) continue;
    const a = e.actor;
    const p = principals.get(k);
    if (!p) {
      principals.set(k, { type: a.type, name: a.name, arn: a.arn, account: a.accountId, principalId: a.principalId, userName: a.userName, roleName: a.roleName, sessionName: a.sessionName, email: a.email, first: e.time, last: e.time, n: 1 });
    } else {
      p.n++;
      if (e.time < p.first) p.first = e.time;
      if (e.time > p.last) p.last = e.time;
      p.name = greatest(p.name, a.name);
      p.email = greatest(p.email, a.email);
      p.arn = greatest(p.arn, a.arn);
      p.principalId = greatest(p.principalId, a.principalId);
    }
    if (a.accessKeyId) {
      const ak = keys.get(a.accessKeyId);
      if (!ak) keys.set(a.accessKeyId, { actor: k, first: e.time, last: e.time });
      else {
        if (e.time < ak.first) ak.first = e.time;
        if (e.time > ak.last) ak.last = e.time;
      }
    }
  }
  const pk = [...principals.keys()].sort();
  const ps = pk.map((k) => principals.get(k)!);
  await tx.query(PRINCIPALS_SQL, [
    pk, ps.map((p) => p.type), ps.map((p) => p.name), ps.map((p) => p.arn), ps.map((p) => p.account), ps.map((p) => p.principalId),
    ps.map((p) => p.userName), ps.map((p) => p.roleName), ps.map((p) => p.sessionName), ps.map((p) => p.email),
    ps.map((p) => p.first), ps.map((p) => p.last), ps.map((p) => p.n),
  ]);
  if (keys.size > 0) {
    const kk = [...keys.keys()].sort();
    const ks = kk.map((k) => keys.get(k)!);
    await tx.query(ACCESS_KEYS_SQL, [kk, ks.map((k) => k.actor), ks.map((k) => k.first), ks.map((k) => k.last)]);
  }
}

function rowOf({ event: e }: Ingestible, chunk: string | number, at: string | number): unknown[] {
  const a = e.actor;
  // Ids only (an ARN's id is its last segment): half the GIN entries of ids + ARNs, and searches by
  // ARN look its id up, then check the ARN (queries.ts).
  const keys: string[] = [];
  for (const r of e.resources) keys.push(r.id.toLowerCase());
  const p = e.primaryResource;
  return [
    e.eventId, e.time, e.account, e.region, e.service, e.action, e.readOnly, e.eventType, e.eventCategory,
    e.outcome, e.errorCode, e.errorMessage, e.actorKey, a.type, a.name, a.arn, a.accountId, a.principalId,
    a.accessKeyId, a.userName, a.roleName, a.sessionName, a.email, a.invokedBy, a.mfa, e.via, e.tool,
    e.sourceIp, e.sourceAddress, e.userAgent, JSON.stringify(e.resources), keys,
    p?.type ?? null, p?.id ?? null, p?.arn ?? null, e.primaryNamed, e.derivedId, chunk, at,
  ];
}

/** A stored event as read back (raw record left out unless asked for). */
export interface StoredRow {
  event_id: string;
  time: string;
  account: string | null;
  region: string | null;
  service: string | null;
  action: string | null;
  read_only: boolean | null;
  event_type: string | null;
  event_category: string | null;
  outcome: Outcome;
  error_code: string | null;
  error_message: string | null;
  actor_key: string | null;
  actor_type: string | null;
  actor_name: string | null;
  actor_arn: string | null;
  actor_account: string | null;
  principal_id: string | null;
  access_key_id: string | null;
  user_name: string | null;
  role_name: string | null;
  session_name: string | null;
  email: string | null;
  invoked_by: string | null;
  mfa: boolean | null;
  via: Via;
  tool: string | null;
  source_ip: string | null;
  source_address: string | null;
  user_agent: string | null;
  resources: Resource[];
  primary_type: string | null;
  primary_id: string | null;
  primary_arn: string | null;
  primary_named: boolean;
  derived_id: boolean;
}

/**
 * An event's time read back as normalize wrote it (src/events/normalize.ts isoTime): whole seconds as
 * `2024-08-01T13:00:05Z`, else to the millisecond (`2024-08-01T13:00:05.250Z`, from exporters that keep
 * them). Read to the second it would be another time, which the reads by id and time (eventRowsAt, a
 * job's span, finding_events' times the flows write from it) then miss.
 */
const EVENT_TIME = `CASE WHEN date_trunc('second', time) = time THEN ${isoText('time')} ELSE ${isoText('time', 'ms')} END AS time`;

export const EVENT_COLUMNS = COLUMNS.map(([c]) => c)
  .filter((c) => c !== 'raw_chunk' && c !== 'raw_at' && c !== 'resource_keys')
  .map((c) => (c === 'time' ? EVENT_TIME : c))
  .join(', ');

export function rowToEvent(r: StoredRow): TrailEvent {
  const actor: Actor = {
    type: r.actor_type,
    name: r.actor_name,
    arn: r.actor_arn,
    accountId: r.actor_account,
    principalId: r.principal_id,
    accessKeyId: r.access_key_id,
    userName: r.user_name,
    roleName: r.role_name,
    sessionName: r.session_name,
    email: r.email,
    invokedBy: r.invoked_by,
    mfa: r.mfa,
  };
  return {
    eventId: r.event_id,
    time: r.time,
    account: r.account,
    region: r.region,
    service: r.service,
    action: r.action,
    readOnly: r.read_only,
    eventType: r.event_type,
    eventCategory: r.event_category,
    outcome: r.outcome,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    actor,
    via: r.via,
    tool: r.tool,
    sourceIp: r.source_ip,
    sourceAddress: r.source_address,
    userAgent: r.user_agent,
    resources: r.resources,
    primaryResource: r.primary_type && r.primary_id ? { type: r.primary_type, id: r.primary_id, arn: r.primary_arn } : null,
    primaryNamed: r.primary_named,
    actorKey: r.actor_key,
    derivedId: r.derived_id,
  };
}
