import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { trustedServeUrl } from '../src/cli/remote.ts';
import { FIXTURES } from './helpers/fixtures.ts';
import { exited, waitFor } from './helpers/wait.ts';

/**
 * The embedded store serves one process. These run real processes: a `trailbot serve` holding the
 * store and a second CLI that goes through its HTTP API; a holder that does not serve (exit 3); a
 * stale lock left by a dead process (taken over).
 */
const BIN = join(import.meta.dirname, '../bin/trailbot.js');
const STORE = join(import.meta.dirname, '../src/store/index.ts');
const INPUTS = join(FIXTURES, 'inputs');
const RECORDS = join(FIXTURES, 'records');
const BASE_ENV = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', NODE_ENV: 'test' };

interface Done {
  code: number;
  stdout: string;
  stderr: string;
}

function trailbot(args: string[], env: Record<string, string>): Promise<Done> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...BASE_ENV, ...env }, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

interface Running {
  child: ChildProcess;
  out: () => string;
  err: () => string;
}

function start(cmd: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, cmd, { env: { ...BASE_ENV, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return { child, out: () => out, err: () => err };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'trailbot-remote-'));
  dirs.push(d);
  return d;
};
const children: ChildProcess[] = [];
// One embedded store for the whole file (creating one takes a while): each test leaves it unlocked.
const dataDir = tmp();
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('a second CLI while trailbot serve holds the embedded store', () => {
  it('goes through its HTTP API: ingest reaches the server (flows included), trail and search print what they print directly, jobs answer', async () => {
    const port = await freePort();
    const env = { TRAILBOT_DATA_DIR: dataDir, PORT: String(port) };
    const serve = start([BIN, 'serve'], env);
    children.push(serve.child);
    onTestFailed(() => {
      serve.child.kill('SIGKILL'); // the next tests find its lock stale
    });
    await waitFor('trailbot serve to start', async () => serve.err().includes('Stop with Ctrl-C') || (serve.child.exitCode !== null && Promise.reject(new Error(serve.err()))), 60_000, 100);
    const lock = JSON.parse(readFileSync(join(dataDir, 'trailbot.lock'), 'utf8')) as { pid: number; command: string; url: string };
    expect(lock).toMatchObject({ pid: serve.child.pid, command: 'trailbot serve', url: `http://127.0.0.1:${port}` });
    const through = `(through the running trailbot serve at http://127.0.0.1:${port})\n`;

    const files = ['otrf-ec2-proxy-s3-exfiltration.ndjson', 'signin.json', 'stratus-aws.persistence.iam-create-admin-user.json'].map((f) => join(RECORDS, f));
    const ingest = await trailbot(['ingest', ...files, join(INPUTS, 'trail')], env);
    expect(ingest.stderr.startsWith(through), ingest.stderr).toBe(true);
    expect(ingest.code, ingest.stderr).toBe(1); // one record in the fixtures is rejected
    expect(ingest.stderr).toMatch(/ingested \d+ files: [\d,]+ events new, [\d,]+ duplicate, 1 rejected in [\d.]+ s \([\d,]+ events\/s\)/);
    expect(ingest.stderr).toContain(`trailbot: rejected ${join(RECORDS, 'signin.json')}: [8]: eventTime "redacted" is not a date`);
    const inserted = Number(/: ([\d,]+) events new/.exec(ingest.stderr)![1]!.replace(/,/g, ''));
    expect(inserted).toBeGreaterThan(100);
    const api = `http://127.0.0.1:${port}/api`;
    const seen = (await (await fetch(`${api}/events?since=2000-01-01&limit=1000`)).json()) as { events: unknown[] };
    expect(seen.events).toHaveLength(inserted);
    // The ingest jobs handed the new events to the flows.
    await waitFor('findings from the flows', async () => ((await (await fetch(`${api}/findings`)).json()) as { findings: unknown[] }).findings.length > 0, 30_000, 200);

    const again = await trailbot(['ingest', '-q', join(INPUTS, 'trail')], env);
    expect(again).toMatchObject({ code: 0, stdout: '' });
    expect(again.stderr).toBe(through);
    const big = join(tmp(), 'big.json');
    writeFileSync(big, Buffer.alloc(65 * 1024 * 1024, 0x20));
    const unreadable = await trailbot(['ingest', join(INPUTS, 'not-json.json'), big, join(INPUTS, 'array.json')], env);
    expect(unreadable.code).toBe(1);
    expect(unreadable.stderr).toMatch(/trailbot: rejected .*not-json\.json: not valid JSON/);
    expect(unreadable.stderr).toContain(`trailbot: rejected ${big}: larger than 64 MiB, more than the running trailbot serve takes`);
    expect(unreadable.stderr).toMatch(/ingested 1 files, 2 unreadable: \d+ events new/);

    const questions = [
      ['trail', 'pedro', '--since', '2020-09-14', '--until', '2020-09-15', '--limit', '3'],
      ['trail', 'PEDRO', '--since', '2020-01-01', '--writes-only', '--json'],
      ['search', '--event-name', 'ConsoleLogin', '--since', '2000-01-01', '--json'],
      ['search', '--user', 'pedro', '--read-only', 'false', '--since', '2020-09-01', '--until', '2020-09-30', '--limit', '5'],
    ];
    const remote: Done[] = [];
    for (const q of questions) remote.push(await trailbot(q, env));
    expect(remote[0]!.stdout).toMatch(/^Principal matching "pedro":\n/);
    const nobody = await trailbot(['trail', 'nobody@nowhere', '--since', '2000-01-01'], env);
    expect(nobody).toMatchObject({ code: 1, stdout: '', stderr: `${through}trailbot: nobody matches "nobody@nowhere" in the store (try an e-mail, user name, session name, access key id or ARN)\n` });
    const failedSignIns = await trailbot(['search', '--event-name', 'ConsoleLogin', '--outcome', 'failed', '--via', 'console', '--since', '2000-01-01', '--json'], env);
    expect(failedSignIns.code, failedSignIns.stderr).toBe(0);
    const signIns = (JSON.parse(failedSignIns.stdout) as { events: { action: string; outcome: string; via: string }[] }).events;
    expect(signIns.length).toBeGreaterThan(0);
    expect(signIns.every((e) => e.action === 'ConsoleLogin' && e.outcome === 'failed' && e.via === 'console')).toBe(true);

    const failed = await trailbot(['jobs', 'failed'], env);
    expect(failed).toMatchObject({ code: 0, stdout: 'no failed jobs\n', stderr: through });
    const list = await trailbot(['jobs', 'list', '--state', 'completed', '--json'], env);
    expect(list.code, list.stderr).toBe(0);
    const jobs = JSON.parse(list.stdout) as { backend: string; jobs: { name: string; id: string }[] };
    expect(jobs.backend).toBe('inline');
    expect(jobs.jobs.map((j) => j.name)).toEqual(expect.arrayContaining(['ingest-file', 'evaluate-flows']));
    const show = await trailbot(['jobs', 'show', jobs.jobs[0]!.id], env);
    expect(JSON.parse(show.stdout)).toMatchObject({ id: jobs.jobs[0]!.id, state: 'completed' });
    const added = await trailbot(['jobs', 'add', 'probe', '{"note":"through the API"}'], env);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/^probe-\S+: queued\n$/);
    const noPath = await trailbot(['jobs', 'add', 'ingest-file', '{"path":"/etc"}'], env);
    expect(noPath.code).toBe(2);
    expect(noPath.stderr).toContain('ingest-file jobs name a path on the server');

    // A command the API does not carry says who holds the store, and exits 3.
    const report = await trailbot(['report', 'denied'], env);
    expect(report.code).toBe(3);
    expect(report.stderr).toContain(`E_STORE_LOCKED: the embedded store in ${dataDir} is in use by trailbot serve (pid ${serve.child.pid} on this machine`);

    serve.child.kill('SIGTERM');
    expect(await exited(serve.child)).toBe(0);
    expect(existsSync(join(dataDir, 'trailbot.lock'))).toBe(false);

    // The same questions asked of the store directly print the same.
    for (const [i, q] of questions.entries()) {
      const direct = await trailbot(q, env);
      expect(direct.stdout, q.join(' ')).toBe(remote[i]!.stdout);
      expect(direct.code).toBe(remote[i]!.code);
      expect(`${through}${direct.stderr}`).toBe(remote[i]!.stderr);
    }
  }, 240_000);
});

