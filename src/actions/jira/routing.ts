import { z } from 'zod';
import { TrailbotError } from '../../errors.ts';
import { closest } from '../../flows/config.ts';
import { type Severity, SEVERITIES } from '../../flows/define.ts';
import { FLOWS } from '../../flows/registry.ts';
import { NOTIFY_WINDOW_MS } from '../../runtime/jobs.ts';
import { durationMs, parseDuration } from '../../time.ts';
import { slackChannel } from '../slack/channel.ts';

/**
 * The `routing:` section of trailbot.config.yaml: which findings become Jira tickets, where and how
 * (and, with issue 10, which Slack channel they go to). Pure: no I/O, no environment.
 *
 * ```yaml
 * routing:
 *   jira:                      # defaults for every finding
 *     minSeverity: medium      # info|low|medium|high|critical; below it, no ticket
 *     project: SEC             # default: JIRA_PROJECT
 *     issueType: Task
 *     priorities: { critical: Highest, high: High, medium: Medium, low: Low, info: Lowest }
 *     assignee: 5b10ac8d82e05b22cc7d4ef5   # an Atlassian account id
 *     components: [CloudTrail]
 *     labels: [aws]
 *     onClosed: new-linked     # or reopen
 *     commentEvery: 1m         # more events: at most one comment per finding per this long
 *   slack:                     # findings posted to Slack (src/actions/slack/routing.ts); none without a channel
 *     channel: "#security"     # or a channel id, C0123ABCD
 *     minSeverity: low         # below it, no message (default low)
 *     replyEvery: 1m           # more events: at most one thread reply per finding per this long
 *   rules:                     # first match wins; a rule's jira/slack keys replace the defaults
 *     - match: { flow: [root-activity], account: ["111122223333"], severity: [high, critical] }
 *       jira: { project: OPS, issueType: Bug }
 *     - match: { flow: new-service }
 *       jira: false            # never a ticket for these
 *       slack: { channel: "#aws-noise", minSeverity: info }   # or false: never a message
 * ```
 */

export const ON_CLOSED = ['new-linked', 'reopen'] as const;
export type OnClosed = (typeof ON_CLOSED)[number];

const FLOW_IDS = FLOWS.map((f) => f.id);
const sevList = SEVERITIES.join(', ');

/** One value or a list of them (`flow: root-activity` reads as well as `flow: [root-activity]`). */
function oneOrMany<T extends z.ZodType>(item: T, what: string) {
  return z.union([item, z.array(item).min(1, 'an empty list matches nothing; list at least one or leave the key out')], {
    error: (i) => (i.input === null || i.input === undefined ? `expected ${what} or a list of them` : undefined),
  });
}

const severity = z.enum(SEVERITIES as [Severity, ...Severity[]], { error: (i) => `${JSON.stringify(i.input)} is not a severity; expected one of ${sevList}` });

const flowId = z.string({ error: 'expected a flow id, e.g. root-activity' }).superRefine((id, ctx) => {
  if (FLOW_IDS.includes(id)) return;
  const near = closest(id, FLOW_IDS);
  ctx.addIssue({ code: 'custom', message: `unknown flow ${JSON.stringify(id)}${near ? ` — did you mean ${near}?` : ''} (\`trailbot flows list\` shows the flow ids)` });
});

const accountId = z.unknown().superRefine((v, ctx) => {
  if (typeof v === 'string' && /^\d{12}$/.test(v)) return;
  if (typeof v === 'number') {
    ctx.addIssue({ code: 'custom', message: `put the account id in quotes ("${String(v).padStart(12, '0')}"): unquoted, YAML reads it as a number and drops leading zeros` });
  } else ctx.addIssue({ code: 'custom', message: `${JSON.stringify(v)} is not an AWS account id; expected 12 digits in quotes, e.g. "111122223333"` });
}) as unknown as z.ZodType<string>;

