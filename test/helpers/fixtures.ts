import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RawRecord } from '../../src/events/model.ts';
import { normalize } from '../../src/events/normalize.ts';
import type { Ingestible } from '../../src/events/model.ts';

export const FIXTURES = join(import.meta.dirname, '../fixtures');

/** The raw records of one file in test/fixtures/records (JSON array or NDJSON). */
export function records(file: string): RawRecord[] {
  const text = readFileSync(join(FIXTURES, 'records', file), 'utf8');
  if (file.endsWith('.ndjson')) return text.trim().split('\n').map((l) => JSON.parse(l) as RawRecord);
  return JSON.parse(text) as RawRecord[];
}

/** The record with this eventID in a fixture file (fails loudly when absent). */
export function record(file: string, eventId: string): RawRecord {
  const r = records(file).find((x) => x.eventID === eventId);
  if (!r) throw new Error(`fixture ${file} has no record ${eventId}`);
  return r;
}

/** Every record of every fixture file that normalizes. */
export function allIngestible(): Ingestible[] {
  const out: Ingestible[] = [];
  for (const f of readdirSync(join(FIXTURES, 'records')).sort()) {
    if (!/\.(json|ndjson)$/.test(f) || f.includes('digest')) continue;
    for (const raw of records(f)) {
      try {
        out.push({ event: normalize(raw), raw });
      } catch {
        /* fixtures of malformed records are tested elsewhere */
      }
    }
  }
  return out;
}
