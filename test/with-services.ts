/**
 * Runs a command (the test suite: `./dev test` calls `node test/with-services.ts vitest run …`) with
 * PostgreSQL and Redis there for it, and says on stderr what it did:
 *  - TEST_SERVICES=auto (the default): a service the test settings name (TEST_DATABASE_URL,
 *    TEST_REDIS_URL) is used as it is; with no setting, the one on the default port
 *    (127.0.0.1:5432, 127.0.0.1:6379) is used when it answers, else a throwaway one is started;
 *  - TEST_SERVICES=start: throwaway ones are started whatever runs (this is how the start path is
 *    tried on a machine whose own services must not be stopped);
 *  - TEST_SERVICES=external: nothing is started; the tests use the settings or the defaults.
 * A throwaway service is Debian's: PostgreSQL (initdb, trust auth, fsync off) and redis-server (no
 * persistence), on free ports on 127.0.0.1, their data in one temporary directory; both are stopped
 * and the directory removed when the command ends or is interrupted. When their programs are missing,
 * they are installed with apt-get (`postgresql`, `redis-server`) if this runs as root and
 * TEST_SERVICES_INSTALL is not 0; otherwise it stops and says what to install.
 * The command gets TEST_DATABASE_URL and TEST_REDIS_URL (test/helpers/env.ts reads them).
 */
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { ping } from './helpers/services.ts';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

const say = (line: string): void => {
  process.stderr.write(`test services: ${line}\n`);
};

class Refused extends Error {}

type Mode = 'auto' | 'start' | 'external';

/** What to undo at the end, last first: stopping the services, removing their directory. */
const cleanup: Array<() => void> = [];
/** The command while it runs (a signal goes to it; the services stop once it has ended). */
let command: ChildProcess | undefined;

function stopServices(): void {
  for (const undo of cleanup.splice(0).reverse()) undo();
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (command) command.kill(signal);
    else {
      stopServices();
      process.exit(128 + constants.signals[signal]);
    }
  });
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  if (argv.length === 0) throw new Refused('usage: node test/with-services.ts <command> [args…]');
  const mode = (env.TEST_SERVICES ?? 'auto') as Mode;
  if (!['auto', 'start', 'external'].includes(mode)) throw new Refused(`TEST_SERVICES is ${mode}; use auto, start or external`);
  try {
    let databaseUrl = env.TEST_DATABASE_URL;
    let redisUrl = env.TEST_REDIS_URL;
    let needPostgres = false;
    let needRedis = false;
    let whyPostgres = 'TEST_SERVICES=start';
    let whyRedis = whyPostgres;
    if (mode === 'start') {
      needPostgres = needRedis = true;
    } else if (mode === 'auto') {
      whyPostgres = `no TEST_DATABASE_URL, and ${DEFAULT_DATABASE_URL} takes no connection`;
      whyRedis = `no TEST_REDIS_URL, and nothing at ${DEFAULT_REDIS_URL} answers PING`;
      if (databaseUrl) say(`PostgreSQL: TEST_DATABASE_URL is set; using it`);
      else if (await postgresAnswers(DEFAULT_DATABASE_URL)) {
        databaseUrl = DEFAULT_DATABASE_URL;
        say(`PostgreSQL answers at 127.0.0.1:5432; using it`);
      } else needPostgres = true;
      if (redisUrl) say(`Redis: TEST_REDIS_URL is set; using it`);
      else if ((await ping(new URL(DEFAULT_REDIS_URL), 2000)) === '+PONG') {
        redisUrl = DEFAULT_REDIS_URL;
        say(`Redis answers at 127.0.0.1:6379; using it`);
      } else needRedis = true;
    } else say('TEST_SERVICES=external: starting nothing');

    if (needPostgres || needRedis) {
      const programs = findPrograms(needPostgres, needRedis, env);
      const dir = mkdtempSync(join(tmpdir(), 'trailbot-test-services-'));
      cleanup.push(() => {
        rmSync(dir, { recursive: true, force: true });
        say(`removed ${dir}`);
      });
      if (needPostgres) databaseUrl = await startPostgres(programs.postgresBin!, dir, whyPostgres);
      if (needRedis) redisUrl = await startRedis(programs.redisServer!, dir, whyRedis);
    }

    const childEnv = { ...env };
    if (databaseUrl) childEnv.TEST_DATABASE_URL = databaseUrl;
    if (redisUrl) childEnv.TEST_REDIS_URL = redisUrl;
    return await run(argv, childEnv);
  } finally {
    stopServices();
  }
}

/** Whether a PostgreSQL server takes a connection at `url`. */
async function postgresAnswers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await c.connect();
    await c.end();
    return true;
  } catch {
    return false;
  }
}

