import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { call } from '../../../test/fixtures/flows/build.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'ec2-unusual-instance-type';
const LAUNCH = 'records/stratus-aws.execution.ec2-launch-unusual-instances.json';

describe(ID, () => {
  it('raises on a refused launch of ten p2.xlarge (Stratus ec2-launch-unusual-instances)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toMatch(/^Attempt to launch accelerated instances \(p2\.xlarge\): /);
  });

  it('reads the type from the response when the launch used a template', () => {
    const r = call({
      source: 'ec2.amazonaws.com',
      name: 'RunInstances',
      request: { instancesSet: { items: [{ minCount: 1, maxCount: 1 }] }, launchTemplate: { launchTemplateId: 'lt-0abc' } },
      response: { instancesSet: { items: [{ instanceId: 'i-0a1b2c3d4e5f60718', instanceType: 'g5.12xlarge' }] } },
    });
    expect(findings([r], ID)[0]!.title).toMatch(/^Launch of accelerated instances \(g5\.12xlarge\): /);
  });

  it('ignores ordinary types, and follows params.instanceTypes', () => {
    const raw = record(LAUNCH, 'RunInstances');
    (raw.requestParameters as Record<string, unknown>).instanceType = 't3.micro';
    expect(findings([raw], ID)).toEqual([]);
    expect(findings([raw], ID, { [ID]: { params: { instanceTypes: ['t3.*'] } } })).toHaveLength(1);
    expect(findings([record(LAUNCH, 'RunInstances')], ID, { [ID]: { params: { instanceTypes: ['x2*'] } } })).toEqual([]);
  });
});
