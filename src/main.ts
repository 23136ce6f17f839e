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
import { createRemediator } from './actions/approvals/execute.ts';
import { createApprovalFollowUp } from './actions/approvals/follow-up.ts';
import { approvalLinks, readPlanJob } from './actions/approvals/proposals.ts';
import { createJiraNotifier, firstAccounts, type JiraNotifyOptions, routesOf } from './actions/jira/notify.ts';
import { commentEveryMs, type Routing } from './actions/jira/routing.ts';
import { syncTickets } from './actions/jira/sync.ts';
import { createSlackNotifier, type SlackNotifyOptions } from './actions/slack/notify.ts';
import { deliverReport } from './actions/slack/reports.ts';
import { replyEveryMs, routeMessage, slackRouted } from './actions/slack/routing.ts';
import { syncSlackPage } from './actions/slack/sync.ts';
import type { Config } from './config/index.ts';
import { deploymentOf, evaluateFlows, parseFlowsConfig } from './flows/index.ts';
import { getReport, runScheduledReport } from './reports/scheduled.ts';
import { createIamAccess, type IamAccess, trailbotRoleNames } from './integrations/aws/iam-access.ts';
import { createJiraClient } from './integrations/jira/client.ts';
import type { JiraPort } from './integrations/jira/port.ts';
import { createResponder, createSlackClient } from './integrations/slack/client.ts';
import { trailAccess } from './actions/slack/trail/access.ts';
import { createTrailAnswerer } from './actions/slack/trail/answer.ts';
import { registerTrail } from './actions/slack/trail/listeners.ts';
import type { SlackHooks } from './http/slack-events.ts';
import type { SlackPort } from './integrations/slack/port.ts';
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
    links: linksOf(config),
  };
}

/** A finding about a person gets "Review deactivation of <who>" and "Dismiss" links (with APPROVAL_SECRET), in its ticket and its Slack alert. */
function linksOf(config: Config): JiraNotifyOptions['links'] {
  if (!config.approvalSecret) return undefined;
  const o = { secret: config.approvalSecret, publicUrl: config.publicUrl, settings: config.approvals, trailbotRoles: (account: string) => trailbotRoleNames(config, account) };
  return (db, f) => approvalLinks(db, f.id, o);
}

/** The Slack side: the client (none without SLACK_BOT_TOKEN: nothing is posted) and the routing it shares with Jira. */
export function slackOptions(config: Config, slack?: SlackPort): SlackNotifyOptions {
  return {
    slack: slack ?? (config.slack?.botToken ? createSlackClient({ botToken: config.slack.botToken, apiUrl: config.slack.apiUrl }) : undefined),
    routing: config.routing as Routing | undefined,
    publicUrl: config.publicUrl,
    links: linksOf(config),
  };
}

