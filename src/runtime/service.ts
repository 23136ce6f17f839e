import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Context, Hono } from 'hono';
import { apiAuthConfigured, checkExposure, type Config, maskConfig } from '../config/index.ts';
import { onJiraIssueEvent } from '../actions/jira/issue-events.ts';
import { describeError, TrailbotError } from '../errors.ts';
import { durationMs } from '../time.ts';
import { createApp, type Role } from '../http/app.ts';
import { createSlackEvents, type SlackHooks } from '../http/slack-events.ts';
import { createApprovalPages } from '../http/approvals.ts';
import { createSignIn } from '../http/signin.ts';
import { heldStoreLock, localUrl, openStore, type Store } from '../store/index.ts';
import { defaultJobs, makeProcessor, type Registry } from './definitions.ts';
import { RETRY } from './jobs.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { openQueue } from './open.ts';
import { type OutboxDrain, type OutboxDrainOptions, startOutboxDrain } from './outbox.ts';
import type { Pipeline } from './pipeline.ts';
import { lowerPriority } from './priority.ts';
import type { JobQueue, WorkerHandle, WorkOptions } from './queue.ts';

export type { Role } from '../http/app.ts';

export interface ServiceOptions {
  config: Config;
  role: Role;
  /** The stages wired by src/main.ts. */
  pipeline?: Pipeline;
  /** Job definitions; the default registry built from `pipeline` unless given (tests). */
  registry?: Registry;
  log?: Logger;
  /** Listen on config.port (true, the default), on this port (0: any free one), or not at all. */
  listen?: boolean | number;
  /** Worker tuning (tests shorten lock durations). */
  work?: Partial<WorkOptions>;
  /** The flows outbox drainer's timing (tests shorten it). */
  outbox?: OutboxDrainOptions;
  /** How often the tickets catch-up runs when the pipeline has one (default 60 s). */
  ticketsSyncEveryMs?: number;
  /** How often the store's upkeep runs (default 1 h; src/store/retention.ts). */
  storeMaintenanceEveryMs?: number;
  /**
   * Slack's listeners (given by src/main.ts): on web and all, `register(bolt, ctx)` is called once with
   * the Bolt App behind POST /slack/events (src/http/slack-events.ts) before the server listens.
   * `ackTimeoutMs`: answer Slack after this long when no listener acked (default 2500).
   */
  slack?: SlackHooks & { ackTimeoutMs?: number };
  /** The approval pages' timing (tests shorten the wait for a plan read). */
  approvalPages?: { planWaitMs?: number; planFreshMs?: number };
}

export interface Service {
  config: Config;
  role: Role;
  store: Store;
  queue: JobQueue;
  log: Logger;
  metrics: Metrics;
  app: Hono;
  /** http://localhost:PORT when listening. */
  url: string | undefined;
  /** The address the server listens on (HOST and PORT), when listening. */
  address: AddressInfo | undefined;
  /** Finishes the jobs in hand, then closes the server, the queue and the store. */
  close(): Promise<void>;
}

/**
 * Upserts the recurring work the configuration asks for under stable ids (`poll-<source>`,
 * `report-<id>`), and removes schedules of ours that the configuration no longer names. Every
 * replica may do this at start: the same ids never make a second schedule.
 */
export async function reconcileSchedules(queue: JobQueue, config: Pick<Config, 'sources' | 'reports'>): Promise<string[]> {
  const wanted = new Set<string>();
  for (const s of config.sources) {
    const id = `poll-${s.id}`;
    wanted.add(id);
    await queue.schedule({ id, every: durationMs(s.every)!, name: 'poll-source', data: { source: s.id }, ...RETRY['poll-source'] });
  }
  for (const r of config.reports) {
    const id = `report-${r.id}`;
    wanted.add(id);
    await queue.schedule({ id, pattern: r.pattern, tz: r.tz, name: 'report', data: { report: r.id }, ...RETRY.report });
  }
  for (const s of await queue.schedules()) {
    if (/^(poll|report)-/.test(s.id) && !wanted.has(s.id)) await queue.unschedule(s.id);
  }
  return [...wanted];
}

