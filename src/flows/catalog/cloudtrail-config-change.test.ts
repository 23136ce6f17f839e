import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { at, findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'cloudtrail-config-change';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises when logging stops on a trail (console, Panther test log)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('CloudTrail changed: Tester stopped logging on the CloudTrail trail example-trail in us-west-2');
    expect(f.body).toContain('leaves you blind');
  });
  it('raises on event selectors changed (Stratus) and a trail updated (AWS docs)', () => {
    expect(findings([record(`${R}stratus-aws.defense-evasion.cloudtrail-event-selectors.json`, 'PutEventSelectors')], ID)).toHaveLength(1);
    expect(findings([record(`${R}writes-logging.json`, 'UpdateTrail')], ID)).toHaveLength(1);
  });
  it('ignores a failed update and service-linked channels', () => {
    expect(findings([at(`${R}aws-docs-examples.json`, 16)], ID)).toEqual([]);
    expect(findings([at(`${R}aws-docs-examples.json`, 19)], ID)).toEqual([]);
  });
  it('is not reported again as ClickOps though it was done in the console (nothing doubled)', () => {
    const { records } = positive();
    expect(findings(records).map((x) => x.flow)).not.toContain('clickops');
  });
});
