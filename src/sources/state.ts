import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Db } from '../store/index.ts';
import { isoText, queryParams } from '../store/sql.ts';

/**
 * Where each part of each source has got (table source_cursors, migration 004), the lease that lets
 * one worker at a time read a part, and the counters `trailbot sources status` shows.
 * Times are epoch milliseconds here and timestamptz in the table.
 */

export interface Cursor {
  source: string;
  part: string;
  kind: string;
  coveredTo: number | null;
  headFrom: number | null;
  headTo: number | null;
  headLow: number | null;
  tailFrom: number | null;
  tailTo: number | null;
  tailLow: number | null;
  doneDay: string | null;
  leaseOwner: string | null;
  leaseUntil: number | null;
  events: number;
  duplicates: number;
  requests: number;
  throttled: number;
  errors: number;
  lastEventAt: number | null;
  lastRunAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
}

const TIME_COLS = ['covered_to', 'head_from', 'head_to', 'head_low', 'tail_from', 'tail_to', 'tail_low', 'lease_until', 'last_event_at', 'last_run_at', 'last_error_at'] as const;
const CAMEL: Record<string, keyof Cursor> = {
  covered_to: 'coveredTo', head_from: 'headFrom', head_to: 'headTo', head_low: 'headLow', tail_from: 'tailFrom', tail_to: 'tailTo', tail_low: 'tailLow',
  lease_until: 'leaseUntil', last_event_at: 'lastEventAt', last_run_at: 'lastRunAt', last_error_at: 'lastErrorAt',
};

export const CURSOR_COLUMNS = [
  'source', 'part', 'kind', "to_char(done_day, 'YYYY-MM-DD') AS done_day", 'lease_owner', 'events', 'duplicates', 'requests', 'throttled', 'errors', 'last_error',
  ...TIME_COLS.map((c) => `(extract(epoch FROM ${c}) * 1000)::float8 AS ${c}`),
].join(', ');

type Row = Record<string, unknown>;

export function toCursor(r: Row): Cursor {
  const c: Record<string, unknown> = {
    source: r.source,
    part: r.part,
    kind: r.kind,
    doneDay: r.done_day ?? null,
    leaseOwner: r.lease_owner ?? null,
    events: Number(r.events ?? 0),
    duplicates: Number(r.duplicates ?? 0),
    requests: Number(r.requests ?? 0),
    throttled: Number(r.throttled ?? 0),
    errors: Number(r.errors ?? 0),
    lastError: r.last_error ?? null,
  };
  for (const t of TIME_COLS) c[CAMEL[t]!] = r[t] === null || r[t] === undefined ? null : Number(r[t]);
  return c as unknown as Cursor;
}

/** A worker's identity in leases: host, pid and a random part (a restarted process is a new owner). */
export function workerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
}

export async function readCursors(db: Db, source?: string): Promise<Cursor[]> {
  const r = await db.query<Row>(`SELECT ${CURSOR_COLUMNS} FROM source_cursors ${source ? 'WHERE source = $1' : ''} ORDER BY source, part`, source ? [source] : []);
  return r.rows.map(toCursor);
}

/**
 * Takes (or renews) the lease on a part, creating its row on first use. Undefined when another live
 * worker holds it. A lease runs out `ms` after it was last renewed: a worker that died is replaced then.
 */
export async function takeLease(db: Db, source: string, part: string, kind: string, owner: string, ms: number): Promise<Cursor | undefined> {
  await db.query('INSERT INTO source_cursors (source, part, kind) VALUES ($1, $2, $3) ON CONFLICT (source, part) DO NOTHING', [source, part, kind]);
  const r = await db.query<Row>(
    `UPDATE source_cursors SET lease_owner = $3, lease_until = clock_timestamp() + $4 * interval '1 millisecond'
     WHERE source = $1 AND part = $2 AND (lease_owner IS NULL OR lease_owner = $3 OR lease_until IS NULL OR lease_until < clock_timestamp())
     RETURNING ${CURSOR_COLUMNS}`,
    [source, part, owner, ms],
  );
  return r.rows[0] ? toCursor(r.rows[0]) : undefined;
}

