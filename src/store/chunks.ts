/*
 * Chunks: where an event's raw record and its detail live (migrations 022 and 024). The events of a
 * batch are put, by UTC day and in the batch's order (a trail file's records stay together),
 * RECORDS_PER_CHUNK to a chunk. An event row says which chunk (`raw_chunk`) and which place in it
 * (`raw_at`, from 0).
 *
 * Format 2 (since migration 024): `details` holds the events' detail lines (the normalized fields the
 * row does not keep, see detail.ts) and `packed` their raw records, one JSON value a line, each
 * compressed with Brotli by trailbot. Two streams, so that reading events decompresses only their
 * details (~0.07 ms a chunk), not the records too (~0.2 ms). Brotli (quality 1) packs a chunk ~1.6×
 * smaller than PostgreSQL's lz4 for about the CPU lz4 costs PostgreSQL (measurements below).
 * Format 1 (`records`, migration 022): one raw record a line, compressed by PostgreSQL; its events keep
 * their detail in their row's columns.
 */
import { brotliCompressSync, brotliDecompress, constants } from 'node:zlib';
import { promisify } from 'node:util';
import type { Db } from './db.ts';

/**
 * Events per chunk. Measured on 36,000 generated events (the trail bench:ingest writes), Brotli quality 1,
 * per event packed (details + raw records) and per chunk decompressed (details; raw records):
 * 32 a chunk 62 + 234 B, 0.05; 0.08 ms · 64: 50 + 198 B, 0.06; 0.12 ms · 128: 40 + 173 B, 0.06; 0.17 ms ·
 * 256: 34 + 159 B, 0.09; 0.32 ms. A read of an event pays its chunk's decompression once.
 */
export const RECORDS_PER_CHUNK = 128;

/**
 * Brotli quality 1: ~3.4 µs an event to compress, on the event loop (synchronously: many compressions in
 * flight at once in libuv's pool cost 5× the CPU, each with its own window). Measured per event: quality 0
 * 270 B / 4.5 µs, 1 243 B / 3.4 µs, 3 230 B / 7.3 µs, 4 213 B / 11 µs; zstd 1 233 B / 16 µs; deflate 1
 * 329 B / 6.9 µs; lz4 in PostgreSQL ~400 B.
 */
const QUALITY = 1;

/**
 * Brotli's window, 2^18 bytes (256 KiB), sized to a chunk (128 raw records are ~100–200 KB) rather than
 * the default 4 MiB: the encoder sets up and clears tables for the window it is given, for every chunk.
 * Measured on 600 files of the bench:ingest trail (raw records, 128 a chunk): default window 2.9–6.0 µs
 * an event, 2^18 2.4–2.7 µs, the same 168 B an event; 2^16 packs bigger. Decompression is unchanged.
 */
const WINDOW_BITS = 18;

const decompress = promisify(brotliDecompress);

const BROTLI_OPTIONS = { params: { [constants.BROTLI_PARAM_QUALITY]: QUALITY, [constants.BROTLI_PARAM_LGWIN]: WINDOW_BITS } };

/** The UTF-8 of the lines being packed, reused from chunk to chunk (Brotli copies its input). */
let scratch = Buffer.allocUnsafe(1 << 20);
/** The most the reused buffer grows to; a chunk of larger records gets a buffer of its own, not kept. */
const SCRATCH_MAX = 4 << 20;

/**
 * Lines as stored: Brotli of the lines joined by `\n` (JSON never holds a raw newline; a line given as
 * bytes is JSON in UTF-8, taken as it is). Each line is written as UTF-8 straight into a reused buffer:
 * `lines.join('\n')` then `Buffer.from` cost 7.7–9 µs an event for the raw records (1.6 KB each, 128 to
 * a chunk; the join alone 6 µs), this 1.1–1.5 µs, the same bytes.
 */
export function packLines(lines: readonly (string | Uint8Array)[]): Buffer {
  let room = lines.length;
  // A UTF-16 code unit is at most 3 bytes of UTF-8; lines given as bytes are UTF-8 already.
  for (const l of lines) room += typeof l === 'string' ? l.length * 3 : l.length;
  let buf = scratch;
  if (buf.length < room) {
    buf = Buffer.allocUnsafe(room <= SCRATCH_MAX ? Math.min(SCRATCH_MAX, Math.max(room, buf.length * 2)) : room);
    if (buf.length <= SCRATCH_MAX) scratch = buf;
  }
  let at = 0;
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) buf[at++] = 0x0a;
    const l = lines[i]!;
    if (typeof l === 'string') at += buf.write(l, at, 'utf8');
    else {
      buf.set(l, at);
      at += l.length;
    }
  }
  return brotliCompressSync(buf.subarray(0, at), BROTLI_OPTIONS);
}

/** Where an event's lines are: its chunk, its place in it, and its UTC day (the chunk's partition). */
export interface ChunkRef {
  chunk: string;
  at: number;
  day: string;
}

/**
 * One chunk per (id, day), from its own day's partition (one primary-key probe each). $3 and $4, the
 * first and last day asked for, let PostgreSQL leave the other days' partitions out when it plans
 * (`time = r.t` alone is pruned only as each row runs: planning still opened all 99 partitions of a
 * 90-day store, ~10 ms for a page of 50 events).
 */
const chunksSql = (columns: string): string => `SELECT x.* FROM unnest($1::int8[], $2::timestamptz[]) AS r(id, t)
  CROSS JOIN LATERAL (SELECT id::text AS id, ${columns} FROM raw_chunks
    WHERE id = r.id AND time = r.t AND time >= $3::timestamptz AND time <= $4::timestamptz LIMIT 1) x`;
// Details exist in format 2 only; raw records are `packed` (format 2) or `records` (format 1).
const DETAILS_SQL = chunksSql('details AS packed, NULL::text AS records');
const RAW_SQL = chunksSql('packed, records');

/**
 * The detail lines (format 2) or raw records (either format) of some events, in the order of `refs`
 * (undefined where a chunk is not found), each chunk read and decompressed once however many of its
 * events are asked for.
 */
export async function chunkLines(db: Db, refs: readonly ChunkRef[], what: 'details' | 'raw'): Promise<(string | undefined)[]> {
  if (refs.length === 0) return [];
  const days = new Map(refs.map((r) => [r.chunk, r.day]));
  // Days as RAW_DAY writes them (fixed-width ISO, years 0001–9999): their text sorts as their time.
  let first = refs[0]!.day;
  let last = first;
  for (const day of days.values()) {
    if (day < first) first = day;
    if (day > last) last = day;
  }
  const got = await db.query<{ id: string; records: string | null; packed: Uint8Array | null }>(what === 'details' ? DETAILS_SQL : RAW_SQL, [
    [...days.keys()],
    [...days.values()],
    first,
    last,
  ]);
  const lines = new Map<string, string[]>();
  await Promise.all(
    got.rows.map(async (c) => {
      if (c.packed !== null) lines.set(c.id, (await decompress(c.packed)).toString('utf8').split('\n'));
      else if (c.records !== null) lines.set(c.id, c.records.split('\n'));
    }),
  );
  return refs.map((r) => lines.get(r.chunk)?.[r.at]);
}