describe('a holder that does not serve', () => {
  it('makes a second CLI exit 3 naming the holder and what to do', async () => {
    const holder = start(
      ['--input-type=module', '-e', `const { openStore } = await import(${JSON.stringify(STORE)}); const s = await openStore({ dataDir: ${JSON.stringify(dataDir)} }); console.log('ready'); process.stdin.on('end', async () => { await s.close(); process.exit(0); }); process.stdin.resume();`],
      {},
    );
    children.push(holder.child);
    await waitFor('the holder to open the store', async () => holder.out().includes('ready') || (holder.child.exitCode !== null && Promise.reject(new Error(holder.err()))), 30_000, 50);
    for (const args of [['ingest', join(INPUTS, 'array.json')], ['trail', 'pedro'], ['jobs', 'failed']]) {
      const r = await trailbot(args, { TRAILBOT_DATA_DIR: dataDir });
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr).toMatch(new RegExp(`^trailbot: E_STORE_LOCKED: the embedded store in ${dataDir} is in use by node .*\\(pid ${holder.child.pid} on this machine, since \\d{4}-.*\\) — .*stop that process.*TRAILBOT_DATA_DIR.*DATABASE_URL`));
      expect(r.stderr).toContain('run this command while `trailbot serve` answers');
    }
    // Commands that never go through a running serve are not told to.
    for (const args of [['sources', 'status'], ['report', 'denied'], ['config', 'check', '--connect']]) {
      const r = await trailbot(args, { TRAILBOT_DATA_DIR: dataDir });
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stderr).toMatch(/E_STORE_LOCKED: .* — .*this command works on the store itself \(it cannot go through a running `trailbot serve`\): stop that process first/);
      expect(r.stderr).not.toContain('while `trailbot serve` answers');
    }
    holder.child.stdin!.end();
    expect(await exited(holder.child)).toBe(0);
    expect(existsSync(join(dataDir, 'trailbot.lock'))).toBe(false);
  }, 60_000);
});

