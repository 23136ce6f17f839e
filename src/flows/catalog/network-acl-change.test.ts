import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'network-acl-change';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises on the recorded change (Panther test log)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('Network ACL changed: example-role/example-user created the entry of the network ACL acl-1111');
  });
  it('raises on an entry deleted from the CLI (elastic/integrations)', () => {
    expect(findings([record(`${R}writes-network.json`, 'DeleteNetworkAclEntry')], ID)).toHaveLength(1);
  });
  it('ignores a route', () => {
    expect(findings([record(`${R}writes-network.json`, 'CreateRoute')], ID)).toEqual([]);
  });
  it('ignores infrastructure-as-code identities', () => {
    const { records } = positive();
    expect(findings(records, ID, { allow: { iacIdentities: ['arn:aws:iam::*:role/tester', 'example-role'] } })).toEqual([]);
  });
});
