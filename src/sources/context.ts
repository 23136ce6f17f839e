import type { Aws } from '../integrations/aws/index.ts';
import type { Store } from '../store/index.ts';
import type { SourceKind } from './config.ts';
import type { Sink } from './sink.ts';

/** pino's shape, so the runtime's child logger fits; tests pass a quiet one. */
export interface SourceLog {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const quietLog: SourceLog = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Everything a source needs, handed in (like probot's Context): nothing reads globals. */
export interface SourceContext {
  store: Store;
  aws: Aws;
  sink: Sink;
  log: SourceLog;
  /** This worker's identity in leases (state.workerId()). */
  owner: string;
  /** How long a part's lease lasts without renewal: a dead worker's parts are taken over after this. */
  leaseMs: number;
  signal?: AbortSignal | undefined;
  /** The clock (tests move it). */
  now: () => number;
  /** Called after every stored page or file, for progress bars. */
  onProgress?: ((p: Progress) => void) | undefined;
}

export interface Progress {
  source: string;
  part: string;
  /** 0–1 of the part's current backfill, when one is running. */
  backfill?: number | undefined;
  events: number;
  note?: string | undefined;
}

/** What one part of a source did in one poll. */
export interface PartReport {
  part: string;
  /** caught-up: nothing left for now; more: stopped at the time limit; leased: another worker has it; failed: see error. */
  state: 'caught-up' | 'more' | 'leased' | 'failed';
  requests: number;
  events: number;
  inserted: number;
  duplicates: number;
  rejected: number;
  /** 0–1 of the backfill, while one runs. */
  backfill?: number | undefined;
  error?: string | undefined;
}

export interface PollReport {
  source: string;
  kind: SourceKind;
  parts: PartReport[];
  events: number;
  inserted: number;
  duplicates: number;
  rejected: number;
  /** Newest event time read (ISO), for the lag metric. */
  newest: string | null;
  /** Work is left that the time limit cut off: poll again soon. */
  more: boolean;
  errors: string[];
  ms: number;
}

export function emptyPart(part: string): PartReport {
  return { part, state: 'caught-up', requests: 0, events: 0, inserted: 0, duplicates: 0, rejected: 0 };
}

/** Sums part reports into the source's report. */
export function summarize(source: string, kind: SourceKind, parts: PartReport[], newest: string | null, startedMs: number): PollReport {
  const sum = (k: 'events' | 'inserted' | 'duplicates' | 'rejected') => parts.reduce((n, p) => n + p[k], 0);
  return {
    source,
    kind,
    parts,
    events: sum('events'),
    inserted: sum('inserted'),
    duplicates: sum('duplicates'),
    rejected: sum('rejected'),
    newest,
    more: parts.some((p) => p.state === 'more'),
    errors: parts.filter((p) => p.error).map((p) => `${p.part}: ${p.error}`),
    ms: Math.round(performance.now() - startedMs),
  };
}

/** Runs `fn` over items with at most `n` at once. */
export async function pool<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
