import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { basename, join } from 'node:path';
import { TrailbotError } from '../errors.ts';

/**
 * The embedded store (PGlite) serves one process: two processes writing the same `pgdata` folder
 * corrupt it or miss each other's writes. The process that opens it holds `<dataDir>/trailbot.lock`,
 * a small JSON file saying who it is; a second process is refused with E_STORE_LOCKED naming the
 * holder. A running `trailbot serve` also writes the local URL it answers on, so the CLI can ask it
 * instead (src/cli/remote.ts). PostgreSQL (DATABASE_URL) serves many processes and takes no lock.
 *
 * Stale locks (the holder died without removing it, e.g. SIGKILL):
 * - same host: the pid is not running, is our own pid (a restarted container), or the machine was
 *   rebooted since (Linux boot id) → stale;
 * - another host (a data folder on a shared volume): its pid cannot be checked, so the holder touches
 *   the file every 15 s and a lock not touched for 60 s is stale.
 * A stale lock is taken over atomically (renamed aside, checked, removed) and a notice says so.
 */

export const LOCK_FILE = 'trailbot.lock';
const HEARTBEAT_MS = 15_000;
const OTHER_HOST_STALE_MS = 60_000;

export interface LockInfo {
  pid: number;
  hostname: string;
  /** When the holder took the lock (ISO). */
  started: string;
  /** What the holder is running, e.g. `trailbot serve --sample`. */
  command: string;
  /** Linux boot id: a lock from before a reboot is stale whatever its pid. */
  bootId?: string | undefined;
  /** Set by `trailbot serve` once listening: where its HTTP API answers on this machine. */
  url?: string | undefined;
}

export interface StoreLock {
  readonly path: string;
  readonly info: LockInfo;
  /** Records where this process's HTTP API answers (for other trailbot processes on this machine). */
  setUrl(url: string): void;
  release(): void;
}

export interface LockOptions {
  /** What this process is running, for the message another process shows; defaults to its command line. */
  command?: string | undefined;
  /** Told when a stale lock was removed. */
  notice?: ((message: string) => void) | undefined;
  /**
   * Whether this command would go through a running `trailbot serve` instead of opening the store
   * (the CLI's ingest, trail, search, jobs, tickets): only then does E_STORE_LOCKED's hint suggest it.
   */
  throughServe?: boolean | undefined;
}

/** Locks this process holds, by file: a second open in the same process is refused too. */
const held = new Map<string, StoreLock>();

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** `trailbot serve --sample`, from the command line of this process. */
function commandLine(): string {
  const script = process.argv[1] ? basename(process.argv[1]).replace(/\.(js|ts)$/, '') : 'node';
  return [script, ...process.argv.slice(2)].join(' ').slice(0, 200);
}

export function lockPath(dataDir: string): string {
  return join(dataDir, LOCK_FILE);
}

function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || typeof v.hostname !== 'string') return undefined;
    return { pid: v.pid, hostname: v.hostname, started: String(v.started ?? ''), command: String(v.command ?? 'trailbot'), bootId: v.bootId, url: typeof v.url === 'string' ? v.url : undefined };
  } catch {
    return undefined;
  }
}

/** The lock's holder as written in the file, or undefined when there is no (readable) lock. */
export function readStoreLock(dataDir: string): LockInfo | undefined {
  try {
    return parseLock(readFileSync(lockPath(dataDir), 'utf8'));
  } catch {
    return undefined;
  }
}

function pidRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it runs, as another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why a lock is stale, or undefined when its holder may still be alive. */
export function staleReason(info: LockInfo, file?: string): string | undefined {
  if (info.hostname === osHostname()) {
    const boot = bootId();
    if (info.bootId && boot && info.bootId !== boot) return 'the machine was restarted since';
    if (info.pid === process.pid && !held.has(file ?? '')) return `pid ${info.pid} is this process, which did not take it`;
    if (!pidRunning(info.pid)) return `pid ${info.pid} is no longer running`;
    return undefined;
  }
  if (!file) return undefined;
  try {
    const age = Date.now() - statSync(file).mtimeMs;
    if (age > OTHER_HOST_STALE_MS) return `its holder on ${info.hostname} has not refreshed it for ${Math.round(age / 1000)} s`;
  } catch {
    /* gone meanwhile: the next attempt finds out */
  }
  return undefined;
}

/** "trailbot serve --sample (pid 1234 on this machine, since 2024-08-01T13:00:00Z)" */
export function describeHolder(info: LockInfo): string {
  const where = info.hostname === osHostname() ? 'on this machine' : `on host ${info.hostname}`;
  return `${info.command} (pid ${info.pid} ${where}, since ${info.started})`;
}

