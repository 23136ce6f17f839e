import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The nice value of each thread of a process, from /proc/<pid>/task/<tid>/stat (field 19). */
function niceOfThreads(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

describe.runIf(process.platform === 'linux')('lowerPriority', () => {
  it('lowers every thread of the process, and the threads it makes later, without privilege', () => {
    // A child process: lowers itself, starts libuv's thread pool (new threads), then reports each thread's nice value.
    const script = `
      import { lowerPriority } from ${JSON.stringify(new URL('./priority.ts', import.meta.url).pathname)};
      import { readdirSync, readFileSync } from 'node:fs';
      import { pbkdf2 } from 'node:crypto';
      const r = lowerPriority(7);
      await Promise.all(Array.from({ length: 4 }, () => new Promise((ok) => pbkdf2('x', 'y', 1000, 32, 'sha256', ok))));
      const nice = readdirSync('/proc/self/task').map((t) => { const s = readFileSync('/proc/self/task/' + t + '/stat', 'utf8'); return Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[16]); });
      console.log(JSON.stringify({ r, nice }));
    `;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { r: { threads: number; failed: number }; nice: number[] };
    expect(out.r.threads).toBeGreaterThan(1);
    expect(out.r.failed).toBe(0);
    expect(out.nice.length).toBeGreaterThan(out.r.threads); // the pool's threads came after
    expect(new Set(out.nice)).toEqual(new Set([7]));
    // This (test) process is untouched.
    expect(niceOfThreads(process.pid)).not.toContain(7);
  });
});
