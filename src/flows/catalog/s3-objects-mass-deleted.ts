import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { isCall, isHumanOrProgram, succeeded } from '../match.ts';

const ACTIONS = new Set(['DeleteObject', 'DeleteObjects']);

/** The bucket a data event touched: `account|bucket` (the group every S3 ransomware flow counts in). */
export function bucketKey(e: TrailEvent, env: FlowEnv): string {
  const bucket = env.request(e).str('bucketName') ?? e.resources.find((r) => r.type === 'AWS::S3::Bucket')?.id ?? 'unknown';
  return `${e.account ?? 'unknown'}|${bucket}`;
}

/**
 * What one entry of a DeleteObjects request body takes, at most, in bytes: `<Object><Key>…</Key>
 * <VersionId>…</VersionId></Object>` is 84 bytes around a key of any length and a 32-character version
 * id, so 200 bytes a deleted object undercounts for keys shorter than 116 characters.
 */
const BYTES_PER_OBJECT = 200;

/**
 * How many objects a DeleteObjects removed. CloudTrail lists none of them (up to 1,000 a call), but
 * S3 writes the size of the request body, the XML list of the keys, as `bytesTransferredIn`: one
 * object per `BYTES_PER_OBJECT`, at least one, at most 100. Without the size, `objectsPerBatch`.
 */
function batchSize(e: TrailEvent, env: FlowEnv, objectsPerBatch: number): number {
  const bytes = env.additional(e).num('bytesTransferredIn');
  const n = bytes !== null && bytes > 0 ? Math.ceil(bytes / BYTES_PER_OBJECT) : Math.floor(objectsPerBatch);
  return Math.max(1, Math.min(100, n));
}

/** Counts objects (versions) deleted per bucket: a DeleteObject names its key (and version), a DeleteObjects counts as `batchSize`. */
export const s3ObjectsMassDeleted = defineFlow({
  id: 's3-objects-mass-deleted',
  kind: 'threshold',
  severity: 'high',
  description: 'Many objects were deleted from one S3 bucket in a short time (S3 data events).',
  runbook: 'Stop the deleting principal now (deactivate its keys or deny it on the bucket), then restore from versions or backups; check for a ransom note and for the same principal reading the data first.',
  falsePositives: ['Applications that clean up after themselves (processing queues, temporary files): put their roles on the automation allow-list.'],
  references: ['stratus: aws.impact.s3-ransomware-individual-deletion', 'stratus: aws.impact.s3-ransomware-batch-deletion', 'AWS Security Blog: The anatomy of a ransomware event targeting data residing in Amazon S3'],
  params: { moreThan: 20, window: '10m', objectsPerBatch: 10 },
  dedupPeriod: '24h',
  allow: ['automation'],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e) => succeeded(e) && isCall(e, 's3', ACTIONS) && isHumanOrProgram(e),
  key: (e, _p, env) => bucketKey(e, env),
  distinctBy: (e, p, env) => {
    if (e.action === 'DeleteObjects') {
      const n = batchSize(e, env, p.objectsPerBatch);
      return Array.from({ length: n }, (_, i) => `batch:${e.eventId}:${i}`);
    }
    const req = env.request(e);
    const key = req.str('key');
    if (key === null) return null;
    const version = req.str('versionId');
    return version === null ? key : `${key}#${version}`;
  },
  context: (e, _p, env) => ({ bucket: bucketKey(e, env).split('|')[1] ?? null }),
});
