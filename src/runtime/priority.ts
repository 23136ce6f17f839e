import { readdirSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

export interface PriorityResult {
  /** The nice value asked for. */
  nice: number;
  /** Threads now at that nice value or lower priority. */
  threads: number;
  /** Threads whose priority could not be changed (the reason of the first). */
  failed: number;
  error?: string;
}

/**
 * Lowers this process's CPU priority to `nice` (0–19; a higher nice value is a lower priority, which
 * needs no privilege). On Linux a nice value belongs to each thread, and Node's os.setPriority(0)
 * changes the calling thread only: every thread of the process is changed (/proc/self/task), and the
 * threads made later (libuv's pool) inherit it from the thread that makes them. Elsewhere, the process.
 * A thread already at a lower priority is left alone.
 */
export function lowerPriority(nice: number): PriorityResult {
  const out: PriorityResult = { nice, threads: 0, failed: 0 };
  if (nice <= 0) return out;
  let tids: number[];
  try {
    tids = readdirSync('/proc/self/task').map(Number).filter(Number.isInteger);
  } catch {
    tids = [0];
  }
  for (const tid of tids) {
    try {
      if (getPriority(tid) < nice) setPriority(tid, nice);
      out.threads++;
    } catch (e) {
      // A thread that ended between the listing and the call, or a platform that refuses.
      out.failed++;
      out.error ??= (e as Error).message;
    }
  }
  return out;
}
