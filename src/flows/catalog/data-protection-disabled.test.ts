import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { call } from '../../../test/fixtures/flows/build.ts';
import { bucketCalls } from '../../../test/fixtures/flows/exposure-records.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'data-protection-disabled';

describe(ID, () => {
  it('raises on bucket versioning suspended', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('medium');
    expect(f.title).toMatch(/^Data protection turned off \(bucket versioning suspended on orders-data\): mallory /);
  });
  it('raises on access logging and encryption removed, EBS default encryption off, RDS backups and DynamoDB PITR off', () => {
    const raws = [
      bucketCalls.loggingOff(),
      bucketCalls.deleteEncryption(),
      call({ source: 'ec2.amazonaws.com', name: 'DisableEbsEncryptionByDefault', request: {}, response: { ebsEncryptionByDefault: false } }),
      call({ source: 'rds.amazonaws.com', name: 'ModifyDBInstance', request: { dBInstanceIdentifier: 'orders-db', backupRetentionPeriod: 0, applyImmediately: true } }),
      call({ source: 'dynamodb.amazonaws.com', name: 'UpdateContinuousBackups', request: { tableName: 'orders', pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: false } } }),
    ];
    for (const r of raws) expect(findings([r], ID), String(r.eventName)).toHaveLength(1);
  });
  it('ignores versioning enabled, logging on, and the AWS docs’ PutBucketVersioning that turns it on', () => {
    expect(findings([bucketCalls.enableVersioning()], ID)).toEqual([]);
    expect(findings([bucketCalls.loggingOn()], ID)).toEqual([]);
    expect(findings([record('records/actors.json', 'PutBucketVersioning')], ID)).toEqual([]);
  });
});
