import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'config-service-change';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises when the Config delivery channel is deleted (Panther test log)', () => {
    const { records, config } = positive();
    const f = findings(records, ID, config);
    expect(f).toHaveLength(1);
    expect(f[0]!.title).toBe('AWS Config changed: tester/tester deleted a delivery channel (Config recorder default)');
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
