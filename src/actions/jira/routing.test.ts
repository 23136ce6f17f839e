import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TrailbotError } from '../../errors.ts';
import { commentEveryMs, onClosed, parseRouting, type Routing, routeTicket, routingProblems } from './routing.ts';

const SEC = { project: 'SEC' };
const routing = (yaml: string): Routing => parseRouting(parse(yaml))!;

describe('routeTicket', () => {
  it('with only JIRA_* set: medium and above become a Task in JIRA_PROJECT labelled trailbot and the flow id', () => {
    for (const severity of ['medium', 'high', 'critical'] as const) {
      expect(routeTicket({ flow: 'root-activity', severity, account: '111122223333' }, undefined, SEC)).toEqual({
        project: 'SEC',
        issueType: 'Task',
        labels: ['trailbot', 'root-activity'],
      });
    }
    expect(routeTicket({ flow: 'clickops', severity: 'low' }, undefined, SEC)).toBeNull();
    expect(routeTicket({ flow: 'new-service', severity: 'info' }, undefined, SEC)).toBeNull();
    expect(routeTicket({ flow: 'clickops', severity: 'medium' }, {}, SEC)).toMatchObject({ project: 'SEC', issueType: 'Task' });
  });

  it('applies the defaults under routing.jira: minimum severity, project, issue type, priorities, assignee, components, labels', () => {
    const r = routing(`
jira:
  minSeverity: low
  project: OPS
  issueType: Bug
  priorities: { critical: Highest, high: High, low: Low }
  assignee: 5b10ac8d82e05b22cc7d4ef5
  components: [CloudTrail]
  labels: [aws, trailbot]
`);
    expect(routeTicket({ flow: 'clickops', severity: 'low' }, r, SEC)).toEqual({
      project: 'OPS',
      issueType: 'Bug',
      labels: ['trailbot', 'clickops', 'aws'],
      priority: 'Low',
      assignee: '5b10ac8d82e05b22cc7d4ef5',
      components: ['CloudTrail'],
    });
    // A severity the map leaves out gets no priority field (Jira's default priority).
    expect(routeTicket({ flow: 'clickops', severity: 'medium' }, r, SEC)).not.toHaveProperty('priority');
    expect(routeTicket({ flow: 'root-activity', severity: 'critical' }, r, SEC)?.priority).toBe('Highest');
    expect(routeTicket({ flow: 'new-service', severity: 'info' }, r, SEC)).toBeNull();
  });

  it('takes the first rule that matches; its keys replace the defaults', () => {
    const r = routing(`
jira: { project: SEC, labels: [aws], priorities: { high: High } }
rules:
  - match: { flow: [root-activity], account: ["111122223333"], severity: [high, critical] }
    jira: { project: OPS, issueType: Bug, labels: [root] }
  - match: { flow: root-activity }
    jira: { project: ROOT }
  - match: { severity: critical }
    jira: { project: CRIT, priorities: { critical: P1 } }
`);
    const root = { flow: 'root-activity', severity: 'high' as const };
    expect(routeTicket({ ...root, account: '111122223333' }, r, SEC)).toEqual({ project: 'OPS', issueType: 'Bug', labels: ['trailbot', 'root-activity', 'root'], priority: 'High' });
    // Every condition must hold: another account, or no account at all, falls through to the next rule.
    expect(routeTicket({ ...root, account: '444455556666' }, r, SEC)).toMatchObject({ project: 'ROOT', issueType: 'Task', labels: ['trailbot', 'root-activity', 'aws'] });
    expect(routeTicket({ ...root, account: null }, r, SEC)?.project).toBe('ROOT');
    expect(routeTicket({ ...root, severity: 'medium', account: '111122223333' }, r, SEC)?.project).toBe('ROOT');
    expect(routeTicket({ flow: 'clickops', severity: 'critical' }, r, SEC)).toMatchObject({ project: 'CRIT', priority: 'P1' });
    expect(routeTicket({ flow: 'clickops', severity: 'high' }, r, SEC)).toMatchObject({ project: 'SEC', priority: 'High' });
  });

  it('jira: false in a matching rule means no ticket; a rule may lower or raise the minimum severity', () => {
    const r = routing(`
rules:
  - match: { flow: new-service }
    jira: false
  - match: { flow: [clickops, clickops-burst] }
    jira: { minSeverity: info }
  - match: { account: "111122223333" }
    jira: { minSeverity: critical }
`);
    expect(routeTicket({ flow: 'new-service', severity: 'critical' }, r, SEC)).toBeNull();
    expect(routeTicket({ flow: 'clickops', severity: 'info' }, r, SEC)?.labels).toEqual(['trailbot', 'clickops']);
    expect(routeTicket({ flow: 'root-activity', severity: 'high', account: '111122223333' }, r, SEC)).toBeNull();
    expect(routeTicket({ flow: 'root-activity', severity: 'critical', account: '111122223333' }, r, SEC)?.project).toBe('SEC');
    expect(routeTicket({ flow: 'root-activity', severity: 'high', account: '999999999999' }, r, SEC)?.project).toBe('SEC');
  });
});

describe('onClosed', () => {
  it('is new-linked unless the routing says reopen', () => {
    expect(onClosed(undefined)).toBe('new-linked');
    expect(onClosed(routing('jira: { minSeverity: high }'))).toBe('new-linked');
    expect(onClosed(routing('jira: { onClosed: reopen }'))).toBe('reopen');
    expect(onClosed(routing('jira: { onClosed: new-linked }'))).toBe('new-linked');
  });
});

