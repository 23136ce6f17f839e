/*
 * What the store's users share about PostgreSQL: how a time is read back as text, the advisory locks
 * trailbot takes, and greatest() with SQL's meaning in JavaScript.
 */

const ISO_FORMATS = {
  s: 'YYYY-MM-DD"T"HH24:MI:SS"Z"',
  ms: 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"',
  us: 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"',
} as const;

/**
 * A timestamptz expression read back as ISO 8601 UTC text, the form trailbot shows and compares times in:
 * `2024-08-01T13:00:05Z`, or with `ms` `2024-08-01T13:00:05.250Z` (queue and ticket bookkeeping, where the
 * order of things a few milliseconds apart matters), or with `us` `2024-08-01T13:00:05.250113Z` (the
 * findings feed's `updatedAt`, the database's clock as read under the findings lock). Add `AS name` where a
 * column name is wanted.
 */
export const isoText = (expr: string, precision: keyof typeof ISO_FORMATS = 's'): string => `to_char(${expr} AT TIME ZONE 'UTC', '${ISO_FORMATS[precision]}')`;

/**
 * The advisory locks trailbot takes (pg_advisory_xact_lock), one table so no two parts pick the same id.
 * A one-key lock (bigint) and a two-key lock (int, int) are separate spaces in PostgreSQL: the limiter's
 * (727275, hashtext(key)) is not the findings lock.
 */
export const ADVISORY_LOCKS = {
  /** One process applies the migrations at a time (src/store/db.ts). */
  migrations: 727274,
  /** Writers of findings, so their seq follows commit order (src/flows/store.ts). */
  findings: 727275,
  /** The PostgreSQL rate limiter's slots, per key: (limiter, hashtext(key)) (src/integrations/aws/limiter.ts). */
  limiter: 727275,
  /** The store-maintenance job: partitions made, dropped and moved by one worker at a time (src/store/retention.ts). */
  storeMaintenance: 727276,
} as const;

/** PostgreSQL's error codes the store acts on (a lock not had within its wait, a deadlock, a statement cancelled by its timeout). */
export const PG_CODES = { lockNotAvailable: '55P03', deadlock: '40P01', canceled: '57014' } as const;
/** The SQLSTATE of an error from the database (undefined for any other). */
export const pgCode = (e: unknown): string | undefined => (e as { code?: string } | null)?.code;

/** The greater of two strings, a null one ignored (PostgreSQL's greatest()): the newer of two ISO times, the fold of two names. */
export const greatest = (a: string | null, b: string | null): string | null => (a === null ? b : b === null ? a : a > b ? a : b);

/**
 * A query's parameters as it is built: `param(v)` adds a value and answers its placeholder (`$4`).
 * `params` may start with values the query names itself ($1, $2, …); `offset` shifts the numbering when
 * these parameters follow others of the statement.
 */
export function queryParams(initial: unknown[] = [], offset = 0): { params: unknown[]; param: (v: unknown) => string } {
  const params = [...initial];
  return {
    params,
    param(v) {
      params.push(v);
      return `$${offset + params.length}`;
    },
  };
}
