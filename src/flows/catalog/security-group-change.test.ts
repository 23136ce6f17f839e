import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, records } from '../../../test/fixtures/flows/load.ts';

const ID = 'security-group-change';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises when SSH is opened to the internet, and says so (Stratus)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('Security group changed: christophe opened inbound access on the security group sg-003dc7f1f1c686164 — open to the internet on port 22');
    expect(f.body).toContain('208.236.235.254/0');
  });
  it('ignores reading security groups (OTRF console session)', () => {
    const reads = records(`${R}otrf-ec2-proxy-s3-exfiltration.ndjson`).filter((r) => r.eventName === 'DescribeSecurityGroups');
    expect(reads.length).toBeGreaterThan(0);
    expect(findings(reads, ID)).toEqual([]);
  });
  it('ignores automation roles on the allow-list', () => {
    const { records: r } = positive();
    expect(findings(r, ID, { allow: { automationRoles: ['arn:aws:iam::*:user/christophe'] } })).toEqual([]);
  });
});
