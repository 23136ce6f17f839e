// One-command launcher for the Slack stand-in:
//   node src/integrations/slack/standin/cli.ts [--port 3900] [--channel security] [--usergroup S0ANALYSTS=U0ANALYST,U0SAM]
// Prints `export SLACK_…=…` lines to paste into the shell that runs trailbot, then serves until Ctrl-C.
import { parseArgs } from 'node:util';
import { runStandinCli } from '../../standin-kit/cli.ts';
import { startSlackStandin } from './index.ts';
import type { SlackStandin, SlackStandinOptions } from './index.ts';
import { DEFAULT_SIGNING_SECRET, DEFAULT_TOKEN, MANIFEST_SCOPES, type ResponseUrl, type ShownMessage } from './service.ts';

const HELP = `Usage: node src/integrations/slack/standin/cli.ts [options]

Starts a local stand-in for Slack's Web API (auth.test, chat.postMessage, chat.update,
conversations.history, conversations.replies, usergroups.users.list, files uploads) and response_url
receivers, and prints the environment that points trailbot at it.

  --port <n>                  port to listen on (default 3900; 0 picks a free one)
  --host <addr>               address to bind (default 127.0.0.1)
  --token <xoxb-…>            the bot token trailbot must send (default ${DEFAULT_TOKEN})
  --signing-secret <s>        the app's signing secret (default ${DEFAULT_SIGNING_SECRET})
  --channel <name>            a channel the bot is in (repeatable; default security)
  --usergroup <S…=U…,U…>      a user group and its members (repeatable)
  --scopes <a,b,…>            the token's scopes (default ${MANIFEST_SCOPES.join(',')})
  -h, --help                  this text

While it runs (no auth on these):
  POST   /__standin/command {"target":"http://127.0.0.1:3000/slack/events","text":"alana@corp 7d","user_id":"U0ANALYST"}
                                          send a signed /trail as Slack would; answers trailbot's ack and the response_url id
  POST   /__standin/click {"target":"…/slack/events","on":"<response_url id>","action_id":"trail-more"}
                                          click a button on the newest message shown through that response_url
  POST   /__standin/click {"target":"…/slack/events","channel":"security","ts":"<ts>","action_id":"trail-run","user_id":"U0SAM"}
                                          click a button on a channel message (a finding's "Trail of …"), as user_id
  GET    /__standin/response-urls         what trailbot posted to each response_url
  GET    /__standin/channels              channels with their messages and threads
  GET    /__standin/requests              every Web API call
  POST   /__standin/faults {"rateLimit":{"count":2,"retryAfterSeconds":3,"method":"chat.postMessage"}} | {"serverError":{"status":503}} | {"latencyMs":50}
  DELETE /__standin/faults
  PUT    /__standin/usergroups/S0ANALYSTS ["U0ANALYST","U0SAM"]
`;

