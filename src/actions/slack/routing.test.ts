import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseRouting, routingProblems } from '../jira/routing.ts';
import { describeSlackAlerts, replyEveryMs, routeMessage, slackRouted } from './routing.ts';

const routing = (yaml: string) => parseRouting(parse(yaml));
const f = (flow: string, severity: 'info' | 'low' | 'medium' | 'high' | 'critical', account: string | null = '111122223333') => ({ flow, severity, account });

describe('Slack routing', () => {
  it('posts nothing unless a channel is configured', () => {
    expect(routeMessage(f('root-activity', 'critical'), undefined)).toBeNull();
    expect(routeMessage(f('root-activity', 'critical'), routing('jira: { minSeverity: low }'))).toBeNull();
    expect(slackRouted(routing('jira: { minSeverity: low }'))).toBe(false);
  });

  it('posts to the default channel from low up; minSeverity moves the bar', () => {
    const r = routing('slack: { channel: "#security" }');
    expect(slackRouted(r)).toBe(true);
    expect(routeMessage(f('clickops', 'low'), r)).toEqual({ channel: '#security' });
    expect(routeMessage(f('new-service', 'info'), r)).toBeNull();
    const high = routing('slack: { channel: C0123ABCD, minSeverity: high }');
    expect(routeMessage(f('iam-policy-change', 'medium'), high)).toBeNull();
    expect(routeMessage(f('root-activity', 'high'), high)).toEqual({ channel: 'C0123ABCD' });
  });

  it('the first matching rule decides: its channel and minSeverity replace the defaults, false means no message', () => {
    const r = routing(`
slack: { channel: "#security", minSeverity: medium }
rules:
  - match: { flow: [root-activity], account: ["222233334444"] }
    slack: { channel: "#prod-alerts" }
  - match: { flow: new-service }
    jira: false
    slack: { minSeverity: info }
  - match: { severity: critical }
    slack: false
  - match: { account: "333344445555" }
    jira: { project: OPS }
`);
    expect(routeMessage(f('root-activity', 'high', '222233334444'), r)).toEqual({ channel: '#prod-alerts' });
    expect(routeMessage(f('root-activity', 'high'), r)).toEqual({ channel: '#security' });
    expect(routeMessage(f('new-service', 'info'), r)).toEqual({ channel: '#security' });
    expect(routeMessage(f('admin-policy-attached', 'critical'), r)).toBeNull();
    // A rule without slack keeps the defaults.
    expect(routeMessage(f('vpc-change', 'medium', '333344445555'), r)).toEqual({ channel: '#security' });
    expect(routeMessage(f('clickops', 'low', '333344445555'), r)).toBeNull();
    // A rule's channel alone is enough to post.
    expect(slackRouted(routing('rules:\n  - match: { flow: root-activity }\n    slack: { channel: "#root" }\n'))).toBe(true);
  });

  it('replyEvery: default one minute, a duration from 1s to 1d, only at the defaults', () => {
    expect(replyEveryMs(undefined)).toBe(60_000);
    expect(replyEveryMs(routing('slack: { channel: "#s", replyEvery: 2s }'))).toBe(2000);
    expect(routingProblems({ slack: { replyEvery: '10ms' } })[0]).toMatch(/^routing\.slack\.replyEvery: replyEvery "10ms"/);
    expect(routingProblems({ rules: [{ match: { severity: 'high' }, slack: { replyEvery: '1m' } }] })).toEqual([
      'routing.rules[0].slack.replyEvery: unknown key (known: channel, minSeverity)',
    ]);
  });

  it('names wrong Slack keys with their path', () => {
    expect(routingProblems(parse('slack: { channel: "#Security", minSeverty: high }\nrules:\n  - match: { flow: clickops }\n    slack: { channel: security }\n'))).toEqual([
      'routing.slack.channel: expected a Slack channel name such as "#security" (lower-case, in quotes) or a channel id such as C0123ABCD',
      'routing.slack.minSeverty: unknown key — did you mean minSeverity? (known: channel, minSeverity, replyEvery)',
      'routing.rules[0].slack.channel: expected a Slack channel name such as "#security" (lower-case, in quotes) or a channel id such as C0123ABCD',
    ]);
    expect(routingProblems({ slack: { minSeverity: 'urgent' } })).toEqual(['routing.slack.minSeverity: "urgent" is not a severity; expected one of info, low, medium, high, critical']);
  });

  it('config check says where findings and reports go, and that nothing is posted without a bot token', () => {
    expect(describeSlackAlerts(undefined, [], true)).toBe('off (no channel under routing.slack or reports[].slack)');
    const r = routing('slack: { channel: "#security", minSeverity: high }\nrules:\n  - match: { flow: root-activity }\n    slack: { channel: C0ROOT1234 }\n  - match: { flow: clickops }\n    slack: false\n');
    const reports = [{ id: 'weekly-denied', slack: { channel: '#sec-reports' } }, { id: 'idle' }];
    expect(describeSlackAlerts(r, reports, true)).toBe('findings to #security (high and up); rules to C0ROOT1234; reports weekly-denied → #sec-reports');
    expect(describeSlackAlerts(undefined, reports, false)).toBe('reports weekly-denied → #sec-reports — but nothing is posted: set SLACK_BOT_TOKEN where the workers run');
  });
});
