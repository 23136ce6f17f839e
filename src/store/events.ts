import { hash } from 'node:crypto';
import type { Actor, Ingestible, Outcome, Resource, TrailEvent, Via } from '../events/model.ts';
import { chunkLines, packLines, RECORDS_PER_CHUNK } from './chunks.ts';
import { BinaryCopyWriter, type CopyType } from './copy-binary.ts';
import type { Db } from './db.ts';
import { type DetailColumns, detailColumns, detailJson } from './detail.ts';
import { addToOutbox } from './outbox.ts';
import type { DayPartitioner } from './partitions.ts';
import { spanOf, type TimeSpan } from './span.ts';
import { eventTimeMs } from '../time.ts';
import { greatest, isoText, PG_CODES } from './sql.ts';

/**
 * Columns written per event, in the order of the unnest() arrays below: what SQL filters, sorts, groups
 * or joins on (migration 024). The rest of the event is its detail line, in its chunk (detail.ts).
 */
const COLUMNS: [string, string][] = [
  ['event_id', 'text'],
  ['time', 'timestamptz'],
  ['account', 'text'],
  ['region', 'text'],
  ['service', 'text'],
  ['action', 'text'],
  ['read_only', 'boolean'],
  ['event_type', 'text'],
  ['outcome', 'text'],
  ['actor_key', 'text'],
  ['actor_type', 'text'],
  ['actor_name', 'text'],
  ['access_key_id', 'text'],
  ['email', 'text'],
  ['via', 'text'],
  ['resource_keys', 'text[]'],
  ['primary_type', 'text'],
  ['primary_id', 'text'],
  ['primary_arn', 'text'],
  // Where the event's detail and raw record are: its chunk (raw_chunks) and place in it (chunks.ts).
  ['raw_chunk', 'int8'],
  ['raw_at', 'int4'],
];

/**
 * Every column an event was ever stored in, as read back: rows stored before migration 024 have their
 * detail in columns (the detail columns of newer rows are NULL, their detail is in their chunk).
 */
const READ_COLUMNS = [
  'event_id', 'time', 'account', 'region', 'service', 'action', 'read_only', 'event_type', 'event_category', 'outcome',
  'error_code', 'error_message', 'actor_key', 'actor_type', 'actor_name', 'actor_arn', 'actor_account', 'principal_id',
  'access_key_id', 'user_name', 'role_name', 'session_name', 'email', 'invoked_by', 'mfa', 'via', 'tool', 'source_ip',
  'source_address', 'user_agent', 'resources', 'primary_type', 'primary_id', 'primary_arn', 'primary_named', 'derived_id',
];

const colList = COLUMNS.map(([c]) => c).join(', ');
/** unnest() cannot take an array of arrays, so resource keys travel joined by \x1f and are split in SQL. */
const unnestArgs = COLUMNS.map(([c, t], i) => (c === 'resource_keys' ? `$${i + 1}::text[]` : `$${i + 1}::${t}[]`)).join(', ');
const unnestSelect = COLUMNS.map(([c]) => (c === 'resource_keys' ? "string_to_array(u.resource_keys, E'\\x1f')" : `u.${c}`)).join(', ');

/**
 * Writing a batch, idempotent on event id, in one transaction:
 * 1. The events' detail lines and raw records go into chunks (RECORDS_PER_CHUNK events of one UTC day
 *    each, compressed by trailbot: chunks.ts) and each event row says where its chunk is.
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
const COPY_CHUNKS_SQL = 'COPY raw_chunks (id, time, details, packed) FROM STDIN WITH (FORMAT binary)';
const INSERT_CHUNKS_SQL = 'INSERT INTO raw_chunks (id, time, details, packed) SELECT * FROM unnest($1::int8[], $2::timestamptz[], $3::bytea[], $4::bytea[])';
const CHUNK_IDS_SQL = "SELECT nextval('raw_chunks_id_seq')::text AS id FROM generate_series(1, $1)";
/**
 * Which of some (id, time) pairs are stored: one primary-key probe each, in its day's partition. The
 * bounds (the pairs' UTC day: one branch of the query a day) prune the plan to the pairs' days:
 * without them PostgreSQL locks every partition, the default ones too, for the transaction (~1,000
 * locks over 100 days, and a batch holding events_default before it writes raw_chunks_default, the
 * reverse of a partition make's order). One range over the batch's days was not enough: a day between
 * them without a partition brought the default back in. (`time = ANY` of every time pruned too but was
 * compared with every row found: re-ingest fell from 35,000 to 6,000 events/s.)
 */
const storedBranch = (n: number): string =>
  `SELECT x.event_id FROM unnest($${n}::text[], $${n + 1}::timestamptz[]) AS r(id, t)
  CROSS JOIN LATERAL (SELECT event_id FROM events WHERE time >= $${n + 2}::timestamptz AND time < $${n + 3}::timestamptz AND event_id = r.id AND time = r.t LIMIT 1) x`;
