import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { bucketCalls, exportCalls, OUTSIDER } from '../../../test/fixtures/flows/exposure-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'data-exported';

describe(ID, () => {
  it("is high for a DynamoDB export to a bucket owned by an account that is not ours", () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toMatch(/^Data exported \(DynamoDB table exported to S3\) to another account: mallory /);
  });
  it('is medium for exports within our accounts: RDS snapshot export, EC2 instance export, DynamoDB to our bucket', () => {
    for (const r of [exportCalls.rdsSnapshot(), exportCalls.ec2Instance(), exportCalls.dynamodb(null), exportCalls.dynamodb('111122223333')]) {
      expect(findings([r], ID).map((x) => x.severity), String(r.eventName)).toEqual(['medium']);
    }
    expect(findings([exportCalls.dynamodb(OUTSIDER)], ID, { trustedAccounts: [OUTSIDER] })[0]!.severity).toBe('medium');
  });
  it('raises on S3 replication to an account that is not ours (high), and reports it once', () => {
    const f = findings([bucketCalls.replicate(OUTSIDER)]);
    expect(f.map((x) => [x.flow, x.severity])).toEqual([[ID, 'high']]);
    expect(findings([bucketCalls.replicate('111122223333')], ID)).toEqual([]);
  });
  it('ignores exports by automation identities', () => {
    expect(findings([exportCalls.rdsSnapshot()], ID, { allow: { automationRoles: ['mallory'] } })).toEqual([]);
  });
});
