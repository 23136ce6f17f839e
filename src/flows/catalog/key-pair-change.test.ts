import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { findings, records } from '../../../test/fixtures/flows/load.ts';

const ID = 'key-pair-change';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises when a key pair is created (AWS docs)', () => {
    const { records, config } = positive();
    const f = findings(records, ID, config);
    expect(f).toHaveLength(1);
    expect(f[0]!.title).toBe('EC2 key pair changed: Alice created the key pair mykeypair');
  });
  it('ignores listing key pairs', () => {
    expect(findings(records(`${R}otrf-ec2-proxy-s3-exfiltration.ndjson`).filter((r) => r.eventName === 'DescribeKeyPairs'), ID)).toEqual([]);
  });
});
