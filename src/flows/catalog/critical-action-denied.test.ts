import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { call, roleSession } from '../../../test/fixtures/flows/build.ts';
import { denied, MALLORY } from '../../../test/fixtures/flows/data-records.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';
import { compileFlows } from '../compile.ts';
import { parseFlowsConfig } from '../config.ts';
import { defineFlow } from '../define.ts';
import { Detector } from '../detector.ts';
import { FLOWS } from '../registry.ts';
import { toEvent } from '../../../test/fixtures/flows/load.ts';
import { criticalActionDenied, criticalSources } from './critical-action-denied.ts';

const ID = 'critical-action-denied';
const TRAIL = { name: 'arn:aws:cloudtrail:eu-west-1:111122223333:trail/management-events' };

describe(ID, () => {
  it('raises on one denied StopLogging, reported by nothing else', () => {
    const { records, config } = POSITIVE[ID]!();
    const all = findings(records, undefined, config);
    expect(all.map((f) => f.flow)).toEqual([ID]);
    expect(all[0]!.severity).toBe('high');
    expect(all[0]!.title).toBe('Denied attempt (cloudtrail-config-change): mallory tried to stop logging on the CloudTrail trail management-events');
    expect(all[0]!.body).toContain('reports as high when it goes through');
  });

  it('takes a denial by a service control policy from scp-denied', () => {
    const scp = denied('cloudtrail.amazonaws.com', 'DeleteTrail', TRAIL);
    scp.errorMessage = `User: ${String(MALLORY.arn)} is not authorized to perform: cloudtrail:DeleteTrail with an explicit deny in a service control policy`;
    expect(findings([scp], undefined).map((f) => f.flow)).toEqual([ID]);
    expect(findings([scp], undefined, { [ID]: { enabled: false } }).map((f) => f.flow)).toEqual(['scp-denied']);
  });

  it('leaves an IaC identity refused one permission alone, unless a service control policy refused it (scp-denied)', () => {
    const pipeline = roleSession('terraform-apply', 'run-42');
    const cfg = { allow: { iacIdentities: ['terraform-apply'] } };
    const plain = denied('cloudtrail.amazonaws.com', 'StopLogging', TRAIL, pipeline);
    expect(findings([plain], undefined)).toHaveLength(1);
    expect(findings([plain], undefined, cfg)).toEqual([]);
    const scp = denied('cloudtrail.amazonaws.com', 'StopLogging', TRAIL, pipeline);
    scp.errorMessage = 'User: arn:aws:sts::111122223333:assumed-role/terraform-apply/run-42 is not authorized to perform: cloudtrail:StopLogging with an explicit deny in a service control policy';
    expect(findings([scp], undefined, cfg).map((f) => f.flow)).toEqual(['scp-denied']);
  });

  it("asks the source flow's own conditions: a denied UpdateDetector counts only when it would turn GuardDuty off", () => {
    const off = denied('guardduty.amazonaws.com', 'UpdateDetector', { detectorId: '12abc34d567e8fa901bc2d34e56789f0', enable: false });
    const on = denied('guardduty.amazonaws.com', 'UpdateDetector', { detectorId: '12abc34d567e8fa901bc2d34e56789f0', enable: true });
    expect(findings([off], ID)).toHaveLength(1);
    expect(findings([on], ID)).toEqual([]);
  });

  it('matches the service, not only the name: IAM CreatePolicy is not the organization\'s', () => {
    expect(findings([denied('iam.amazonaws.com', 'CreatePolicy', { policyName: 'p', policyDocument: '{}' })], ID)).toEqual([]);
    expect(findings([denied('organizations.amazonaws.com', 'CreatePolicy', { name: 'p', type: 'SERVICE_CONTROL_POLICY', content: '{}' })], ID)).toHaveLength(1);
  });

  it('ignores what went through, what failed for another reason, and denied calls of lesser flows', () => {
    expect(findings([record('records/writes-logging.json', 'StopLogging')], ID)).toEqual([]);
    expect(findings([record('records/denied.json', 'UpdateTrail')], ID)).toEqual([]); // TrailNotFoundException
    expect(findings([denied('iam.amazonaws.com', 'CreateAccessKey', { userName: 'bob' })], ID)).toEqual([]); // access-key-created is medium
    expect(findings([denied('ec2.amazonaws.com', 'DescribeInstances', {})], ID)).toEqual([]);
  });

  it('leaves denied attempts to a flow that reports them itself (organization-leave-attempt)', () => {
    expect(findings([record('records/denied.json', 'LeaveOrganization')], ID)).toEqual([]);
  });

  it("derives its actions from the catalog's high and critical single-event flows, so it stays in step", () => {
    const self = FLOWS.find((f) => f.id === ID)!;
    const sources = criticalSources(FLOWS);
    expect(sources.map((f) => f.id)).toEqual(expect.arrayContaining(['cloudtrail-config-change', 'organizations-change', 'logging-disabled', 'admin-policy-attached', 'sensitive-delete']));
    expect(sources.every((f) => f.kind === 'single' && (f.severity === 'high' || f.severity === 'critical'))).toBe(true);
    expect(new Set(self.actions)).toEqual(new Set(sources.flatMap((f) => f.actions!)));
    // A flow made high later is covered without touching this one.
    const custom = defineFlow({
      id: 'ami-made-public-test',
      kind: 'single',
      severity: 'critical',
      description: 'test',
      runbook: 'test',
      params: {},
      dedupPeriod: '1h',
      allow: [],
      actions: ['ModifyImageAttribute'],
      match: (e) => e.outcome === 'success' && e.action === 'ModifyImageAttribute',
      key: (e) => e.account ?? '',
    });
    const catalog = [custom];
    const cfg = parseFlowsConfig({});
    const d = new Detector(cfg, compileFlows(cfg, [...catalog, criticalActionDenied(catalog)]));
    d.push([toEvent(denied('ec2.amazonaws.com', 'ModifyImageAttribute', { imageId: 'ami-1', launchPermission: { add: { items: [{ group: 'all' }] } } }))]);
    expect(d.findings().map((f) => f.flow)).toEqual([ID]);
  });

  it('joins repeated attempts by one principal into one finding', () => {
    const tries = [denied('cloudtrail.amazonaws.com', 'StopLogging', TRAIL), denied('cloudtrail.amazonaws.com', 'DeleteTrail', TRAIL)];
    tries[1]!.eventTime = '2024-06-03T09:05:00Z';
    const f = findings(tries, ID);
    expect(f).toHaveLength(1);
    expect(f[0]!.count).toBe(2);
    expect(findings([call({ source: 'cloudtrail.amazonaws.com', name: 'StopLogging', request: TRAIL, error: { code: 'AccessDenied' } })], ID)).toHaveLength(1);
  });
});
