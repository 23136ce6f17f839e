import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 's3-bucket-policy-change';
const R = 'records/';

describe(ID, () => {
  it('raises when a bucket access list changes (AWS docs)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toMatch(/^Bucket access changed: myUserName /);
  });
  it('ignores versioning changes and listing buckets', () => {
    expect(findings([record(`${R}actors.json`, 'PutBucketVersioning')], ID)).toEqual([]);
    expect(findings([record(`${R}user-agents.json`, 'ListBuckets')], ID)).toEqual([]);
  });
});
