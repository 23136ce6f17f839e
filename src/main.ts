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
import { createJiraNotifier, type JiraNotifyOptions, routesOf } from './actions/jira/notify.ts';
import { commentEveryMs, type Routing } from './actions/jira/routing.ts';
import { syncTickets } from './actions/jira/sync.ts';
import type { Config } from './config/index.ts';
import { TrailbotError } from './errors.ts';
import { evaluateFlows, parseFlowsConfig } from './flows/index.ts';
import { runScheduledReport } from './reports/scheduled.ts';
import { createJiraClient } from './integrations/jira/client.ts';
import type { JiraPort } from './integrations/jira/port.ts';
import { loadEvents } from './runtime/events.ts';
import { notifyUpdateOptions } from './runtime/jobs.ts';
import type { Pipeline } from './runtime/pipeline.ts';
import { ingestSample, type SampleReport } from './runtime/sample.ts';
import { type Role, type Service, startService } from './runtime/service.ts';
import { createSources, type Sources } from './sources/index.ts';

/** The Jira side of the pipeline: the client (none without JIRA_* settings: tickets are kept, not sent) and routing. */
export function jiraOptions(config: Config, jira?: JiraPort): JiraNotifyOptions {
  return {
    jira: jira ?? (config.jira ? createJiraClient(config.jira) : undefined),
    routing: config.routing as Routing | undefined,
    project: config.jira?.project ?? '',
    publicUrl: config.publicUrl,
  };
}

/** The stages the queued jobs call. `jira` replaces the client made from the settings (tests). */
export function wirePipeline(config: Config, sources: Sources, opts: { jira?: JiraPort; settleMs?: number } = {}): Pipeline {
  const flows = parseFlowsConfig(config.flows);
  const tickets = { ...jiraOptions(config, opts.jira), settleMs: opts.settleMs };
  const notifyJira = createJiraNotifier(tickets);
  return {
    // sources: read what is new from a configured source (LookupEvents, S3 trail bucket, SQS, folder);
    // stores the events and enqueues evaluate-flows for the new ones.
    pollSource: (ctx, p) => sources.pollSource(ctx, p),

    // flows: the new events of an ingested batch → findings (opened or joined, idempotently).
    async evaluateFlows(ctx, { eventIds }) {
      const r = await evaluateFlows(ctx.store, await loadEvents(ctx.store, eventIds), flows);
      // Which findings this batch opened, as the flows' transaction saw it (reading their events back
      // would not do: another batch may have joined a new finding before this job reads it).
      const opened = new Set(r.opened);
      const findings: Record<string, number> = {};
      for (const f of r.findings) if (opened.has(f.id)) findings[f.flow] = (findings[f.flow] ?? 0) + 1;
      // actions: a ticket for each finding the routing gives one; more events → one comment per
      // finding per minute (routing.jira.commentEvery: the update job waits for the window's end).
      // A crash before these enqueues is caught up by tickets-sync.
      // The findings this batch opened go first: their tickets should not wait behind the updates.
      const routes = await routesOf(ctx.store.db, r.findings, tickets);
      for (const f of [...r.findings.filter((x) => opened.has(x.id)), ...r.findings.filter((x) => !opened.has(x.id))]) {
        if (!routes.get(f.id)) continue;
        if (opened.has(f.id)) await ctx.enqueue('notify', { target: 'jira', findingId: f.id, action: 'open' });
        else await ctx.enqueue('notify', { target: 'jira', findingId: f.id, action: 'update' }, notifyUpdateOptions(f.id, Date.now(), commentEveryMs(tickets.routing)));
      }
      return { findings, created: r.created, updated: r.updated, matched: r.matched, findingIds: r.findings.map((f) => f.id) };
    },

    // reports: build the configured report for its period and keep it (GET /api/reports); delivery
    // to Slack and Jira reads the kept reports (later work).
    report: (ctx, p) => runScheduledReport(ctx.store, config.reports, p),

    // actions: a Jira ticket per finding, created once, kept in step (src/actions/jira/notify.ts).
    async notify(ctx, p) {
      if (p.target !== 'jira') throw new TrailbotError('E_USAGE', 'no Slack notifier is wired yet (issue 10); this job cannot run', { hint: 'wire it in src/main.ts, then `trailbot jobs retry` the job' });
      return notifyJira({ db: ctx.store.db, log: ctx.log, job: ctx.job }, p);
    },
    // The catch-up for findings whose notify enqueue was lost (src/actions/jira/sync.ts).
    ticketsSync: (ctx) => syncTickets(ctx, tickets),

    // remediate: the IAM integration (later work).
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