export async function startService(opts: ServiceOptions): Promise<Service> {
  const { config, role } = opts;
  const log = opts.log ?? createLogger({ level: config.logLevel, base: { role } });
  // Beyond this machine only with API authentication (also checked by `trailbot config check`).
  checkExposure(config, role);
  if (config.queue.backend === 'inline' && role !== 'all') {
    throw new TrailbotError('E_USAGE', `--role ${role} needs a shared queue, but jobs are queued inline in this process`, {
      hint: 'set REDIS_URL (or TRAILBOT_QUEUE=postgres with DATABASE_URL) to split web and worker, or run --role all',
    });
  }
  // A worker with flows records every ingest's new events in the flows outbox (src/runtime/outbox.ts).
  const flowsWired = role !== 'web' && Boolean(opts.pipeline?.evaluateFlows);
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, lock: { notice: (m) => log.warn(m) }, flowOutbox: flowsWired, dayPartitions: { retentionMs: config.retention.events } });
  let queue: JobQueue;
  try {
    queue = await openQueue(config, store);
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
  const metrics = createMetrics({ store, queue });
  let worker: WorkerHandle | undefined;
  let drain: OutboxDrain | undefined;
  let server: Server | undefined;
  const close = async (): Promise<void> => {
    log.info('shutting down: finishing the jobs in hand');
    if (server) {
      const s = server;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeIdleConnections();
        setTimeout(() => s.closeAllConnections(), 5000).unref();
      });
    }
    await drain?.stop();
    if (worker) await worker.close();
    await queue.close();
    await store.close();
    log.info('stopped');
  };

  try {
    if (role !== 'web') {
      // A worker process alone gives the CPU to the web role first (TRAILBOT_WORKER_NICE); a process
      // with both roles (`all`) keeps its priority, since its web part would be lowered too.
      if (role === 'worker' && (config.queue.nice ?? 0) > 0) {
        const p = lowerPriority(config.queue.nice!);
        if (p.failed > 0 && p.threads === 0) log.warn({ nice: p.nice, error: p.error }, 'could not lower the worker\'s CPU priority (TRAILBOT_WORKER_NICE); it runs at the normal one');
        else log.info({ nice: p.nice, threads: p.threads }, 'worker at a lower CPU priority than the web role (TRAILBOT_WORKER_NICE)');
      }
      const registry = opts.registry ?? defaultJobs(opts.pipeline ?? {});
      const processor = makeProcessor(registry, { store, queue, log, metrics, config });
      worker = await queue.work(processor, {
        concurrency: config.queue.concurrency,
        lockDurationMs: config.queue.lockMs,
        stalledIntervalMs: config.queue.lockMs,
        ...opts.work,
        onEvent: (e) => {
          if (e.type === 'error') log.error({ err: e.error }, 'worker error');
          else if (e.type === 'failed') log[e.willRetry ? 'warn' : 'error']({ jobId: e.job.id, kind: e.job.name, attempt: e.job.attemptsMade + 1, willRetry: e.willRetry }, e.reason);
          else if (e.type === 'stalled') log.warn({ jobId: e.jobId }, 'job stalled (its worker stopped); taken again');
          else log.debug({ jobId: e.job.id, kind: e.job.name }, 'job completed');
          opts.work?.onEvent?.(e);
        },
      });
      if (flowsWired) drain = startOutboxDrain({ store, queue, log }, opts.outbox);
      const scheduled = await reconcileSchedules(queue, config);
      // The tickets catch-up (src/actions/jira/sync.ts): one schedule under a stable id, whoever upserts it.
      if (opts.pipeline?.ticketsSync) {
        await queue.schedule({ id: 'tickets-sync', every: opts.ticketsSyncEveryMs ?? 60_000, name: 'tickets-sync', data: {}, ...RETRY['tickets-sync'] });
        scheduled.push('tickets-sync');
      }
      // The store's upkeep (src/store/retention.ts): day partitions ahead, retention. One schedule, a stable id.
      await queue.schedule({ id: 'store-maintenance', every: opts.storeMaintenanceEveryMs ?? 3_600_000, name: 'store-maintenance', data: {}, ...RETRY['store-maintenance'] });
      scheduled.push('store-maintenance');
      if (scheduled.length) log.info({ schedules: scheduled }, 'recurring work scheduled');
    }
    // Slack's commands and button clicks (POST /slack/events) reach the web role; without SLACK_SIGNING_SECRET the route refuses them.
    const slack =
      role === 'worker'
        ? undefined
        : createSlackEvents({ signingSecret: config.slack?.signingSecret, botToken: config.slack?.botToken, apiUrl: config.slack?.apiUrl, log, ackTimeoutMs: opts.slack?.ackTimeoutMs });
    if (slack) opts.slack?.register(slack.bolt, { store, queue, log, config });
    // The approval pages and sign-in (web and all): links are checked with APPROVAL_SECRET, approvers sign in through OIDC.
    let approvals: { pages: Hono; auth: Hono } | undefined;
    let dashboardSession: ((c: Context) => Promise<string | undefined>) | undefined;
    if (role !== 'worker') {
      const signIn = createSignIn({ oidc: config.oidc, secret: config.approvalSecret, publicUrl: config.publicUrl, groupsClaim: config.approvals.groupsClaim, db: store.db, log });
      const pages = createApprovalPages({ db: store.db, queue, log, secret: config.approvalSecret, publicUrl: config.publicUrl, settings: config.approvals, signIn, ...opts.approvalPages });
      approvals = { pages, auth: signIn.route };
      // The dashboard opens to a signed-in person too (the API itself takes bearer tokens only).
      if (signIn.configured) dashboardSession = async (c) => (await signIn.session(c))?.email;
    }
    const app = createApp({ store, queue, metrics, log, role, slackEvents: slack?.route, approvals, dashboardSession, auth: { tokens: config.api.tokens, origins: [config.publicUrl] }, jiraWebhookSecret: config.jiraWebhookSecret,
      // POST /api/jobs refuses a report job for a report that is not configured, instead of queueing it to fail.
      reportIds: config.reports.map((r) => r.id),
      // Jira's webhook (POST /jira/webhook) keeps a ticket's status and assignee, and its finding's status, in step.
      onJiraIssueEvent: (e) => onJiraIssueEvent(store.db, e),
    });
    let url: string | undefined;
    let listening: AddressInfo | undefined;
    if (opts.listen !== false) {
      const port = typeof opts.listen === 'number' ? opts.listen : config.port;
      const { server: srv, address } = await new Promise<{ server: Server; address: AddressInfo }>((resolve, reject) => {
        const s = serve({ fetch: app.fetch, port, hostname: config.host }, (info) => resolve({ server: s as Server, address: info })) as Server;
        s.once('error', (e: NodeJS.ErrnoException) =>
          reject(
            new TrailbotError('E_USAGE', `cannot listen on ${config.host} port ${port}: ${e.code === 'EADDRINUSE' ? 'another program is using it' : e.message}`, {
              hint: e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' ? 'set HOST to an address of this machine, or leave it unset for 127.0.0.1' : 'set PORT to a free port',
              cause: e,
            }),
          ),
        );
      });
      server = srv;
      listening = address;
      url = `http://localhost:${address.port}`;
      if (role !== 'worker' && !apiAuthConfigured(config)) {
        log.info({ host: config.host }, `listening on ${config.host} only: no API authentication is configured (set TRAILBOT_API_TOKENS to serve other machines)`);
      }
      // The embedded store's lock says where this server answers: the CLI then asks it instead (src/cli/remote.ts).
      if (!config.databaseUrl && role !== 'worker') heldStoreLock(config.dataDir)?.setUrl(localUrl(address));
    }
    log.info(
      { url, store: store.db.kind, queue: queue.backend, queueName: queue.name, concurrency: config.queue.concurrency, config: { publicUrl: config.publicUrl, file: config.configFile } },
      'trailbot started',
    );
    log.debug({ config: maskConfig(config) }, 'effective configuration');
    return { config, role, store, queue, log, metrics, app, url, address: listening, close };
  } catch (e) {
    log.error({ err: e }, describeError(e));
    await close().catch(() => undefined);
    throw e;
  }
}
