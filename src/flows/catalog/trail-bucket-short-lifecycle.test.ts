import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { toEvent } from '../../../test/fixtures/flows/load.ts';
import { lifecycle } from '../../../test/fixtures/flows/exposure-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';
import { parseFlowsConfig } from '../config.ts';
import { detect } from '../detector.ts';

const ID = 'trail-bucket-short-lifecycle';

describe(ID, () => {
  it('raises on a rule expiring a CloudTrail bucket’s objects after a day (Stratus cloudtrail-lifecycle-rule, built)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toBe('CloudTrail logs set to be deleted after 1 day in org-cloudtrail-logs: mallory set the lifecycle of the S3 bucket org-cloudtrail-logs');
    expect(findings([lifecycle('org-cloudtrail-logs', 7)], ID)[0]!.title).toContain('after 7 days');
  });
  it('takes the buckets the s3 and sqs sources read as trail buckets whatever their names', () => {
    const r = [toEvent(lifecycle('audit-archive', 3))];
    expect(detect(r, parseFlowsConfig({})).filter((f) => f.flow === ID)).toEqual([]);
    expect(detect(r, parseFlowsConfig({}, { trailBuckets: ['audit-archive'] })).filter((f) => f.flow === ID)).toHaveLength(1);
  });
  it('ignores rules longer than maxDays, disabled rules and other buckets; reports once (s3-bucket-policy-change yields)', () => {
    expect(findings([lifecycle('org-cloudtrail-logs', 8)], ID)).toEqual([]);
    expect(findings([lifecycle('org-cloudtrail-logs', 30)], ID, { [ID]: { params: { maxDays: 30 } } })).toHaveLength(1);
    expect(findings([lifecycle('org-cloudtrail-logs', 1, 'Disabled')], ID)).toEqual([]);
    expect(findings([lifecycle('orders-data', 1)], ID)).toEqual([]);
    expect(findings([lifecycle('org-cloudtrail-logs', 1)]).map((x) => x.flow)).toEqual([ID]);
  });
});