describe('commentEvery', () => {
  it('is a minute unless the routing says otherwise; from 1s to 1d', () => {
    expect(commentEveryMs(undefined)).toBe(60_000);
    expect(commentEveryMs(routing('jira: { minSeverity: high }'))).toBe(60_000);
    expect(commentEveryMs(routing('jira: { commentEvery: 5m }'))).toBe(300_000);
    expect(commentEveryMs(routing('jira: { commentEvery: 2s }'))).toBe(2000);
    expect(routingProblems({ jira: { commentEvery: '500ms' } })[0]).toMatch(/^routing\.jira\.commentEvery: commentEvery "500ms" is (not a duration|shorter than 1s)/);
    expect(routingProblems({ jira: { commentEvery: 'often' } })[0]).toMatch(/^routing\.jira\.commentEvery: commentEvery "often" is not a duration/);
    expect(routingProblems({ rules: [{ match: { severity: 'high' }, jira: { commentEvery: '1m' } }] })[0]).toMatch(/^routing\.rules\[0\]\.jira\.commentEvery: unknown key/);
  });
});

describe('the routing section', () => {
  it('accepts the documented example, with a Slack channel by default and per rule', () => {
    const r = routing(`
jira:
  minSeverity: medium
  project: SEC
  issueType: Task
  priorities: { critical: Highest, high: High, medium: Medium, low: Low, info: Lowest }
  assignee: "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"
  components: [CloudTrail]
  labels: [aws]
  onClosed: new-linked
slack: { channel: "#security" }
rules:
  - match: { flow: [root-activity], account: ["111122223333"], severity: [high, critical] }
    jira: { project: OPS, issueType: Bug }
    slack: { channel: C0123ABCD }
  - match: { flow: [new-service] }
    jira: false
    slack: false
`);
    expect(r.rules).toHaveLength(2);
    expect(parseRouting(undefined)).toBeUndefined();
    expect(parseRouting(null)).toBeUndefined();
    expect(routingProblems({})).toEqual([]);
  });

  it('names every problem with its path', () => {
    const problems = routingProblems(
      parse(`
jira:
  minSeverity: hgh
  project: sec
  priorities: { critical: Highest, urgent: High }
  assignee: alice@corp.example
  labels: [aws, "prod account", ""]
  onClosed: reopn
  projet: X
slack: { channel: security }
rules:
  - match: { flow: [root-activty], account: [111122223333, "12"], severity: [high, severe] }
    jira: { project: OPS, onClosed: reopen }
  - match: {}
    jira: true
  - jira: {}
  - match: { flow: [] }
    slak: { channel: "#x" }
`),
    );
    expect(problems).toEqual([
      'routing.jira.minSeverity: "hgh" is not a severity; expected one of info, low, medium, high, critical',
      'routing.jira.project: expected a Jira project key: 2 to 10 capital letters, digits or _, starting with a letter, e.g. SEC',
      'routing.jira.priorities.urgent: unknown key (known: info, low, medium, high, critical)',
      "routing.jira.assignee: Jira Cloud assigns by account id, not e-mail; expected the id from the person's Jira profile URL, e.g. 5b10ac8d82e05b22cc7d4ef5",
      'routing.jira.labels[1]: Jira labels cannot contain spaces; use - or _ instead, e.g. prod-account',
      'routing.jira.labels[2]: an empty label; expected a word such as aws',
      'routing.jira.onClosed: expected new-linked or reopen',
      'routing.jira.projet: unknown key — did you mean project? (known: minSeverity, project, issueType, priorities, assignee, components, labels, onClosed, commentEvery)',
      'routing.slack.channel: expected a Slack channel name such as "#security" (lower-case, in quotes) or a channel id such as C0123ABCD',
      'routing.rules[0].match.flow[0]: unknown flow "root-activty" — did you mean root-activity? (`trailbot flows list` shows the flow ids)',
      'routing.rules[0].match.account[0]: put the account id in quotes ("111122223333"): unquoted, YAML reads it as a number and drops leading zeros',
      'routing.rules[0].match.account[1]: "12" is not an AWS account id; expected 12 digits in quotes, e.g. "111122223333"',
      'routing.rules[0].match.severity[1]: "severe" is not a severity; expected one of info, low, medium, high, critical',
      'routing.rules[0].jira.onClosed: unknown key (known: minSeverity, project, issueType, priorities, assignee, components, labels)',
      'routing.rules[1].match: a rule without conditions matches every finding; give flow, account or severity, or put its settings under routing.jira',
      'routing.rules[1].jira: expected Jira settings for these findings, e.g. { project: OPS }, or false for no ticket',
      'routing.rules[2].match: a rule needs match:, e.g. { flow: [root-activity], severity: [high, critical] }',
      'routing.rules[3].match.flow: an empty list matches nothing; list at least one or leave the key out',
      'routing.rules[3].slak: unknown key — did you mean slack? (known: match, jira, slack)',
    ]);
  });

  it('parseRouting throws one E_CONFIG_INVALID listing them', () => {
    let e: unknown;
    try {
      parseRouting({ jira: { project: 'sec' }, rules: 'all' });
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(TrailbotError);
    expect((e as TrailbotError).code).toBe('E_CONFIG_INVALID');
    expect((e as TrailbotError).message).toContain('routing.jira.project: expected a Jira project key');
    expect((e as TrailbotError).message).toContain('routing.rules: expected a list of rules');
    expect(routingProblems(['jira'])).toEqual(['routing: expected a mapping, e.g. routing: { jira: { minSeverity: high } }']);
  });
});
