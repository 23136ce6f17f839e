import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { publicDatabase } from '../../../test/fixtures/flows/exposure-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'rds-instance-made-public';

describe(ID, () => {
  it('raises on a restore that came back publicly accessible (Sigma aws_rds_public_db_restore reads the response)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toMatch(/^Database restored publicly accessible \(orders-copy\): mallory /);
  });
  it('raises on publiclyAccessible: true asked for on create and modify', () => {
    expect(findings([publicDatabase('create')], ID)[0]!.title).toMatch(/^Database created publicly accessible \(orders-db\)/);
    expect(findings([publicDatabase('modify')], ID)[0]!.title).toMatch(/^Database changed to be publicly accessible \(orders-db\)/);
  });
  it('ignores a modification of an already public database that does not ask for it, and publiclyAccessible: false', () => {
    const other = publicDatabase('modify');
    other.requestParameters = { dBInstanceIdentifier: 'orders-db', allocatedStorage: 100 };
    other.responseElements = { dBInstanceIdentifier: 'orders-db', publiclyAccessible: true };
    expect(findings([other], ID)).toEqual([]);
    const off = publicDatabase('create');
    (off.requestParameters as Record<string, unknown>).publiclyAccessible = false;
    expect(findings([off], ID)).toEqual([]);
    const restore = publicDatabase('restore');
    (restore.responseElements as Record<string, unknown>).publiclyAccessible = false;
    expect(findings([restore], ID)).toEqual([]);
  });
});
