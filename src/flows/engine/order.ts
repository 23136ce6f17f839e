import type { Match } from './types.ts';

/**
 * The matches in event time order, stably: each event's matches stay together and in order, and events
 * of the same time keep their batch order (Array.prototype.sort is stable). Sorted in place.
 *
 * (A radix-like sort of integer keys in a Float64Array was here before; on bench:flows' batches, every
 * one of which needs sorting, it took 3-6 ms a run against 3 ms for this.)
 */
export function byTime(ms: Match[]): Match[] {
  return ms.sort((a, b) => a.t - b.t);
}
