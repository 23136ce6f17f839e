import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { call, roleSession } from '../../../test/fixtures/flows/build.ts';
import { backupsDeleted } from '../../../test/fixtures/flows/data-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'backup-or-image-deleted';

describe(ID, () => {
  it('raises on an AMI, database snapshots and backups, and AWS Backup recovery points and vaults deleted', () => {
    const { records, config } = POSITIVE[ID]!();
    const f = findings(records, ID, config);
    expect(f).toHaveLength(1);
    expect(f[0]!.severity).toBe('high');
    expect(f[0]!.count).toBe(5);
    expect(f[0]!.title).toBe('Backup deleted (machine image (AMI)): mallory deregistered the machine image ami-0abcdef1234567890 (and 5 deletions in all)');
    for (const r of records) expect(findings([r], ID), String(r.eventName)).toHaveLength(1);
  });

  it('ignores AWS removing what its schedules made (AWS Backup expiring a recovery point)', () => {
    const expiry = backupsDeleted()[3]!;
    (expiry.userIdentity as Record<string, unknown>).invokedBy = 'backup.amazonaws.com';
    expect(findings([expiry], ID)).toEqual([]);
  });

  it('counts a deletion CloudFormation made unless that is allowed as IaC, and honours the automation allow-list', () => {
    const cfn = backupsDeleted()[0]!;
    cfn.sourceIPAddress = 'cloudformation.amazonaws.com';
    (cfn.userIdentity as Record<string, unknown>).invokedBy = 'cloudformation.amazonaws.com';
    expect(findings([cfn], ID)).toEqual([]);
    expect(findings([cfn], ID, { [ID]: { allow: [] } })).toHaveLength(1);
    const pipeline = backupsDeleted(roleSession('ami-pipeline', 'nightly'))[0]!;
    expect(findings([pipeline], ID)).toHaveLength(1);
    expect(findings([pipeline], ID, { allow: { automationRoles: ['ami-pipeline'] } })).toEqual([]);
  });

  it('ignores EBS snapshot deletion, failed deletions and creating backups', () => {
    expect(findings([call({ source: 'ec2.amazonaws.com', name: 'DeleteSnapshot', request: { snapshotId: 'snap-1' } })], ID)).toEqual([]);
    expect(findings([call({ source: 'rds.amazonaws.com', name: 'DeleteDBSnapshot', request: { dBSnapshotIdentifier: 'x' }, error: { code: 'DBSnapshotNotFound', message: 'not found' } })], ID)).toEqual([]);
    expect(findings([call({ source: 'rds.amazonaws.com', name: 'CreateDBSnapshot', request: { dBSnapshotIdentifier: 'x' } })], ID)).toEqual([]);
  });
});
