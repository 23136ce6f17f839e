import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { at, findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'kms-key-disabled-or-deleted';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises when a key is scheduled for deletion (elastic/integrations)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('KMS key set for deletion: test@elastic.co scheduled the deletion of the KMS key 27d7cd14-7557-4509-a438-15fbf1e8db11');
  });
  it('raises when a key is disabled', () => {
    expect(findings([record(`${R}writes-data.json`, 'DisableKey')], ID)[0]!.title).toMatch(/^KMS key disabled:/);
  });
  it('ignores key rotation, and sensitive-delete leaves the key to this flow', () => {
    expect(findings([at(`${R}aws-docs-examples.json`, 18)], ID)).toEqual([]);
    const { records } = positive();
    expect(findings(records).map((x) => x.flow)).not.toContain('sensitive-delete');
  });
});
