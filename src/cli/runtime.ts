import { readFile } from 'node:fs/promises';
import { Option } from 'commander';
import { stringify } from 'yaml';
import { describeSlackAlerts } from '../actions/slack/routing.ts';
import { describeApprovals } from '../actions/approvals/rules.ts';
import { checkExposure, type Config, maskConfig } from '../config/index.ts';
import { describeError, TrailbotError } from '../errors.ts';
import type { JobInfo, JobQueue, JobState } from '../runtime/queue.ts';
import type { SampleReport } from '../runtime/sample.ts';
import type { Service } from '../runtime/service.ts';
import type { Store } from '../store/index.ts';
import { type Cli, choice, EXIT } from './common.ts';
import { type RemoteQueue, throughServer } from './remote.ts';
import { untilSignal } from './signals.ts';
import { withStore } from './store.ts';
import { parseLimit } from './time.ts';

const ROLES = ['web', 'worker', 'all'] as const;
const STATES = ['waiting', 'delayed', 'active', 'completed', 'failed'] as const;

function describeQueue(c: Config): string {
  if (c.queue.backend === 'redis') return `Redis (queue ${c.queue.name})`;
  if (c.queue.backend === 'postgres') return `PostgreSQL (BullMQ tables in schema trailbot_queue, queue ${c.queue.name})`;
  return `inline, in this process (jobs kept in the store, queue ${c.queue.name})`;
}

/** Who may call /api. OIDC signs approvers in to the approval pages only: /api takes bearer tokens, never that session. */
function describeAccess(c: Config): string {
  if (c.api.tokens.length > 0) return `bearer tokens (${c.api.tokens.length} in TRAILBOT_API_TOKENS)`;
  if (c.oidc) return 'no bearer tokens: this machine only (OIDC signs approvers in to the approval pages, not to /api; set TRAILBOT_API_TOKENS to serve others)';
  return 'no authentication: this machine only (set TRAILBOT_API_TOKENS to serve others)';
}

function describeStore(c: Config): string {
  return c.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded, in ${c.dataDir}`;
}

/** The store and the queue for one command; `throughServe`: the command would have gone through a running serve. */
async function withQueue<T>(cli: Cli, fn: (q: JobQueue, s: Store) => Promise<T>, opts: { throughServe?: boolean } = {}): Promise<T> {
  return withStore(
    cli,
    async (store) => {
      const { openQueue } = await import('../runtime/open.ts');
      const queue = await openQueue(cli.config(), store);
      try {
        return await fn(queue, store);
      } finally {
        await queue.close();
      }
    },
    opts,
  );
}

/** The queue for the `jobs` commands: through the running `trailbot serve` when it holds the embedded store. */
async function withJobs<T>(cli: Cli, fn: (q: RemoteQueue) => Promise<T>): Promise<T> {
  const api = await throughServer(cli);
  return api ? fn(await api.queue()) : withQueue(cli, (q) => fn(q), { throughServe: true });
}

function jobLine(j: JobInfo): string {
  const when = j.finishedAt ?? j.processedAt ?? j.createdAt ?? '';
  const tries = `${j.attemptsMade}/${j.attempts} tries`;
  const why = j.failedReason ? `\n    ${j.failedReason}` : '';
  return `${j.id}  ${j.name}  ${j.state}  ${tries}  ${when}${why}`;
}

function banner(svc: Service, sample: SampleReport | undefined): string {
  const c = svc.config;
  const url = svc.url ?? '(not listening)';
  const lines = [`trailbot is running at ${url} (role ${svc.role}; store: ${describeStore(c)}; jobs: ${describeQueue(c)})`];
  if (sample) {
    lines.push(
      sample.already
        ? `Sample trail: already ingested (job ${sample.job.id}, ${sample.job.finishedAt}); nothing added. The store holds ${sample.stored} events.`
        : `Sample trail: ingested ${sample.inserted} new events from real public CloudTrail records (samples/README.md says where they come from). The store holds ${sample.stored} events.`,
    );
  }
  if (sample?.findings) {
    const top = sample.findings.byFlow.slice(0, 5).map(([flow, n]) => `${flow} ${n}`).join(', ');
    lines.push(`Flows: ${sample.findings.total} findings${top ? ` (${top}${sample.findings.byFlow.length > 5 ? ', …' : ''})` : ''}.`);
  }
  if (svc.role !== 'worker' && svc.url) {
    lines.push(
      c.api.tokens.length > 0
        ? 'The API needs a token: curl -H "Authorization: Bearer $TOKEN" (a token from TRAILBOT_API_TOKENS).'
        : 'The API answers this machine only: no TRAILBOT_API_TOKENS is set.',
    );
    lines.push('Where to look:');
    if (sample?.example) {
      const who = encodeURIComponent(sample.example.who);
      lines.push(`  ${url}/api/trail?who=${who}&since=2010-01-01   what ${sample.example.who} did (${sample.example.events} events)`);
    }
    lines.push(`  ${url}/api/findings   the findings of the flows`);
    lines.push(`  ${url}/api/events?event_name=ConsoleLogin&since=2010-01-01   sign-ins`);
    lines.push(`  ${url}/api/jobs?state=completed   the queue's work`);
    lines.push(`  ${url}/metrics   ${url}/readyz   ${url}/healthz`);
  }
  lines.push('Logs are JSON lines on stdout. Stop with Ctrl-C (running jobs finish first).');
  return `${lines.join('\n')}\n`;
}

