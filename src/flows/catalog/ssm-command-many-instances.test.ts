import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { sendCommandByTag, sendCommandTo } from '../../../test/fixtures/flows/identity-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'ssm-command-many-instances';

describe(ID, () => {
  it('raises on a shell script sent to three instances (Stratus ssm-send-command)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toMatch(/^Command sent to 3 instances \(AWS-RunShellScript\): christophe /);
  });

  it('raises on a command aimed by tag, whatever the number of instances', () => {
    expect(findings([sendCommandByTag()], ID)[0]!.title).toMatch(/^Command sent to instances chosen by tag:Environment=production \(AWS-RunShellScript\): /);
  });

  it('ignores a command to one or two instances, and follows params.minInstances', () => {
    expect(findings([sendCommandTo(['i-0a1b2c3d4e5f60718'])], ID)).toEqual([]);
    expect(findings([sendCommandTo(['i-0a1b2c3d4e5f60718', 'i-0a1b2c3d4e5f60719'])], ID)).toEqual([]);
    expect(findings([sendCommandTo(['i-0a1b2c3d4e5f60718', 'i-0a1b2c3d4e5f60719'])], ID, { [ID]: { params: { minInstances: 2 } } })).toHaveLength(1);
  });

  it('ignores the DescribeInstanceInformation and GetCommandInvocation around it', () => {
    const { records } = POSITIVE[ID]!();
    expect(findings(records.filter((r) => r.eventName !== 'SendCommand'), ID)).toEqual([]);
  });
});
