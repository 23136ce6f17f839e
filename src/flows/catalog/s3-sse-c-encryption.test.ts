import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { s3Object, sseCRewrite } from '../../../test/fixtures/flows/data-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 's3-sse-c-encryption';

describe(ID, () => {
  it('raises on every object rewritten with a customer key (Stratus s3-ransomware-client-side-encryption)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.count).toBe(51);
    expect(f.title).toBe('Objects in bucket finance-exports re-encrypted with an outside key (SSE-C): mallory, 51 writes since 2024-06-03 09:00:00 UTC');
  });

  it('counts objects per bucket: 11 raise, 10 do not', () => {
    expect(findings(sseCRewrite(11), ID)).toHaveLength(1);
    expect(findings(sseCRewrite(10), ID)).toEqual([]);
  });

  it('ignores copies with S3-managed or KMS keys', () => {
    const kms = Array.from({ length: 30 }, (_, i) =>
      s3Object('CopyObject', 'finance-exports', `k${i}`, { request: { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-copy-source': `finance-exports/k${i}` } }),
    );
    expect(findings(kms, ID)).toEqual([]);
  });
});