function lockedError(dataDir: string, info: LockInfo | undefined, opts: { sameProcess?: boolean; throughServe?: boolean | undefined } = {}): TrailbotError {
  const who = opts.sameProcess ? 'this same process (it is already open)' : info ? describeHolder(info) : 'another trailbot process';
  const serving = info?.url ? `; its HTTP API answers at ${info.url}` : '';
  const first = opts.throughServe
    ? 'the embedded store serves one process at a time: stop that process (or run this command while `trailbot serve` answers on this machine, which the CLI then goes through), '
    : 'the embedded store serves one process at a time, and this command works on the store itself (it cannot go through a running `trailbot serve`): stop that process first, ';
  return new TrailbotError('E_STORE_LOCKED', `the embedded store in ${dataDir} is in use by ${who}${serving}`, {
    hint:
      first +
      'point TRAILBOT_DATA_DIR at another folder, or set DATABASE_URL to a PostgreSQL server for several processes' +
      (info && info.hostname !== osHostname() ? `; if host ${info.hostname} is gone, remove ${lockPath(dataDir)}` : ''),
  });
}

function tempName(file: string, what: string): string {
  return `${file}.${what}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Writes the lock file in one step (write aside, then link: fails with EEXIST when a lock is there). */
function tryCreate(file: string, info: LockInfo): boolean {
  const tmp = tempName(file, 'new');
  writeFileSync(tmp, `${JSON.stringify(info)}\n`, { mode: 0o644 });
  try {
    linkSync(tmp, file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
  }
}

/**
 * Moves a stale lock aside and removes it, unless another process replaced it with a live one in
 * between (then that one is put back). Returns whether the stale lock is gone.
 */
function removeStale(file: string, stale: string): boolean {
  const aside = tempName(file, 'stale');
  try {
    renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true; // someone else removed it
    throw e;
  }
  let moved = '';
  try {
    moved = readFileSync(aside, 'utf8');
  } catch {
    /* unreadable: treat as the stale one */
  }
  if (moved !== '' && moved !== stale) {
    // Not the lock we judged stale: a process took it meanwhile. Put it back (link: never over another).
    try {
      linkSync(aside, file);
    } catch {
      /* a third process holds it now; ours to drop */
    }
    unlinkSync(aside);
    return false;
  }
  unlinkSync(aside);
  return true;
}

/**
 * Takes the embedded store's lock in `dataDir` (which must exist) or throws E_STORE_LOCKED naming
 * the holder. Released by `release()`, and on process exit at the latest.
 */
export function acquireStoreLock(dataDir: string, opts: LockOptions = {}): StoreLock {
  const file = lockPath(dataDir);
  if (held.has(file)) throw lockedError(dataDir, held.get(file)!.info, { sameProcess: true, throughServe: opts.throughServe });
  const info: LockInfo = { pid: process.pid, hostname: osHostname(), started: new Date().toISOString(), command: opts.command ?? commandLine(), bootId: bootId() };
  for (let attempt = 0; ; attempt++) {
    if (tryCreate(file, info)) break;
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // released meanwhile: try again
      throw e;
    }
    const holder = parseLock(text);
    const why = holder ? staleReason(holder, file) : 'it is not a trailbot lock file';
    if (!why || attempt >= 5) throw lockedError(dataDir, holder, { throughServe: opts.throughServe });
    if (removeStale(file, text)) opts.notice?.(`removed a stale lock on the embedded store in ${dataDir}${holder ? ` left by ${describeHolder(holder)}` : ''}: ${why}`);
  }

  let timer: NodeJS.Timeout | undefined;
  const release = (): void => {
    if (held.get(file) !== lock) return;
    held.delete(file);
    if (timer) clearInterval(timer);
    process.off('exit', release);
    try {
      const now = parseLock(readFileSync(file, 'utf8'));
      if (now && now.pid === info.pid && now.hostname === info.hostname && now.started === info.started) unlinkSync(file);
    } catch {
      /* already gone */
    }
  };
  const lock: StoreLock = {
    path: file,
    info,
    setUrl(url) {
      info.url = url;
      const tmp = tempName(file, 'url');
      writeFileSync(tmp, `${JSON.stringify(info)}\n`, { mode: 0o644 });
      renameSync(tmp, file);
    },
    release,
  };
  held.set(file, lock);
  process.on('exit', release);
  timer = setInterval(() => {
    try {
      const t = new Date();
      utimesSync(file, t, t);
    } catch {
      /* removed under us: nothing to refresh */
    }
  }, HEARTBEAT_MS);
  timer.unref();
  return lock;
}

/** The lock this process holds on `dataDir`, if any. */
export function heldStoreLock(dataDir: string): StoreLock | undefined {
  return held.get(lockPath(dataDir));
}

/** The URL another process on this machine reaches a server on, from the address it listens on. */
export function localUrl(a: { address: string; port: number }): string {
  const ip = a.address;
  if (ip === '0.0.0.0' || ip === '::' || ip === '' || ip.startsWith('127.') || ip === '::ffff:127.0.0.1') return `http://127.0.0.1:${a.port}`;
  return ip.includes(':') ? `http://[${ip}]:${a.port}` : `http://${ip}:${a.port}`;
}
