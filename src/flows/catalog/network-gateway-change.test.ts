import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'network-gateway-change';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises on the recorded change (Panther test log)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('Network gateway changed: tester/tester attached the internet gateway igw-1');
  });
  it('ignores a new VPC', () => {
    expect(findings([record(`${R}writes-network.json`, 'CreateVpc')], ID)).toEqual([]);
  });
  it('ignores infrastructure-as-code identities', () => {
    const { records } = positive();
    expect(findings(records, ID, { allow: { iacIdentities: ['arn:aws:iam::*:role/tester', 'example-role'] } })).toEqual([]);
  });
});
