import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFromStream } from 'pg-copy-streams';
import { TrailbotError } from '../errors.ts';
import { acquireStoreLock, type LockOptions } from './lock.ts';
import { ADVISORY_LOCKS } from './sql.ts';

/**
 * The one SQL interface the store uses, over either a PostgreSQL server (`pg` pool) or the
 * embedded PostgreSQL (PGlite, PostgreSQL compiled to WebAssembly, kept in the data directory).
 * Both run the same SQL and the same migrations.
 */
export interface Db {
  readonly kind: 'postgres' | 'pglite';
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: T[]; rowCount: number }>;
  /** Runs fn in one transaction on one connection. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  /**
   * `COPY … FROM STDIN`, the data in chunks (the store sends PostgreSQL's binary format): PostgreSQL's
   * fastest way in. Only on a server connection inside a transaction (PGlite has none: callers fall
   * back to INSERT).
   */
  copyFrom?: (sql: string, chunks: Buffer[]) => Promise<void>;
  /**
   * Runs fn on one connection outside any transaction (what must not run in one: `VACUUM`, `REINDEX …
   * CONCURRENTLY`), where a session setting fn makes (`SET lock_timeout`) holds for its statements
   * only: the connection's settings are reset before it goes back to the pool.
   */
  session<T>(fn: (s: Pick<Db, 'kind' | 'query'>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DbOptions {
  databaseUrl?: string | undefined;
  /** Where the embedded database lives when there is no databaseUrl. */
  dataDir: string;
  poolSize?: number;
  /** The embedded store's lock: who this process is, and where to say a stale lock was removed. */
  lock?: LockOptions;
}

// timestamptz and bigint come back as strings: we format times ourselves and counts fit in numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (v) => v);

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, '//$1:***@');
}

export async function openDb(opts: DbOptions): Promise<Db> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, opts.poolSize ?? 8);
  return openPglite(opts.dataDir, opts.lock);
}

/** Db.session inside a transaction: refused (what it is for cannot run in one). */
const noSessionInTransaction = (): Promise<never> => Promise.reject(new Error('a session cannot be opened inside a transaction'));

async function openPostgres(url: string, max: number): Promise<Db> {
  // jit off: trailbot's queries are short index lookups, and PostgreSQL's JIT compiler (on by default
  // since 12) adds 50-300 ms to any query whose estimated cost crosses jit_above_cost. TimeZone UTC:
  // trailbot's days are UTC days, and a date PostgreSQL turns into a time (a partition's bounds, a
  // report's period) must mean the same instant whatever the server or database is set to.
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000, options: '-c jit=off -c TimeZone=UTC' });
  pool.on('error', () => {
    /* an idle client died (server restart); the pool replaces it on next use */
  });
  try {
    const c = await pool.connect();
    c.release();
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new TrailbotError('E_STORE_UNAVAILABLE', `cannot connect to PostgreSQL at ${redact(url)}: ${(e as Error).message}`, {
      hint: 'check DATABASE_URL and that the server is running, or unset DATABASE_URL to use the embedded store',
      cause: e,
    });
  }
  const wrap = (q: pg.Pool | pg.PoolClient): Db['query'] =>
    (async (sql: string, params?: unknown[]) => {
      const r = await q.query(sql, params as unknown[]);
      return { rows: r.rows, rowCount: r.rowCount ?? 0 };
    }) as Db['query'];
  /**
   * A pooled client for `use`, released after it. While a client is checked out the pool does not
   * listen for its errors: a connection the server ends between two queries (restart, failover,
   * pg_terminate_backend) would emit an 'error' nobody handles and crash the process. Noted here
   * instead; the next query fails. A client `use` calls `broken` for (its ROLLBACK or RESET failed: still
   * in the transaction, or dead) or that was lost is released with the error, so the pool destroys it
   * instead of handing it to the next caller.
   */
  const checkedOut = async <T>(use: (client: pg.PoolClient, broken: (e: Error) => void) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    let lost: Error | undefined;
    const onLost = (e: Error): void => {
      lost ??= e;
    };
    client.on('error', onLost);
    let bad: Error | undefined;
    try {
      return await use(client, (e) => {
        bad ??= e;
      });
    } finally {
      client.removeListener('error', onLost);
      client.release(bad ?? lost);
    }
  };
  const db: Db = {
    kind: 'postgres',
    query: wrap(pool),
    transaction: (fn) =>
      checkedOut(async (client, broken) => {
        try {
          await client.query('BEGIN');
          const tx: Db = {
            kind: 'postgres',
            query: wrap(client),
            transaction: (f) => f(tx),
            session: noSessionInTransaction,
            close: async () => undefined,
            copyFrom: async (sql, chunks) => {
              await pipeline(Readable.from(chunks), client.query(copyFromStream(sql)));
            },
          };
          const out = await fn(tx);
          await client.query('COMMIT');
          return out;
        } catch (e) {
          await client.query('ROLLBACK').catch(broken);
          throw e;
        }
      }),
    session: (fn) =>
      checkedOut(async (client, broken) => {
        try {
          return await fn({ kind: 'postgres', query: wrap(client) });
        } finally {
          // Back to the connection's own settings (its startup options: TimeZone, jit).
          await client.query('RESET ALL').catch(broken);
        }
      }),
    close: () => pool.end(),
  };
  return db;
}

