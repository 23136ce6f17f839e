import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TrailbotError } from '../errors.ts';
import { acquireStoreLock, LOCK_FILE, localUrl, readStoreLock } from './lock.ts';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'trailbot-lock-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid!;
}

function caught(fn: () => unknown): TrailbotError {
  try {
    fn();
  } catch (e) {
    return e as TrailbotError;
  }
  throw new Error('expected an error');
}

describe('the embedded store lock', () => {
  it('is held by one taker at a time, names the holder, and is gone once released', () => {
    const dir = tmp();
    const lock = acquireStoreLock(dir, { command: 'trailbot serve' });
    const info = readStoreLock(dir)!;
    expect(info).toMatchObject({ pid: process.pid, hostname: hostname(), command: 'trailbot serve' });
    const e = caught(() => acquireStoreLock(dir, { command: 'trailbot ingest' }));
    expect(e.code).toBe('E_STORE_LOCKED');
    expect(e.message).toContain(`the embedded store in ${dir} is in use by`);
    lock.setUrl('http://127.0.0.1:4321');
    expect(readStoreLock(dir)?.url).toBe('http://127.0.0.1:4321');
    lock.release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
    acquireStoreLock(dir).release();
  });

  it('refuses a live holder on this machine with exit-3 code, its pid and what to do', () => {
    const dir = tmp();
    // The test runner's parent is alive and is not this process: a live holder.
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, hostname: hostname(), started: '2024-08-01T13:00:00.000Z', command: 'trailbot serve --sample', url: 'http://127.0.0.1:3000' }));
    const e = caught(() => acquireStoreLock(dir));
    expect(e.code).toBe('E_STORE_LOCKED');
    expect(e.message).toBe(`the embedded store in ${dir} is in use by trailbot serve --sample (pid ${process.ppid} on this machine, since 2024-08-01T13:00:00.000Z); its HTTP API answers at http://127.0.0.1:3000`);
    expect(e.hint).toMatch(/stop that process.*TRAILBOT_DATA_DIR.*DATABASE_URL/);
  });

  it("words the hint for the command: only one that can go through a running serve is told to", () => {
    const dir = tmp();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, hostname: hostname(), started: '2024-08-01T13:00:00.000Z', command: 'trailbot serve', url: 'http://127.0.0.1:3000' }));
    const direct = caught(() => acquireStoreLock(dir, { command: 'trailbot sources status' }));
    expect(direct.hint).not.toMatch(/while `trailbot serve` answers/);
    expect(direct.hint).toMatch(/^the embedded store serves one process at a time, and this command works on the store itself \(it cannot go through a running `trailbot serve`\): stop that process first.*TRAILBOT_DATA_DIR.*DATABASE_URL/);
    const remote = caught(() => acquireStoreLock(dir, { command: 'trailbot trail x', throughServe: true }));
    expect(remote.hint).toMatch(/stop that process \(or run this command while `trailbot serve` answers on this machine, which the CLI then goes through\).*TRAILBOT_DATA_DIR.*DATABASE_URL/);
  });

  it('takes over a lock whose process is dead, and says so', () => {
    const dir = tmp();
    const pid = deadPid();
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid, hostname: hostname(), started: '2024-08-01T13:00:00.000Z', command: 'trailbot ingest x' }));
    const notices: string[] = [];
    const lock = acquireStoreLock(dir, { notice: (m) => notices.push(m) });
    expect(readStoreLock(dir)?.pid).toBe(process.pid);
    expect(notices).toEqual([`removed a stale lock on the embedded store in ${dir} left by trailbot ingest x (pid ${pid} on this machine, since 2024-08-01T13:00:00.000Z): pid ${pid} is no longer running`]);
    expect(readdirSync(dir)).toEqual([LOCK_FILE]); // nothing left aside
    lock.release();
  });

  it("trusts another host's lock while it is refreshed, and takes it over once it is not", () => {
    const dir = tmp();
    const file = join(dir, LOCK_FILE);
    writeFileSync(file, JSON.stringify({ pid: 1, hostname: 'elsewhere.example', started: '2024-08-01T13:00:00.000Z', command: 'trailbot serve' }));
    const e = caught(() => acquireStoreLock(dir));
    expect(e.code).toBe('E_STORE_LOCKED');
    expect(e.message).toContain('(pid 1 on host elsewhere.example');
    expect(e.hint).toContain(`if host elsewhere.example is gone, remove ${file}`);
    const old = new Date(Date.now() - 5 * 60_000);
    utimesSync(file, old, old);
    const lock = acquireStoreLock(dir, { notice: () => undefined });
    expect(JSON.parse(readFileSync(file, 'utf8')).hostname).toBe(hostname());
    lock.release();
  });

  it('takes over an unreadable lock file', () => {
    const dir = tmp();
    writeFileSync(join(dir, LOCK_FILE), 'garbage');
    const lock = acquireStoreLock(dir, { notice: () => undefined });
    expect(readStoreLock(dir)?.pid).toBe(process.pid);
    lock.release();
  });

  it('gives a URL other processes on this machine reach', () => {
    expect(localUrl({ address: '127.0.0.1', port: 3000 })).toBe('http://127.0.0.1:3000');
    expect(localUrl({ address: '0.0.0.0', port: 3000 })).toBe('http://127.0.0.1:3000');
    expect(localUrl({ address: '::', port: 3000 })).toBe('http://127.0.0.1:3000');
    expect(localUrl({ address: '::1', port: 3000 })).toBe('http://[::1]:3000');
    expect(localUrl({ address: '10.0.0.5', port: 8080 })).toBe('http://10.0.0.5:8080');
  });
});