/** Where PostgreSQL's and Redis's programs are, installing Debian's packages when missing and allowed. */
function findPrograms(needPostgres: boolean, needRedis: boolean, env: NodeJS.ProcessEnv): { postgresBin?: string; redisServer?: string } {
  let postgresBin = needPostgres ? postgresBinDir(env) : undefined;
  let redisServer = needRedis ? onPath('redis-server', env) : undefined;
  const missing = [needPostgres && !postgresBin ? 'postgresql' : '', needRedis && !redisServer ? 'redis-server' : ''].filter(Boolean);
  if (missing.length === 0) return { postgresBin, redisServer };
  const what = `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not installed`;
  const root = process.getuid?.() === 0;
  if (env.TEST_SERVICES_INSTALL === '0') throw new Refused(`${what}, and TEST_SERVICES_INSTALL=0 forbids installing: install Debian's ${missing.join(' ')} package(s), or set TEST_DATABASE_URL / TEST_REDIS_URL to running servers`);
  if (!root || !onPath('apt-get', env)) throw new Refused(`${what}: install them (as root: apt-get install ${missing.join(' ')}), or set TEST_DATABASE_URL / TEST_REDIS_URL to running servers`);
  say(`${what}; installing Debian's ${missing.join(' ')} with apt-get (running as root; TEST_SERVICES_INSTALL=0 forbids this)`);
  const aptEnv = { ...env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env: aptEnv });
  if (update.status !== 0) throw new Refused('apt-get update failed (see above)');
  const install = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: ['ignore', 'ignore', 'inherit'], env: aptEnv });
  if (install.status !== 0) throw new Refused(`apt-get install ${missing.join(' ')} failed (see above)`);
  postgresBin = needPostgres ? postgresBinDir(env) : undefined;
  redisServer = needRedis ? onPath('redis-server', env) : undefined;
  if ((needPostgres && !postgresBin) || (needRedis && !redisServer)) throw new Refused(`installed ${missing.join(' ')} but cannot find its programs`);
  return { postgresBin, redisServer };
}

/** The directory holding initdb and pg_ctl: on PATH, else Debian's newest /usr/lib/postgresql/<major>/bin. */
function postgresBinDir(env: NodeJS.ProcessEnv): string | undefined {
  const initdb = onPath('initdb', env);
  if (initdb && onPath('pg_ctl', env)) return join(initdb, '..');
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const majors = readdirSync(base)
    .filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin/initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length ? join(base, majors[0]!, 'bin') : undefined;
}

function onPath(program: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const d of (env.PATH ?? '').split(':')) if (d && existsSync(join(d, program))) return join(d, program);
  return undefined;
}

/** A free TCP port on 127.0.0.1 (the kernel's pick; free when this returns). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The uid and gid of a system user (PostgreSQL refuses to run as root). */
function systemUser(name: string): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) return undefined;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/** Starts PostgreSQL with its data in `dir`; returns its URL (cleanup stops it). */
async function startPostgres(bin: string, dir: string, why: string): Promise<string> {
  const data = join(dir, 'postgres');
  mkdirSync(data, { mode: 0o700 });
  const opts: SpawnOptions = { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] };
  if (process.getuid?.() === 0) {
    const user = systemUser('postgres');
    if (!user) throw new Refused('PostgreSQL will not run as root and there is no postgres user to run it as (Debian\'s postgresql package creates one)');
    chownSync(dir, user.uid, user.gid);
    chownSync(data, user.uid, user.gid);
    Object.assign(opts, { uid: user.uid, gid: user.gid });
  }
  const port = await freePort();
  const version = spawnSync(join(bin, 'postgres'), ['--version'], { encoding: 'utf8' }).stdout.trim();
  say(`PostgreSQL: ${why}; starting a throwaway one (${version}, ${bin}) on 127.0.0.1:${port}, trust auth, fsync off, data in ${data}`);
  await exec(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], opts);
  const settings = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  cleanup.push(() => {
    spawnSync(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], { ...opts, stdio: 'ignore' });
    say(`stopped the throwaway PostgreSQL on port ${port}`);
  });
  await exec(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'postgres.log'), '-w', '-t', '60', '-o', settings, 'start'], opts);
  return `postgres://postgres@127.0.0.1:${port}/postgres`;
}

/** Starts redis-server with its directory in `dir`; returns its URL (cleanup stops it). */
async function startRedis(server: string, dir: string, why: string): Promise<string> {
  const port = await freePort();
  const data = join(dir, 'redis');
  mkdirSync(data);
  say(`Redis: ${why}; starting a throwaway one (${server}) on 127.0.0.1:${port}, no persistence`);
  const child = spawn(server, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', data], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.push(() => {
    child.kill('SIGKILL');
    say(`stopped the throwaway Redis on port ${port}`);
  });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const url = `redis://127.0.0.1:${port}`;
  const until = Date.now() + 15_000;
  while ((await ping(new URL(url), 1000)) !== '+PONG') {
    if (child.exitCode !== null || Date.now() > until) throw new Refused(`the throwaway Redis did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return url;
}

/** Runs a program to its end; a failure says what it printed. */
function exec(program: string, args: string[], opts: SpawnOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, opts);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Refused(`${program} ${args.join(' ')} failed (${code}):\n${out}`))));
  });
}

/** Runs the command with the services' URLs to its end; its exit code (128 + the signal's number when killed). */
function run(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env });
    command = child;
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      command = undefined;
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

try {
  process.exitCode = await main(process.argv.slice(2), process.env);
} catch (e) {
  say(e instanceof Refused ? e.message : `failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
}
