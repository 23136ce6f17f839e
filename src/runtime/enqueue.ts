import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TrailbotError } from '../errors.ts';
import { expandPaths } from '../sources/files.ts';
import { describeIssues, idempotencyKey, type JobInput, type JobKind, jobId, jobPayloads, priorityOf, RETRY } from './jobs.ts';
import type { JobQueue } from './queue.ts';

export interface EnqueueOptions {
  /** Overrides the key derived from the payload (e.g. a webhook delivery id). */
  key?: string;
  delayMs?: number;
  /** Overrides the kind's retry policy (tests use short backoffs). */
  attempts?: number;
  backoffMs?: number;
}

/**
 * Adds a typed job. The payload is checked here, so bad input is refused at the door with a coded
 * error instead of becoming a failed job; the id is the idempotency key, so enqueuing the same work
 * twice runs it once.
 */
export async function enqueue<K extends JobKind>(queue: JobQueue, kind: K, input: JobInput<K>, opts: EnqueueOptions = {}): Promise<{ id: string; duplicate: boolean }> {
  const schema = jobPayloads[kind];
  if (!schema) throw new TrailbotError('E_USAGE', `there is no job kind ${JSON.stringify(kind)}`, { hint: `kinds: ${Object.keys(jobPayloads).join(', ')}` });
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new TrailbotError('E_INPUT_SHAPE', `bad ${kind} job: ${describeIssues(parsed.error.issues)}`, { hint: 'fix the job data and enqueue it again' });
  }
  const id = jobId(kind, opts.key ?? idempotencyKey(kind, parsed.data as never));
  const policy = RETRY[kind];
  return queue.add({ name: kind, data: parsed.data, id, attempts: opts.attempts ?? policy.attempts, backoffMs: opts.backoffMs ?? policy.backoffMs, delayMs: opts.delayMs, priority: priorityOf(kind, parsed.data) });
}

/**
 * An `ingest-file` job for a file or folder, fingerprinted by its size and modification time (for a
 * folder, of every file in it), so the same content is ingested once and changed content again.
 */
export async function ingestFileInput(path: string, source?: string): Promise<JobInput<'ingest-file'>> {
  const abs = resolve(path);
  const { files, errors } = await expandPaths([abs]);
  if (errors.length > 0) throw new TrailbotError('E_INPUT_UNREADABLE', `${errors[0]!.file}: ${errors[0]!.error}`, { hint: 'check the path' });
  const parts: string[] = [];
  for (const f of files) {
    const s = await stat(f);
    parts.push(`${f.slice(abs.length)}|${s.size}|${Math.floor(s.mtimeMs)}`);
  }
  return { path: abs, source, fingerprint: createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32) };
}
