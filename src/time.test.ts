import { describe, expect, it } from 'vitest';
import type { TrailbotError } from './errors.ts';
import { durationMs, eventTimeMs, formatDuration, parseDuration, parseRange, parseTime } from './time.ts';

const NOW = Date.UTC(2024, 7, 10, 12, 0, 0);

function errorOf(fn: () => unknown): TrailbotError {
  try {
    fn();
  } catch (e) {
    return e as TrailbotError;
  }
  throw new Error('expected an error');
}

describe('durations', () => {
  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['7d', 7 * 86_400_000],
    ['2w', 14 * 86_400_000],
    ['1500ms', 1500],
    ['0s', 0],
    [' 24h ', 86_400_000],
  ])('%j is %d ms', (v, ms) => {
    expect(parseDuration(v, { name: 'x' })).toBe(ms);
    expect(durationMs(v)).toBe(ms);
  });

  it.each(['', '5', 'm', '1.5h', '5M', '30m1h', '1h1h', '-5m', '5 m', '5min', '1y'])('%j is not a duration', (v) => {
    const e = errorOf(() => parseDuration(v, { name: 'every' }));
    expect(e.code).toBe('E_USAGE');
    expect(e.message).toBe(`every ${JSON.stringify(v)} is not a duration`);
    expect(durationMs(v)).toBeUndefined();
  });

  it('is bounded: never over 10 years, and within what each caller allows', () => {
    expect(errorOf(() => parseDuration('99999999999d', { name: 'since' })).message).toBe('since "99999999999d" is longer than 3650d, the most it can be');
    expect(durationMs('99999999999d')).toBeUndefined();
    expect(durationMs(`${'9'.repeat(400)}d`)).toBeUndefined();
    expect(errorOf(() => parseDuration('91d', { name: 'backfill', min: 60_000, max: 90 * 86_400_000 })).message).toBe('backfill "91d" is longer than 90d, the most it can be');
    expect(errorOf(() => parseDuration('10s', { name: 'backfill', min: 60_000 })).message).toBe('backfill "10s" is shorter than 1m, the least it can be');
  });

  it('formats as the largest whole unit', () => {
    expect([0, 1500, 60_000, 5_400_000, 86_400_000, 14 * 86_400_000].map(formatDuration)).toEqual(['0s', '1500ms', '1m', '90m', '1d', '2w']);
  });
});

describe('times', () => {
  const t = (v: string): string => new Date(parseTime(v, { name: 'since', now: NOW })).toISOString();

  it('reads durations back from now, dates as midnight UTC, and date-times without an offset as UTC', () => {
    expect(t('24h')).toBe('2024-08-09T12:00:00.000Z');
    expect(t('1h30m')).toBe('2024-08-10T10:30:00.000Z');
    expect(t('now')).toBe('2024-08-10T12:00:00.000Z');
    expect(t('2024-08-01')).toBe('2024-08-01T00:00:00.000Z');
    expect(t('2024-08-01T10:00:00')).toBe('2024-08-01T10:00:00.000Z');
    expect(t('2024-08-01T10:00')).toBe('2024-08-01T10:00:00.000Z');
    expect(t('2024-08-01 10:00:00')).toBe('2024-08-01T10:00:00.000Z');
    expect(t('2024-08-01T10:00:00Z')).toBe('2024-08-01T10:00:00.000Z');
    expect(t('2024-08-01T10:00:00.25Z')).toBe('2024-08-01T10:00:00.250Z');
    expect(t('2024-08-01T12:00:00+02:00')).toBe('2024-08-01T10:00:00.000Z');
    expect(t('2024-08-01T05:30:00-0430')).toBe('2024-08-01T10:00:00.000Z');
    expect(t('2024-02-29')).toBe('2024-02-29T00:00:00.000Z');
  });

  it.each([
    '2024-08-01 junk',
    '2024-08-01junk',
    '2024-08-01T10:00:00Zjunk',
    '2024-02-30',
    '2023-02-29',
    '2024-13-01',
    '2024-08-01T24:00:00Z',
    '2024-08-01T10:60:00Z',
    '2024-08-01T10:00:00+25:00',
    '2024-8-1',
    '2024-08-01+02:00',
    'yesterday',
    '2x',
    '1969-12-31',
    'August 1, 2024',
  ])('%j is not a time', (v) => {
    const e = errorOf(() => parseTime(v, { name: '--since', now: NOW }));
    expect(e.code).toBe('E_USAGE');
    expect(e.message).toBe(`--since ${JSON.stringify(v)} is not a time`);
  });

  it('bounds durations back from now', () => {
    expect(errorOf(() => parseTime('99999999999d', { name: 'since', now: NOW })).message).toMatch(/since "99999999999d" is longer than 3650d/);
  });
});

