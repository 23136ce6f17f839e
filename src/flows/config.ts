import { isIP } from 'node:net';
import { z } from 'zod';
import { TrailbotError } from '../errors.ts';
import { DURATION_FORMS } from '../time.ts';
import { ALLOW_LISTS, type AnyFlow, isDuration, type ParamValue, SEVERITIES } from './define.ts';
import { FLOWS } from './registry.ts';

/**
 * The `flows:` section of `trailbot.config.yaml`. The runtime's config loader embeds
 * `flowsConfigSchema`; `parseFlowsConfig` validates the section on its own and turns mistakes into
 * one E_CONFIG_INVALID error that names every wrong key (`flows.clickops-burst.params.moreThan`).
 *
 * ```yaml
 * flows:
 *   allow:
 *     breakGlassRoles: [BreakGlass*]            # role names or ARN patterns, * matches anything
 *     automationRoles: ["arn:aws:iam::*:role/ci-*"]
 *     iacIdentities: [terraform-apply]
 *   trustedAccounts: ["210987654321"]            # accounts besides `accounts:` that data may be shared with
 *   expected:
 *     regions: [eu-west-1, us-east-1]
 *     accounts: { "123456789012": [eu-central-1] }  # more regions expected in one account
 *     egressCidrs: [203.0.113.0/24]                # where instance credentials are used from (NAT, proxies)
 *   production:
 *     arnPatterns: ["arn:aws:rds:*:*:db:prod-*"]
 *     resources:                                  # e.g. from `aws resourcegroupstaggingapi get-resources`
 *       - { arn: "arn:aws:s3:::cat-photos", tags: { env: production } }
 *     tags: { env: [production, prod] }           # which tags mark production
 *   # then any flow id (`trailbot flows list`): enabled, severity, dedupPeriod, allow, params
 *   new-service: { enabled: false }
 *   clickops-burst: { severity: high, params: { moreThan: 30, window: 12h } }
 * ```
 */

const duration = z.string().refine(isDuration, { message: `expected a duration: ${DURATION_FORMS}` });
const pattern = z.string().min(1, 'an empty pattern matches nothing');
const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+[a-z]?$|^[a-z0-9-]+$/, 'expected a region name such as eu-west-1');
const accountId = z.string().regex(/^\d{12}$/, 'expected a 12-digit account id');

