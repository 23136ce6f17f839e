import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { anyMatch, byActor, globToRegExp, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['PutBucketLifecycle', 'PutBucketLifecycleConfiguration']);

interface Params {
  [k: string]: number | string[];
  /** A rule expiring objects within this many days is reported. */
  maxDays: number;
  /** Bucket names (globs) that hold CloudTrail logs, besides the buckets trailbot's s3 and sqs sources read. */
  buckets: string[];
}

const patternCache = new WeakMap<string[], RegExp[]>();
function patterns(list: string[]): RegExp[] {
  let p = patternCache.get(list);
  if (!p) patternCache.set(list, (p = list.map(globToRegExp)));
  return p;
}

/** Whether the bucket holds CloudTrail logs: one trailbot reads, or one named like it. */
function trailBucket(name: string | null, p: Params, env: FlowEnv): boolean {
  return name !== null && (env.trailBuckets.has(name) || anyMatch(patterns(p.buckets), [name]));
}

/** The shortest expiration (days) among the configuration's enabled rules, or null. */
export function shortestExpiration(e: TrailEvent, env: FlowEnv): number | null {
  let min: number | null = null;
  for (const rule of env.request(e).list('LifecycleConfiguration', 'Rule')) {
    if (rule === null || typeof rule !== 'object') continue;
    const r = rule as Record<string, unknown>;
    if (r.Status !== undefined && r.Status !== 'Enabled') continue;
    const exp = r.Expiration;
    const days = exp !== null && typeof exp === 'object' ? Number((exp as Record<string, unknown>).Days) : Number.NaN;
    if (Number.isFinite(days) && (min === null || days < min)) min = days;
  }
  return min;
}

/** Stratus `aws.defense-evasion.cloudtrail-lifecycle-rule`. */
export const trailBucketShortLifecycle = defineFlow({
  id: 'trail-bucket-short-lifecycle',
  kind: 'single',
  severity: 'high',
  description: 'A lifecycle rule on a bucket holding CloudTrail logs now deletes them within days: the record of what happened goes with them.',
  runbook: "Remove or lengthen the rule (aws s3api get-bucket-lifecycle-configuration), copy what is left of the logs elsewhere, and find out who changed it; a trail's bucket should keep logs for your retention period, under Object Lock if you can.",
  falsePositives: ['A test trail; a bucket that only stages logs copied elsewhere.'],
  references: ['stratus: aws.defense-evasion.cloudtrail-lifecycle-rule', 'sigma: aws_s3_data_management_tampering.yml'],
  params: { maxDays: 7, buckets: ['*cloudtrail*', '*trail-logs*', '*trail-bucket*'] } as Params,
  dedupPeriod: '24h',
  allow: [],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, p, env) => {
    if (!succeeded(e) || !isCall(e, 's3', ACTIONS) || !trailBucket(env.request(e).str('bucketName'), p, env)) return false;
    const days = shortestExpiration(e, env);
    return days !== null && days <= p.maxDays;
  },
  key: (e, _p, env) => `${byActor(e)}|${env.request(e).str('bucketName') ?? ''}`,
  context: (e, _p, env) => ({ bucket: env.request(e).str('bucketName'), days: shortestExpiration(e, env) }),
});
