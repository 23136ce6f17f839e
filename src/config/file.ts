import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { configId } from './id.ts';
import { reportSlack } from '../actions/slack/channel.ts';
import { approvalsSectionSchema } from '../actions/approvals/rules.ts';
import { REPORT_KINDS } from '../reports/index.ts';
import type { TrailbotError } from '../errors.ts';
import { MAX_DURATION_MS, parseDuration } from '../time.ts';

/**
 * The optional `trailbot.config.yaml`: flows, routing, accounts, sources and reports. The runtime
 * checks the top level and the fields it uses itself (ids and schedules); each section's owner
 * validates the rest of its section.
 */

/** A duration setting from `min` to `max` ms, kept as written (e.g. `5m`); the message names the setting. */
export function durationSetting(name: string, min: number, max = MAX_DURATION_MS) {
  // A bare number (retention: 90) has no unit: said so, not just "expected string".
  return z.string({ error: `expected ${name} as a duration with its unit, e.g. 90d, 12h or 30m (a bare number has none)` }).superRefine((s, ctx) => {
    try {
      parseDuration(s, { name, min, max });
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `${(e as TrailbotError).message} (${(e as TrailbotError).hint})` });
    }
  });
}

/** Five or six cron fields, e.g. `0 8 * * 1-5`, that cron-parser (BullMQ's and the inline queue's) reads. */
function cronProblem(pattern: string): string | undefined {
  const n = pattern.trim().split(/\s+/).length;
  if (n !== 5 && n !== 6) return 'expected a cron pattern of 5 or 6 fields, e.g. 0 8 * * 1-5';
  try {
    CronExpressionParser.parse(pattern, { tz: 'UTC' });
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Why a valid pattern fires too often for a report, or undefined: at most once a minute. Only a
 * 6-field pattern can do more (its first field is the second); 5 fields fire at second 0.
 */
function cronTooOften(pattern: string): string | undefined {
  const seconds = CronExpressionParser.parse(pattern, { tz: 'UTC' }).fields.second.values.length;
  if (seconds <= 1) return undefined;
  return `fires ${seconds === 60 ? 'every second (60 times a minute)' : `${seconds} times a minute`}; a report runs at most once a minute: put one second in the first field, e.g. 0 * * * * *, or use 5 fields`;
}

/** An IANA time zone such as Europe/Paris, as Intl (and so cron-parser) knows it. */
function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const sourceSchema = z.looseObject({
  id: configId,
  kind: z.string().min(1, 'expected the kind of source, e.g. s3, sqs, lookup').optional(),
  /** How often the source is polled (a job scheduler under the id `poll-<id>`). */
  every: durationSetting('every', 1000).default('1m'),
});

export const reportSchema = z
  .looseObject({
    id: configId,
    /** Which report: denied (calls), clickops (console changes) or inactive (identities). */
    kind: z.enum(REPORT_KINDS, { error: `expected the kind of report: ${REPORT_KINDS.join(', ')}` }),
    /** When it runs: a cron pattern of 5 or 6 fields, read in `tz`. */
    pattern: z.string({ error: 'expected a cron pattern of 5 or 6 fields, e.g. 0 8 * * 1-5' }),
    tz: z.string().default('UTC'),
    /** The period each run covers, ending when it runs (default: denied 7d, clickops 30d, inactive 90d). */
    period: durationSetting('period', 1000).optional(),
    /** Delivered to this Slack channel: a short summary and the report as a file (src/actions/slack/reports.ts). */
    slack: reportSlack.optional(),
  })
  .superRefine((r, ctx) => {
    // Checked here, when the configuration is read (`trailbot config check`), not when the scheduler starts.
    const cron = cronProblem(r.pattern);
    if (cron) ctx.addIssue({ code: 'custom', path: ['pattern'], message: `report ${r.id}: ${JSON.stringify(r.pattern)} is not a cron pattern (${cron}); expected 5 or 6 fields, e.g. 0 8 * * 1-5` });
    const often = cron ? undefined : cronTooOften(r.pattern);
    if (often) ctx.addIssue({ code: 'custom', path: ['pattern'], message: `report ${r.id}: ${JSON.stringify(r.pattern)} ${often}` });
    if (!isTimeZone(r.tz)) ctx.addIssue({ code: 'custom', path: ['tz'], message: `report ${r.id}: ${JSON.stringify(r.tz)} is not a time zone; expected an IANA name such as UTC or Europe/Paris` });
  });

export const accountSchema = z.looseObject({
  id: z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account id'),
  name: z.string().optional(),
  /** The role trailbot assumes in this account to carry out approved deactivations (src/integrations/aws/iam.ts). */
  roleName: z.string().regex(/^[\w+=,.@/-]{1,64}$/, 'expected an IAM role name, e.g. TrailbotResponder').optional(),
  externalId: z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, 'expected the external id the role requires').optional(),
});

/**
 * The `flows` section belongs to the flows engine: readConfig checks it against `flowsConfigSchema`
 * (src/flows/config.ts) and keeps it as written; `parseFlowsConfig` applies the defaults.
 */
export const flowsSectionSchema = z.record(z.string(), z.unknown(), { error: 'expected a mapping of flow id to its settings' });

/**
 * The `routing` section belongs to the ticket work: readConfig checks it against `routingSchema`
 * (src/actions/jira/routing.ts) in the same one message and hands the parsed section on.
 */
export const routingSectionSchema = z.record(z.string(), z.unknown(), { error: 'expected a mapping, e.g. routing: { jira: { minSeverity: high } }' });

/** A Slack id list: `[U012AB3CD, …]`; each id shape-checked (names and @handles are not ids). */
function slackIds(what: string, pattern: RegExp, example: string, where: string) {
  const id = z.string({ error: `expected ${what} id such as ${example}` }).regex(pattern, `expected ${what} id such as ${example} (${where}); names and @handles are not ids`);
  return z.array(id, { error: `expected a list of ${what} ids, e.g. [${example}]` }).default([]);
}

/**
 * The \`slack\` section: who may use \`/trail\` (src/actions/slack/trail/access.ts). Without
 * \`trail.allow\`, nobody may: \`/trail\` shows what people did.
 */
export const slackSectionSchema = z.strictObject(
  {
    trail: z
      .strictObject(
        {
          allow: z.strictObject(
            {
              users: slackIds('a Slack user', /^[UW][A-Z0-9]{2,}$/, 'U012AB3CD', "a member's profile → ⋮ → Copy member ID"),
              usergroups: slackIds('a Slack user group', /^S[A-Z0-9]{2,}$/, 'S0614TZR7', 'the user group\'s page, or usergroups.list'),
              channels: slackIds('a Slack channel', /^[CG][A-Z0-9]{2,}$/, 'C024BE91L', "the channel's details → About, at the bottom"),
            },
            { error: 'expected allow: { users: [U…], usergroups: [S…], channels: [C…] }' },
          ),
        },
        { error: 'expected trail: { allow: { users: [U…], usergroups: [S…], channels: [C…] } }' },
      )
      .optional(),
  },
  { error: 'expected slack: { trail: { allow: { users: [U…], usergroups: [S…], channels: [C…] } } }' },
);

/** A retention: a duration of at least a day, or `forever`. */
const retention = (name: string) => z.union([z.literal('forever'), durationSetting(name, 86_400_000)], { error: `expected ${name} as a duration of a day or more (e.g. 90d, 52w) or forever` });

/**
 * How long the store keeps what (issue 14; applied by the store-maintenance job, src/store/retention.ts).
 * Events go by whole UTC days; findings, tickets, approvals and the audit log are kept.
 */
export const storeSectionSchema = z.strictObject(
  {
    retention: durationSetting('store.retention', 86_400_000).default('90d'),
    flowHitsRetention: retention('store.flowHitsRetention').default('90d'),
    rejectsRetention: retention('store.rejectsRetention').default('90d'),
    reportsRetention: retention('store.reportsRetention').default('365d'),
    findingsRetention: z.literal('forever', { error: 'findings, tickets, approvals and the audit log are kept: only forever is supported' }).default('forever'),
  },
  { error: 'expected store: { retention: 90d, flowHitsRetention: 90d, rejectsRetention: 90d, reportsRetention: 365d, findingsRetention: forever }' },
);

export const fileSchema = z.strictObject({
  flows: flowsSectionSchema.optional(),
  routing: routingSectionSchema.optional(),
  accounts: z.array(accountSchema, { error: 'expected a list of accounts, e.g. - id: "123456789012"' }).optional(),
  sources: z
    .array(sourceSchema, { error: 'expected a list of sources, e.g. - id: org-trail' })
    .refine((a) => new Set(a.map((s) => s.id)).size === a.length, 'source ids must be unique')
    .optional(),
  reports: z
    .array(reportSchema, { error: 'expected a list of reports, e.g. - id: daily' })
    .refine((a) => new Set(a.map((s) => s.id)).size === a.length, 'report ids must be unique')
    .optional(),
  slack: slackSectionSchema.optional(),
  /** Who may approve deactivations, and how (src/actions/approvals/rules.ts). */
  approvals: approvalsSectionSchema.optional(),
  /** How long the store keeps events, flow hits, rejects and reports. */
  // `store:` with nothing under it (YAML null) is the defaults, as a missing section is.
  store: storeSectionSchema.nullish(),
});

export type FileSettings = z.infer<typeof fileSchema>;
export type SourceSettings = z.infer<typeof sourceSchema>;
export type ReportSettings = z.infer<typeof reportSchema>;

export const FILE_EXAMPLE = `sources:\n  - id: org-trail\n    kind: s3\n    every: 5m\nreports:\n  - id: weekly-denied\n    kind: denied\n    pattern: "0 8 * * 1"`;

export interface LoadedFile {
  /** Absolute path of the file read, or undefined when there is none. */
  path: string | undefined;
  data: unknown;
  /** Set when the file exists but cannot be read or is not YAML. */
  error?: string;
}

/** Reads the YAML file named by TRAILBOT_CONFIG, else ./trailbot.config.yaml when present. */
export function loadFile(explicit: string | undefined, cwd = process.cwd()): LoadedFile {
  const path = explicit ? resolve(cwd, explicit) : resolve(cwd, 'trailbot.config.yaml');
  if (!existsSync(path)) {
    return explicit ? { path, data: {}, error: `TRAILBOT_CONFIG names ${path}, which does not exist` } : { path: undefined, data: {} };
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return { path, data: {}, error: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
  }
  try {
    const data = parse(text) as unknown;
    return { path, data: data ?? {} };
  } catch (e) {
    return { path, data: {}, error: `${path} is not valid YAML: ${(e as Error).message.split('\n')[0]}` };
  }
}