/** An IPv4 or IPv6 range (`203.0.113.0/24`, `2001:db8::/32`) or one address. */
export function isCidr(v: string): boolean {
  const [addr, bits, ...rest] = v.split('/');
  if (rest.length > 0 || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  if (bits === undefined) return true;
  if (!/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 6 ? 128 : 32);
}
const cidr = z.string().refine(isCidr, { message: 'expected an IP range such as 203.0.113.0/24 or 2001:db8::/32' });

const DEFAULT_PRODUCTION_TAGS: Record<string, string[]> = {
  env: ['production', 'prod'],
  environment: ['production', 'prod'],
  stage: ['production', 'prod'],
};

/** A zod schema for one flow's parameters, derived from its defaults (every key optional). */
function paramsSchema(f: AnyFlow): z.ZodType {
  const shape: Record<string, z.ZodType> = {};
  for (const [k, v] of Object.entries(f.params as Record<string, ParamValue>)) {
    if (typeof v === 'number') shape[k] = z.number().nonnegative().optional();
    else if (typeof v === 'boolean') shape[k] = z.boolean().optional();
    else if (Array.isArray(v)) shape[k] = z.array(z.string()).optional();
    else if (isDuration(v)) shape[k] = duration.optional();
    else shape[k] = z.string().optional();
  }
  return z.strictObject(shape);
}

function overrideSchema(f: AnyFlow) {
  return z
    .strictObject({
      enabled: z.boolean().optional(),
      severity: z.enum(SEVERITIES as [string, ...string[]]).optional(),
      dedupPeriod: duration.optional(),
      allow: z.array(z.enum(ALLOW_LISTS as [string, ...string[]])).optional(),
      params: paramsSchema(f).optional(),
    })
    .optional();
}

const catalogShape: Record<string, ReturnType<typeof overrideSchema>> = {};
for (const f of FLOWS) catalogShape[f.id] = overrideSchema(f);

export const flowsConfigSchema = z
  .strictObject({
    allow: z
      .strictObject({
        breakGlassRoles: z.array(pattern).default([]),
        automationRoles: z.array(pattern).default([]),
        iacIdentities: z.array(pattern).default([]),
        /**
         * Calls CloudFormation made for a stack (invokedBy / sourceIPAddress cloudformation.amazonaws.com)
         * count as infrastructure as code. A user agent naming Terraform, the CDK ... never does on its
         * own: the caller writes it.
         */
        iacUserAgents: z.boolean().default(true),
      })
      .prefault({}),
    /** Accounts that are ours besides those under `accounts:` (sharing with them is not "with an unknown account"). */
    trustedAccounts: z.array(accountId).default([]),
    expected: z
      .strictObject({
        regions: z.array(region).default([]),
        accounts: z.record(accountId, z.array(region)).default({}),
        /** The ranges our instances and functions reach AWS from (NAT gateways, proxies); none: egress flows stay off. */
        egressCidrs: z.array(cidr).default([]),
      })
      .prefault({}),
    production: z
      .strictObject({
        arnPatterns: z.array(pattern).default([]),
        resources: z
          .array(z.union([z.string().min(1), z.strictObject({ arn: z.string().min(1), tags: z.record(z.string(), z.string()).default({}) })]))
          .default([]),
        tags: z.record(z.string(), z.array(z.string())).default(DEFAULT_PRODUCTION_TAGS),
      })
      .prefault({}),
    ...catalogShape,
  })
  .prefault({});

/**
 * What the rest of `trailbot.config.yaml` tells the flows about the deployment (not keys of `flows:`):
 * the account ids under `accounts:`, and the trail buckets the s3 and sqs sources read.
 */
export interface Deployment {
  accounts?: readonly string[];
  trailBuckets?: readonly string[];
}

/** The parsed section, plus the deployment `parseFlowsConfig` was given. */
export type FlowsConfig = z.output<typeof flowsConfigSchema> & { ownAccounts: readonly string[]; trailBuckets: readonly string[] };

/** The deployment facts from the whole configuration (`accounts:` ids, the s3 sources' bucket and the sqs sources' buckets). */
export function deploymentOf(config: { accounts?: readonly { id: string }[]; sources?: readonly unknown[] }): Deployment {
  const buckets = new Set<string>();
  for (const s of config.sources ?? []) {
    if (s === null || typeof s !== 'object') continue;
    const src = s as { bucket?: unknown; buckets?: unknown };
    if (typeof src.bucket === 'string') buckets.add(src.bucket);
    if (Array.isArray(src.buckets)) for (const b of src.buckets) if (typeof b === 'string') buckets.add(b);
  }
  return { accounts: (config.accounts ?? []).map((a) => a.id), trailBuckets: [...buckets] };
}
/** What `trailbot.config.yaml` may hold under `flows:` (flow ids are checked at run time against the registry). */
export type FlowsConfigInput = z.input<typeof flowsConfigSchema> & { [flowId: string]: unknown };
export type FlowOverride = NonNullable<ReturnType<typeof overrideSchema>['_zod']['output']>;

/** A flow's settings from the configuration (empty when it has none). */
export function overrideOf(config: FlowsConfig, id: string): FlowOverride {
  return ((config as unknown as Record<string, FlowOverride | undefined>)[id]) ?? {};
}

/** The option nearest to `word` (edit distance), when it is near enough to suggest. */
export function closest(word: string, options: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const o of options) {
    const d = editDistance(word.toLowerCase(), o.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = o;
    }
  }
  return best !== null && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** The keys allowed at a path of the schema, for "did you mean" hints. */
function knownKeys(path: readonly PropertyKey[]): string[] {
  const p = path.map(String);
  if (p.length === 0) return ['allow', 'trustedAccounts', 'expected', 'production', ...FLOWS.map((f) => f.id)];
  if (p[0] === 'allow' && p.length === 1) return ['breakGlassRoles', 'automationRoles', 'iacIdentities', 'iacUserAgents'];
  if (p[0] === 'expected' && p.length === 1) return ['regions', 'accounts', 'egressCidrs'];
  if (p[0] === 'production' && p.length === 1) return ['arnPatterns', 'resources', 'tags'];
  const flow = FLOWS.find((x) => x.id === p[0]);
  if (flow && p.length === 1) return ['enabled', 'severity', 'dedupPeriod', 'allow', 'params'];
  if (flow && p.length === 2 && p[1] === 'params') return Object.keys(flow.params);
  return [];
}

/** One line per problem, each naming the full key under `flows.`. */
export function describeFlowsConfigIssues(error: z.ZodError, prefix = 'flows'): string[] {
  const lines: string[] = [];
  for (const i of error.issues) {
    const at = [prefix, ...i.path.map(String)].join('.');
    if (i.code === 'unrecognized_keys') {
      for (const k of i.keys) {
        const known = knownKeys(i.path);
        const hint = closest(k, known);
        const where = known.length ? ` (known: ${known.join(', ')})` : '';
        lines.push(`${at}.${k}: unknown key${hint ? ` — did you mean ${hint}?` : where}`);
      }
    } else {
      lines.push(`${at}: ${i.message}`);
    }
  }
  return lines;
}

/**
 * Validates the `flows:` section (undefined = all defaults). Throws E_CONFIG_INVALID naming the keys.
 * `deployment` (`deploymentOf`): the account ids under the file's `accounts:` (with
 * `flows.trustedAccounts`, the accounts that are not "unknown") and the trail buckets.
 */
export function parseFlowsConfig(raw: unknown, deployment: Deployment = {}): FlowsConfig {
  const r = flowsConfigSchema.safeParse(raw ?? {});
  if (r.success) return { ...r.data, ownAccounts: deployment.accounts ?? [], trailBuckets: deployment.trailBuckets ?? [] };
  const lines = describeFlowsConfigIssues(r.error);
  throw new TrailbotError('E_CONFIG_INVALID', `invalid flows settings:\n  ${lines.join('\n  ')}`, {
    hint: 'fix these keys under `flows:` in trailbot.config.yaml (`trailbot flows list` shows the flow ids)',
  });
}

/** All defaults: every flow enabled with its own parameters, no allow-lists. */
export function defaultFlowsConfig(): FlowsConfig {
  return parseFlowsConfig({});
}
