/*
 * Which day partitions of `events` hold some events: the span of their times. Its own module because
 * the writer (events.ts, which reports the span of what it stored) and the readers (queries.ts) both use it.
 */

/** The first and last time (ISO) of some events: which day partitions hold them. */
export interface TimeSpan {
  from: string;
  to: string;
}

/** The span of some event times (null when there are none, or one of them is not a time). */
export function spanOf(times: Iterable<string | null | undefined>): TimeSpan | null {
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const t of times) {
    const ms = t ? Date.parse(t) : Number.NaN;
    if (Number.isNaN(ms)) return null;
    if (ms < from) from = ms;
    if (ms > to) to = ms;
  }
  // `to` one millisecond on: a stored time may carry microseconds that Date.parse drops.
  return from > to ? null : { from: new Date(from).toISOString(), to: new Date(to + 1).toISOString() };
}