describe('a stale lock', () => {
  it('left by a process that died is taken over, and the command runs', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(join(dataDir, 'trailbot.lock'), JSON.stringify({ pid: dead, hostname: hostname(), started: '2024-08-01T13:00:00.000Z', command: 'trailbot ingest big/' }));
    const r = await trailbot(['ingest', join(INPUTS, 'array.json')], { TRAILBOT_DATA_DIR: dataDir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`trailbot: removed a stale lock on the embedded store in ${dataDir} left by trailbot ingest big/ (pid ${dead} on this machine, since 2024-08-01T13:00:00.000Z): pid ${dead} is no longer running`);
    expect(r.stderr).toMatch(/ingested 1 files: \d+ events new/);
    expect(existsSync(join(dataDir, 'trailbot.lock'))).toBe(false);
  }, 60_000);
});

describe('the URL in the lock file', () => {
  const me = hostname();
  const lock = (url: string, host = me) => ({ pid: 1, hostname: host, started: '2024-08-01T13:00:00.000Z', command: 'trailbot serve', url });

  it('is trusted only on this machine and on loopback over http', () => {
    for (const url of ['http://127.0.0.1:3000', 'http://localhost:3000', 'http://[::1]:3000']) expect(trustedServeUrl(lock(url)), url).toBe(url);
    expect(trustedServeUrl(lock('http://127.0.0.1:3000', 'elsewhere.example'))).toBeUndefined();
    for (const url of ['http://192.0.2.2:3000', 'http://attacker.example:3000', 'https://127.0.0.1:3000', 'http://127.0.0.1@attacker.example:3000', 'http://localhost.attacker.example/', 'file:///etc/passwd', 'not a url']) {
      expect(trustedServeUrl(lock(url)), url).toBeUndefined();
    }
  });

  // A lock file says where to send the API token: one written on another host, or naming an address
  // off this machine, must not get it. The command then treats the store as locked (exit 3).
  const outside = Object.values(networkInterfaces()).flat().find((i) => i && !i.internal && i.family === 'IPv4')?.address;
  it.each([
    ['written on another host', 'elsewhere.example', (port: number) => `http://127.0.0.1:${port}`],
    ...(outside ? [['naming an address off loopback', hostname(), (port: number) => `http://${outside}:${port}`] as const] : []),
  ] as const)('%s: the CLI sends it nothing and exits 3 with the lock message', async (_what, host, urlOf) => {
    const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
    const fake = createHttpServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      res.setHeader('content-type', 'application/json');
      res.end(req.url === '/healthz' ? JSON.stringify({ status: 'ok', role: 'all' }) : JSON.stringify({ principals: [], events: [] }));
    });
    await new Promise<void>((r) => fake.listen(0, '0.0.0.0', r));
    const port = (fake.address() as { port: number }).port;
    const dir = tmp();
    // A live holder: this test's own process (another host's lock is live while it is fresh).
    writeFileSync(join(dir, 'trailbot.lock'), JSON.stringify({ pid: process.pid, hostname: host, started: '2024-08-01T13:00:00.000Z', command: 'trailbot serve', url: urlOf(port) }));
    try {
      const r = await trailbot(['trail', 'pedro'], { TRAILBOT_DATA_DIR: dir, TRAILBOT_API_TOKENS: 'a'.repeat(64) });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).toMatch(/^trailbot: E_STORE_LOCKED: the embedded store in .* is in use by trailbot serve/);
      expect(r.stderr).not.toContain('(through the running trailbot serve');
      expect(seen).toEqual([]);
    } finally {
      await new Promise((r) => fake.close(r));
    }
  }, 30_000);
});
