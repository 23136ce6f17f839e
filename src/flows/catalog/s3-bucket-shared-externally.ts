import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { type Exposure, exposed, exposureOf } from '../policy.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['PutBucketPolicy']);

/** Who the new bucket policy lets in that is not us (CloudTrail writes it parsed, as `bucketPolicy`). */
export function bucketPolicyExposure(e: TrailEvent, env: FlowEnv): Exposure {
  const req = env.request(e);
  const doc = req.has('bucketPolicy') ? req.get('bucketPolicy') : req.get('policy');
  return exposureOf(doc, e, env);
}

/**
 * Stratus `aws.exfiltration.s3-backdoor-bucket-policy`: a bucket policy letting in everyone (`*`
 * without a condition keeping it to our organization or accounts) or an account that is not ours.
 */
export const s3BucketSharedExternally = defineFlow({
  id: 's3-bucket-shared-externally',
  kind: 'single',
  severity: 'high',
  description: "A bucket policy now lets in everyone or an AWS account that is not one of ours.",
  runbook: "Read the new policy (aws s3api get-bucket-policy); remove the statement naming the outside account or '*' unless the bucket is meant to be public, then check the bucket's access logs for reads from it.",
  falsePositives: ['Public websites and download buckets; partners reading a bucket (list their accounts under flows.trustedAccounts).'],
  references: ['stratus: aws.exfiltration.s3-backdoor-bucket-policy', 'panther: AWS.S3.BucketPolicyModified'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && isCall(e, 's3', ACTIONS) && exposed(bucketPolicyExposure(e, env)),
  key: (e, _p, env) => `${byActor(e)}|${env.request(e).str('bucketName') ?? ''}`,
  context: (e, _p, env) => {
    const x = bucketPolicyExposure(e, env);
    return { bucket: env.request(e).str('bucketName'), public: x.public, accounts: x.accounts };
  },
});