const project = z
  .string({ error: 'expected a Jira project key, e.g. SEC' })
  .regex(/^[A-Z][A-Z0-9_]{1,9}$/, 'expected a Jira project key: 2 to 10 capital letters, digits or _, starting with a letter, e.g. SEC');
const name = (what: string, example: string) => z.string({ error: `expected ${what}, e.g. ${example}` }).trim().min(1, `expected ${what}, e.g. ${example}`).max(255, `${what} is at most 255 characters`);
const label = z
  .string({ error: 'expected a label, e.g. aws' })
  .min(1, 'an empty label; expected a word such as aws')
  .max(255, 'a Jira label is at most 255 characters')
  .regex(/^\S*$/, 'Jira labels cannot contain spaces; use - or _ instead, e.g. prod-account');
const assignee = z
  .string({ error: 'expected an Atlassian account id' })
  .superRefine((s, ctx) => {
    if (/^[A-Za-z0-9:_-]{1,128}$/.test(s)) return;
    const email = s.includes('@');
    ctx.addIssue({
      code: 'custom',
      message: `${email ? 'Jira Cloud assigns by account id, not e-mail' : `${JSON.stringify(s)} is not an Atlassian account id`}; expected the id from the person's Jira profile URL, e.g. 5b10ac8d82e05b22cc7d4ef5`,
    });
  });
const priorities = z.partialRecord(severity, name('a Jira priority name', 'High'), { error: `expected a mapping of severity to a Jira priority name, e.g. { critical: Highest, high: High }` });

/** What a rule may change (everything but onClosed and commentEvery, each one setting for every ticket). */
const jiraRoute = {
  minSeverity: severity.optional(),
  project: project.optional(),
  issueType: name('a Jira issue type', 'Task').optional(),
  priorities: priorities.optional(),
  assignee: assignee.optional(),
  components: z.array(name('a component name', 'CloudTrail'), { error: 'expected a list of component names, e.g. [CloudTrail]' }).optional(),
  labels: z.array(label, { error: 'expected a list of labels, e.g. [aws]' }).optional(),
};
/** The coalescing window of comments (default 1m): a finding's events within one window make one comment. */
const commentEvery = z.string({ error: 'expected a duration, e.g. 1m' }).superRefine((s, ctx) => {
  try {
    parseDuration(s, { name: 'commentEvery', min: 1000, max: 86_400_000 });
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `${(e as TrailbotError).message}${(e as TrailbotError).hint ? ` (${(e as TrailbotError).hint})` : ''}` });
  }
});
const jiraDefaults = z.strictObject(
  { ...jiraRoute, onClosed: z.enum(ON_CLOSED, { error: `expected ${ON_CLOSED.join(' or ')}` }).optional(), commentEvery: commentEvery.optional() },
  { error: 'expected the Jira settings every ticket starts from, e.g. { minSeverity: high }' },
);
const jiraRule = z.union([z.literal(false), z.strictObject(jiraRoute)], { error: 'expected Jira settings for these findings, e.g. { project: OPS }, or false for no ticket' });

/**
 * Slack (issue 10, src/actions/slack/routing.ts): the channel (a name `"#security"` or an id
 * `C0123ABCD`) and the lowest severity posted; a rule's keys replace the defaults'. `replyEvery` (how
 * often a finding's thread may get a reply) is one setting for every message, like commentEvery.
 */
const slackRoute = { channel: slackChannel.optional(), minSeverity: severity.optional() };
const replyEvery = z.string({ error: 'expected a duration, e.g. 1m' }).superRefine((s, ctx) => {
  try {
    parseDuration(s, { name: 'replyEvery', min: 1000, max: 86_400_000 });
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `${(e as TrailbotError).message}${(e as TrailbotError).hint ? ` (${(e as TrailbotError).hint})` : ''}` });
  }
});
const slack = z.strictObject({ ...slackRoute, replyEvery: replyEvery.optional() }, { error: 'expected Slack settings, e.g. { channel: "#security" }' });
const slackRule = z.strictObject(slackRoute, { error: 'expected Slack settings, e.g. { channel: "#security" }, or false for no message' });

