import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip as gunzipCb } from 'node:zlib';
import { type Unwrapped, unwrap } from '../events/envelopes.ts';
import { cut } from '../events/preview.ts';

const gunzip = promisify(gunzipCb);

/** Everything read from one input file (or stdin), in order. */
export interface FileBatch {
  file: string;
  items: Unwrapped[];
  /** Set when the whole file could not be read or parsed; `items` is then empty. */
  error?: string;
  /** Set when the file was skipped on purpose (a digest file). */
  skipped?: string;
  bytes: number;
  /** 1-based position of this file among `total` inputs (for progress bars). */
  index: number;
  total: number;
}

const JSON_FILE = /\.(json|jsonl|ndjson)(\.gz)?$|\.gz$/i;
const NDJSON_FILE = /\.(jsonl|ndjson)(\.gz)?$/i;
/** Folders CloudTrail writes next to log files that hold no events. */
const SKIP_DIRS = new Set(['CloudTrail-Digest', 'CloudTrail-Insight', 'node_modules', '.git']);

/** Lists input files: files as given, directories recursively (sorted), `-` for stdin. */
export async function expandPaths(paths: string[]): Promise<{ files: string[]; errors: { file: string; error: string }[] }> {
  const files: string[] = [];
  const errors: { file: string; error: string }[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) await walk(p);
      } else if (e.isFile() && JSON_FILE.test(e.name) && !e.name.includes('_CloudTrail-Digest_')) {
        files.push(p);
      }
    }
  };
  for (const p of paths) {
    if (p === '-') {
      files.push('-');
      continue;
    }
    try {
      const s = await stat(p);
      if (s.isDirectory()) await walk(p);
      else files.push(p);
    } catch (e) {
      errors.push({ file: p, error: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
    }
  }
  return { files, errors };
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Whether bytes are gzip (they start with its magic number, 1f 8b): how every reader tells, whatever the file's name. */
export const isGzip = (bytes: Uint8Array): boolean => bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;

/** The bytes gunzipped when they are gzip, else as they are; corrupt gzip rejects (zlib's Z_DATA_ERROR / Z_BUF_ERROR). */
export async function gunzipped(buf: Buffer): Promise<Buffer> {
  // Output in pieces of 1 MiB rather than zlib's 16 KiB: a log file inflates ~10×, and every piece is
  // one callback on the event loop (bench:ingest: ~7% of the ingest's main-thread time at 16 KiB).
  return isGzip(buf) ? gunzip(buf, { chunkSize: 1 << 20 }) : buf;
}

/** Reads a file's bytes (`-`: stdin), gunzipped when they are gzip. */
export async function loadBytes(file: string): Promise<Buffer> {
  return gunzipped(file === '-' ? await readStdin() : await readFile(file));
}

/**
 * Parses a document: one JSON value (log file, array, LookupEvents response, EventBridge event,
 * single record) or NDJSON (one value per line). Returns the unwrapped records in input order.
 */
export function parseDocument(text: string, file: string): { items: Unwrapped[]; error?: string } {
  try {
    return parseText(text, file);
  } catch (e) {
    // Nothing in a file may escape as an exception: whatever it is, the file is reported, not the reader.
    return { items: [], error: `cannot parse: ${cut(e instanceof Error ? e.message : String(e))}` };
  }
}

/** `parseDocument` without the safety net. */
function parseText(text: string, file: string): { items: Unwrapped[]; error?: string } {
  const items: Unwrapped[] = [];
  const name = file === '-' ? '<stdin>' : file;
  if (!NDJSON_FILE.test(file)) {
    let value: unknown;
    let whole: Error | undefined;
    try {
      value = JSON.parse(text);
    } catch (e) {
      whole = e as Error;
    }
    if (!whole) {
      for (const u of unwrap(value, { file: name })) items.push(u);
      return { items };
    }
    // Not one JSON document: maybe NDJSON. If its first line is not JSON either, the file is not JSON.
    const first = text.trimStart().split('\n', 1)[0] ?? '';
    try {
      JSON.parse(first);
    } catch {
      return { items, error: text.trim() === '' ? 'empty file' : `not valid JSON: ${cut(whole.message)}` };
    }
  }
  let line = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    const raw = text.slice(start, end).trim();
    start = end + 1;
    if (raw === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      items.push({ kind: 'rejected', origin: { file: name, line }, reason: `not valid JSON: ${cut((e as Error).message)}` });
      continue;
    }
    for (const u of unwrap(value, { file: name, line })) items.push(u);
  }
  return { items };
}

/**
 * Reads inputs file by file, in order, with a few files loading (read + gunzip on the thread pool)
 * ahead of the one being parsed, so parsing and decompression overlap.
 */
export async function* readInputs(paths: string[], { lookahead = 4 }: { lookahead?: number } = {}): AsyncGenerator<FileBatch> {
  const { files, errors } = await expandPaths(paths);
  const total = files.length + errors.length;
  let index = 0;
  for (const e of errors) yield { file: e.file, items: [], error: e.error, bytes: 0, index: ++index, total };
  const loads: Promise<Buffer | Error>[] = [];
  let next = 0;
  const fill = (): void => {
    while (loads.length < lookahead && next < files.length) {
      const f = files[next++]!;
      loads.push(loadBytes(f).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))));
    }
  };
  for (let i = 0; i < files.length; i++) {
    fill();
    const file = files[i]!;
    const loaded = await loads.shift()!;
    const pos = { index: ++index, total };
    fill();
    if (loaded instanceof Error) {
      const code = (loaded as NodeJS.ErrnoException).code;
      const why = code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' ? `corrupt gzip data: ${loaded.message}` : `cannot read: ${code ?? loaded.message}`;
      yield { file, items: [], error: why, bytes: 0, ...pos };
      continue;
    }
    let text: string;
    try {
      text = loaded.toString('utf8');
    } catch (e) {
      // Larger than the biggest string V8 can hold (~512 MiB).
      yield { file, items: [], error: `too large to read: ${(e as Error).message}`, bytes: loaded.length, ...pos };
      continue;
    }
    const { items, error } = parseDocument(text, file);
    const only = items.length === 1 ? items[0]! : undefined;
    const bytes = loaded.length;
    if (only && only.kind === 'skipped') yield { file, items: [], skipped: only.reason, bytes, ...pos };
    else yield error ? { file, items: [], error, bytes, ...pos } : { file, items, bytes, ...pos };
  }
}