export async function releaseLease(db: Db, source: string, part: string, owner: string): Promise<void> {
  await db.query('UPDATE source_cursors SET lease_owner = NULL, lease_until = NULL WHERE source = $1 AND part = $2 AND lease_owner = $3', [source, part, owner]);
}

/** A held lease, renewed in the background until released; `lost` turns true if another worker took it. */
export interface Lease {
  readonly cursor: Cursor;
  /** This hold's owner token (`<worker>/<random>`): two polls in one process never share a lease. */
  readonly owner: string;
  readonly lost: boolean;
  release(): Promise<void>;
}

export async function holdLease(db: Db, source: string, part: string, kind: string, worker: string, ms: number): Promise<Lease | undefined> {
  const owner = `${worker}/${randomBytes(3).toString('hex')}`;
  const cursor = await takeLease(db, source, part, kind, owner, ms);
  if (!cursor) return undefined;
  let lost = false;
  const timer = setInterval(() => {
    takeLease(db, source, part, kind, owner, ms).then(
      (c) => {
        if (!c) lost = true;
      },
      () => undefined, // a failed renewal is retried on the next tick; updates check the owner anyway
    );
  }, Math.max(100, Math.floor(ms / 3)));
  timer.unref();
  return {
    cursor,
    owner,
    get lost() {
      return lost;
    },
    async release() {
      clearInterval(timer);
      await releaseLease(db, source, part, owner).catch(() => undefined);
    },
  };
}

export interface CursorPatch {
  coveredTo?: number | null;
  headFrom?: number | null;
  headTo?: number | null;
  headLow?: number | null;
  tailFrom?: number | null;
  tailTo?: number | null;
  tailLow?: number | null;
  doneDay?: string | null;
}

export interface CountsDelta {
  events?: number;
  duplicates?: number;
  requests?: number;
  throttled?: number;
  lastEventAt?: number | null;
}

const PATCH_COLS: Record<keyof CursorPatch, string> = {
  coveredTo: 'covered_to', headFrom: 'head_from', headTo: 'head_to', headLow: 'head_low', tailFrom: 'tail_from', tailTo: 'tail_to', tailLow: 'tail_low', doneDay: 'done_day',
};

/**
 * Moves a part's cursor and adds to its counters, only while `owner` holds the lease (false if it
 * does not: another worker took over, and this one must stop). The caller stores events first.
 */
export async function advance(db: Db, source: string, part: string, owner: string, patch: CursorPatch, delta: CountsDelta = {}): Promise<boolean> {
  const sets: string[] = [];
  const { params, param } = queryParams([source, part, owner]);
  for (const [k, col] of Object.entries(PATCH_COLS) as [keyof CursorPatch, string][]) {
    if (!(k in patch)) continue;
    const v = patch[k];
    if (k === 'doneDay') sets.push(`${col} = ${param(v)}::date`);
    else if (k === 'coveredTo' && v !== null) sets.push(`${col} = greatest(${col}, to_timestamp(${param(v)}::float8 / 1000))`);
    else sets.push(`${col} = ${v === null ? 'NULL' : `to_timestamp(${param(v)}::float8 / 1000)`}`);
  }
  for (const k of ['events', 'duplicates', 'requests', 'throttled'] as const) {
    if (delta[k]) sets.push(`${k} = ${k} + ${param(delta[k])}`);
  }
  if (delta.lastEventAt) sets.push(`last_event_at = greatest(last_event_at, to_timestamp(${param(delta.lastEventAt)}::float8 / 1000))`);
  sets.push('last_run_at = clock_timestamp()');
  const r = await db.query(`UPDATE source_cursors SET ${sets.join(', ')} WHERE source = $1 AND part = $2 AND lease_owner = $3`, params);
  return r.rowCount > 0;
}

