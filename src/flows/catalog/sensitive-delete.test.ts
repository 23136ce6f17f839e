import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'sensitive-delete';
const R = 'records/';

describe(ID, () => {
  it('raises when a database is deleted (elastic/integrations)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('Hard-to-undo deletion (database): test@elastic.co deleted the RDS database instance test-cloudtrail-event-instance-31611-restored');
  });
  it('raises on buckets, tables, log groups and terminated instances (Terraform included)', () => {
    for (const [file, name] of [
      ['writes-data.json', 'DeleteBucket'],
      ['writes-data.json', 'DeleteTable'],
      ['writes-logging.json', 'DeleteLogGroup'],
      ['user-agents.json', 'TerminateInstances'],
    ] as const) {
      expect(findings([record(`${R}${file}`, name)], ID), name).toHaveLength(1);
    }
  });
  it('ignores deleting a Lambda function, and leaves trail and key deletions to their own flows', () => {
    expect(findings([record(`${R}writes-data.json`, 'DeleteFunction')], ID)).toEqual([]);
    expect(findings([record(`${R}writes-data.json`, 'ScheduleKeyDeletion')], ID)).toEqual([]);
  });
});