/** The same without bounds, for times JavaScript cannot place in a day (PostgreSQL still reads them). */
const STORED_ANYWHERE_SQL = `SELECT x.event_id FROM unnest($1::text[], $2::timestamptz[]) AS r(id, t)
  CROSS JOIN LATERAL (SELECT event_id FROM events WHERE event_id = r.id AND time = r.t LIMIT 1) x`;
/** Days a look-up names one by one; a batch spanning more (a backfill's first files) is cut into as many runs of days. */
const STORED_BRANCHES = 16;

const YEAR_1 = Date.parse('0001-01-01T00:00:00Z');
const YEAR_10000 = Date.parse('9999-12-31T23:59:59.999Z') + 1;

/** The ids of `rows` stored already. */
async function storedIds(tx: Db, rows: readonly Ingestible[]): Promise<Set<string>> {
  // Times are UTC ISO (normalize): the day is the midnight before, in milliseconds.
  const byDay = new Map<number, Ingestible[]>();
  for (const r of rows) {
    const ms = r.event.time === null ? Number.NaN : eventTimeMs(r.event.time);
    if (!(ms >= YEAR_1 && ms < YEAR_10000 - DAY_MS)) {
      const all = await tx.query<{ event_id: string }>(STORED_ANYWHERE_SQL, [rows.map((x) => x.event.eventId), rows.map((x) => x.event.time)]);
      return new Set(all.rows.map((x) => x.event_id));
    }
    const day = ms - (ms % DAY_MS + DAY_MS) % DAY_MS;
    let list = byDay.get(day);
    if (!list) byDay.set(day, (list = []));
    list.push(r);
  }
  const days = [...byDay.keys()].sort((a, b) => a - b);
  // Runs of days, each [from, to): one a day, or as many days to a run as it takes to stay within STORED_BRANCHES.
  const per = Math.ceil(days.length / STORED_BRANCHES);
  const branches: string[] = [];
  const params: unknown[] = [];
  for (let i = 0; i < days.length; i += per) {
    const run = days.slice(i, i + per);
    const members = run.flatMap((d) => byDay.get(d)!);
    branches.push(storedBranch(params.length + 1));
    params.push(
      members.map((x) => x.event.eventId),
      members.map((x) => x.event.time),
      new Date(run[0]!).toISOString(),
      new Date(run.at(-1)! + DAY_MS).toISOString(),
    );
  }
  const found = await tx.query<{ event_id: string }>(branches.join('\nUNION ALL\n'), params);
  return new Set(found.rows.map((x) => x.event_id));
}

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
  /** Day partitions made for the batch's days before it is written (partitions.ts; the store's unless given). */
  partitions?: DayPartitioner;
}

/** Rows per transaction: large enough to amortize round trips, small enough to keep memory flat. */
export const INGEST_BATCH = 5000;

export async function insertEvents(db: Db, batch: Ingestible[], opts: InsertOptions = {}): Promise<IngestResult> {
  if (batch.length === 0) return { inserted: 0, duplicates: 0, fresh: [], spans: [] };
  let inserted = 0;
  const fresh: string[][] = [];
  const spans: (TimeSpan | null)[] = [];
  if (opts.partitions) await opts.partitions.ensure(db, batch.map((r) => r.event.time));
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

/**
 * Tried again in a new transaction: two writers inserting the same new events in different orders can
 * deadlock, and PostgreSQL then aborts one (40P01), `attempts` tries in all; and a batch routed to a
 * default partition while the store-maintenance job gave some of its days their own partitions
 * (src/store/retention.ts) finds the default's bounds changed under it once the job commits (23514,
 * "violates partition constraint"), where the next try goes to the new partitions. A batch spanning
 * many days of a backfill can meet each of the job's move transactions (10 days each, at most 12 a
 * run) in turn: MOVED_TRIES tries for that, each after the last move it met has committed.
 */
async function withRetry<T>(fn: () => Promise<T>, attempts = 4): Promise<T> {
  let failed = 0;
  let moved = 0;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (isMovedPartition(e)) {
        if (++moved >= MOVED_TRIES) throw e;
        await new Promise((r) => setTimeout(r, Math.min(25 * moved, 250) + Math.random() * 25));
        continue;
      }
      if (++failed >= attempts || (code !== PG_CODES.deadlock && code !== '40001')) throw e;
      await new Promise((r) => setTimeout(r, 20 * failed + Math.random() * 30));
    }
  }
}

/** Tries of a batch that met the store-maintenance job's moves (see withRetry): more than a run's move transactions. */
const MOVED_TRIES = 40;

/**
 * A row routed to a default partition whose bounds a concurrent ATTACH PARTITION changed. PostgreSQL
 * names no constraint for a partition's bounds, and names the CHECK a row of bad data fails, which is
 * not retried (whatever language the server's messages are in).
 */
