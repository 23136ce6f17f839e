import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 's3-bucket-policy-change';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises when a bucket access list changes (AWS docs)', () => {
    const { records, config } = positive();
    const f = findings(records, ID, config);
    expect(f).toHaveLength(1);
    expect(f[0]!.title).toMatch(/^Bucket access changed: myUserName /);
  });
  it('ignores versioning changes and listing buckets', () => {
    expect(findings([record(`${R}actors.json`, 'PutBucketVersioning')], ID)).toEqual([]);
    expect(findings([record(`${R}user-agents.json`, 'ListBuckets')], ID)).toEqual([]);
  });
});
