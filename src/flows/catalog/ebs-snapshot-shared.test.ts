import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'ebs-snapshot-shared';
const R = 'records/';
const positive = () => POSITIVE[ID]!();
const stratus = () => record(`${R}stratus-aws.exfiltration.ec2-share-ebs-snapshot.json`, 'ModifySnapshotAttribute');

function addWith(items: Record<string, string>[]) {
  const r = stratus();
  (r.requestParameters as Record<string, unknown>).createVolumePermission = { add: { items } };
  return r;
}

describe(ID, () => {
  it('raises on a snapshot shared with an account that is not ours (Stratus ec2-share-ebs-snapshot)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toBe('EBS snapshot shared with another account (snap-041993b54a9b3af6f): christophe shared it with 098797384747');
    expect(f.body).toContain('098797384747 is not one of ours');
  });
  it('raises on a snapshot made public (group all)', () => {
    const f = findings([addWith([{ group: 'all' }])], ID);
    expect(f).toHaveLength(1);
    expect(f[0]!.title).toBe('EBS snapshot made public (snap-041993b54a9b3af6f): christophe');
  });
  it('ignores sharing with our own accounts: under accounts:, flows.trustedAccounts, or the same account', () => {
    const { records } = positive();
    expect(findings(records, ID, { trustedAccounts: ['098797384747'] })).toEqual([]);
    expect(findings([addWith([{ userId: '756680937392' }])], ID)).toEqual([]);
  });
  it('ignores removing a permission, and calls that failed', () => {
    const remove = stratus();
    (remove.requestParameters as Record<string, unknown>).createVolumePermission = { remove: { items: [{ userId: '098797384747' }] } };
    expect(findings([remove], ID)).toEqual([]);
    const denied = stratus();
    denied.errorCode = 'Client.UnauthorizedOperation';
    expect(findings([denied], ID)).toEqual([]);
  });
});
