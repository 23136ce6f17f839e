import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import type { Fields } from '../fields.ts';
import { exposureOf } from '../policy.ts';
import { byActor, serviceOf, succeeded } from '../match.ts';

/** What was opened to everyone: a kind of resource (words for the title) and its name. */
export interface MadePublic {
  what: string;
  resource: string | null;
}

const PUBLIC_GROUPS = /acs\.amazonaws\.com\/groups\/global\/(?:AllUsers|AuthenticatedUsers)/;
const PUBLIC_CANNED = new Set(['public-read', 'public-read-write', 'authenticated-read']);
const GRANT_KEYS: ReadonlySet<string> = new Set(['URI', 'uri', 'x-amz-grant-read', 'x-amz-grant-write', 'x-amz-grant-read-acp', 'x-amz-grant-write-acp', 'x-amz-grant-full-control']);

/** An S3 access list (grants or a canned ACL) that lets in everyone or every AWS user. */
function publicAcl(req: Fields): boolean {
  if (req.strings('x-amz-acl').some((a) => PUBLIC_CANNED.has(a)) || PUBLIC_CANNED.has(req.str('acl') ?? '')) return true;
  return req.deep(GRANT_KEYS).some((v) => (Array.isArray(v) ? v : [v]).some((x) => typeof x === 'string' && PUBLIC_GROUPS.test(x)));
}

/** A public access block put with any of its four settings off. */
function blockWeakened(req: Fields): boolean {
  const cfg = req.has('PublicAccessBlockConfiguration') ? ['PublicAccessBlockConfiguration'] : ['publicAccessBlock'];
  for (const k of ['BlockPublicAcls', 'IgnorePublicAcls', 'BlockPublicPolicy', 'RestrictPublicBuckets']) {
    if (req.bool(...cfg, k) === false) return true;
  }
  return false;
}

/** A resource policy (wherever the service writes it) letting in `*` without a condition keeping it to us. */
function publicPolicy(e: TrailEvent, env: FlowEnv, doc: unknown): boolean {
  return exposureOf(doc, e, env).public;
}

type Check = (e: TrailEvent, req: Fields, env: FlowEnv) => MadePublic | null;

/** `service:action` → what makes the call a resource made public. */
const CHECKS: Readonly<Record<string, Check>> = {
  's3:DeleteBucketPublicAccessBlock': (_e, req) => ({ what: "bucket's public access block removed", resource: req.str('bucketName') }),
  's3:PutBucketPublicAccessBlock': (_e, req) => (blockWeakened(req) ? { what: "bucket's public access block turned off", resource: req.str('bucketName') } : null),
  's3:DeleteAccountPublicAccessBlock': (e) => ({ what: "account's S3 public access block removed", resource: e.account }),
  's3:PutAccountPublicAccessBlock': (e, req) => (blockWeakened(req) ? { what: "account's S3 public access block turned off", resource: e.account } : null),
  's3:PutBucketAcl': (_e, req) => (publicAcl(req) ? { what: 'bucket access list opened to everyone', resource: req.str('bucketName') } : null),
  's3:PutObjectAcl': (_e, req) => (publicAcl(req) ? { what: 'object access list opened to everyone', resource: objectName(req) } : null),
  's3:CreateBucket': (_e, req) => (publicAcl(req) ? { what: 'bucket created readable by everyone', resource: req.str('bucketName') } : null),
  'ec2:DisableSnapshotBlockPublicAccess': (e) => ({ what: 'EBS snapshot block public access turned off', resource: e.region }),
  'ec2:DisableImageBlockPublicAccess': (e) => ({ what: 'AMI block public access turned off', resource: e.region }),
  'ecr:SetRepositoryPolicy': (e, req, env) => (publicPolicy(e, env, req.get('policyText')) ? { what: 'container repository policy open to everyone', resource: req.str('repositoryName') } : null),
  'ecr:PutRegistryPolicy': (e, req, env) => (publicPolicy(e, env, req.get('policyText')) ? { what: 'container registry policy open to everyone', resource: e.account } : null),
  'kms:PutKeyPolicy': (e, req, env) => (publicPolicy(e, env, req.get('policy')) ? { what: 'KMS key policy open to everyone', resource: req.str('keyId') } : null),
  'kms:CreateKey': (e, req, env) => (publicPolicy(e, env, req.get('policy')) ? { what: 'KMS key created with a policy open to everyone', resource: e.primaryResource?.id ?? null } : null),
  'sqs:SetQueueAttributes': (e, req, env) => (publicPolicy(e, env, req.get('attributes', 'Policy')) ? { what: 'SQS queue policy open to everyone', resource: req.str('queueUrl') } : null),
  'sqs:CreateQueue': (e, req, env) => (publicPolicy(e, env, req.get('attributes', 'Policy')) ? { what: 'SQS queue created with a policy open to everyone', resource: req.str('queueName') } : null),
  'sns:SetTopicAttributes': (e, req, env) =>
    req.str('attributeName') === 'Policy' && publicPolicy(e, env, req.get('attributeValue')) ? { what: 'SNS topic policy open to everyone', resource: req.str('topicArn') } : null,
  'sns:CreateTopic': (e, req, env) => (publicPolicy(e, env, req.get('attributes', 'Policy')) ? { what: 'SNS topic created with a policy open to everyone', resource: req.str('name') } : null),
  'glacier:SetVaultAccessPolicy': (e, req, env) => (publicPolicy(e, env, req.get('policy', 'policy') ?? req.get('policy')) ? { what: 'Glacier vault policy open to everyone', resource: req.str('vaultName') } : null),
  'es:CreateDomain': (e, req, env) => (publicPolicy(e, env, req.get('accessPolicies')) ? { what: 'OpenSearch domain created open to everyone', resource: req.str('domainName') } : null),
  'es:UpdateDomainConfig': (e, req, env) => (publicPolicy(e, env, req.get('accessPolicies')) ? { what: 'OpenSearch domain access policy open to everyone', resource: req.str('domainName') } : null),
  'es:CreateElasticsearchDomain': (e, req, env) => (publicPolicy(e, env, req.get('accessPolicies')) ? { what: 'Elasticsearch domain created open to everyone', resource: req.str('domainName') } : null),
  'es:UpdateElasticsearchDomainConfig': (e, req, env) => (publicPolicy(e, env, req.get('accessPolicies')) ? { what: 'Elasticsearch domain access policy open to everyone', resource: req.str('domainName') } : null),
  'secretsmanager:PutResourcePolicy': (e, req, env) => (publicPolicy(e, env, req.get('resourcePolicy')) ? { what: 'secret readable by everyone', resource: req.str('secretId') } : null),
  'elasticfilesystem:PutFileSystemPolicy': (e, req, env) => (publicPolicy(e, env, req.get('policy')) ? { what: 'EFS file system policy open to everyone', resource: req.str('fileSystemId') } : null),
  'backup:PutBackupVaultAccessPolicy': (e, req, env) => (publicPolicy(e, env, req.get('policy')) ? { what: 'backup vault policy open to everyone', resource: req.str('backupVaultName') } : null),
  'codebuild:UpdateProjectVisibility': (_e, req) => (req.str('projectVisibility') === 'PUBLIC_READ' ? { what: 'CodeBuild project made public', resource: req.str('projectArn') } : null),
};

