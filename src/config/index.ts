import { resolve } from 'node:path';
import type { z } from 'zod';
import { TrailbotError } from '../errors.ts';
import { durationMs } from '../time.ts';
import { describeRoutingIssues, type Routing, routingSchema } from '../actions/jira/routing.ts';
import { describeFlowsConfigIssues, flowsConfigSchema } from '../flows/config.ts';
import { type ApprovalSettings, approvalSettings } from '../actions/approvals/rules.ts';
import { checkSources } from '../sources/config.ts';
import { AWS_ENDPOINT, EXAMPLES, envSchema, type EnvSettings, type LOG_LEVELS, type QueueBackendName, TOGETHER } from './env.ts';
import { FILE_EXAMPLE, type FileSettings, fileSchema, loadFile } from './file.ts';
import { DEFAULT_RETENTION, type RetentionSettings } from '../store/retention.ts';
import { compileFlows } from '../flows/compile.ts';
import { parseFlowsConfig } from '../flows/config.ts';
import { DEFAULT_PERIOD } from '../reports/index.ts';

export type { ReportSettings, SourceSettings } from './file.ts';
export { envSchema, QUEUE_BACKENDS, SECRET_ENV } from './env.ts';
export type { QueueBackendName } from './env.ts';

/**
 * The one place that reads the environment. Everything else receives a typed `Config`.
 * `readConfig(env)` takes the environment as an argument so tests pass their own.
 */
export interface Config {
  /** PostgreSQL for the store; undefined means the embedded store in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  logLevel: (typeof LOG_LEVELS)[number];
  /** The trailbot.config.yaml that was read, if any. */
  configFile: string | undefined;
  port: number;
  /** Where the server listens (HOST): 127.0.0.1 unless told; anything beyond this machine needs API authentication. */
  host: string;
  /** Who may call /api: bearer tokens (TRAILBOT_API_TOKENS); none means this machine only. */
  api: { tokens: string[] };
  /** Where people reach trailbot (links in Slack and Jira point here). */
  publicUrl: string;
  redisUrl: string | undefined;
  queue: {
    /** redis when REDIS_URL is set, else inline, unless TRAILBOT_QUEUE says otherwise. */
    backend: QueueBackendName;
    name: string;
    concurrency: number;
    /**
     * The CPU priority (nice, 0–19) a `--role worker` process lowers itself to (TRAILBOT_WORKER_NICE,
     * default 10): on a host it shares with the web role, ingest and flows then take the CPU the web
     * role leaves, and Slack's 3-second acks and the API stay quick however much is being ingested.
     */
    nice?: number;
    /** How long a job stays with a worker that stopped renewing it (TRAILBOT_JOB_LOCK, default 30 s): a dead worker's jobs are taken again after about this. */
    lockMs?: number;
  };
  aws: {
    /** AWS_ENDPOINT_URL (key `default`) and AWS_ENDPOINT_URL_<SERVICE> (key `s3`, `sqs`, ...), for stand-ins. */
    endpoints: Record<string, string>;
  };
  /** The Jira API (workers file and update tickets). */
  jira: { baseUrl: string; email: string; apiToken: string; project: string } | undefined;
  /** Checks Jira's webhooks (web); set apart from the API settings so each role gets only its own secrets. */
  jiraWebhookSecret: string | undefined;
  /** Slack: the signing secret checks Slack's requests (web), the bot token posts (workers); either may be set alone. */
  slack: { signingSecret: string | undefined; botToken: string | undefined; apiUrl: string } | undefined;
  approvalSecret: string | undefined;
  oidc: { issuer: string; clientId: string; clientSecret: string } | undefined;
  flows: FileSettings['flows'];
  /** Which findings become tickets (and, later, Slack messages), validated by routingSchema. */
  routing: Routing | undefined;
  accounts: NonNullable<FileSettings['accounts']>;
  sources: NonNullable<FileSettings['sources']>;
  reports: NonNullable<FileSettings['reports']>;
  /** Who may use Slack's `/trail` (slack.trail.allow); undefined: nobody. */
  slackTrail: { allow: { users: string[]; usergroups: string[]; channels: string[] } | undefined };
  /** Who may approve deactivations and how (approvals: in trailbot.config.yaml); none listed: nobody may. */
  approvals: ApprovalSettings;
  /** How long the store keeps what, in ms (store: in trailbot.config.yaml); null: forever. */
  retention: RetentionSettings;
}

