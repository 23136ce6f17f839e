import { describeError } from '../errors.ts';
import type { Store } from '../store/index.ts';
import { enqueue } from './enqueue.ts';
import type { Logger } from './logger.ts';
import type { JobQueue } from './queue.ts';

export interface OutboxDrainOptions {
  /** How often to look (default 30 s); the first look is at start. */
  everyMs?: number;
  /** Rows younger than this are left to the job that wrote them, which enqueues them itself (default 10 s). */
  minAgeMs?: number;
}

export interface OutboxDrain {
  /** One pass now: enqueues `evaluate-flows` for every row old enough; returns how many rows. */
  drain(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * The flows outbox drainer, run by every worker whose flows are wired. A row still in `flow_outbox`
 * after a while belongs to an ingest whose process died between its commit and its enqueue (or to a
 * flows job that failed for good). Enqueuing it again is safe: the job id is derived from the row's
 * ids, so a job that exists already (waiting, running, or kept after it ended) is not added twice,
 * and several workers draining at once add it once.
 */
export function startOutboxDrain(deps: { store: Store; queue: JobQueue; log: Logger }, opts: OutboxDrainOptions = {}): OutboxDrain {
  const everyMs = opts.everyMs ?? 30_000;
  const minAgeMs = opts.minAgeMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let running: Promise<number> | undefined;

  const pass = async (): Promise<number> => {
    let afterId = 0;
    let rows = 0;
    let added = 0;
    for (;;) {
      const page = await deps.store.outbox.pending({ minAgeMs, afterId, limit: 100 });
      for (const row of page) {
        const r = await enqueue(deps.queue, 'evaluate-flows', { eventIds: row.eventIds });
        if (!r.duplicate) added++;
        afterId = row.id;
      }
      rows += page.length;
      if (page.length < 100 || stopped) break;
    }
    if (added > 0) deps.log.info({ rows, added }, 'flows outbox: evaluate-flows enqueued for events whose ingest did not');
    return rows;
  };
  const drain = (): Promise<number> => {
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };
  const loop = (): void => {
    if (stopped) return;
    drain()
      .catch((e: unknown) => deps.log.warn({ err: e }, `flows outbox: ${describeError(e)}; trying again in ${Math.round(everyMs / 1000)} s`))
      .finally(() => {
        if (stopped) return;
        timer = setTimeout(loop, everyMs);
        timer.unref();
      });
  };
  loop();
  return {
    drain,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
