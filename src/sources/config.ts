import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { configId } from '../config/id.ts';
import type { FileSettings } from '../config/file.ts';
import { TrailbotError } from '../errors.ts';
import { formatDuration, parseDuration } from '../time.ts';

/** What the sources section is read from: the file's sources and accounts, and the file's path (relative folders are resolved against it). */
export interface SourcesSection {
  sources: NonNullable<FileSettings['sources']>;
  accounts: NonNullable<FileSettings['accounts']>;
  configFile: string | undefined;
}

/**
 * The `sources:` section of trailbot.config.yaml, one entry per source. The runtime checks `id` and
 * `every` (it schedules a `poll-source` job per source); this file checks the rest, by `kind`:
 *
 * ```yaml
 * accounts:                       # the organization's accounts (shared with other sections)
 *   - id: "111111111111"
 * sources:
 *   - id: org-lookup              # the LookupEvents API, every account × region
 *     kind: lookup
 *     regions: [us-east-1, eu-west-1]
 *     accounts: ["111111111111"]  # default: every account under `accounts:`, else trailbot's own
 *     roleName: TrailbotReader    # assumed in each account other than trailbot's own
 *     backfill: 90d               # how far back the first run reaches (at most 90d)
 *   - id: org-trail               # CloudTrail log files announced on SQS (S3 events, SNS, EventBridge)
 *     kind: sqs
 *     queueUrl: https://sqs.eu-west-1.amazonaws.com/123456789012/cloudtrail
 *     buckets: [org-cloudtrail]   # default: the buckets of the s3 sources
 *     accounts: ["111111111111"]  # default: every account under `accounts:`
 *   - id: trail-bucket            # CloudTrail log files listed straight from the bucket
 *     kind: s3
 *     bucket: org-cloudtrail
 *     backfill: 2d
 *   - id: replays                 # a watched folder of trail files
 *     kind: folder
 *     path: ./replays
 * ```
 */

const accountId = z.string({ error: 'expected a 12-digit AWS account id in quotes, e.g. "111111111111"' }).regex(/^\d{12}$/, 'expected a 12-digit AWS account id in quotes, e.g. "111111111111"');
const region = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}$/, 'expected an AWS Region, e.g. eu-west-1');
const roleName = z.string().regex(/^[\w+=,.@/-]{1,64}$/, 'expected an IAM role name, e.g. TrailbotReader');
const externalId = z.string().regex(/^[\w+=,.@:/-]{2,1224}$/, 'expected the external id the role requires');
const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name');
/** `"*"` in an allow-list: anything. Only alone, and only on purpose. */
const ANY = '*';
const allowList = <T extends z.ZodType<string>>(item: T, what: string) =>
  z.array(z.union([z.literal(ANY), item]), { error: `expected a list of ${what}, or ["*"] for any` }).refine((l) => !l.includes(ANY) || l.length === 1, '"*" (any) stands alone in the list');

/** A duration setting in the one time grammar (src/time.ts), from `min` to `max` ms, as ms; the message names the setting. */
const duration = (name: string, min: number, max: number, example: string) =>
  z.string().transform((s, ctx) => {
    try {
      return parseDuration(s, { name, min, max });
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `${(e as Error).message} (use a duration from ${formatDuration(min)} to ${formatDuration(max)}, e.g. ${example})` });
      return z.NEVER;
    }
  });

const DAY = 86_400_000;

const common = {
  id: configId,
  every: z.string().optional(),
  /** Longest a single poll runs before handing over to the next (the cursor keeps the place). */
  maxRun: duration('maxRun', 1000, 3_600_000, '5m').default(300_000),
};

const awsTarget = {
  /** The account whose resources these are; trailbot's own when unset. */
  account: accountId.optional(),
  roleName: roleName.optional(),
  externalId: externalId.optional(),
};