function isMovedPartition(e: unknown): boolean {
  const err = e as { code?: string; constraint?: string };
  return err.code === '23514' && !err.constraint;
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
  if (!tx.copyFrom) {
    fresh = await insertUnstored(tx, rows);
  } else {
    await tx.query('SET LOCAL synchronous_commit = off');
    if (await deliveredBefore(tx, rows)) {
      // Straight to the look-up: only the chunks of what is new are written.
      fresh = await insertUnstored(tx, rows);
    } else {
      await tx.query('SAVEPOINT ingest_copy');
      try {
        await copyRows(tx, rows);
        fresh = rows;
      } catch (e) {
        if ((e as { code?: string }).code !== '23505') throw e;
        await tx.query('ROLLBACK TO SAVEPOINT ingest_copy');
        fresh = await insertUnstored(tx, rows);
      }
    }
  }
  await fold(tx, fresh);
  if (outbox) await addToOutbox(tx, fresh.map((r) => r.event.eventId));
  return fresh;
}

/**
 * Whether a batch was delivered before, by its first, middle and last events (a trail file again, an
 * SQS message twice, a replay): three primary-key probes. The optimistic COPY would write all of such a
 * batch's chunks before its first event met its stored copy, then roll them back: dead space in the
 * day's TOAST that a past day, never written again, keeps until it is dropped (48 B an event at
 * 1,000,000 in bench:ingest after a whole trail was ingested twice).
 */
