import { TrailbotError } from '../errors.ts';

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * `--since`/`--until` values: a duration back from now (`30m`, `24h`, `7d`, `2w`) or an ISO-8601
 * date or time (`2024-08-01`, `2024-08-01T13:00:00Z`). Returns an ISO string.
 */
export function parseTimeArg(value: string, option: string, now: Date = new Date()): string {
  const v = value.trim();
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/i.exec(v);
  if (m) return new Date(now.getTime() - Number(m[1]) * UNITS[m[2]!.toLowerCase()]!).toISOString();
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
    if (!Number.isNaN(ms)) return new Date(ms).toISOString();
  }
  throw new TrailbotError('E_USAGE', `${option} ${JSON.stringify(value)} is not a time`, {
    hint: 'use a duration such as 30m, 24h, 7d, 2w or an ISO date such as 2024-08-01 or 2024-08-01T13:00:00Z',
  });
}

export function parseLimit(value: string, option = '--limit', max = 10_000): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new TrailbotError('E_USAGE', `${option} ${JSON.stringify(value)} must be a whole number from 1 to ${max}`);
  }
  return n;
}
