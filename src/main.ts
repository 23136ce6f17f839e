/**
 * trailbot end to end, in one place:
 *
 *   sources ──► normalize ──► store ──► flows ──► render ──► actions
 *   (files, S3,   (src/events)  (src/store)  (src/flows)  (templates)  (Slack, Jira, IAM)
 *    SQS, Lookup)
 *
 * Each arrow is a queued job (src/runtime/jobs.ts): `ingest-file` / `ingest-batch` / `poll-source`
 * read and store events and enqueue `evaluate-flows` for the new ones; flows raise findings and
 * enqueue `notify`; approvals enqueue `remediate`; schedules enqueue `poll-source` and `report`.
 * The runtime (src/runtime) runs those jobs on Redis, PostgreSQL or in-process, and serves HTTP.
 *
 * This file wires the stages into the runtime. A stage that is not built yet is left unwired: its
 * jobs fail at once with a message naming the missing handler, and nothing else is affected.
 */
import type { Config } from './config/index.ts';
import { evaluateFlows, parseFlowsConfig } from './flows/index.ts';
import { runScheduledReport } from './reports/scheduled.ts';
import { loadEvents } from './runtime/events.ts';
import type { Pipeline } from './runtime/pipeline.ts';
import { ingestSample, type SampleReport } from './runtime/sample.ts';
import { type Role, type Service, startService } from './runtime/service.ts';
import { createSources, type Sources } from './sources/index.ts';

/** The stages the queued jobs call. */
export function wirePipeline(config: Config, sources: Sources): Pipeline {
  const flows = parseFlowsConfig(config.flows);
  return {
    // sources: read what is new from a configured source (LookupEvents, S3 trail bucket, SQS, folder);
    // stores the events and enqueues evaluate-flows for the new ones.
    pollSource: (ctx, p) => sources.pollSource(ctx, p),

    // flows: the new events of an ingested batch → findings (opened or joined, idempotently).
    async evaluateFlows(ctx, { eventIds }) {
      const r = await evaluateFlows(ctx.store, await loadEvents(ctx.store, eventIds), flows);
      // A finding opened by this batch holds only this batch's events; one that was joined holds older ones too.
      const batch = new Set(eventIds);
      const findings: Record<string, number> = {};
      for (const f of r.findings) if (f.eventIds.every((id) => batch.has(id))) findings[f.flow] = (findings[f.flow] ?? 0) + 1;
      return { findings, created: r.created, updated: r.updated, matched: r.matched, findingIds: r.findings.map((f) => f.id) };
    },

    // reports: build the configured report for its period and keep it (GET /api/reports); delivery
    // to Slack and Jira reads the kept reports (later work).
    report: (ctx, p) => runScheduledReport(ctx.store, config.reports, p),

    // notify / remediate: the Slack, Jira and IAM integrations (later work).
  };
}

export interface StartOptions {
  config: Config;
  role: Role;
  /** Ingest the bundled sample trail once the service is up (`npm start`). */
  sample?: boolean;
  listen?: boolean | number;
}

/** Starts trailbot: store, queue, workers and HTTP; with `sample`, ingests the sample trail through the queue. */
export async function startTrailbot(opts: StartOptions): Promise<{ service: Service; sample: SampleReport | undefined }> {
  const sources = createSources({ config: opts.config });
  let service: Service;
  try {
    service = await startService({ config: opts.config, role: opts.role, pipeline: wirePipeline(opts.config, sources), listen: opts.listen });
  } catch (e) {
    await sources.close().catch(() => undefined);
    throw e;
  }
  const closeService = service.close;
  service.close = async () => {
    await closeService();
    await sources.close();
  };
  try {
    const sample = opts.sample ? await ingestSample(service) : undefined;
    return { service, sample };
  } catch (e) {
    await service.close().catch(() => undefined);
    throw e;
  }
}