/** Who may use Slack's /trail, for `config check`: nobody unless slack.trail.allow lists someone. */
function describeTrailAllow(allow: Config['slackTrail']['allow']): string {
  const n = (k: number, one: string) => `${k} ${one}${k === 1 ? '' : 's'}`;
  if (!allow || allow.users.length + allow.usergroups.length + allow.channels.length === 0) {
    return 'nobody may use it (no slack.trail.allow in trailbot.config.yaml: list users, usergroups or channels)';
  }
  return `allowed to ${[n(allow.users.length, 'user'), n(allow.usergroups.length, 'user group'), n(allow.channels.length, 'channel')].join(', ')} (slack.trail.allow)`;
}

/** Registers the runtime commands: serve, config, jobs. */
export function registerRuntimeCommands(cli: Cli): void {
  const { program } = cli;

  program
    .command('serve')
    .description('Run trailbot as a service: HTTP (Slack, Jira, browsers, /healthz, /readyz, /metrics) and workers for queued jobs.')
    .addOption(new Option('--role <role>', 'web: HTTP only; worker: jobs only; all: both in one process').argParser(choice(ROLES)).default('all'))
    .option('--sample', 'ingest the bundled sample trail once started (what `npm start` does)')
    .addHelpText('after', '\nSettings come from the environment and trailbot.config.yaml; see `trailbot config print`. SIGTERM finishes the jobs in hand, then exits.')
    .action(async (opts: { role: (typeof ROLES)[number]; sample?: boolean }) => {
      const config = cli.config();
      const { startTrailbot } = await import('../main.ts');
      const { service, sample } = await startTrailbot({ config, role: opts.role, sample: Boolean(opts.sample) });
      cli.io.err(banner(service, sample));
      const signal = await untilSignal(() => {
        service.log.warn('second signal: exiting without waiting for jobs');
        process.exit(EXIT.failure);
      });
      service.log.info({ signal }, 'signal received');
      await service.close();
      // Anything still holding the event loop (a reconnecting client) must not keep a stopped service alive.
      setTimeout(() => process.exit(process.exitCode ?? 0), 3000).unref();
    });

  const config = program.command('config').description('Check or show the configuration (environment and trailbot.config.yaml).');
  config
    .command('check')
    .description('Validate every setting without starting; exit status 2 lists what is wrong.')
    .option('--connect', 'also connect to the store and the queue, and check SLACK_BOT_TOKEN with Slack (auth.test) when it is set')
    .addOption(new Option('--role <role>', 'the role to check for (web and all serve the API: beyond this machine only with authentication)').argParser(choice(ROLES)).default('all'))
    .action(async (opts: { connect?: boolean; role: (typeof ROLES)[number] }) => {
      const c = cli.config();
      checkExposure(c, opts.role);
      cli.io.out(`configuration is valid\n  store: ${describeStore(c)}\n  jobs: ${describeQueue(c)}\n  file: ${c.configFile ?? '(none)'}\n`);
      cli.io.out(`  sources: ${c.sources.length}, reports: ${c.reports.length}, accounts: ${c.accounts.length}, flows section: ${c.flows ? 'yes' : 'no'}\n`);
      cli.io.out(`  HTTP: listens on ${c.host} port ${c.port}; API: ${describeAccess(c)}\n`);
      const slack = c.slack ? [c.slack.signingSecret && 'checks requests', c.slack.botToken && 'posts'].filter(Boolean).join(' and ') : 'off';
      cli.io.out(`  Jira: ${c.jira ? 'configured' : 'off'}${c.jiraWebhookSecret ? ' (webhooks checked)' : ''}, Slack: ${slack}, approvals: ${c.approvalSecret ? 'on' : 'off'}, sign-on: ${c.oidc ? 'OIDC' : 'off'}\n`);
      cli.io.out(`  /trail in Slack: ${describeTrailAllow(c.slackTrail.allow)}\n`);
      cli.io.out(`  Slack alerts: ${describeSlackAlerts(c.routing, c.reports, Boolean(c.slack?.botToken))}\n`);
      cli.io.out(`  approvals: ${describeApprovals(c)}\n`);
      if (opts.connect) {
        await withQueue(cli, async (q, s) => {
          await s.db.query('SELECT 1');
          await q.ping();
        });
        cli.io.out('  store and queue: reachable\n');
        // The bot token, when this role has one: auth.test says whose it is (E_SLACK_AUTH names what to fix).
        if (c.slack?.botToken) {
          const { createSlackClient } = await import('../integrations/slack/client.ts');
          const me = await createSlackClient({ botToken: c.slack.botToken, apiUrl: c.slack.apiUrl }, { timeoutMs: 10_000 }).whoami();
          cli.io.out(`  Slack: the bot token works (bot user ${me.userId} in team ${me.teamId})\n`);
        }
      }
    });
  config
    .command('print')
    .description('Print the effective configuration, secrets masked.')
    .option('--json', 'as JSON instead of YAML')
    .action((opts: { json?: boolean }) => {
      const masked = maskConfig(cli.config());
      cli.io.out(opts.json ? `${JSON.stringify(masked, null, 2)}\n` : stringify(masked));
    });

  const jobs = program.command('jobs').description('Look at and manage queued work.');
  jobs
    .command('failed')
    .description('Failed jobs with their reasons, newest first.')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print JSON')
    .action(async (opts: { limit: string; json?: boolean }) => {
      await withJobs(cli, async (q) => {
        const list = await q.list('failed', parseLimit(opts.limit));
        if (opts.json) cli.io.out(`${JSON.stringify(list, null, 2)}\n`);
        else if (list.length === 0) cli.io.out('no failed jobs\n');
        else for (const j of list) cli.io.out(`${jobLine(j)}\n`);
      });
    });
  jobs
    .command('retry')
    .description('Send a failed job back to the queue for another round of tries.')
    .argument('<id...>', 'job ids, as `trailbot jobs failed` prints them')
    .action(async (ids: string[]) => {
      await withJobs(cli, async (q) => {
        for (const id of ids) {
          await q.retry(id);
          cli.io.out(`${id}: queued again\n`);
        }
      });
    });
  jobs
    .command('list')
    .description('Job counts by state, and the jobs in one state.')
    .addOption(new Option('--state <state>', 'which jobs to list').argParser(choice(STATES)).default('waiting'))
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print JSON')
    .action(async (opts: { state: JobState; limit: string; json?: boolean }) => {
      await withJobs(cli, async (q) => {
        const counts = await q.counts();
        const list = await q.list(opts.state, parseLimit(opts.limit));
        const schedules = await q.schedules();
        if (opts.json) return cli.io.out(`${JSON.stringify({ backend: q.backend, counts, schedules, jobs: list }, null, 2)}\n`);
        cli.io.out(`queue ${q.name} on ${q.backend}: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}\n`);
        for (const s of schedules) cli.io.out(`schedule ${s.id}: ${s.name} ${s.pattern ? `at ${s.pattern}` : `every ${Math.round((s.every ?? 0) / 1000)} s`}, next ${s.next ?? '?'}\n`);
        for (const j of list) cli.io.out(`${jobLine(j)}\n`);
      });
    });
  jobs
    .command('show')
    .description('One job: its data, state, tries, failure reason and result.')
    .argument('<id>')
    .action(async (id: string) => {
      await withJobs(cli, async (q) => {
        const j = await q.get(id);
        if (!j) throw new TrailbotError('E_USAGE', `no job ${id}`, { hint: 'see `trailbot jobs list --state failed`' });
        cli.io.out(`${JSON.stringify(j, null, 2)}\n`);
      });
    });
  jobs
    .command('add')
    .description('Queue a job by hand. Its data is checked first; the same job added twice runs once.')
    .argument('<kind>', 'ingest-file, ingest-batch, poll-source, evaluate-flows, notify, remediate, report or probe')
    .argument('[data]', 'the job data as JSON, e.g. \'{"path":"./logs"}\'; @file reads it from a file')
    .option('--key <key>', 'the idempotency key (default: derived from the data)')
    .action(async (kind: string, data: string | undefined, opts: { key?: string }) => {
      const { enqueue, ingestFileInput } = await import('../runtime/enqueue.ts');
      const { JOB_KINDS } = await import('../runtime/jobs.ts');
      if (!(JOB_KINDS as string[]).includes(kind)) throw new TrailbotError('E_USAGE', `there is no job kind ${JSON.stringify(kind)}`, { hint: `kinds: ${JOB_KINDS.join(', ')}` });
      let input: unknown = {};
      if (data !== undefined) {
        const text = data.startsWith('@') ? await readFile(data.slice(1), 'utf8') : data;
        try {
          input = JSON.parse(text);
        } catch (e) {
          throw new TrailbotError('E_INPUT_NOT_JSON', `job data is not JSON: ${(e as Error).message}`, { hint: 'quote it for the shell, e.g. \'{"path":"./logs"}\'' });
        }
      }
      const api = await throughServer(cli);
      if (api) {
        // The running server queues it (POST /api/jobs); it takes no paths: `trailbot ingest` sends files.
        try {
          const r = await api.addJob(kind, input, opts.key);
          cli.io.out(`${r.id}: ${r.duplicate ? 'already queued or done (same key); not added again' : 'queued'}\n`);
        } catch (e) {
          if (!(e instanceof TrailbotError && (e.code === 'E_INPUT_SHAPE' || e.code === 'E_USAGE'))) throw e;
          cli.io.err(`trailbot: ${describeError(e)}\n`);
          cli.setExit(EXIT.usage);
        }
        return;
      }
      if (kind === 'ingest-file' && input && typeof input === 'object' && typeof (input as { path?: unknown }).path === 'string' && !(input as { fingerprint?: unknown }).fingerprint) {
        const i = input as { path: string; source?: string };
        input = await ingestFileInput(i.path, i.source);
      }
      await withQueue(cli, async (q) => {
        let r: { id: string; duplicate: boolean };
        try {
          r = await enqueue(q, kind as never, input as never, { key: opts.key });
        } catch (e) {
          // Bad job data is a usage error (exit 2), said the same way as every other.
          if (e instanceof TrailbotError && e.code === 'E_INPUT_SHAPE') {
            cli.io.err(`trailbot: ${describeError(e)}\n`);
            cli.setExit(EXIT.usage);
            return;
          }
          throw e;
        }
        cli.io.out(`${r.id}: ${r.duplicate ? 'already queued or done (same key); not added again' : 'queued'}\n`);
        if (q.backend === 'inline') cli.io.out('(jobs are queued inline in the store: `trailbot serve` on this store works them)\n');
      }, { throughServe: true });
    });
}