async function deliveredBefore(tx: Db, rows: Ingestible[]): Promise<boolean> {
  const probe = rows.length <= 3 ? rows : [rows[0]!, rows[rows.length >> 1]!, rows[rows.length - 1]!];
  return (await storedIds(tx, probe)).size > 0;
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
    const have = await storedIds(tx, rows);
    const todo = have.size === 0 ? rows : rows.filter((r) => !have.has(r.event.eventId));
    if (todo.length === 0) return [];
    if (!tx.copyFrom) {
      const chunks = await chunkRecords(tx, todo);
      await tx.query(INSERT_CHUNKS_SQL, [chunks.ids, chunks.days, chunks.details, chunks.packed]);
      const cols: unknown[][] = COLUMNS.map(() => new Array(todo.length));
      const memo = new Map<string, string>();
      for (let i = 0; i < todo.length; i++) {
        const row = rowOf(todo[i]!, chunks.refs[2 * i]!, chunks.refs[2 * i + 1]!, memo);
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
  /** Each chunk's detail lines and raw records, packed (chunks.ts). */
  details: Buffer[];
  packed: Buffer[];
  /** Per row, in the batch's order: chunk id, then place in the chunk. */
  refs: (string | number)[];
}

/**
 * Puts the rows' detail lines and raw records into chunks (format 2, chunks.ts): by UTC day, then in
 * the batch's order (a file's records stay together), RECORDS_PER_CHUNK to a chunk; the chunk ids come
 * from raw_chunks_id_seq.
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
  const out: Chunks = { ids, days: [], details: [], packed: [], refs: new Array(rows.length * 2) };
  let c = 0;
  for (const [day, l] of byDay) {
    const iso = new Date(day).toISOString();
    for (let off = 0; off < l.length; off += RECORDS_PER_CHUNK, c++) {
      const details: string[] = [];
      const records: (string | Uint8Array)[] = [];
      for (let k = off; k < Math.min(l.length, off + RECORDS_PER_CHUNK); k++) {
        const i = l[k]!;
        // JSON.stringify never writes a raw newline (it escapes them), so one value is one line.
        details.push(detailJson(rows[i]!.event));
        const r = rows[i]!;
        records.push(r.rawUtf8 ?? r.rawJson ?? JSON.stringify(r.raw));
        out.refs[2 * i] = ids[c]!;
        out.refs[2 * i + 1] = k - off;
      }
      out.days.push(iso);
      out.details.push(packLines(details));
      out.packed.push(packLines(records));
    }
  }
  return out;
}

function chunkData(chunks: Chunks): Buffer[] {
  const w = new BinaryCopyWriter();
  for (let c = 0; c < chunks.ids.length; c++) {
    w.row(4);
    w.int8(Number(chunks.ids[c]));
    w.timestamptz(chunks.days[c]!);
    w.bytea(chunks.details[c]!);
    w.bytea(chunks.packed[c]!);
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
  const memo = new Map<string, string>();
  for (let i = 0; i < rows.length; i++) {
    const row = rowOf(rows[i]!, Number(refs[2 * i]), refs[2 * i + 1]!, memo);
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

/**
 * The keys events_resource_keys finds an event by (migration 024): each resource's id, lower-cased,
 * and tokens for its type (`\x1et` + type) and ARN (`\x1ea` + 16 hex digits of md5 of the ARN, lower-cased).
 * Ids only, not ARNs: ARNs are long and mostly unique, so they would double the index.
 */
export function resourceKeys(resources: readonly Resource[], memo?: Map<string, string>): string[] {
  const keys = new Set<string>();
  for (const r of resources) {
    const id = r.id.toLowerCase();
    if (!id.startsWith(TOKEN)) keys.add(id);
    keys.add(typeToken(r.type));
    if (r.arn) {
      // A batch names the same roles and buckets again and again: each ARN is hashed once a batch.
      let t = memo?.get(r.arn);
      if (t === undefined) {
        t = arnToken(r.arn);
        memo?.set(r.arn, t);
      }
      keys.add(t);
    }
  }
  return [...keys];
}

/** Starts every key that is not a resource id (a control character no id search can type). */
const TOKEN = '\x1e';
export const typeToken = (type: string): string => `${TOKEN}t${type}`;
export const arnToken = (arn: string): string => `${TOKEN}a${hash('md5', arn.toLowerCase(), 'hex').slice(0, 16)}`;

function rowOf({ event: e }: Ingestible, chunk: string | number, at: string | number, memo: Map<string, string>): unknown[] {
  const a = e.actor;
  const p = e.primaryResource;
  return [
    e.eventId, e.time, e.account, e.region, e.service, e.action, e.readOnly, e.eventType, e.outcome, e.actorKey, a.type,
    a.name, a.accessKeyId, a.email, e.via, resourceKeys(e.resources, memo), p?.type ?? null, p?.id ?? null, p?.arn ?? null, chunk, at,
  ];
}

/** A stored event as read back (see EVENT_COLUMNS). */
export interface StoredRow extends Omit<DetailColumns, 'resources'> {
  event_id: string;
  time: string;
  account: string | null;
  region: string | null;
  service: string | null;
  action: string | null;
  read_only: boolean | null;
  event_type: string | null;
  outcome: Outcome;
  actor_key: string | null;
  actor_type: string | null;
  actor_name: string | null;
  access_key_id: string | null;
  email: string | null;
  via: Via;
  /** NULL: the detail is in the chunk (rows stored since migration 024). */
  resources: Resource[] | null;
  primary_type: string | null;
  primary_id: string | null;
  primary_arn: string | null;
  raw_chunk: string | null;
  raw_at: number | null;
  /** The event's UTC day, ISO: its chunk's partition. */
  raw_day: string;
}

/**
 * An event's time read back as normalize wrote it (src/events/normalize.ts isoTime): whole seconds as
 * `2024-08-01T13:00:05Z`, else to the millisecond (`2024-08-01T13:00:05.250Z`, from exporters that keep
 * them). Read to the second it would be another time, which the reads by id and time (eventRowsAt, a
 * job's span, finding_events' times the flows write from it) then miss.
 */
const EVENT_TIME = `CASE WHEN date_trunc('second', time) = time THEN ${isoText('time')} ELSE ${isoText('time', 'ms')} END AS time`;

/** An event's UTC day, ISO, in a select list over `events`: the partition of its chunk. */
export const RAW_DAY = `${isoText("date_trunc('day', time, 'UTC')")} AS raw_day`;

/** The select list of a StoredRow (in a query over `events`); toEvents() makes the events of such rows. */
export const EVENT_COLUMNS = `${READ_COLUMNS.map((c) => (c === 'time' ? EVENT_TIME : c)).join(', ')}, raw_chunk::text AS raw_chunk, raw_at, ${RAW_DAY}`;

/**
 * The events of some rows, in their order: the rows stored since migration 024 get their detail from
 * their chunks (each chunk read once), the others have it in their columns.
 */
export async function toEvents(db: Db, rows: readonly StoredRow[]): Promise<TrailEvent[]> {
  const slim = rows.filter((r) => r.resources === null && r.raw_chunk !== null && r.raw_at !== null);
  const lines = await chunkLines(db, slim.map((r) => ({ chunk: r.raw_chunk!, at: r.raw_at!, day: r.raw_day })), 'details');
  const detail = new Map(slim.map((r, i) => [r, lines[i]]));
  return rows.map((r) => {
    if (!detail.has(r)) return rowToEvent(r);
    // A chunk is written in its events' transaction, so it is there; were it not, the row's own fields still are.
    return rowToEvent({ ...r, ...detailColumns(detail.get(r) ?? '{}') });
  });
}

function rowToEvent(r: StoredRow): TrailEvent {
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
    resources: r.resources ?? [],
    primaryResource: r.primary_type && r.primary_id ? { type: r.primary_type, id: r.primary_id, arn: r.primary_arn } : null,
    primaryNamed: r.primary_named ?? true,
    actorKey: r.actor_key,
    derivedId: r.derived_id ?? false,
  };
}