export const lookupSourceSchema = z.strictObject({
  ...common,
  kind: z.literal('lookup'),
  accounts: z.array(accountId).min(1, 'expected at least one account').optional(),
  regions: z.array(region, { error: 'expected a list of Regions, e.g. [us-east-1, eu-west-1]' }).min(1, 'expected at least one Region'),
  roleName: roleName.optional(),
  externalId: externalId.optional(),
  /** How far back the first run reads (LookupEvents keeps 90 days). */
  backfill: duration('backfill', 60_000, 90 * DAY, '90d').default(90 * DAY),
  /** Each poll re-reads this much before the last one's end: CloudTrail may show an event a few minutes after its time. */
  overlap: duration('overlap', 0, DAY, '15m').default(15 * 60_000),
  /** Leave global services' events out. Otherwise us-east-1 is always read: IAM, STS and sign-in events appear only there. */
  skipGlobal: z.boolean().default(false),
  /**
   * Also read CloudTrail Insights events (unusual API call or error rates), where Insights is enabled on
   * a trail. Each account-region then has a second cursor (`<account>/<region>/insights`); both share
   * the account-region's 2 requests/s.
   */
  insights: z.boolean().default(false),
  /** Account-regions read at once. */
  concurrency: z.number().int().min(1).max(256).default(32),
});

export const s3SourceSchema = z.strictObject({
  ...common,
  ...awsTarget,
  kind: z.literal('s3'),
  bucket: bucketName,
  /** The trail's S3 key prefix, if it has one (without AWSLogs/). */
  prefix: z.string().regex(/^[^/].*[^/]$|^$/, 'expected a key prefix without leading or trailing /').default(''),
  region: region.default('us-east-1'),
  /** Organization trail id (o-…); found by listing when unset. */
  organizationId: z.string().regex(/^o-[a-z0-9]{10,32}$/, 'expected an organization id, e.g. o-a1b2c3d4e5').optional(),
  accounts: z.array(accountId).optional(),
  regions: z.array(region).optional(),
  /** How far back the first run reads. */
  backfill: duration('backfill', 60_000, 3650 * DAY, '2d').default(DAY),
});

export const sqsSourceSchema = z.strictObject({
  ...common,
  ...awsTarget,
  kind: z.literal('sqs'),
  queueUrl: z.url({ protocol: /^https?$/, error: 'expected the queue URL, e.g. https://sqs.eu-west-1.amazonaws.com/123456789012/cloudtrail' }),
  /** The queue's Region; read from the URL when it names one (default us-east-1). */
  region: region.optional(),
  /** Region of the bucket the notifications point at (default: the queue's). */
  bucketRegion: region.optional(),
  /** How long a received message stays hidden while its files are read and stored. */
  visibilityTimeout: duration('visibilityTimeout', 1000, 12 * 3_600_000, '5m').default(300_000),
  /** Long polling: how long a receive waits for a message (0–20 s). */
  waitSeconds: z.number().int().min(0).max(20).default(20),
  /** Batches (of up to 10 messages) handled at once by each worker. */
  concurrency: z.number().int().min(1).max(16).default(2),
  /**
   * A message that can never be used (not JSON, not a known notification, a missing object):
   * `aside` (default) copies it into the store (`trailbot sources rejects`) and deletes it;
   * `dlq` leaves it on the queue for its redrive policy to move to the dead-letter queue.
   */
  onMalformed: z.enum(['aside', 'dlq'], { error: 'expected aside or dlq' }).default('aside'),
  /**
   * The buckets whose log files this queue may announce (default: the bucket of every s3 source).
   * A notification naming another bucket is kept aside and deleted, never fetched. `[]`: none (a queue
   * of EventBridge CloudTrail events only); `["*"]`: any bucket.
   */
  buckets: allowList(bucketName, 'S3 bucket names').optional(),
  /**
   * The accounts whose events this queue may carry (default: every account under `accounts:`): the
   * account in a log file's key (`AWSLogs/[o-…/]<account>/`), an EventBridge event's `account`, and each
   * record's `recipientAccountId`. Others are kept aside, never stored. `["*"]`: any account.
   */
  accounts: allowList(accountId, '12-digit account ids in quotes').min(1, 'expected at least one account, or "*" for any').optional(),
});

