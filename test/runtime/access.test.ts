import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config/index.ts';
import { TrailbotError } from '../../src/errors.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { type Service, startService } from '../../src/runtime/service.ts';
import { remoteApi } from '../../src/cli/remote.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { FIXTURES } from '../helpers/fixtures.ts';

/**
 * Who may reach a real, listening trailbot: with no authentication it binds 127.0.0.1 and says so;
 * HOST beyond this machine needs TRAILBOT_API_TOKENS, refused otherwise by `config check` and at start.
 */
const BIN = join(import.meta.dirname, '../../bin/trailbot.js');
const TOKEN = `${'c0ffee'.repeat(10)}abcd`;
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'trailbot-access-'));
  dirs.push(d);
  return d;
};

/** An IPv4 address of this machine that is not loopback, if it has one. */
const outward = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

function trailbot(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TRAILBOT_DATA_DIR: join(tmp(), 'data'), ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

let db: Awaited<ReturnType<typeof createTestDatabase>>;
const services: Service[] = [];
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  for (const s of services) await s.close().catch(() => undefined);
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function start(env: Record<string, string>): Promise<{ svc: Service; logs: string[] }> {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _e, done) {
      logs.push(chunk.toString());
      done();
    },
  });
  const config = readConfig({ DATABASE_URL: db.url, TRAILBOT_QUEUE: 'inline', ...env }, { cwd: tmp() });
  const svc = await startService({ config, role: 'all', listen: 0, log: createLogger({ level: 'info', destination }) });
  services.push(svc);
  return { svc, logs };
}

