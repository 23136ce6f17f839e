import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { lambdaSession, roleSession } from '../../../test/fixtures/flows/build.ts';
import { discoveryFromInstance } from '../../../test/fixtures/flows/identity-records.ts';
import { findings, replay } from '../../../test/fixtures/flows/load.ts';

const ID = 'workload-discovery-burst';

describe(ID, () => {
  it('raises on nine discovery calls from an instance, some refused (Stratus ec2-enumerate-from-instance, built)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toMatch(/^Account discovery from a workload: web-server\/i-0a1b2c3d4e5f60718 made more than 4 different discovery calls since /);
  });

  it('counts distinct calls: five raise, four do not, the same call repeated never does', () => {
    expect(findings(discoveryFromInstance(5), ID)).toHaveLength(1);
    expect(findings(discoveryFromInstance(4), ID)).toEqual([]);
    expect(findings(replay(discoveryFromInstance(1)[0]!, 40, 5), ID)).toEqual([]);
  });

  it('raises for a Lambda session too, and not for a person running the same commands', () => {
    const fn = lambdaSession('reporting-role', 'nightly-report');
    const lambda = discoveryFromInstance(9, fn).map((r) => ({ ...r, userAgent: 'aws-sdk-js/3.540.0 ua/2.1 os/linux#5.10 lang/js md/nodejs#20.12.0 exec-env/AWS_Lambda_nodejs20.x api/iam#3.540.0' }));
    expect(findings(lambda, ID)).toHaveLength(1);
    const person = discoveryFromInstance(9, roleSession('ReadOnly', 'alice'));
    expect(findings(person, ID)).toEqual([]);
  });
});
