import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { userDataDownload } from '../../../test/fixtures/flows/identity-records.ts';
import { findings, record, replay } from '../../../test/fixtures/flows/load.ts';

const ID = 'ec2-instance-secrets-read';
const PASSWORDS = 'records/stratus-aws.credential-access.ec2-get-password-data.json';

describe(ID, () => {
  it('raises on 30 refused GetPasswordData calls across 30 instances (Stratus ec2-get-password-data)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.count).toBe(30);
  });

  it('counts distinct instances: 6 raise, 5 do not (Stratus ec2-download-user-data, built)', () => {
    expect(findings(userDataDownload(6), ID)).toHaveLength(1);
    expect(findings(userDataDownload(5), ID)).toEqual([]);
  });

  it('does not count one instance read again and again', () => {
    expect(findings(replay(record(PASSWORDS, 'GetPasswordData'), 20, 10), ID)).toEqual([]);
  });

  it('ignores DescribeInstanceAttribute for attributes that hold no secret', () => {
    const reads = userDataDownload(8).map((r) => ({ ...r, requestParameters: { ...(r.requestParameters as object), attribute: 'instanceType' } }));
    expect(findings(reads, ID)).toEqual([]);
  });
});
