import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { call, roleSession } from '../../../test/fixtures/flows/build.ts';
import { tampering } from '../../../test/fixtures/flows/data-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'detection-tampered';

describe(ID, () => {
  it('raises when CloudWatch alarms are deleted', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toBe('CloudWatch alarms weakened: mallory deleted alarms');
  });

  it('raises on each kind of watcher weakened, alone (logging-disabled and sensitive-delete stay out)', () => {
    const words: Record<string, string> = {
      DeleteAlarms: 'CloudWatch alarms',
      DisableAlarmActions: 'CloudWatch alarm actions',
      CreateIPSet: 'GuardDuty trusted IP list',
      UpdateThreatIntelSet: 'GuardDuty threat list',
      CreateFilter: 'GuardDuty suppression rule',
      DeleteRule: 'EventBridge rule',
      DeleteLogStream: 'CloudWatch log stream',
      DeleteWebACL: 'WAF web ACL',
      UpdateClusterConfig: 'EKS control-plane logging',
      DeleteModelInvocationLoggingConfiguration: 'Bedrock model invocation logging',
    };
    for (const [name, r] of Object.entries(tampering())) {
      const all = findings([r], undefined);
      expect(all.map((f) => f.flow), name).toEqual([ID]);
      expect(all[0]!.title, name).toMatch(new RegExp(`^${words[name]} weakened: mallory `));
    }
  });

  it('ignores the same calls when they strengthen: a threat list activated, a filter that only labels, EKS logs turned on', () => {
    const t = tampering();
    const on = (r: typeof t.CreateIPSet, patch: Record<string, unknown>) => ({ ...r, requestParameters: { ...(r!.requestParameters as object), ...patch } });
    expect(findings([on(t.UpdateThreatIntelSet, { activate: true })], ID)).toEqual([]);
    expect(findings([on(t.CreateFilter, { action: 'NOOP' })], ID)).toEqual([]);
    expect(findings([on(t.UpdateClusterConfig, { logging: { clusterLogging: [{ types: ['audit'], enabled: true }] } })], ID)).toEqual([]);
  });

  it('ignores AWS cleaning up after itself: target tracking deleting its alarms', () => {
    const scaling = call({
      source: 'monitoring.amazonaws.com',
      name: 'DeleteAlarms',
      identity: { ...roleSession('AWSServiceRoleForApplicationAutoScaling_DynamoDBTable', 'AutoScaling'), invokedBy: 'application-autoscaling.amazonaws.com' },
      sourceIp: 'application-autoscaling.amazonaws.com',
      userAgent: 'application-autoscaling.amazonaws.com',
      request: { alarmNames: ['TargetTracking-table/orders-AlarmHigh-1b2c'] },
    });
    expect(findings([scaling], ID)).toEqual([]);
  });

  it('is not fooled by a user agent that names an AWS service', () => {
    const r = tampering().DeleteRule!;
    r.userAgent = 'events.amazonaws.com';
    expect(findings([r], ID)).toHaveLength(1);
  });
});