async function openPglite(dataDir: string, lockOptions: LockOptions = {}): Promise<Db> {
  const dir = join(dataDir, 'pgdata');
  await mkdir(dir, { recursive: true });
  // One process at a time (src/store/lock.ts): E_STORE_LOCKED names the one that has it.
  const lock = acquireStoreLock(dataDir, { ...lockOptions, notice: lockOptions.notice ?? ((m) => process.stderr.write(`trailbot: ${m}\n`)) });
  const { PGlite } = await import('@electric-sql/pglite');
  // Migration 024's GIN index over the facet columns (account, region, …) needs btree_gin.
  const { btree_gin } = await import('@electric-sql/pglite/contrib/btree_gin');
  let pgl: InstanceType<typeof PGlite>;
  try {
    pgl = await PGlite.create(dir, {
      parsers: { 20: (v: string) => Number(v), 1184: (v: string) => v },
      extensions: { btree_gin },
    });
  } catch (e) {
    lock.release();
    throw new TrailbotError('E_STORE_UNAVAILABLE', `cannot open the embedded store in ${dir}: ${(e as Error).message}`, {
      hint: 'the folder may be damaged; set TRAILBOT_DATA_DIR to another folder',
      cause: e,
    });
  }
  // PGlite is one connection: serialize transactions so they never interleave.
  let chain: Promise<unknown> = Promise.resolve();
  const query = (async (sql: string, params?: unknown[]) => {
    const r = await pgl.query(sql, params as unknown[]);
    return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
  }) as Db['query'];
  const db: Db = {
    kind: 'pglite',
    query: (async (sql: string, params?: unknown[]) => {
      await chain;
      return query(sql, params);
    }) as Db['query'],
    transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      const run = chain.then(() =>
        pgl.transaction(async (t) => {
          const tq = (async (sql: string, params?: unknown[]) => {
            const r = await t.query(sql, params as unknown[]);
            return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length };
          }) as Db['query'];
          const tx: Db = {
            kind: 'pglite',
            query: tq,
            transaction: (f) => f(tx),
            session: noSessionInTransaction,
            close: async () => undefined,
          };
          return fn(tx);
        }),
      );
      chain = run.catch(() => undefined);
      return run as Promise<T>;
    },
    // One connection already: its statements go in turn, as every other query's.
    async session(fn) {
      try {
        return await fn(db);
      } finally {
        await db.query('RESET ALL');
      }
    },
    close: async () => {
      await chain;
      try {
        await pgl.close();
      } finally {
        lock.release();
      }
    },
  };
  return db;
}

const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');

/** Applies the versioned migrations in `src/store/migrations` once each, in order, under a lock. */
export async function migrate(db: Db, { upTo }: { upTo?: number } = {}): Promise<string[]> {
  // upTo: stop after that version (the tests make a store as an earlier version left it, then upgrade).
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.*\.sql$/.test(f) && (upTo === undefined || Number.parseInt(f, 10) <= upTo)).sort();
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.migrations]);
    await tx.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
    const done = new Set((await tx.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)));
    const applied: string[] = [];
    for (const f of files) {
      const version = Number.parseInt(f, 10);
      if (done.has(version)) continue;
      const sql = await readFile(join(MIGRATIONS_DIR, f), 'utf8');
      try {
        for (const stmt of splitSql(sql)) await tx.query(stmt);
      } catch (e) {
        throw new TrailbotError('E_STORE_MIGRATION', `migration ${f} failed: ${(e as Error).message}`, { cause: e });
      }
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [version, f]);
      applied.push(f);
    }
    return applied;
  });
}

/**
 * Splits a migration file on semicolons at line ends, except inside a dollar-quoted body ($$ … $$,
 * a function's or a DO block's, whose own statements end in semicolons too: migration 021's function);
 * drops `--` comment lines outside such bodies. One-line bodies (migrations 006, 017, 019) work as before.
 */
export function splitSql(sql: string): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  let quoted = false;
  for (const line of sql.split('\n')) {
    if (!quoted && /^\s*--/.test(line)) continue;
    cur.push(line);
    if ((line.match(/\$\$/g)?.length ?? 0) % 2 === 1) quoted = !quoted;
    if (!quoted && /;\s*$/.test(line)) {
      out.push(cur.join('\n').replace(/;\s*$/, '').trim());
      cur = [];
    }
  }
  out.push(cur.join('\n').trim());
  return out.filter((s) => s.length > 0);
}
