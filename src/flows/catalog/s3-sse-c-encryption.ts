import { defineFlow } from '../define.ts';
import { isCall, isHumanOrProgram, succeeded } from '../match.ts';
import { bucketKey } from './s3-objects-mass-deleted.ts';

/** Writes that can carry a customer-provided key (SSE-C): the object is then unreadable without it. */
const ACTIONS = new Set(['PutObject', 'CopyObject', 'CreateMultipartUpload']);
const SSE_C = 'x-amz-server-side-encryption-customer-algorithm';

/** Stratus `aws.impact.s3-ransomware-client-side-encryption`; Halcyon "Codefinger" (2025); Elastic "Excessive AWS S3 Object Encryption with SSE-C". */
export const s3SseCEncryption = defineFlow({
  id: 's3-sse-c-encryption',
  kind: 'threshold',
  severity: 'high',
  description: 'Many objects in one S3 bucket were written or rewritten with a customer-provided encryption key (SSE-C) in a short time (S3 data events).',
  runbook: "Stop the writing principal now; objects encrypted with a key AWS does not keep cannot be read without it. Restore earlier versions where versioning is on, and block SSE-C on the bucket if it is not used.",
  falsePositives: ['Applications that use SSE-C on purpose: put their roles on the automation allow-list.'],
  references: ['stratus: aws.impact.s3-ransomware-client-side-encryption', 'Halcyon: Codefinger abuses AWS S3 SSE-C (2025)', 'elastic: Excessive AWS S3 Object Encryption with SSE-C'],
  params: { moreThan: 10, window: '1h' },
  dedupPeriod: '24h',
  allow: ['automation'],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && isCall(e, 's3', ACTIONS) && isHumanOrProgram(e) && env.request(e).has(SSE_C),
  key: (e, _p, env) => bucketKey(e, env),
  distinctBy: (e, _p, env) => env.request(e).str('key'),
  context: (e, _p, env) => ({ bucket: bucketKey(e, env).split('|')[1] ?? null }),
});
