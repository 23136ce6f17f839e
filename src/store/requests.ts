import { TrailbotError } from '../errors.ts';
import type { Db } from './db.ts';
import type { Store } from './index.ts';
import { countEvents, getRaw, INDEXED_FILTERS, search, type SearchQuery, trail } from './queries.ts';

const DAY = 86_400_000;

export interface RequestLimits {
  /** Longest any one query may run (PostgreSQL's statement_timeout); default 5 s. */
  timeoutMs?: number;
  /** Widest time range a search may scan without an indexed filter; default 31 days. */
  maxScanDays?: number;
}

/**
 * The store as requests from people use it (the HTTP API; later Slack): every query runs under a
 * `statement_timeout`, and a search with no indexed filter needs a bounded time range. So no request
 * scans the whole events table, and a slow one ends as E_QUERY_TIMEOUT, not as a hung request.
 * Closing it leaves the store open (its owner closes that).
 */
export function forRequests(store: Store, { timeoutMs = 5000, maxScanDays = 31 }: RequestLimits = {}): Store {
  const db = withStatementTimeout(store.db, timeoutMs);
  return {
    ...store,
    db,
    trail: (q) => trail(db, q),
    search: (q) => {
      checkSearchBounds(q, { maxScanDays });
      return search(db, q);
    },
    raw: (id) => getRaw(db, id),
    count: () => countEvents(db),
    close: async () => undefined,
  };
}

/**
 * `db` with each query (and each transaction) under `SET LOCAL statement_timeout`: PostgreSQL stops
 * the statement, lock waits included, after `ms`. A timeout becomes E_QUERY_TIMEOUT.
 *
 * PGlite accepts the setting but does not enforce it (it runs a query to the end on the one thread,
 * so no timer can interrupt it): on the embedded store the search bounds are what keeps requests short.
 */
export function withStatementTimeout(db: Db, ms: number): Db {
  const timeout = Math.max(1, Math.floor(ms));
  const run = <T>(fn: (tx: Db) => Promise<T>): Promise<T> =>
    db
      .transaction(async (tx) => {
        await tx.query(`SET LOCAL statement_timeout = ${timeout}`);
        return fn(tx);
      })
      .catch((e: unknown) => {
        throw isStatementTimeout(e)
          ? new TrailbotError('E_QUERY_TIMEOUT', `the query ran longer than ${timeout} ms and was stopped`, {
              hint: 'narrow the time range (since/until) or add a filter with an index: event_id, event_name, user, access_key or resource_name',
              cause: e,
            })
          : e;
      });
  return {
    kind: db.kind,
    query: ((sql: string, params?: unknown[]) => run((tx) => tx.query(sql, params))) as Db['query'],
    transaction: run,
    session: (fn) => db.session(fn),
    close: async () => undefined,
  };
}

/** PostgreSQL's query_canceled, as statement_timeout raises it. */
function isStatementTimeout(e: unknown): boolean {
  const err = e as { code?: unknown; message?: unknown } | null;
  return err?.code === '57014' && /statement timeout/i.test(String(err.message));
}

/** The API's names for the filters checked row by row (no index of their own). */
const SCANNED: [keyof SearchQuery, string][] = [
  ['eventSource', 'event_source'],
  ['resourceType', 'resource_type'],
  ['readOnly', 'read_only'],
  ['account', 'account'],
  ['region', 'region'],
  ['outcome', 'outcome'],
  ['via', 'via'],
];

/**
 * A search is served by an index when it has an indexed filter (INDEXED_FILTERS), or no filter but
 * time (events_time, newest first, stops at the limit). Filters without an index of their own are
 * checked row by row along events_time, so alone they need `since` within `maxScanDays` of `until`.
 */
export function checkSearchBounds(q: SearchQuery, { maxScanDays = 31, now = Date.now() }: { maxScanDays?: number; now?: number } = {}): void {
  if (INDEXED_FILTERS.some((k) => q[k] !== undefined)) return;
  const scanned = SCANNED.filter(([k]) => q[k] !== undefined).map(([, name]) => name);
  if (scanned.length === 0) return;
  const since = q.since === undefined ? undefined : Date.parse(q.since);
  const until = q.until === undefined ? now : Date.parse(q.until);
  if (since !== undefined && until - since <= maxScanDays * DAY) return;
  const what = `${scanned.join(', ')} ${scanned.length === 1 ? 'has' : 'have'} no index`;
  throw new TrailbotError(
    'E_USAGE',
    since === undefined
      ? `${what}: without event_id, event_name, user, access_key or resource_name, give since (at most ${maxScanDays} days before until)`
      : `${what}: without event_id, event_name, user, access_key or resource_name, since and until may be at most ${maxScanDays} days apart`,
    { hint: `e.g. since=7d, or add one of the indexed filters: event_id, event_name, user, access_key, resource_name` },
  );
}
