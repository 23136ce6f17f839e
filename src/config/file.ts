import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { REPORT_KINDS } from '../reports/index.ts';

/**
 * The optional `trailbot.config.yaml`: flows, routing, accounts, sources and reports. The runtime
 * checks the top level and the fields it uses itself (ids and schedules); each section's owner
 * validates the rest of its section.
 */

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `5m`, `1h`, `1d` → milliseconds. */
export function parseDuration(s: string): number | undefined {
  const m = DURATION.exec(s.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : undefined;
}

const duration = z
  .string()
  .refine((s) => (parseDuration(s) ?? 0) >= 1000, 'expected a duration of at least 1s, e.g. 5m (units ms, s, m, h, d)');
const slug = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'expected lower-case letters, digits and -, starting with a letter, e.g. org-trail');
/** Five or six cron fields, e.g. `0 8 * * 1-5`. */
const cron = z.string().refine((s) => {
  const n = s.trim().split(/\s+/).length;
  return n === 5 || n === 6;
}, 'expected a cron pattern of 5 or 6 fields, e.g. 0 8 * * 1-5');

export const sourceSchema = z.looseObject({
  id: slug,
  kind: z.string().min(1, 'expected the kind of source, e.g. s3, sqs, lookup').optional(),
  /** How often the source is polled (a job scheduler under the id `poll-<id>`). */
  every: duration.default('1m'),
});

export const reportSchema = z.looseObject({
  id: slug,
  /** Which report: denied (calls), clickops (console changes) or inactive (identities). */
  kind: z.enum(REPORT_KINDS, { error: `expected the kind of report: ${REPORT_KINDS.join(', ')}` }),
  pattern: cron,
  tz: z.string().default('UTC'),
  /** The period each run covers, ending when it runs (default: denied 7d, clickops 30d, inactive 90d). */
  period: duration.optional(),
});

export const accountSchema = z.looseObject({
  id: z.string().regex(/^\d{12}$/, 'expected a 12-digit AWS account id'),
  name: z.string().optional(),
});

/**
 * The `flows` section belongs to the flows engine: readConfig checks it against `flowsConfigSchema`
 * (src/flows/config.ts) and keeps it as written; `parseFlowsConfig` applies the defaults.
 */
export const flowsSectionSchema = z.record(z.string(), z.unknown(), { error: 'expected a mapping of flow id to its settings' });

export const fileSchema = z.strictObject({
  flows: flowsSectionSchema.optional(),
  routing: z.record(z.string(), z.unknown(), { error: 'expected a mapping, e.g. routing: { default: { slack: "#security" } }' }).optional(),
  accounts: z.array(accountSchema, { error: 'expected a list of accounts, e.g. - id: "123456789012"' }).optional(),
  sources: z
    .array(sourceSchema, { error: 'expected a list of sources, e.g. - id: org-trail' })
    .refine((a) => new Set(a.map((s) => s.id)).size === a.length, 'source ids must be unique')
    .optional(),
  reports: z
    .array(reportSchema, { error: 'expected a list of reports, e.g. - id: daily' })
    .refine((a) => new Set(a.map((s) => s.id)).size === a.length, 'report ids must be unique')
    .optional(),
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