interface Problem {
  key: string;
  message: string;
  example?: string;
}

function envProblems(issues: z.core.$ZodIssue[]): Problem[] {
  return issues.map((i) => {
    const key = String(i.path[0] ?? '?');
    const message = i.message.startsWith('Invalid input') ? `expected ${EXAMPLES[key] ? 'a value like the example' : 'a valid value'}` : i.message;
    return { key, message, example: EXAMPLES[key] ? `${key}=${EXAMPLES[key]}` : undefined };
  });
}

function fileProblems(issues: z.core.$ZodIssue[], file: string): Problem[] {
  const out: Problem[] = [];
  for (const i of issues) {
    const at = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) {
        out.push(
          at
            ? { key: `${file} ${at}.${k}`, message: `unknown setting under ${at}; check its spelling and where it sits` }
            : { key: `${file} ${k}`, message: 'unknown section; expected flows, routing, accounts, sources, reports, slack, approvals or store', example: FILE_EXAMPLE },
        );
      }
    } else {
      out.push({ key: `${file} ${at || '(top level)'}`, message: i.message.startsWith('Invalid input') ? `${i.message.replace(/^Invalid input: /, '')}` : i.message });
    }
  }
  return out;
}

function fromEnv(env: NodeJS.ProcessEnv, e: EnvSettings, problems: Problem[]): void {
  for (const g of TOGETHER) {
    const given = g.keys.filter((k) => e[k] !== undefined);
    if (given.length > 0 && given.length < g.keys.length) {
      for (const k of g.keys.filter((k) => e[k] === undefined)) {
        problems.push({ key: k, message: `${g.what} needs ${g.keys.join(', ')} together; ${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} set but this is not`, example: `${k}=${EXAMPLES[k]}` });
      }
    }
  }
  const backend = e.TRAILBOT_QUEUE;
  if (backend === 'redis' && !e.REDIS_URL) problems.push({ key: 'REDIS_URL', message: 'TRAILBOT_QUEUE=redis needs REDIS_URL', example: `REDIS_URL=${EXAMPLES.REDIS_URL}` });
  if (backend === 'postgres' && !e.DATABASE_URL) problems.push({ key: 'DATABASE_URL', message: 'TRAILBOT_QUEUE=postgres keeps the queue in PostgreSQL and needs DATABASE_URL', example: `DATABASE_URL=${EXAMPLES.DATABASE_URL}` });
  for (const [k, v] of Object.entries(env)) {
    if (!AWS_ENDPOINT.test(k) || v === undefined || v.trim() === '') continue;
    try {
      if (!/^https?:$/.test(new URL(v).protocol)) throw new Error('not http');
    } catch {
      problems.push({ key: k, message: 'expected an http(s) URL of an AWS endpoint or stand-in', example: `${k}=${EXAMPLES.AWS_ENDPOINT_URL_S3}` });
    }
  }
}

function awsEndpoints(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    const m = AWS_ENDPOINT.exec(k);
    if (!m || v === undefined || v.trim() === '') continue;
    out[m[1] ? m[1].slice(1).toLowerCase() : 'default'] = v.trim();
  }
  return out;
}

