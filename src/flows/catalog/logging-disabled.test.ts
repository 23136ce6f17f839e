import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'logging-disabled';
const R = 'records/';

describe(ID, () => {
  it('raises when VPC flow logs are deleted (Stratus vpc-remove-flow-logs)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('VPC flow logs turned off: christophe deleted the VPC flow log fl-0e17aa62a21d4bbfe');
  });
  it('raises for DNS query logs, the Config recorder and GuardDuty', () => {
    expect(findings([record(`${R}stratus-aws.defense-evasion.dns-delete-logs.json`, 'DeleteResolverQueryLogConfig')], ID)[0]!.title).toMatch(/^DNS query logs turned off/);
    expect(findings([record(`${R}writes-logging.json`, 'StopConfigurationRecorder')], ID)[0]!.title).toMatch(/^AWS Config recording turned off/);
    expect(findings([record(`${R}writes-logging.json`, 'DeleteDetector')], ID)[0]!.title).toMatch(/^GuardDuty turned off/);
  });
  it('ignores turning CloudTrail on (another flow) and a denied attempt', () => {
    expect(findings([record(`${R}writes-logging.json`, 'StartLogging')], ID)).toEqual([]);
    const denied = { ...record(`${R}stratus-aws.defense-evasion.vpc-remove-flow-logs.json`, 'DeleteFlowLogs'), errorCode: 'Client.UnauthorizedOperation', errorMessage: 'You are not authorized to perform this operation.' };
    expect(findings([denied], ID)).toEqual([]);
  });
});
