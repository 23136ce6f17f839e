import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { TEST_DATABASE_URL } from '../../test/helpers/env.ts';
import { waitFor } from '../../test/helpers/wait.ts';
import { type Db, openDb } from './db.ts';

let tdb: Awaited<ReturnType<typeof createTestDatabase>>;
let admin: pg.Client;
beforeAll(async () => {
  tdb = await createTestDatabase();
  admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
  await tdb?.drop();
});

describe('transaction() on a PostgreSQL server', () => {
  it('does not hand a connection whose ROLLBACK failed back to the pool', async () => {
    // One connection in the pool: whatever the next query gets is the one the transaction had, unless
    // the pool threw it away.
    const db: Db = await openDb({ databaseUrl: tdb.url, dataDir: '/nonexistent', poolSize: 1 });
    try {
      const failed = db.transaction(async (tx) => {
        const pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
        // The server ends this connection in the middle of the transaction (a restart, a failover,
        // an administrator): the ROLLBACK that follows the error below cannot be sent.
        await admin.query('SELECT pg_terminate_backend($1)', [pid]);
        await waitFor('the backend to be gone', async () => (await admin.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount === 0);
        throw new Error('the work failed');
      });
      await expect(failed).rejects.toThrow('the work failed');
      const r = await db.query<{ ok: number }>('SELECT 1 AS ok');
      expect(r.rows).toEqual([{ ok: 1 }]);
    } finally {
      await db.close();
    }
  });
});
