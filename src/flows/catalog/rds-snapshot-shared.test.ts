import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { OUTSIDER, shareDbSnapshot } from '../../../test/fixtures/flows/exposure-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'rds-snapshot-shared';

describe(ID, () => {
  it('raises on a database snapshot shared with an account that is not ours (Stratus rds-share-snapshot, built)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toBe(`RDS snapshot shared with another account (orders-db-snap): mallory shared it with ${OUTSIDER}`);
  });
  it('raises on a cluster snapshot made public (restore: all)', () => {
    const f = findings([shareDbSnapshot(['all'], true)], ID);
    expect(f.map((x) => x.title)).toEqual(['RDS cluster snapshot made public (orders-cluster-snap): mallory']);
  });
  it('ignores accounts listed under accounts: or flows.trustedAccounts', () => {
    expect(findings([shareDbSnapshot([OUTSIDER])], ID, { trustedAccounts: [OUTSIDER] })).toEqual([]);
    expect(findings([shareDbSnapshot(['111122223333'])], ID)).toEqual([]);
  });
});
