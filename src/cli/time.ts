import { TrailbotError } from '../errors.ts';
import { parseRange, parseTime } from '../time.ts';

export { parseDuration, parseRange } from '../time.ts';

/**
 * `--since`/`--until` values in the one time grammar (src/time.ts): a duration back from now (`30m`,
 * `24h`, `7d`, `2w`), an ISO date or date-time (`2024-08-01`, `2024-08-01T13:00:00Z`; no offset = UTC)
 * or `now`. Returns an ISO string.
 */
export function parseTimeArg(value: string, option: string, now: Date = new Date()): string {
  return new Date(parseTime(value, { name: option, now })).toISOString();
}

/** `--since`/`--until` together, `since` no later than `until`. */
export function parseSinceUntil(
  since: string | undefined,
  until: string | undefined,
  { now = new Date(), sinceFromUntil = true }: { now?: Date; sinceFromUntil?: boolean } = {},
): { since: string | undefined; until: string | undefined } {
  return parseRange(since, until, { now, names: ['--since', '--until'], sinceFromUntil });
}

export function parseLimit(value: string, option = '--limit', max = 10_000): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new TrailbotError('E_USAGE', `${option} ${JSON.stringify(value)} must be a whole number from 1 to ${max}`);
  }
  return n;
}