describe('a listening trailbot', () => {
  it('binds 127.0.0.1 only when no authentication is configured, says so, and answers the API from here', async () => {
    const { svc, logs } = await start({});
    expect(svc.address?.address).toBe('127.0.0.1');
    expect(logs.join('')).toContain('listening on 127.0.0.1 only: no API authentication is configured');
    const r = await fetch(`http://127.0.0.1:${svc.address!.port}/api/jobs`);
    expect(r.status).toBe(200);
  });

  it('with TRAILBOT_API_TOKENS listens on HOST=0.0.0.0 and asks every API caller for a token', async () => {
    const { svc, logs } = await start({ HOST: '0.0.0.0', TRAILBOT_API_TOKENS: TOKEN });
    expect(svc.address?.address).toBe('0.0.0.0');
    expect(logs.join('')).not.toContain('only: no API authentication');
    const base = `http://127.0.0.1:${svc.address!.port}`;
    const no = await fetch(`${base}/api/jobs`);
    expect(no.status).toBe(401);
    expect(no.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await fetch(`${base}/api/jobs`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    if (outward) expect((await fetch(`http://${outward}:${svc.address!.port}/api/jobs`)).status).toBe(401);
    expect(logs.join('')).not.toContain(TOKEN);
  });

  it.skipIf(!outward)('without tokens, refuses API requests that come from another address, whatever it listens on', async () => {
    // OIDC settings allow HOST=0.0.0.0, but until sign-in is wired the API has no way to ask: this machine only.
    const { svc } = await start({ HOST: '0.0.0.0', OIDC_ISSUER: 'https://login.example.com', OIDC_CLIENT_ID: 'trailbot', OIDC_CLIENT_SECRET: 'oidc-secret' });
    const port = svc.address!.port;
    const away = await fetch(`http://${outward}:${port}/api/jobs`);
    expect(away.status).toBe(403);
    expect(((await away.json()) as { error: { code: string } }).error.code).toBe('E_FORBIDDEN');
    expect((await fetch(`http://${outward}:${port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/api/jobs`)).status).toBe(200);
  });

  it('refuses to start on HOST=0.0.0.0 without authentication, before opening anything', async () => {
    const config = readConfig({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', HOST: '0.0.0.0' }, { cwd: tmp() });
    const e = await startService({ config, role: 'web', listen: 0, log: createLogger({ level: 'silent' }) }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TrailbotError);
    expect((e as TrailbotError).code).toBe('E_CONFIG_INVALID');
    expect((e as TrailbotError).message).toContain('set TRAILBOT_API_TOKENS');
  });
});

/** One raw HTTP request with exactly these headers (fetch would not let a test set Host). */
function send(port: number, method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<{ status: number; json: { error?: { code: string; hint: string } } }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: body ? { ...headers, 'content-length': String(body.length) } : headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString() || '{}') as never }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('pages of other sites against the open server (security review of issue 8)', () => {
  it("refuses the reviewer's repro and a DNS-rebinding read, and still answers curl and the CLI", async () => {
    const { svc } = await start({});
    const port = svc.address!.port;
    const record = readFileSync(join(FIXTURES, 'inputs/array.json'));
    // curl -X POST -H 'Content-Type: text/plain' -H 'Origin: http://evil.example' -H 'Host: rebind.evil.example:PORT' --data-binary @rec.json
    const forged = await send(port, 'POST', '/api/ingest', { 'content-type': 'text/plain', origin: 'http://evil.example', host: `rebind.evil.example:${port}` }, record);
    expect(forged.status).toBe(403);
    expect(forged.json.error?.code).toBe('E_FORBIDDEN');
    // A rebinding page reads under its own name, same-origin as far as the browser knows.
    const read = await send(port, 'GET', '/api/trail?who=alice&since=2000-01-01', { host: `rebind.evil.example:${port}`, origin: `http://rebind.evil.example:${port}` });
    expect(read.status).toBe(403);
    // A page of another site posting to 127.0.0.1 itself: its Origin, or (an older browser) no Origin but a form's type.
    expect((await send(port, 'POST', '/api/jobs', { host: `127.0.0.1:${port}`, origin: 'http://evil.example', 'content-type': 'text/plain' }, Buffer.from('{"kind":"probe"}'))).status).toBe(403);
    expect((await send(port, 'POST', '/api/jobs', { host: `127.0.0.1:${port}`, 'content-type': 'text/plain' }, Buffer.from('{"kind":"probe"}'))).status).toBe(415);
    expect((await send(port, 'POST', '/api/jobs', { host: `127.0.0.1:${port}` }, Buffer.from('{"kind":"probe"}'))).status).toBe(415);
    expect((await send(port, 'GET', '/api/jobs', { host: `127.0.0.1:${port}`, 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors' })).status).toBe(403);
    expect((await svc.store.count())).toBe(0);
    // This machine, by any loopback name; the CLI's own requests (remoteApi) work as before.
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) expect((await send(port, 'GET', '/api/jobs', { host })).status, host).toBe(200);
    const cli = remoteApi(`http://127.0.0.1:${port}`);
    const added = await cli.addJob('probe', { note: 'from the CLI' }, undefined);
    expect(added.id).toMatch(/^probe-/);
    const up = await cli.ingest('rec.json', new Uint8Array(record));
    expect(up.inserted).toBeGreaterThan(0);
    const e = await (await cli.queue()).retry('no-such-job').catch((x: unknown) => x);
    expect((e as TrailbotError).code).toBe('E_NOT_FOUND');
  });
});

describe('trailbot config check and serve', () => {
  it('exit 2 naming TRAILBOT_API_TOKENS when HOST reaches beyond this machine without authentication', async () => {
    for (const args of [['config', 'check'], ['config', 'check', '--role', 'web'], ['serve']]) {
      const r = await trailbot(args, { HOST: '0.0.0.0' });
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('E_CONFIG_INVALID');
      expect(r.stderr).toContain('HOST=0.0.0.0 listens beyond this machine, but the API has no authentication: set TRAILBOT_API_TOKENS');
      expect(r.stderr).toContain('TRAILBOT_API_TOKENS=$(openssl rand -hex 32)');
    }
    expect((await trailbot(['config', 'check', '--role', 'worker'], { HOST: '0.0.0.0' })).code).toBe(0);
  });

  it('accepts HOST=0.0.0.0 with tokens, says how the API is guarded, and never prints a token', async () => {
    const ok = await trailbot(['config', 'check'], { HOST: '0.0.0.0', TRAILBOT_API_TOKENS: `${TOKEN}, ${TOKEN.toUpperCase()}` });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('HTTP: listens on 0.0.0.0 port 3000; API: bearer tokens (2 in TRAILBOT_API_TOKENS)');
    const local = await trailbot(['config', 'check'], {});
    expect(local.stdout).toContain('HTTP: listens on 127.0.0.1 port 3000; API: no authentication: this machine only');
    const printed = await trailbot(['config', 'print', '--json'], { TRAILBOT_API_TOKENS: TOKEN });
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain('"tokens": "*** (1 set)"');
    expect(ok.stdout + ok.stderr + printed.stdout + printed.stderr).not.toContain(TOKEN);
  });
});