/** The stages the queued jobs call. `jira` and `slack` replace the clients made from the settings (tests). */
export function wirePipeline(config: Config, sources: Sources, opts: { jira?: JiraPort; slack?: SlackPort; settleMs?: number; iam?: IamAccess } = {}): Pipeline {
  const flows = parseFlowsConfig(config.flows, deploymentOf(config));
  const tickets = { ...jiraOptions(config, opts.jira), settleMs: opts.settleMs };
  const notifyJira = createJiraNotifier(tickets);
  const messages = slackOptions(config, opts.slack);
  const notifySlack = createSlackNotifier(messages);
  // IAM for approvals: trailbot's own account directly, others through their role (sharing the sources' credentials).
  let iam = opts.iam;
  const iamOf = (store: Parameters<Sources['aws']>[0]): IamAccess => (iam ??= createIamAccess({ config, aws: sources.aws(store) }));
  const approvals = createApprovalFollowUp({ jira: tickets.jira, slack: messages.slack, secret: config.approvalSecret, publicUrl: config.publicUrl, settings: config.approvals });
  // Findings go to Slack only with a bot token and a channel somewhere in the routing.
  const slackOn = Boolean(messages.slack) && slackRouted(messages.routing);
  return {
    // sources: read what is new from a configured source (LookupEvents, S3 trail bucket, SQS, folder);
    // stores the events and enqueues evaluate-flows for the new ones.
    pollSource: (ctx, p) => sources.pollSource(ctx, p),

    // flows: the new events of an ingested batch → findings (opened or joined, idempotently).
    async evaluateFlows(ctx, { eventIds, span }) {
      const r = await evaluateFlows(ctx.store, await ctx.store.events(eventIds, span), flows);
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
      // Slack: a message in the routed channel for each finding opened; more events → one thread reply
      // per finding per minute (routing.slack.replyEvery), the same way.
      if (slackOn) {
        const accounts = await firstAccounts(ctx.store.db, r.findings.map((f) => f.id));
        for (const f of [...r.findings.filter((x) => opened.has(x.id)), ...r.findings.filter((x) => !opened.has(x.id))]) {
          if (!routeMessage({ flow: f.flow, severity: f.severity, account: accounts.get(f.id) ?? null }, messages.routing)) continue;
          if (opened.has(f.id)) await ctx.enqueue('notify', { target: 'slack', findingId: f.id, action: 'open' });
          else await ctx.enqueue('notify', { target: 'slack', findingId: f.id, action: 'update' }, notifyUpdateOptions(f.id, Date.now(), replyEveryMs(messages.routing), 'slack'));
        }
      }
      return { findings, created: r.created, updated: r.updated, matched: r.matched, findingIds: r.findings.map((f) => f.id) };
    },

    // reports: build the configured report for its period and keep it (GET /api/reports); with
    // `slack: {channel}`, deliver it there once: a short summary and the report as a file.
    async report(ctx, p) {
      const r = await runScheduledReport(ctx.store, config.reports, p);
      const channel = config.reports.find((s) => s.id === p.report)?.slack?.channel;
      if (!channel) return r;
      if (!messages.slack) {
        ctx.log.warn({ report: p.report, channel }, `report ${p.report} is kept but not delivered to Slack ${channel}: SLACK_BOT_TOKEN is not set`);
        return { ...r, slack: { channel, delivered: false, reason: 'SLACK_BOT_TOKEN is not set' } };
      }
      const stored = (await getReport(ctx.store, r.id))!;
      return { ...r, slack: await deliverReport({ db: ctx.store.db, log: ctx.log }, messages.slack, stored, channel) };
    },

    // actions: a Jira ticket per finding, created once, kept in step (src/actions/jira/notify.ts);
    // a Slack message per finding, posted once, its thread kept in step (src/actions/slack/notify.ts).
    async notify(ctx, p) {
      const c = { db: ctx.store.db, log: ctx.log, job: ctx.job };
      if (p.target === 'slack') return notifySlack(c, p);
      const r = await notifyJira(c, p);
      // The finding's Slack message gets its "Open ticket" button now (posted before the ticket, usually).
      if (r.ticket === 'created' && r.key && slackOn) {
        await ctx.enqueue('notify', { target: 'slack', findingId: p.findingId, action: 'update' }, { key: `slack-ticket-${p.findingId}-${r.key}` });
      }
      return r;
    },
    // The catch-up for findings whose notify enqueue was lost (src/actions/jira/sync.ts), tickets
    // and Slack messages alike (src/actions/slack/sync.ts).
    ticketsSync: (ctx) => syncTickets(ctx, tickets, undefined, (page) => syncSlackPage(ctx, page, { routing: messages.routing, enabled: slackOn })),

    // Slack's /trail: a person's activity, answered through the command's response_url (src/actions/slack/trail).
    slackTrail: createTrailAnswerer({
      respond: createResponder({ apiUrl: config.slack?.apiUrl ?? 'https://slack.com/api' }),
      access: trailAccess({ allow: config.slackTrail.allow, slack: messages.slack }),
      live: (store, o) => sources.live(store, o),
      publicUrl: config.publicUrl,
    }),

    // remediate: an approved plan carried out in AWS, step by step (src/actions/approvals/execute.ts);
    // then the outcome kept, the reactivation proposed, the ticket and the thread told (follow-up.ts).
    remediate: createRemediator({ iam: (ctx) => iamOf(ctx.store), onExecuted: approvals.onExecuted }),

    // approvals: a proposal's plan read from the live account for its page (a dry run), or a decision told to Jira and Slack.
    approval: (ctx, p) => (p.task === 'read-plan' ? readPlanJob(ctx.store.db, iamOf(ctx.store), p.approvalId) : approvals.tell(ctx, { approvalId: p.approvalId, task: p.task, state: p.state })),
  };
}

/**
 * What the web role registers on the Bolt App behind POST /slack/events: `/trail` and its buttons.
 * User groups in slack.trail.allow are read with SLACK_BOT_TOKEN when this role has it (a short
 * timeout: the answer to Slack must leave within 3 s); without it only users and channels can be
 * allowed here. `slack` replaces the client made from the settings (tests).
 */
export function slackHooks(config: Config, slack?: SlackPort): SlackHooks {
  const port = slack ?? (config.slack?.botToken ? createSlackClient({ botToken: config.slack.botToken, apiUrl: config.slack.apiUrl }, { timeoutMs: 1500 }) : undefined);
  return {
    register: (bolt, ctx) =>
      registerTrail(bolt, {
        queue: ctx.queue,
        log: ctx.log,
        access: trailAccess({ allow: config.slackTrail.allow, slack: port }),
        respond: createResponder({ apiUrl: config.slack?.apiUrl ?? 'https://slack.com/api' }),
      }),
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
    service = await startService({ config: opts.config, role: opts.role, pipeline: wirePipeline(opts.config, sources), slack: slackHooks(opts.config), listen: opts.listen });
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
