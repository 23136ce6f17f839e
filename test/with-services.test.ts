import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { ping } from './helpers/services.ts';

const RUNNER = join(import.meta.dirname, 'with-services.ts');
const ROOT = join(import.meta.dirname, '..');

/** Runs test/with-services.ts around `node -e script`; its exit code, stdout and stderr. */
function withServices(env: Record<string, string>, script: string): Promise<{ code: number | null; out: string; err: string }> {
  const base = { ...process.env };
  delete base.TEST_DATABASE_URL;
  delete base.TEST_REDIS_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, process.execPath, '-e', script], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

const onPath = (p: string) => (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, p)));
const debianPostgres = existsSync('/usr/lib/postgresql') && readdirSync('/usr/lib/postgresql').some((v) => existsSync(join('/usr/lib/postgresql', v, 'bin/initdb')));
const installed = (onPath('initdb') || debianPostgres) && onPath('redis-server');

describe('test/with-services.ts', () => {
  it('uses the services the settings name and starts nothing', async () => {
    const r = await withServices(
      { TEST_SERVICES: 'auto', TEST_DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x', TEST_REDIS_URL: 'redis://127.0.0.1:2' },
      'console.log(process.env.TEST_DATABASE_URL + " " + process.env.TEST_REDIS_URL)',
    );
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe('postgres://postgres@127.0.0.1:1/x redis://127.0.0.1:2');
    expect(r.err).toContain('PostgreSQL: TEST_DATABASE_URL is set; using it');
    expect(r.err).not.toContain('throwaway');
  });

  it('refuses an unknown TEST_SERVICES and runs nothing', async () => {
    const r = await withServices({ TEST_SERVICES: 'yes' }, 'console.log("ran")');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain('TEST_SERVICES is yes; use auto, start or external');
  });

  // The start path, tried beside this machine's own services (never stopping them): throwaway
  // PostgreSQL and Redis on other ports, usable by the command, gone afterwards, its exit code kept.
  it.skipIf(!installed)(
    'with TEST_SERVICES=start, starts throwaway PostgreSQL and Redis for the command, then stops them and removes their data',
    async () => {
      const probe = `
        const pg = require('pg');
        (async () => {
          const c = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
          await c.connect();
          const { rows } = await c.query('select current_setting($1) as fsync', ['fsync']);
          await c.end();
          console.log(JSON.stringify({ db: process.env.TEST_DATABASE_URL, redis: process.env.TEST_REDIS_URL, fsync: rows[0].fsync }));
          process.exit(3);
        })();`;
      const r = await withServices({ TEST_SERVICES: 'start', TEST_SERVICES_INSTALL: '0' }, probe);
      expect(r.code, r.err).toBe(3);
      const seen = JSON.parse(r.out) as { db: string; redis: string; fsync: string };
      const db = new URL(seen.db);
      const redis = new URL(seen.redis);
      expect(db.port).not.toBe('5432');
      expect(redis.port).not.toBe('6379');
      expect(seen.fsync).toBe('off');
      expect(r.err).toMatch(/PostgreSQL: TEST_SERVICES=start; starting a throwaway one/);
      expect(r.err).toMatch(/Redis: TEST_SERVICES=start; starting a throwaway one/);
      expect(r.err).toContain(`stopped the throwaway PostgreSQL on port ${db.port}`);
      expect(r.err).toContain(`stopped the throwaway Redis on port ${redis.port}`);
      const dir = /removed (\S+)/.exec(r.err)?.[1];
      expect(dir).toBeDefined();
      expect(existsSync(dir!)).toBe(false);
      // Nothing answers there any more.
      await expect(new pg.Client({ connectionString: seen.db, connectionTimeoutMillis: 2000 }).connect()).rejects.toThrow();
      expect(await ping(redis, 2000)).not.toBe('+PONG');
    },
    90_000,
  );
});
