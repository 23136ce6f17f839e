import type { Store } from '../store/index.ts';
import type { SourceSpec } from './config.ts';
import { type Cursor, readCursors } from './state.ts';

/**
 * What `trailbot sources status` shows, per source and per part (account-region, queue, folder):
 * the newest event read, the lag, events stored so far, errors, and a backfill's progress.
 *
 * Lag: for LookupEvents, how long ago the last complete poll ended (everything before that is in);
 * for the other kinds, the age of the newest event read (a quiet account looks "behind" here).
 */
export interface PartStatus {
  part: string;
  lastEventAt: string | null;
  /** Seconds; null before the first poll. */
  lagSeconds: number | null;
  events: number;
  duplicates: number;
  requests: number;
  throttled: number;
  errors: number;
  lastError: string | null;
  lastErrorAt: string | null;
  /** 0–1 while a backfill runs; 1 once done; null when there is none. */
  backfill: number | null;
  leasedBy: string | null;
  lastRunAt: string | null;
}

export interface SourceStatus {
  source: string;
  kind: string;
  configured: boolean;
  lastEventAt: string | null;
  lagSeconds: number | null;
  events: number;
  errors: number;
  lastError: string | null;
  backfill: number | null;
  parts: PartStatus[];
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

function partStatus(c: Cursor, now: number): PartStatus {
  const reference = c.kind === 'lookup' ? c.coveredTo : c.lastEventAt;
  let backfill: number | null = null;
  if (c.kind === 'lookup' && c.coveredTo !== null) {
    backfill = c.tailFrom !== null && c.tailTo !== null && c.tailLow !== null && c.tailTo > c.tailFrom ? (c.tailTo - c.tailLow) / (c.tailTo - c.tailFrom) : 1;
  }
  return {
    part: c.part,
    lastEventAt: iso(c.lastEventAt),
    lagSeconds: reference === null ? null : Math.max(0, Math.round((now - reference) / 1000)),
    events: c.events,
    duplicates: c.duplicates,
    requests: c.requests,
    throttled: c.throttled,
    errors: c.errors,
    lastError: c.lastError,
    lastErrorAt: iso(c.lastErrorAt),
    backfill,
    leasedBy: c.leaseOwner && c.leaseUntil !== null && c.leaseUntil > now ? c.leaseOwner : null,
    lastRunAt: iso(c.lastRunAt),
  };
}

export async function sourcesStatus(store: Store, specs: SourceSpec[], now = Date.now()): Promise<SourceStatus[]> {
  const cursors = await readCursors(store.db);
  const bySource = new Map<string, Cursor[]>();
  for (const c of cursors) {
    if (!bySource.has(c.source)) bySource.set(c.source, []);
    bySource.get(c.source)!.push(c);
  }
  const ids = [...new Set([...specs.map((s) => s.id), ...bySource.keys()])];
  return ids.map((id) => {
    const spec = specs.find((s) => s.id === id);
    const parts = (bySource.get(id) ?? []).map((c) => partStatus(c, now));
    const lastEvent = parts.reduce<string | null>((m, p) => (p.lastEventAt && (!m || p.lastEventAt > m) ? p.lastEventAt : m), null);
    const lags = parts.map((p) => p.lagSeconds).filter((l): l is number => l !== null);
    const backfills = parts.map((p) => p.backfill).filter((b): b is number => b !== null);
    const lastErr = [...parts].filter((p) => p.lastError).sort((a, b) => (b.lastErrorAt ?? '').localeCompare(a.lastErrorAt ?? ''))[0];
    return {
      source: id,
      kind: spec?.kind ?? bySource.get(id)?.[0]?.kind ?? '?',
      configured: Boolean(spec),
      lastEventAt: lastEvent,
      // The source is as far behind as its slowest part.
      lagSeconds: lags.length ? Math.max(...lags) : null,
      events: parts.reduce((n, p) => n + p.events, 0),
      errors: parts.reduce((n, p) => n + p.errors, 0),
      lastError: lastErr ? `${lastErr.part}: ${lastErr.lastError}` : null,
      backfill: backfills.length ? backfills.reduce((a, b) => a + b, 0) / backfills.length : null,
      parts,
    };
  });
}

/** 95 → `1m 35s`, 7200 → `2h 0m`. */
export function humanDuration(s: number | null): string {
  if (s === null) return '—';
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** The status as a table a person reads: one line per source, its parts indented below. */
export function formatStatus(list: SourceStatus[], { parts = true }: { parts?: boolean } = {}): string {
  if (list.length === 0) return 'No sources configured. Add some under sources: in trailbot.config.yaml (see the README, "Sources").\n';
  const rows: string[][] = [['SOURCE', 'KIND', 'LAST EVENT', 'LAG', 'EVENTS', 'ERRORS', 'STATE']];
  const state = (s: { backfill: number | null; lagSeconds: number | null; lastError?: string | null; leasedBy?: string | null }, configured = true): string => {
    const bits: string[] = [];
    if (!configured) bits.push('no longer configured');
    if (s.lagSeconds === null && s.backfill === null) bits.push('not polled yet');
    if (s.backfill !== null) bits.push(s.backfill >= 1 ? 'backfill done' : `backfilling ${Math.floor(s.backfill * 100)}%`);
    if (s.leasedBy) bits.push(`in progress (${s.leasedBy})`);
    if (s.lastError) bits.push(`last error: ${s.lastError.split('\n')[0]!.slice(0, 160)}`);
    return bits.join('; ');
  };
  for (const s of list) {
    rows.push([s.source, s.kind, s.lastEventAt ?? '—', humanDuration(s.lagSeconds), String(s.events), String(s.errors), state(s, s.configured)]);
    if (parts && (s.parts.length > 1 || (s.parts[0] && s.parts[0].part !== 'queue' && s.parts[0].part !== 'folder'))) {
      for (const p of s.parts) rows.push([`  ${p.part}`, '', p.lastEventAt ?? '—', humanDuration(p.lagSeconds), String(p.events), String(p.errors), state(p)]);
    }
  }
  return `${table(rows)}\n`;
}
