import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'config-service-change';
const R = 'records/';

describe(ID, () => {
  it('raises when the Config delivery channel is deleted (Panther test log)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('AWS Config changed: tester/tester deleted a delivery channel (Config recorder default)');
  });
  it('raises when a delivery channel is set', () => {
    expect(findings([record('flows/panther-analysis.json', 'PutDeliveryChannel')], ID)).toHaveLength(1);
  });
  it('leaves a stopped recorder to logging-disabled, unless that flow is off', () => {
    const stop = [record(`${R}writes-logging.json`, 'StopConfigurationRecorder')];
    expect(findings(stop, ID)).toEqual([]);
    expect(findings(stop, ID, { 'logging-disabled': { enabled: false } })).toHaveLength(1);
  });
});
