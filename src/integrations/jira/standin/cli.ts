// One-command launcher for the Jira Cloud stand-in:
//   node src/integrations/jira/standin/cli.ts [--port 2990] [--webhook-url http://127.0.0.1:3000/jira/webhook --webhook-secret …]
// Prints `export JIRA_…=…` lines to paste into another shell, then serves until Ctrl-C.
import { parseArgs } from 'node:util';
import { runStandinCli } from '../../standin-kit/cli.ts';
import { startJiraStandin } from './index.ts';
import type { JiraStandin, JiraStandinOptions } from './index.ts';
import { DEFAULT_CREDENTIALS, DEFAULT_PROJECTS } from './site.ts';

const HELP = `Usage: node src/integrations/jira/standin/cli.ts [options]

Starts a local stand-in for Jira Cloud's REST API v3 (issues, properties, comments, transitions,
links, JQL search) and prints the environment that points trailbot at it.

  --port <n>                 port to listen on (default 2990; 0 picks a free one)
  --host <addr>              address to bind (default 127.0.0.1)
  --email <e>                the API token's owner (default ${DEFAULT_CREDENTIALS.email})
  --api-token <t>            the API token (default ${DEFAULT_CREDENTIALS.apiToken})
  --project <KEY>            key of the seeded project (default ${DEFAULT_PROJECTS[0]!.key}; issue types Task, Bug)
  --index-delay <ms>         how long a write takes to reach JQL search (default 1000; 0 = at once)
  --priority-off-screen      the priority field is not on the project's screens (setting it is a 400)
  --indexed-properties <p>   which issue.property[key].path JQL sees: all (default), none, or a list
                             such as trailbot.findingId,trailbot.flow
  --webhook-url <url>        POST jira:issue_created / jira:issue_updated webhooks here (repeatable)
  --webhook-secret <s>       sign webhooks with X-Hub-Signature: sha256=<HMAC> (16+ characters)
  -h, --help                 this text

While it runs, /__standin/ (no auth) controls it:
  POST   /__standin/faults {"rateLimit":{"count":2,"retryAfterSeconds":3}} | {"serverError":{"status":503}} | {"latencyMs":50}
  DELETE /__standin/faults                  clear faults and latency
  POST   /__standin/issues/SEC-1/close      walk SEC-1 to Done as a person would (webhooks fire)
  POST   /__standin/reindex                 make every write searchable now
  GET    /__standin/issues | /__standin/requests
`;

export function parseCliArgs(argv: readonly string[]): JiraStandinOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string', default: '2990' },
      host: { type: 'string', default: '127.0.0.1' },
      email: { type: 'string', default: DEFAULT_CREDENTIALS.email },
      'api-token': { type: 'string', default: DEFAULT_CREDENTIALS.apiToken },
      project: { type: 'string', default: DEFAULT_PROJECTS[0]!.key },
      'index-delay': { type: 'string', default: '1000' },
      'priority-off-screen': { type: 'boolean', default: false },
      'indexed-properties': { type: 'string', default: 'all' },
      'webhook-url': { type: 'string', multiple: true, default: [] },
      'webhook-secret': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const fail = (msg: string): never => {
    throw new Error(`${msg}\n\n${HELP}`);
  };
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: not a port: ${values.port}`);
  const indexDelayMs = Number(values['index-delay']);
  if (!Number.isFinite(indexDelayMs) || indexDelayMs < 0) fail(`--index-delay: not a number of milliseconds >= 0: ${values['index-delay']}`);
  const key = values.project.toUpperCase();
  if (!/^[A-Z][A-Z0-9_]{1,9}$/.test(key)) fail(`--project: not a Jira project key (capital letters and digits, e.g. SEC): ${values.project}`);
  const secret = values['webhook-secret'];
  if (secret !== undefined && secret.length < 16) fail('--webhook-secret: use at least 16 characters (trailbot requires it of JIRA_WEBHOOK_SECRET)');
  if (secret !== undefined && values['webhook-url'].length === 0) fail('--webhook-secret needs --webhook-url');
  const ip = values['indexed-properties'];
  const indexedProperties =
    ip === 'all'
      ? 'all'
      : ip === 'none'
        ? []
        : ip.split(',').map((s) => {
            const dot = s.indexOf('.');
            if (dot <= 0 || dot === s.length - 1) return fail(`--indexed-properties: expected all, none or key.path[,key.path…], got ${s}`);
            return { propertyKey: s.slice(0, dot), path: s.slice(dot + 1) };
          });
  return {
    port,
    host: values.host,
    credentials: { email: values.email, apiToken: values['api-token'] },
    projects: [{ ...DEFAULT_PROJECTS[0]!, key }],
    project: key,
    indexDelayMs,
    priorityOnScreen: !values['priority-off-screen'],
    indexedProperties,
    webhooks: values['webhook-url'].map((url) => ({ url, ...(secret ? { secret } : {}) })),
  };
}

/** Starts the stand-in and prints the export lines; undefined after --help. */
export async function runCli(argv: readonly string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<JiraStandin | undefined> {
  const opts = parseCliArgs(argv);
  if (opts === 'help') {
    out(HELP);
    return undefined;
  }
  const s = await startJiraStandin(opts);
  out(`# trailbot Jira Cloud stand-in (REST v3) on ${s.url}`);
  const p = s.site.projects[0]!;
  out(`# project ${p.key} (${p.issueTypes.map((t) => t.name).join(', ')}); users: ${s.site.users.map((u) => u.email).join(', ')}`);
  out(`# JQL sees a write after ${s.indexDelayMs} ms; webhooks: ${s.webhooks.registrations.map((w) => w.url).join(', ') || 'none'}`);
  for (const [k, v] of Object.entries(s.env())) out(`export ${k}=${v}`);
  return s;
}

runStandinCli(import.meta.url, 'Jira stand-in', runCli);
