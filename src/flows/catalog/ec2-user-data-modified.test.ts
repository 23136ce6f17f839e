import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { call } from '../../../test/fixtures/flows/build.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'ec2-user-data-modified';

describe(ID, () => {
  it('raises when user data is replaced (Stratus ec2-user-data, built from the API reference)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toMatch(/^Start-up script replaced on instance i-0a1b2c3d4e5f60718: alice /);
  });

  it('raises on the attribute form Sigma matches (attribute: userData)', () => {
    const r = call({ source: 'ec2.amazonaws.com', name: 'ModifyInstanceAttribute', request: { instanceId: 'i-0a1b2c3d4e5f60718', attribute: 'userData', value: '<sensitiveDataRemoved>' } });
    expect(findings([r], ID)).toHaveLength(1);
  });

  it('ignores other attributes and refused calls', () => {
    const type = call({ source: 'ec2.amazonaws.com', name: 'ModifyInstanceAttribute', request: { instanceId: 'i-0a1b2c3d4e5f60718', instanceType: { value: 't3.large' } } });
    expect(findings([type], ID)).toEqual([]);
    const denied = call({ source: 'ec2.amazonaws.com', name: 'ModifyInstanceAttribute', request: { instanceId: 'i-0a1b2c3d4e5f60718', userData: '<sensitiveDataRemoved>' }, error: { code: 'Client.UnauthorizedOperation' } });
    expect(findings([denied], ID)).toEqual([]);
  });
});
