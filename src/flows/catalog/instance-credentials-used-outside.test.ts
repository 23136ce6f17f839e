import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { roleSession } from '../../../test/fixtures/flows/build.ts';
import { instanceCallFrom } from '../../../test/fixtures/flows/identity-records.ts';
import { findings, records } from '../../../test/fixtures/flows/load.ts';

const ID = 'instance-credentials-used-outside';
const OTRF = 'records/otrf-ec2-proxy-s3-exfiltration.ndjson';
const EGRESS = { expected: { egressCidrs: ['198.51.100.0/24', '10.0.0.0/8'] } };

describe(ID, () => {
  it("raises when an instance role's credentials are used from outside the egress ranges (OTRF ec2 proxy exfiltration)", () => {
    const { records: r, config } = POSITIVE[ID]!();
    const f = findings(r, ID, config);
    expect(f).toHaveLength(1);
    expect(f[0]!.title).toMatch(/^Credentials of instance i-0317f6c6b66ae9c40 used from 1\.2\.3\.4, outside the expected egress ranges: /);
    // Every call of that session from 1.2.3.4 joins the one finding.
    expect(f[0]!.count).toBe(r.filter((x) => (x.userIdentity as { arn?: string }).arn?.endsWith('/i-0317f6c6b66ae9c40') && x.sourceIPAddress === '1.2.3.4').length);
  });

  it('is off until flows.expected.egressCidrs is set', () => {
    expect(findings(records(OTRF), ID)).toEqual([]);
  });

  it('stays quiet inside the ranges (IPv4 and IPv6), for service host names, and for sessions that are not an instance', () => {
    expect(findings([instanceCallFrom('198.51.100.7'), instanceCallFrom('10.20.30.40')], ID, EGRESS)).toEqual([]);
    const v6 = { expected: { egressCidrs: ['2001:db8::/32'] } };
    expect(findings([instanceCallFrom('2001:db8::15')], ID, v6)).toEqual([]);
    expect(findings([instanceCallFrom('2001:db9::15')], ID, v6)).toHaveLength(1);
    expect(findings([{ ...instanceCallFrom('198.51.100.7'), sourceIPAddress: 'ec2.amazonaws.com' }], ID, EGRESS)).toEqual([]);
    const person = { ...instanceCallFrom('203.0.113.9'), userIdentity: roleSession('web-server', 'alice') };
    expect(findings([person], ID, EGRESS)).toEqual([]);
    expect(findings([instanceCallFrom('203.0.113.9')], ID, EGRESS)).toHaveLength(1);
  });
});
