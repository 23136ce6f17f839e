import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TrailbotError } from '../errors.ts';
import { enqueue, ingestFileInput } from './enqueue.ts';
import type { JobInfo } from './queue.ts';
import type { Service } from './service.ts';

/** The bundled sample trail: real public CloudTrail records in CloudTrail's S3 layout (see samples/README.md). */
export const SAMPLE_TRAIL = join(import.meta.dirname, '../../samples/trail');

export interface SampleReport {
  job: JobInfo;
  /** True when the same sample had been ingested before (this start added nothing). */
  already: boolean;
  inserted: number;
  stored: number;
  /** The busiest person in the store, to suggest a first question. */
  example: { who: string; events: number } | undefined;
  /** Findings the flows hold after the sample's events were evaluated (undefined: flows not wired). */
  findings: { total: number; byFlow: [string, number][] } | undefined;
}

/** Waits for a job to finish (completed or failed), polling the queue. */
export async function waitForJob(svc: Pick<Service, 'queue'>, id: string, timeoutMs = 120_000): Promise<JobInfo> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const job = await svc.queue.get(id);
    if (job && (job.state === 'completed' || job.state === 'failed')) return job;
    if (Date.now() > until) throw new TrailbotError('E_QUEUE', `job ${id} did not finish in ${Math.round(timeoutMs / 1000)} s (state ${job?.state ?? 'unknown'})`, { hint: 'is a worker running?' });
    await sleep(100);
  }
}

/**
 * Ingests the sample trail through the queue, exactly as any file is ingested: an `ingest-file` job
 * whose key is the sample's content, so a second start finds the job done and adds nothing.
 */
export async function ingestSample(svc: Pick<Service, 'queue' | 'store'>, path = SAMPLE_TRAIL): Promise<SampleReport> {
  const input = await ingestFileInput(path, undefined);
  const { id, duplicate } = await enqueue(svc.queue, 'ingest-file', input);
  const job = await waitForJob(svc, id);
  if (job.state === 'failed') throw new TrailbotError('E_QUEUE', `ingesting the sample trail failed: ${job.failedReason}`, { hint: `see \`trailbot jobs failed\`; retry with \`trailbot jobs retry ${id}\`` });
  const r = (job.returnValue ?? {}) as { inserted?: number; flowJobs?: string[] };
  // The ingest job enqueued `evaluate-flows` for the new events: wait for those too.
  for (const id of r.flowJobs ?? []) {
    const f = await waitForJob(svc, id);
    if (f.state === 'failed') throw new TrailbotError('E_QUEUE', `evaluating the flows over the sample failed: ${f.failedReason}`, { hint: `see \`trailbot jobs show ${id}\`` });
  }
  const findings = r.flowJobs === undefined ? undefined : await countFindings(svc);
  const top = await svc.store.db.query<{ name: string; events: number }>(
    `SELECT coalesce(email, user_name, session_name, name) AS name, events FROM principals
     WHERE coalesce(email, user_name, session_name, name) IS NOT NULL AND type IN ('IAMUser', 'AssumedRole', 'Root', 'IdentityCenterUser')
     ORDER BY events DESC, actor_key LIMIT 1`,
  );
  return {
    job,
    already: duplicate,
    inserted: duplicate ? 0 : (r.inserted ?? 0),
    stored: await svc.store.count(),
    example: top.rows[0] ? { who: top.rows[0].name, events: Number(top.rows[0].events) } : undefined,
    findings,
  };
}

async function countFindings(svc: Pick<Service, 'store'>): Promise<SampleReport['findings']> {
  try {
    const r = await svc.store.db.query<{ flow: string; n: number }>('SELECT flow, count(*)::int AS n FROM findings GROUP BY flow ORDER BY n DESC, flow');
    const byFlow = r.rows.map((x) => [x.flow, Number(x.n)] as [string, number]);
    return { total: byFlow.reduce((a, [, n]) => a + n, 0), byFlow };
  } catch {
    return undefined; // no findings table: flows not installed
  }
}