const match = z
  .strictObject(
    {
      flow: oneOrMany(flowId, 'a flow id').optional(),
      account: oneOrMany(accountId, 'an account id').optional(),
      severity: oneOrMany(severity, 'a severity').optional(),
    },
    { error: (i) => `${i.input === undefined ? 'a rule needs match:' : 'expected conditions'}, e.g. { flow: [root-activity], severity: [high, critical] }` },
  )
  .refine((m) => m.flow !== undefined || m.account !== undefined || m.severity !== undefined, 'a rule without conditions matches every finding; give flow, account or severity, or put its settings under routing.jira');

const rule = z.strictObject(
  {
    match,
    jira: jiraRule.optional(),
    slack: z.union([z.literal(false), slackRule], { error: 'expected Slack settings, e.g. { channel: "#security" }, or false for no message' }).optional(),
  },
  { error: 'expected a rule: { match: {...}, jira: {...} }' },
);

export const routingSchema = z.strictObject(
  {
    jira: jiraDefaults.optional(),
    slack: slack.optional(),
    rules: z.array(rule, { error: 'expected a list of rules, each - match: {...}' }).optional(),
  },
  { error: 'expected a mapping, e.g. routing: { jira: { minSeverity: high } }' },
);

export type Routing = z.output<typeof routingSchema>;
export type RoutingRule = NonNullable<Routing['rules']>[number];

/** Where a finding's ticket goes; `labels` always hold `trailbot` and the flow id first. */
export interface TicketRoute {
  project: string;
  issueType: string;
  labels: string[];
  priority?: string;
  assignee?: string;
  components?: string[];
}

const KNOWN: Record<string, string[]> = {
  routing: ['jira', 'slack', 'rules'],
  jira: Object.keys(jiraDefaults.shape),
  ruleJira: Object.keys(jiraRoute),
  rule: ['match', 'jira', 'slack'],
  match: ['flow', 'account', 'severity'],
  slack: Object.keys(slack.shape),
  ruleSlack: Object.keys(slackRoute),
  priorities: [...SEVERITIES],
};

function knownAt(path: readonly PropertyKey[]): string[] {
  const p = path.map(String);
  const last = p.at(-1);
  if (p.length === 0) return KNOWN.routing!;
  if (p[0] === 'rules' && p.length === 2) return KNOWN.rule!;
  if (last === 'jira') return p[0] === 'rules' ? KNOWN.ruleJira! : KNOWN.jira!;
  if (last === 'slack') return p[0] === 'rules' ? KNOWN.ruleSlack! : KNOWN.slack!;
  return KNOWN[last ?? ''] ?? [];
}

/** `rules[0].match.flow[1]` */
function pathText(prefix: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>((s, p) => (typeof p === 'number' ? `${s}[${p}]` : `${s}.${String(p)}`), prefix);
}

/**
 * One line per problem, `routing.rules[0].jira.project: expected …`. A value that is neither one item
 * nor a list reports the item's problem, not zod's "no union member matched".
 */
export function describeRoutingIssues(error: z.ZodError, prefix = 'routing'): string[] {
  const lines: string[] = [];
  const add = (i: z.core.$ZodIssue, base: readonly PropertyKey[]) => {
    const path = [...base, ...i.path];
    if (i.code === 'unrecognized_keys') {
      const known = knownAt(path);
      for (const k of i.keys) {
        const near = closest(k, known);
        lines.push(`${pathText(prefix, [...path, k])}: unknown key${near ? ` — did you mean ${near}?` : ''}${known.length ? ` (known: ${known.join(', ')})` : ''}`);
      }
    } else if (i.code === 'invalid_union' && i.errors.length > 0 && !i.message.startsWith('expected')) {
      // The first branch's problems (one item) unless the value is a list, then the list's.
      const branch = i.errors.find((b) => b.some((x) => x.path.length > 0)) ?? i.errors[0]!;
      for (const x of branch) add(x, path);
    } else lines.push(`${pathText(prefix, path)}: ${i.message.replace(/^Invalid input: /, '')}`);
  };
  for (const i of error.issues) add(i, []);
  return [...new Set(lines)];
}