/** Adds to a part's counters without a lease (SQS and folder sources, which need none). */
export async function count(db: Db, source: string, part: string, kind: string, delta: CountsDelta & { error?: string | null }): Promise<void> {
  await db.query(
    `INSERT INTO source_cursors AS c (source, part, kind, events, duplicates, requests, throttled, errors, last_event_at, last_run_at, last_error, last_error_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, to_timestamp($9::float8 / 1000), clock_timestamp(), $10, CASE WHEN $10::text IS NULL THEN NULL ELSE clock_timestamp() END)
     ON CONFLICT (source, part) DO UPDATE SET
       events = c.events + excluded.events, duplicates = c.duplicates + excluded.duplicates, requests = c.requests + excluded.requests,
       throttled = c.throttled + excluded.throttled, errors = c.errors + excluded.errors,
       last_event_at = greatest(c.last_event_at, excluded.last_event_at), last_run_at = excluded.last_run_at,
       last_error = coalesce(excluded.last_error, c.last_error), last_error_at = coalesce(excluded.last_error_at, c.last_error_at)`,
    [source, part, kind, delta.events ?? 0, delta.duplicates ?? 0, delta.requests ?? 0, delta.throttled ?? 0, delta.error ? 1 : 0, delta.lastEventAt ?? null, delta.error ?? null],
  );
}

/** Records a failure on a part (status shows the last one and how many there were). */
export async function recordError(db: Db, source: string, part: string, kind: string, message: string): Promise<void> {
  await count(db, source, part, kind, { error: message.slice(0, 2000) });
}

/** Keeps what could not be used (a malformed message, a rejected record), with where it was and why. */
export async function putAside(db: Db, source: string, ref: string, reason: string, body?: string): Promise<void> {
  await db.query('INSERT INTO source_rejects (source, ref, reason, body) VALUES ($1, $2, $3, $4)', [source, ref.slice(0, 1000), reason.slice(0, 2000), body === undefined ? null : body.slice(0, 256 * 1024)]);
}

export interface Reject {
  id: number;
  source: string;
  ref: string;
  reason: string;
  at: string;
  body: string | null;
}

export async function readRejects(db: Db, source: string | undefined, limit: number): Promise<Reject[]> {
  const r = await db.query<Reject>(
    `SELECT id, source, ref, reason, body, ${isoText('at')} AS at FROM source_rejects
     ${source ? 'WHERE source = $2' : ''} ORDER BY id DESC LIMIT $1`,
    source ? [limit, source] : [limit],
  );
  return r.rows.map((x) => ({ ...x, id: Number(x.id) }));
}

/** Files already read, by key, with the tag (ETag or size:mtime) they had. */
export async function seenObjects(db: Db, source: string, keys: string[]): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const r = await db.query<{ key: string; tag: string }>('SELECT key, tag FROM source_objects WHERE source = $1 AND key = ANY($2::text[])', [source, keys]);
  return new Map(r.rows.map((x) => [x.key, x.tag]));
}

/** Records files as read, in one statement. */
export async function markObjects(db: Db, source: string, rows: { key: string; tag: string; events: number; error: string | null }[]): Promise<void> {
  if (rows.length === 0) return;
  await db.query(
    `INSERT INTO source_objects (source, key, tag, events, error)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::int[], $5::text[])
     ON CONFLICT (source, key) DO UPDATE SET tag = excluded.tag, events = excluded.events, error = excluded.error, read_at = now()`,
    [source, rows.map((r) => r.key), rows.map((r) => r.tag), rows.map((r) => r.events), rows.map((r) => r.error)],
  );
}

/**
 * Forgets files read more than `days` ago (S3 and SQS sources: their keys are never listed or
 * announced again after that; if one were, it would be read again and add only duplicates).
 */
export async function forgetOldObjects(db: Db, source: string, days = 15): Promise<void> {
  await db.query(`DELETE FROM source_objects WHERE source = $1 AND read_at < now() - $2::int * interval '1 day'`, [source, days]);
}
