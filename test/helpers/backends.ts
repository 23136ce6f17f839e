import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Db, openDb } from '../../src/store/db.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from './db.ts';

/** A test's two stores for `describe.each`: PostgreSQL (a fresh database) and PGlite (a fresh folder), each with its cleanup. */
type Backends<T> = [string, () => Promise<T & { cleanup: () => Promise<void> }>][];

/** The raw connection (Db) on both backends, not migrated (tests of migrations migrate it themselves). */
export function dbBackends(name: string): Backends<{ db: Db }> {
  return [
    [
      'PostgreSQL',
      async () => {
        const t = await createTestDatabase();
        const db = await openDb({ databaseUrl: t.url, dataDir: '/nonexistent' });
        return { db, cleanup: async () => { await db.close(); await t.drop(); } };
      },
    ],
    [
      'embedded PGlite',
      async () => {
        const dir = await mkdtemp(join(tmpdir(), `trailbot-${name}-`));
        const db = await openDb({ dataDir: dir });
        return { db, cleanup: async () => { await db.close(); await rm(dir, { recursive: true, force: true }); } };
      },
    ],
  ];
}

/** The store (migrated, as trailbot opens it) on both backends. */
export function storeBackends(name: string): Backends<{ store: Store }> {
  return [
    [
      'PostgreSQL',
      async () => {
        const t = await createTestDatabase();
        const store = await openStore({ databaseUrl: t.url, dataDir: '/nonexistent' });
        return { store, cleanup: async () => { await store.close(); await t.drop(); } };
      },
    ],
    [
      'embedded PGlite',
      async () => {
        const dir = await mkdtemp(join(tmpdir(), `trailbot-${name}-`));
        const store = await openStore({ dataDir: dir });
        return { store, cleanup: async () => { await store.close(); await rm(dir, { recursive: true, force: true }); } };
      },
    ],
  ];
}