function objectName(req: Fields): string | null {
  const b = req.str('bucketName');
  const k = req.str('key');
  return b && k ? `${b}/${k}` : (b ?? k);
}

/** S3 Control writes its account-level calls under its own event source. */
function serviceKey(e: TrailEvent): string {
  const s = serviceOf(e);
  return `${s === 's3-control' || s === 's3control' ? 's3' : s}:${e.action ?? ''}`;
}

/** What the event opened to everyone, or null. */
export function madePublic(e: TrailEvent, env: FlowEnv): MadePublic | null {
  const check = CHECKS[serviceKey(e)];
  return check ? check(e, env.request(e), env) : null;
}

/**
 * Resources opened to the internet other than by a bucket policy (s3-bucket-shared-externally),
 * a Lambda permission (lambda-exposed) or a shared snapshot or image: S3 public access blocks
 * removed and public ACLs, `*` principals on ECR, KMS, SQS, SNS, Glacier, OpenSearch, Secrets
 * Manager, EFS and AWS Backup, CodeBuild projects made public, the EC2 block-public-access guards off.
 */
export const resourceMadePublic = defineFlow({
  id: 'resource-made-public',
  kind: 'single',
  severity: 'high',
  description: "A resource was opened to everyone: an S3 public access block removed or a public ACL, a '*' resource policy (ECR, KMS, SQS, SNS, Glacier, OpenSearch, Secrets Manager, EFS, Backup), a public CodeBuild project, EC2's block public access off.",
  runbook: 'Undo the change unless the resource is meant to be public, then look at who reached it while it was open (S3 access logs, CloudTrail data events, the service\'s own logs).',
  falsePositives: ['Public websites, download buckets and container images published on purpose.'],
  references: ['panther: AWS.S3.BucketPublicAccessBlockDisabled-style rules', 'sigma: aws_s3_data_management_tampering.yml'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...new Set(Object.keys(CHECKS).map((k) => k.split(':')[1]!))],
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && madePublic(e, env) !== null,
  // One finding per person and day: the events list every function, bucket or table they touched.
  key: byActor,
  context: (e, _p, env) => ({ ...(madePublic(e, env) ?? { what: null, resource: null }) }),
});
