import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, records } from '../../../test/fixtures/flows/load.ts';

const ID = 'key-pair-change';
const R = 'records/';

describe(ID, () => {
  it('raises when a key pair is created (AWS docs)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('EC2 key pair changed: Alice created the key pair mykeypair');
  });
  it('ignores listing key pairs', () => {
    expect(findings(records(`${R}otrf-ec2-proxy-s3-exfiltration.ndjson`).filter((r) => r.eventName === 'DescribeKeyPairs'), ID)).toEqual([]);
  });
});
