import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, records, replay } from '../../../test/fixtures/flows/load.ts';

const ID = 'ec2-instance-connect-many';
const CONNECT = 'records/stratus-aws.lateral-movement.ec2-instance-connect.json';

describe(ID, () => {
  it('raises when keys are pushed to three instances (Stratus ec2-instance-connect)', () => {
    const f = positiveFinding(ID);
    expect(f.count).toBe(3);
    expect(f.title).toMatch(/^christophe pushed SSH keys to more than 2 instances since /);
  });

  it('counts instances, not pushes: two instances pushed to ten times each do not raise', () => {
    const [a, b] = records(CONNECT);
    const many = [...replay(a!, 10, 30), ...replay(b!, 10, 30)];
    expect(findings(many, ID)).toEqual([]);
  });

  it('needs the instances within the window', () => {
    const [a, b, c] = records(CONNECT);
    const spread = [...replay(a!, 1, 1, '2024-06-03T08:00:00Z'), ...replay(b!, 1, 1, '2024-06-03T09:30:00Z'), ...replay(c!, 1, 1, '2024-06-03T11:00:00Z')];
    expect(findings(spread, ID)).toEqual([]);
    expect(findings(spread, ID, { [ID]: { params: { window: '4h' } } })).toHaveLength(1);
  });
});