export const folderSourceSchema = z.strictObject({
  ...common,
  kind: z.literal('folder'),
  path: z.string().min(1, 'expected a folder path'),
  /** A file is read once it has not changed for this long (it may still be being written). */
  settle: duration('settle', 0, 3_600_000, '2s').default(1000),
});

export const sourceSpecSchema = z.discriminatedUnion('kind', [lookupSourceSchema, s3SourceSchema, sqsSourceSchema, folderSourceSchema], {
  error: 'expected kind: lookup, s3, sqs or folder',
});

export type LookupSource = z.output<typeof lookupSourceSchema> & { accounts: string[] };
export type S3Source = z.output<typeof s3SourceSchema>;
/** An sqs source with its allow-lists resolved (`"*"` = any). */
export type SqsSource = z.output<typeof sqsSourceSchema> & { buckets: string[]; accounts: string[] };
export type FolderSource = z.output<typeof folderSourceSchema>;
export type SourceSpec = LookupSource | S3Source | SqsSource | FolderSource;
export type SourceKind = SourceSpec['kind'];

/**
 * Every source of the configuration, checked by kind. One error lists every problem, each with
 * where it is (`sources[1].regions[0]`) and what is expected.
 */
export function parseSources(config: SourcesSection): SourceSpec[] {
  const { specs, problems } = checkSources(config);
  if (problems.length > 0) {
    throw new TrailbotError('E_CONFIG_INVALID', `${problems.length === 1 ? '1 source setting is' : `${problems.length} source settings are`} wrong:\n  ${problems.join('\n  ')}`, {
      hint: `fix the sources section of ${config.configFile ?? 'trailbot.config.yaml'} (src/sources/config.ts documents every setting)`,
    });
  }
  return specs;
}

/** The sources section checked: the specs, and one line per problem (readConfig reports them with the rest). */
export function checkSources(config: SourcesSection): { specs: SourceSpec[]; problems: string[] } {
  const problems: string[] = [];
  const out: SourceSpec[] = [];
  const base = config.configFile ? dirname(config.configFile) : process.cwd();
  const orgAccounts = config.accounts.map((a) => a.id);
  const trailBuckets = [...new Set(config.sources.flatMap((raw) => (raw.kind === 's3' && typeof raw.bucket === 'string' ? [raw.bucket] : [])))];
  config.sources.forEach((raw, i) => {
    const r = sourceSpecSchema.safeParse(raw);
    if (!r.success) {
      for (const issue of r.error.issues) {
        const at = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
        const msg = issue.code === 'unrecognized_keys' ? `unknown setting${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` : issue.message;
        problems.push(`sources[${i}]${at} (${raw.id ?? '?'}): ${msg}`);
      }
      return;
    }
    const s = r.data;
    if (s.kind === 'lookup') out.push({ ...s, accounts: s.accounts ?? orgAccounts });
    else if (s.kind === 'folder') out.push({ ...s, path: resolve(base, s.path) });
    else if (s.kind === 'sqs') {
      // Refused by default: a queue is trusted only for the buckets and accounts it is told about.
      const buckets = s.buckets ?? trailBuckets;
      const accounts = s.accounts ?? orgAccounts;
      if (s.buckets === undefined && buckets.length === 0) {
        problems.push(`sources[${i}] (${s.id}): set buckets: to the trail bucket(s) this queue announces (no s3 source names one to default to; [] for EventBridge events only, ["*"] for any)`);
      }
      if (accounts.length === 0) problems.push(`sources[${i}] (${s.id}): set accounts: to the account ids whose events this queue carries (there is no top-level accounts: list to default to; ["*"] for any)`);
      out.push({ ...s, buckets, accounts });
    } else out.push(s);
  });
  return { specs: out, problems };
}

/** One configured source by id, or a usage error naming the ids there are. */
export function findSource(sources: SourceSpec[], id: string): SourceSpec {
  const s = sources.find((x) => x.id === id);
  if (!s) {
    throw new TrailbotError('E_USAGE', `there is no source ${JSON.stringify(id)}`, {
      hint: sources.length ? `configured sources: ${sources.map((x) => x.id).join(', ')}` : 'add one under sources: in trailbot.config.yaml',
    });
  }
  return s;
}
