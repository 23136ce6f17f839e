import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { findings, records } from '../../../test/fixtures/flows/load.ts';

const ID = 'new-service';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises when a service is first used in an account after the learning period (OTRF: S3 after an hour of EC2)', () => {
    const { records, config } = positive();
    const f = findings(records, ID, config);
    const services = f.map((x) => x.title.replace(/^First use of (\S+) in account 123456789123: .*$/, '$1'));
    expect(services).toContain('s3');
    expect(services).not.toContain('ec2');
    expect(f.find((x) => x.title.startsWith('First use of s3'))!.count).toBeGreaterThan(1);
  });
  it('stays quiet while the default learning period (7 days) runs', () => {
    expect(findings(records(`${R}otrf-ec2-proxy-s3-exfiltration.ndjson`), ID)).toEqual([]);
  });
  it('reports per person too, when asked', () => {
    const f = findings(records(`${R}otrf-ec2-proxy-s3-exfiltration.ndjson`), ID, { [ID]: { params: { learningPeriod: '0s', scopes: ['person'] } } });
    expect(f.every((x) => x.key.startsWith('new-service:person-service:'))).toBe(true);
    expect(f.length).toBeGreaterThan(0);
  });
});