export function parseCliArgs(argv: readonly string[]): SlackStandinOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string', default: '3900' },
      host: { type: 'string', default: '127.0.0.1' },
      token: { type: 'string', default: DEFAULT_TOKEN },
      'signing-secret': { type: 'string', default: DEFAULT_SIGNING_SECRET },
      channel: { type: 'string', multiple: true, default: [] },
      usergroup: { type: 'string', multiple: true, default: [] },
      scopes: { type: 'string' },
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
  if (!/^xox[bp]-/.test(values.token)) fail('--token: a bot token starts xoxb- (trailbot checks SLACK_BOT_TOKEN for it)');
  if (values['signing-secret'].length < 16) fail('--signing-secret: use at least 16 characters');
  const usergroups: Record<string, string[]> = {};
  for (const g of values.usergroup) {
    const m = /^(S[A-Z0-9]+)=([A-Z0-9,]*)$/.exec(g);
    if (!m) fail(`--usergroup: expected S…=U…,U…, got ${g}`);
    usergroups[m![1]!] = m![2]!.split(',').filter(Boolean);
  }
  const names = values.channel.length ? values.channel : ['security'];
  return {
    port,
    host: values.host,
    token: values.token,
    signingSecret: values['signing-secret'],
    channels: names.map((name, i) => ({ name: name.replace(/^#/, ''), ...(i === 0 && name.replace(/^#/, '') === 'security' ? { id: 'C0SECURITY' } : {}) })),
    usergroups,
    ...(values.scopes ? { scopes: values.scopes.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
  };
}

/** Adds the control routes that send to trailbot (they need the conversation, so they live here). */
function addSendRoutes(s: SlackStandin): void {
  s.app.post('/__standin/command', async (c) => {
    const b = (await c.req.json().catch(() => ({}))) as Record<string, string>;
    if (!b.target) return c.json({ error: 'send {"target": "<trailbot>/slack/events", "text": "…"}' }, 400);
    const { target, ...fields } = b;
    const r = await s.sendCommand(target, fields);
    return c.json({ status: r.status, ms: Math.round(r.ms), answer: r.json ?? r.text, responseUrl: r.responseUrl.id });
  });
  s.app.post('/__standin/click', async (c) => {
    const b = (await c.req.json().catch(() => ({}))) as { target?: string; on?: string; channel?: string; ts?: string; action_id?: string; value?: string; user_id?: string };
    const usage = 'send {"target": "<trailbot>/slack/events", "on": "<response_url id>", "action_id": "…"} (a button trailbot answered with), or {"target": …, "channel": "security", "ts": "<message ts>", "action_id": "trail-run"} (a button on a channel message); "user_id" clicks as someone else';
    if (!b.target || !b.action_id || (!b.on && !(b.channel && b.ts))) return c.json({ error: usage }, 400);
    let where: { on: ResponseUrl } | { message: ShownMessage; channel_id: string };
    if (b.on) {
      const on = s.responseUrls().find((r) => r.id === b.on);
      if (!on) return c.json({ error: `no response_url ${b.on} (GET /__standin/response-urls lists them)` }, 400);
      where = { on };
    } else {
      const ch = s.channels.get(b.channel!);
      const m = ch && [...ch.messages, ...ch.messages.flatMap((x) => ch.thread(x.ts))].find((x) => x.ts === b.ts);
      if (!ch || !m) return c.json({ error: `no message ${b.ts} in #${ch?.name ?? b.channel!.replace(/^#/, '')} (GET /__standin/channels lists them)` }, 400);
      where = { message: { text: m.text, ...(m.blocks ? { blocks: m.blocks } : {}), responseType: 'in_channel', replaced: 0 }, channel_id: ch.id };
    }
    try {
      const r = await s.clickButton(b.target, { action_id: b.action_id, ...where, ...(b.value ? { value: b.value } : {}), ...(b.user_id ? { user_id: b.user_id } : {}) });
      return c.json({ status: r.status, ms: Math.round(r.ms), answer: r.json ?? r.text, responseUrl: r.responseUrl.id });
    } catch (e) {
      return c.json({ error: e instanceof Error ? e.message : String(e) }, 400);
    }
  });
}

/** Starts the stand-in and prints the export lines; undefined after --help. */
export async function runCli(argv: readonly string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<SlackStandin | undefined> {
  const opts = parseCliArgs(argv);
  if (opts === 'help') {
    out(HELP);
    return undefined;
  }
  const s = await startSlackStandin(opts);
  addSendRoutes(s);
  out(`# trailbot Slack stand-in (Web API and response_url) on ${s.url}`);
  out(`# team ${s.team.id} (${s.team.domain}); channels: ${s.channels.all().map((c) => `#${c.name} ${c.id}`).join(', ')}; scopes: ${[...s.scopes].join(',')}`);
  for (const [k, v] of Object.entries(s.env())) out(`export ${k}=${v}`);
  return s;
}

runStandinCli(import.meta.url, 'Slack stand-in', runCli);