/** The problems with a `routing:` section, one line each (empty when it is fine). */
export function routingProblems(raw: unknown): string[] {
  const r = routingSchema.safeParse(raw);
  return r.success ? [] : describeRoutingIssues(r.error);
}

/** Validates a `routing:` section (undefined/null = none). Throws E_CONFIG_INVALID naming every wrong key. */
export function parseRouting(raw: unknown): Routing | undefined {
  if (raw === undefined || raw === null) return undefined;
  const r = routingSchema.safeParse(raw);
  if (r.success) return r.data;
  throw new TrailbotError('E_CONFIG_INVALID', `invalid routing settings:\n  ${describeRoutingIssues(r.error).join('\n  ')}`, {
    hint: 'fix these keys under `routing:` in trailbot.config.yaml (the README\'s "Jira tickets" section lists them)',
  });
}

const list = <T>(v: T | T[] | undefined): T[] | undefined => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);

export interface RoutedFinding {
  flow: string;
  severity: Severity;
  /** The account of the finding's first event; a rule naming accounts never matches null. */
  account?: string | null;
}

/** The first rule whose every condition holds (a list holds when any of its values does). */
export function matchingRule(f: RoutedFinding, routing: Routing | undefined): RoutingRule | undefined {
  return routing?.rules?.find(({ match: m }) => {
    const flows = list(m.flow);
    const accounts = list(m.account);
    const severities = list(m.severity);
    if (flows && !flows.includes(f.flow)) return false;
    if (accounts && (!f.account || !accounts.includes(f.account))) return false;
    if (severities && !severities.includes(f.severity)) return false;
    return true;
  });
}

export const DEFAULT_MIN_SEVERITY: Severity = 'medium';
export const DEFAULT_ISSUE_TYPE = 'Task';

/**
 * Where the finding's ticket goes, or null when it gets none: a matching rule says `jira: false`, or
 * the finding is below the minimum severity (default medium). A rule's keys replace the defaults'
 * (its `labels` replace the default extra labels; `trailbot` and the flow id are always there).
 */
export function routeTicket(f: RoutedFinding, routing: Routing | undefined, defaults: { project: string }): TicketRoute | null {
  const base = routing?.jira ?? {};
  const rule = matchingRule(f, routing);
  if (rule?.jira === false) return null;
  const r = { ...base, ...(rule?.jira ?? {}) };
  const min = r.minSeverity ?? DEFAULT_MIN_SEVERITY;
  if (SEVERITIES.indexOf(f.severity) < SEVERITIES.indexOf(min)) return null;
  const route: TicketRoute = {
    project: r.project ?? defaults.project,
    issueType: r.issueType ?? DEFAULT_ISSUE_TYPE,
    labels: [...new Set(['trailbot', f.flow, ...(r.labels ?? [])])],
  };
  const priority = r.priorities?.[f.severity];
  if (priority) route.priority = priority;
  if (r.assignee) route.assignee = r.assignee;
  if (r.components?.length) route.components = [...r.components];
  return route;
}

/** What new activity on a finding whose ticket was closed in Jira does (default: a new ticket linking the old one). */
export function onClosed(routing: Routing | undefined): OnClosed {
  return routing?.jira?.onClosed ?? 'new-linked';
}

/** How long a finding's new events are gathered into one comment (routing.jira.commentEvery, default 1 minute). */
export function commentEveryMs(routing: Routing | undefined): number {
  const s = routing?.jira?.commentEvery;
  return (s === undefined ? undefined : durationMs(s)) ?? NOTIFY_WINDOW_MS;
}