describe('ranges', () => {
  it('gives both ends as ISO strings, either may be missing', () => {
    expect(parseRange('2024-08-03T12:00Z', '2024-08-10', { now: NOW })).toEqual({ since: '2024-08-03T12:00:00.000Z', until: '2024-08-10T00:00:00.000Z' });
    expect(parseRange('7d', undefined, { now: NOW })).toEqual({ since: '2024-08-03T12:00:00.000Z', until: undefined });
    expect(parseRange(undefined, undefined)).toEqual({ since: undefined, until: undefined });
  });

  it('counts a duration since back from the given until (the week before it), not from now', () => {
    // `trail bob --until 2024-07-01` with the default --since 7d: the week before July 1st, not an error.
    expect(parseRange('7d', '2024-07-01', { now: NOW })).toEqual({ since: '2024-06-24T00:00:00.000Z', until: '2024-07-01T00:00:00.000Z' });
    expect(parseRange('7d', '2024-08-09', { now: NOW, sinceFromUntil: false }).since).toBe('2024-08-03T12:00:00.000Z');
  });

  it('refuses since after until, naming both', () => {
    const e = errorOf(() => parseRange('2024-08-02', '2024-08-01', { now: NOW, names: ['--since', '--until'] }));
    expect(e.code).toBe('E_USAGE');
    expect(e.message).toBe('--since "2024-08-02" (2024-08-02T00:00:00.000Z) is after --until "2024-08-01" (2024-08-01T00:00:00.000Z)');
  });
});

describe('event times', () => {
  it('reads the normalized form as Date.parse does', () => {
    for (const s of ['2024-08-01T13:00:05Z', '1970-01-01T00:00:00Z', '2000-02-29T23:59:59Z', '2100-03-01T00:00:00Z', '1969-12-31T23:59:59Z', '0100-01-01T00:00:00Z']) {
      expect(eventTimeMs(s)).toBe(Date.parse(s));
    }
  });

  it('gives what Date.UTC gives for all-digit fields out of range (a month 00 or 13, minute 99)', () => {
    expect(eventTimeMs('2024-00-01T00:00:00Z')).toBe(Date.UTC(2024, -1, 1));
    expect(eventTimeMs('2024-13-31T24:99:99Z')).toBe(Date.UTC(2024, 12, 31, 24, 99, 99));
  });

  it('reads a year before 100 as that year, not 19xx (the time the store holds for the event)', () => {
    expect(new Date(eventTimeMs('0099-01-01T00:00:00Z')).toISOString()).toBe('0099-01-01T00:00:00.000Z');
    expect(new Date(eventTimeMs('0001-12-31T23:59:59Z')).toISOString()).toBe('0001-12-31T23:59:59.000Z');
  });

  it('leaves every other text to Date.parse', () => {
    expect(eventTimeMs('2024-08-01T13:00:05.250Z')).toBe(Date.parse('2024-08-01T13:00:05.250Z'));
    expect(eventTimeMs('2024-08-01T13:00:05+02:00')).toBe(Date.parse('2024-08-01T13:00:05+02:00'));
    expect(eventTimeMs('2024-0a-01T13:00:05Z')).toBeNaN();
    expect(eventTimeMs('')).toBeNaN();
  });
});
