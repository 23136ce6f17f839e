import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import { TrailbotError } from '../errors.ts';
import type { Rejection } from '../ingest.ts';
import { isGzip, parseDocument } from '../sources/files.ts';
import { enqueue, ingestFileInput } from './enqueue.ts';
import type { JobInfo, JobQueue } from './queue.ts';

/**
 * `POST /api/ingest`: one trail file's bytes (JSON, NDJSON or gzipped, as CloudTrail writes them),
 * ingested by an `ingest-file` job exactly as a file dropped in a folder is, flows included. The
 * bytes go to a private temporary folder for the job and are removed once it has finished. The API
 * never takes a path on the server: a caller could otherwise read any file the server can.
 */

/** Largest upload (the request body). */
export const UPLOAD_MAX_BYTES = 64 * 1024 * 1024;
/** Largest upload once gunzipped (a small gzip can expand to gigabytes). */
export const UPLOAD_MAX_EXPANDED_BYTES = 512 * 1024 * 1024;

export interface UploadResult {
  /** The job that ingested it (`trailbot jobs show <job>`); null when the file was refused unread. */
  job: string | null;
  files: number;
  skippedFiles: number;
  failedFiles: number;
  events: number;
  inserted: number;
  duplicates: number;
  rejected: number;
  /** The first rejections (the job keeps at most 20), `where` naming the uploaded file. */
  rejections: Rejection[];
}

/** The file name the job reads (its extension tells NDJSON apart), from the caller's label. */
function safeName(name: string): string {
  const base = basename(name.replace(/\\/g, '/'))
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, '')
    .slice(-120);
  return base === '' || base === '-' ? 'stdin' : base;
}

/**
 * Reads the upload as the job will (gunzipped when it starts like gzip, then parsed), so a file that
 * cannot be read is refused at the door, as `trailbot ingest` reports it, instead of becoming a
 * failed job. Returns why it cannot be read, or undefined.
 */
async function unreadable(bytes: Uint8Array, name: string, file: string): Promise<string | undefined> {
  let text: string;
  if (isGzip(bytes)) {
    const chunks: Buffer[] = [];
    let size = 0;
    const collect = new Writable({
      write(chunk: Buffer, _enc, done) {
        size += chunk.length;
        chunks.push(chunk);
        done(size > UPLOAD_MAX_EXPANDED_BYTES ? new TrailbotError('E_INPUT_SHAPE', `${name} expands to more than ${UPLOAD_MAX_EXPANDED_BYTES / 1024 / 1024} MiB once gunzipped`) : undefined);
      },
    });
    try {
      await pipeline(Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)]), createGunzip(), collect);
    } catch (e) {
      if (e instanceof TrailbotError) throw new TrailbotError(e.code, e.message, { hint: 'split it, or stop `trailbot serve` and run `trailbot ingest` on the file directly' });
      return `corrupt gzip data: ${(e as Error).message}`;
    }
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  }
  return parseDocument(text, file).error;
}

async function finished(queue: JobQueue, id: string, timeoutMs: number): Promise<JobInfo> {
  const until = Date.now() + timeoutMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    const job = await queue.get(id);
    if (job && (job.state === 'completed' || job.state === 'failed')) return job;
    if (Date.now() > until) {
      throw new TrailbotError('E_QUEUE', `ingest job ${id} did not finish in ${Math.round(timeoutMs / 1000)} s (state ${job?.state ?? 'unknown'})`, { hint: `see \`trailbot jobs show ${id}\`` });
    }
    await sleep(wait);
  }
}

/** Ingests one uploaded file through the queue and waits for the job; `name` is only a label. */
export async function ingestUpload(queue: JobQueue, upload: { name: string; bytes: Uint8Array }, { timeoutMs = 600_000 } = {}): Promise<UploadResult> {
  const label = upload.name || 'upload';
  const dir = await mkdtemp(join(tmpdir(), 'trailbot-upload-'));
  const file = join(dir, safeName(label));
  try {
    const why = await unreadable(upload.bytes, label, file);
    if (why) return { job: null, files: 0, skippedFiles: 0, failedFiles: 1, events: 0, inserted: 0, duplicates: 0, rejected: 1, rejections: [{ where: label, reason: why }] };
    await writeFile(file, upload.bytes, { mode: 0o600 });
    const { id } = await enqueue(queue, 'ingest-file', await ingestFileInput(file));
    const job = await finished(queue, id, timeoutMs);
    // Messages name the caller's file, not the temporary copy.
    const named = (s: string): string => s.split(file).join(label);
    if (job.state === 'failed') {
      const reason = named(job.failedReason ?? 'failed');
      const m = /^(E_[A-Z_]+): ([\s\S]*?)(?: — [\s\S]*)?$/.exec(reason);
      // Input that cannot be read is a rejected file, as `trailbot ingest` counts it; anything else is a failure.
      if (m && /^E_(INPUT|RECORD)_/.test(m[1]!)) {
        let why = m[2]!;
        for (const prefix of [`nothing could be read from ${label}: `, `${label}: `]) if (why.startsWith(prefix)) why = why.slice(prefix.length);
        return { job: id, files: 0, skippedFiles: 0, failedFiles: 1, events: 0, inserted: 0, duplicates: 0, rejected: 1, rejections: [{ where: label, reason: why }] };
      }
      throw new TrailbotError('E_QUEUE', `ingesting ${label} failed: ${reason}`, { hint: `see \`trailbot jobs show ${id}\`; \`trailbot jobs retry ${id}\` will not find the upload again: send it again` });
    }
    const r = (job.returnValue ?? {}) as Partial<UploadResult> & { rejections?: Rejection[] };
    return {
      job: id,
      files: r.files ?? 0,
      skippedFiles: r.skippedFiles ?? 0,
      failedFiles: 0,
      events: r.events ?? 0,
      inserted: r.inserted ?? 0,
      duplicates: r.duplicates ?? 0,
      rejected: r.rejected ?? 0,
      rejections: (r.rejections ?? []).map((x) => ({ where: named(x.where), reason: named(x.reason) })),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