function configError(problems: Problem[]): TrailbotError {
  const lines = problems.map((p) => `  ${p.key}: ${p.message}${p.example ? `\n      example: ${p.example.replace(/\n/g, '\n               ')}` : ''}`);
  return new TrailbotError('E_CONFIG_INVALID', `${problems.length === 1 ? '1 setting is' : `${problems.length} settings are`} wrong:\n${lines.join('\n')}`, {
    hint: 'fix these and start again (`trailbot config check` checks without starting)',
  });
}

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`: addresses only this machine reaches. */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^\[|\]$/g, '');
  return a === 'localhost' || a === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/** Whether /api asks who is calling: bearer tokens, or OIDC sign-in once it exists. */
export function apiAuthConfigured(c: Pick<Config, 'api' | 'oidc'>): boolean {
  return c.api.tokens.length > 0 || c.oidc !== undefined;
}

/**
 * A server that serves the API (role web or all) listens beyond this machine only with API
 * authentication configured. Workers serve no API, only the probes and metrics.
 */
export function checkExposure(c: Pick<Config, 'host' | 'api' | 'oidc'>, role: 'web' | 'worker' | 'all'): void {
  if (role === 'worker' || isLoopback(c.host) || apiAuthConfigured(c)) return;
  throw configError([
    {
      key: 'HOST',
      message: `HOST=${c.host} listens beyond this machine, but the API has no authentication: set TRAILBOT_API_TOKENS (or OIDC sign-in: OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET), or leave HOST unset to listen on 127.0.0.1 only`,
      example: 'TRAILBOT_API_TOKENS=$(openssl rand -hex 32)',
    },
  ]);
}

export interface ReadConfigOptions {
  /** Where a relative TRAILBOT_CONFIG, TRAILBOT_DATA_DIR and ./trailbot.config.yaml are found. */
  cwd?: string;
}

/**
 * Validates the environment and trailbot.config.yaml together. A bad setting stops start-up with
 * ONE error listing every wrong key, what it expects and an example.
 */
export function readConfig(env: NodeJS.ProcessEnv = process.env, opts: ReadConfigOptions = {}): Config {
  const cwd = opts.cwd ?? process.cwd();
  const problems: Problem[] = [];
  // Each setting on its own, so one bad value does not hide the checks that depend on the others.
  const e: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(envSchema.shape)) {
    const r = (schema as z.ZodType).safeParse(env[key]);
    if (r.success) e[key] = r.data;
    else problems.push(...envProblems(r.error.issues.map((i) => ({ ...i, path: [key, ...i.path] }))));
  }
  fromEnv(env, e as EnvSettings, problems);
  const s = e as EnvSettings;

  const file = loadFile(s.TRAILBOT_CONFIG, cwd);
  let f: FileSettings = {};
  let routing: Routing | undefined;
  if (file.error) problems.push({ key: 'TRAILBOT_CONFIG', message: file.error, example: `TRAILBOT_CONFIG=${EXAMPLES.TRAILBOT_CONFIG}` });
  else if (file.path) {
    const fp = fileSchema.safeParse(file.data);
    if (fp.success) f = fp.data;
    else problems.push(...fileProblems(fp.error.issues, file.path));
    // The flows section is checked against the flows engine's own schema, in the same one message.
    const flowsSection = (file.data as { flows?: unknown } | null)?.flows;
    if (flowsSection !== undefined && flowsSection !== null && typeof flowsSection === 'object') {
      const r = flowsConfigSchema.safeParse(flowsSection);
      if (!r.success) {
        for (const line of describeFlowsConfigIssues(r.error)) {
          const at = line.indexOf(': ');
          problems.push({ key: `${file.path} ${line.slice(0, at)}`, message: line.slice(at + 2) });
        }
      }
    }
    // The routing section is checked against the ticket work's own schema, in the same one message.
    const routingSection = (file.data as { routing?: unknown } | null)?.routing;
    if (routingSection !== undefined && routingSection !== null && typeof routingSection === 'object' && !Array.isArray(routingSection)) {
      const r = routingSchema.safeParse(routingSection);
      if (r.success) routing = r.data;
      else {
        for (const line of describeRoutingIssues(r.error)) {
          const at = line.indexOf(': ');
          problems.push({ key: `${file.path} ${line.slice(0, at)}`, message: line.slice(at + 2) });
        }
      }
    }
  }

  // The sources section is checked against the sources' own schema, in the same one message.
  if (f.sources?.length) {
    for (const line of checkSources({ sources: f.sources, accounts: f.accounts ?? [], configFile: file.path }).problems) {
      const at = line.indexOf(': ');
      problems.push({ key: `${file.path ?? 'trailbot.config.yaml'} ${line.slice(0, at)}`, message: line.slice(at + 2) });
    }
  }

  if (problems.length === 0) problems.push(...retentionProblems(f, file.path ?? 'trailbot.config.yaml'));

  if (problems.length > 0) throw configError(problems);

  const port = s.PORT ?? 3000;
  return {
    databaseUrl: s.DATABASE_URL,
    dataDir: resolve(cwd, s.TRAILBOT_DATA_DIR ?? './.trailbot'),
    logLevel: s.LOG_LEVEL ?? 'info',
    configFile: file.path,
    port,
    host: s.HOST ?? '127.0.0.1',
    api: { tokens: s.TRAILBOT_API_TOKENS ?? [] },
    publicUrl: (s.PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    redisUrl: s.REDIS_URL,
    queue: {
      backend: s.TRAILBOT_QUEUE ?? (s.REDIS_URL ? 'redis' : 'inline'),
      name: s.TRAILBOT_QUEUE_NAME ?? 'trailbot',
      concurrency: s.TRAILBOT_WORKER_CONCURRENCY ?? 4,
      nice: s.TRAILBOT_WORKER_NICE ?? 10,
      lockMs: s.TRAILBOT_JOB_LOCK ? durationMs(s.TRAILBOT_JOB_LOCK)! : 30_000,
    },
    aws: { endpoints: awsEndpoints(env) },
    jira: s.JIRA_BASE_URL ? { baseUrl: s.JIRA_BASE_URL.replace(/\/+$/, ''), email: s.JIRA_EMAIL!, apiToken: s.JIRA_API_TOKEN!, project: s.JIRA_PROJECT! } : undefined,
    jiraWebhookSecret: s.JIRA_WEBHOOK_SECRET,
    slack:
      s.SLACK_BOT_TOKEN || s.SLACK_SIGNING_SECRET
        ? { signingSecret: s.SLACK_SIGNING_SECRET, botToken: s.SLACK_BOT_TOKEN, apiUrl: (s.SLACK_API_URL ?? 'https://slack.com/api').replace(/\/+$/, '') }
        : undefined,
    approvalSecret: s.APPROVAL_SECRET,
    oidc: s.OIDC_ISSUER ? { issuer: s.OIDC_ISSUER, clientId: s.OIDC_CLIENT_ID!, clientSecret: s.OIDC_CLIENT_SECRET! } : undefined,
    flows: f.flows,
    routing,
    accounts: f.accounts ?? [],
    sources: f.sources ?? [],
    reports: f.reports ?? [],
    slackTrail: { allow: f.slack?.trail?.allow },
    approvals: approvalSettings(f.approvals),
    retention: retentionSettings(f.store),
  };
}

/** Paths in `Config` that hold secrets (masked by `maskConfig`, redacted from logs). */
export const SECRET_PATHS = ['api.tokens', 'jira.apiToken', 'jiraWebhookSecret', 'slack.signingSecret', 'slack.botToken', 'approvalSecret', 'oidc.clientSecret'] as const;

/** A URL with its password replaced by ***. */
export function maskUrl(u: string | undefined): string | undefined {
  if (!u) return u;
  try {
    const url = new URL(u);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '***';
  }
}

/** The effective configuration with every secret masked, for `trailbot config print`. */
export function maskConfig(c: Config): Record<string, unknown> {
  const out = structuredClone(c) as unknown as Record<string, unknown>;
  for (const path of SECRET_PATHS) {
    const parts = path.split('.');
    let o = out as Record<string, unknown> | undefined;
    for (const p of parts.slice(0, -1)) o = o?.[p] as Record<string, unknown> | undefined;
    const last = parts.at(-1)!;
    const v = o?.[last];
    if (o && v !== undefined && !(Array.isArray(v) && v.length === 0)) o[last] = Array.isArray(v) ? `*** (${v.length} set)` : '*** (set)';
  }
  out.databaseUrl = maskUrl(c.databaseUrl);
  out.redisUrl = maskUrl(c.redisUrl);
  return out;
}

const DAY_MS = 86_400_000;
const days = (ms: number): string => `${Math.ceil(ms / DAY_MS)}d`;

/**
 * The retentions against what reads the rows they delete: a threshold flow counts its hits over its
 * window (flow_hits), a finding is rendered from its first and last events while it takes more
 * (its dedup period), the denied and ClickOps reports compare their period with the one before it, and
 * (the inactive identities report reads principals, which are kept). A retention shorter than any of these would
 * quietly undercount or leave findings and reports half empty: refused here, naming both settings.
 */
function retentionProblems(f: FileSettings, file: string): Problem[] {
  const r = retentionSettings(f.store);
  const out: Problem[] = [];
  const flows = compileFlows(parseFlowsConfig(f.flows ?? {})).enabled;
  const widest = (pick: (x: (typeof flows)[number]) => number) => flows.reduce<(typeof flows)[number] | undefined>((a, x) => (a === undefined || pick(x) > pick(a) ? x : a), undefined);
  const window = widest((x) => (x.kind === 'threshold' ? x.windowMs : 0));
  if (r.flowHits !== null && window && window.windowMs > r.flowHits) {
    out.push({
      key: `${file} store.flowHitsRetention`,
      message: `${days(r.flowHits)} is shorter than flow ${window.id}'s window (${days(window.windowMs)}, flows.${window.id}.params.window): its hits would be deleted before the window is over and the flow would undercount; set store.flowHitsRetention to ${days(window.windowMs)} or more`,
    });
  }
  const dedup = widest((x) => x.dedupMs);
  if (dedup && dedup.dedupMs > r.events) {
    out.push({
      key: `${file} store.retention`,
      message: `${days(r.events)} is shorter than flow ${dedup.id}'s dedup period (${days(dedup.dedupMs)}, flows.${dedup.id}.dedupPeriod): a finding still taking events would lose its first ones; set store.retention to ${days(dedup.dedupMs)} or more, or shorten the dedup period`,
    });
  }
  for (const rep of f.reports ?? []) {
    const period = durationMs(rep.period ?? DEFAULT_PERIOD[rep.kind])!;
    // The inactive-identities report reads principals' last seen, which retention never deletes.
    if (rep.kind === 'inactive') continue;
    const needs = 2 * period;
    if (needs > r.events) {
      out.push({
        key: `${file} store.retention`,
        message: `${days(r.events)} is shorter than report ${rep.id} needs (${days(needs)}: its period of ${days(period)} and the one before it, which it compares with); set store.retention to ${days(needs)} or more, or shorten reports[${rep.id}].period`,
      });
    }
  }
  return out;
}

/** store: in trailbot.config.yaml, as ms (null: forever); the defaults without the section. */
function retentionSettings(s: FileSettings['store']): RetentionSettings {
  if (!s) return DEFAULT_RETENTION;
  const ms = (v: string): number | null => (v === 'forever' ? null : durationMs(v)!);
  return { events: durationMs(s.retention)!, flowHits: ms(s.flowHitsRetention), rejects: ms(s.rejectsRetention), reports: ms(s.reportsRetention) };
}
