import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TrailbotError } from '../errors.ts';
import { maskConfig, readConfig } from './index.ts';

const empty = (): string => mkdtempSync(join(tmpdir(), 'trailbot-config-'));

function errorOf(fn: () => unknown): TrailbotError {
  try {
    fn();
  } catch (e) {
    return e as TrailbotError;
  }
  throw new Error('expected an error');
}

describe('readConfig', () => {
  it('needs nothing: embedded store, inline queue, port 3000', () => {
    const cwd = empty();
    const c = readConfig({}, { cwd });
    expect(c).toMatchObject({
      databaseUrl: undefined,
      redisUrl: undefined,
      dataDir: join(cwd, '.trailbot'),
      port: 3000,
      publicUrl: 'http://localhost:3000',
      logLevel: 'info',
      queue: { backend: 'inline', name: 'trailbot', concurrency: 4 },
      jira: undefined,
      slack: undefined,
      sources: [],
      configFile: undefined,
    });
  });

  it('picks Redis when REDIS_URL is set, and PostgreSQL when asked', () => {
    const cwd = empty();
    expect(readConfig({ REDIS_URL: 'redis://r:6379' }, { cwd }).queue.backend).toBe('redis');
    expect(readConfig({ REDIS_URL: 'redis://r:6379', DATABASE_URL: 'postgres://db/t', TRAILBOT_QUEUE: 'postgres' }, { cwd }).queue.backend).toBe('postgres');
  });

  it('TRAILBOT_JOB_LOCK: how long a dead worker keeps its jobs (30s unless set, 1s to 10m)', () => {
    const cwd = empty();
    expect(readConfig({}, { cwd }).queue.lockMs).toBe(30_000);
    expect(readConfig({ TRAILBOT_JOB_LOCK: '2s' }, { cwd }).queue.lockMs).toBe(2000);
    expect(() => readConfig({ TRAILBOT_JOB_LOCK: '100ms' }, { cwd })).toThrow(/TRAILBOT_JOB_LOCK: expected a duration from 1s to 10m/);
  });

  it('lists every wrong setting in one error, with what it expects and an example, and never echoes a secret', () => {
    const e = errorOf(() =>
      readConfig(
        {
          PORT: 'eighty',
          DATABASE_URL: 'mysql://db/x',
          LOG_LEVEL: 'loud',
          TRAILBOT_QUEUE: 'postgres',
          SLACK_BOT_TOKEN: 'not-a-token-hunter2',
          JIRA_BASE_URL: 'https://corp.atlassian.net',
          APPROVAL_SECRET: 'short-secret',
          AWS_ENDPOINT_URL_S3: 'localhost:4566',
        },
        { cwd: empty() },
      ),
    );
    expect(e.code).toBe('E_CONFIG_INVALID');
    const m = e.message;
    expect(m).toMatch(/^10 settings are wrong:/);
    expect(m).toContain('PORT: expected a port number 1–65535\n      example: PORT=3000');
    expect(m).toContain('DATABASE_URL: expected a PostgreSQL URL\n      example: DATABASE_URL=postgres://');
    expect(m).toContain('LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent');
    expect(m).toContain('SLACK_BOT_TOKEN: expected a Slack bot token starting xoxb-');
    expect(m).toContain('JIRA_EMAIL: Jira needs');
    expect(m).toContain('JIRA_API_TOKEN: Jira needs');
    expect(m).toContain('JIRA_PROJECT: Jira needs');
    expect(m).toContain('APPROVAL_SECRET: expected at least 32 random characters');
    expect(m).toContain('AWS_ENDPOINT_URL_S3: expected an http(s) URL');
    expect(m).toContain('DATABASE_URL: TRAILBOT_QUEUE=postgres keeps the queue in PostgreSQL and needs DATABASE_URL');
    expect(m).not.toContain('hunter2');
    expect(m).not.toContain('short-secret');
    expect(e.hint).toMatch(/trailbot config check/);
  });

  it('reads trailbot.config.yaml and checks its top level and schedules', () => {
    const cwd = empty();
    writeFileSync(
      join(cwd, 'trailbot.config.yaml'),
      'sources:\n  - id: org-trail\n    kind: s3\n    bucket: my-trail\n    every: 5m\naccounts:\n  - id: "111122223333"\n    name: prod\nreports:\n  - id: daily\n    kind: denied\n    pattern: "0 8 * * *"\nflows:\n  access-key-created: { enabled: true }\nrouting:\n  jira: { minSeverity: high, project: SEC }\n  slack: { channel: "#sec" }\n  rules:\n    - match: { flow: new-service }\n      jira: false\n',
    );
    const c = readConfig({}, { cwd });
    expect(c.configFile).toBe(join(cwd, 'trailbot.config.yaml'));
    expect(c.sources).toEqual([{ id: 'org-trail', kind: 's3', bucket: 'my-trail', every: '5m' }]);
    expect(c.reports).toEqual([{ id: 'daily', kind: 'denied', pattern: '0 8 * * *', tz: 'UTC' }]);
    expect(c.accounts[0]).toMatchObject({ id: '111122223333', name: 'prod' });
    expect(c.flows).toEqual({ 'access-key-created': { enabled: true } });
    expect(c.routing).toEqual({ jira: { minSeverity: 'high', project: 'SEC' }, slack: { channel: '#sec' }, rules: [{ match: { flow: 'new-service' }, jira: false }] });

    writeFileSync(join(cwd, 'bad.yaml'), 'sourcs: []\nsources:\n  - id: Org Trail\n    every: soon\naccounts: { id: 1 }\nflows:\n  no-such-flow: {}\n');
    const e = errorOf(() => readConfig({ TRAILBOT_CONFIG: 'bad.yaml', PORT: '0' }, { cwd }));
    const m = e.message;
    expect(m).toMatch(/^6 settings are wrong:/);
    expect(m).toContain(`${join(cwd, 'bad.yaml')} flows.no-such-flow: unknown key`);
    expect(m).toContain('PORT: expected a port number');
    expect(m).toContain(`${join(cwd, 'bad.yaml')} sourcs: unknown section; expected flows, routing, accounts, sources, reports, slack, approvals or store`);
    expect(m).toContain('sources[0].id: expected lower-case letters');
    expect(m).toContain('sources[0].every: every "soon" is not a duration (use a whole number and a unit: 90s, 5m, 1h30m, 7d, 2w');
    expect(m).toContain('accounts: expected a list of accounts');
  });

  it('checks the routing section, each problem named by its path, in the same one message as the rest', () => {
    const cwd = empty();
    writeFileSync(
      join(cwd, 'trailbot.config.yaml'),
      'routing:\n  default: { slack: "#sec" }\n  jira: { minSeverity: urgent, project: sec, labels: [prod account] }\n  rules:\n    - match: { flow: [root-activty], account: [111122223333] }\n      jira: { project: OPS }\n',
    );
    const m = errorOf(() => readConfig({ PORT: '0' }, { cwd })).message;
    const file = join(cwd, 'trailbot.config.yaml');
    expect(m).toMatch(/^7 settings are wrong:/);
    expect(m).toContain('PORT: expected a port number');
    expect(m).toContain(`${file} routing.default: unknown key (known: jira, slack, rules)`);
    expect(m).toContain(`${file} routing.jira.minSeverity: "urgent" is not a severity; expected one of info, low, medium, high, critical`);
    expect(m).toContain(`${file} routing.jira.project: expected a Jira project key`);
    expect(m).toContain(`${file} routing.jira.labels[0]: Jira labels cannot contain spaces`);
    expect(m).toContain(`${file} routing.rules[0].match.flow[0]: unknown flow "root-activty" — did you mean root-activity?`);
    expect(m).toContain(`${file} routing.rules[0].match.account[0]: put the account id in quotes ("111122223333")`);
    writeFileSync(join(cwd, 'trailbot.config.yaml'), 'routing: [jira]\n');
    expect(errorOf(() => readConfig({}, { cwd })).message).toContain(`${file} routing: expected a mapping, e.g. routing: { jira: { minSeverity: high } }`);
  });

  it('checks each source against its kind, in the same one message as the rest', () => {
    const cwd = empty();
    writeFileSync(join(cwd, 'trailbot.config.yaml'), 'sources:\n  - id: org-trail\n    kind: sqs\n  - id: inbox\n    kind: carrier-pigeon\n');
    const m = errorOf(() => readConfig({ PORT: '0' }, { cwd })).message;
    expect(m).toMatch(/^3 settings are wrong:/);
    expect(m).toContain('PORT: expected a port number');
    expect(m).toMatch(/trailbot\.config\.yaml sources\[0\]\.queueUrl \(org-trail\): /);
    expect(m).toMatch(/trailbot\.config\.yaml sources\[1\]\.kind \(inbox\): /);
  });

  it('says so when TRAILBOT_CONFIG names a missing file or the file is not YAML', () => {
    const cwd = empty();
    expect(errorOf(() => readConfig({ TRAILBOT_CONFIG: 'nope.yaml' }, { cwd })).message).toContain(`TRAILBOT_CONFIG: TRAILBOT_CONFIG names ${join(cwd, 'nope.yaml')}, which does not exist`);
    writeFileSync(join(cwd, 'trailbot.config.yaml'), 'sources: [\n');
    expect(errorOf(() => readConfig({}, { cwd })).message).toMatch(/is not valid YAML/);
  });

  it('passes AWS endpoint overrides through and treats blank settings as unset', () => {
    const c = readConfig({ AWS_ENDPOINT_URL: 'http://localhost:4566', AWS_ENDPOINT_URL_CLOUDTRAIL: 'http://127.0.0.1:9000', REDIS_URL: '  ', PORT: '' }, { cwd: empty() });
    expect(c.aws.endpoints).toEqual({ default: 'http://localhost:4566', cloudtrail: 'http://127.0.0.1:9000' });
    expect(c.redisUrl).toBeUndefined();
    expect(c.port).toBe(3000);
  });

  it('masks every secret in the printed configuration', () => {
    const secrets = {
      DATABASE_URL: 'postgres://trailbot:db-pass-123@db:5432/trailbot',
      REDIS_URL: 'redis://:redis-pass-456@redis:6379',
      JIRA_BASE_URL: 'https://corp.atlassian.net',
      JIRA_EMAIL: 'bot@corp.example',
      JIRA_API_TOKEN: 'jira-token-789',
      JIRA_PROJECT: 'SEC',
      JIRA_WEBHOOK_SECRET: 'jira-webhook-secret-0000',
      SLACK_SIGNING_SECRET: 'slack-signing-abc',
      SLACK_BOT_TOKEN: 'xoxb-slack-bot-def',
      APPROVAL_SECRET: 'approval-secret-approval-secret-123456',
      OIDC_ISSUER: 'https://login.corp.example',
      OIDC_CLIENT_ID: 'trailbot',
      OIDC_CLIENT_SECRET: 'oidc-secret-ghi',
    };
    const printed = JSON.stringify(maskConfig(readConfig(secrets, { cwd: empty() })));
    for (const s of ['db-pass-123', 'redis-pass-456', 'jira-token-789', 'jira-webhook-secret-0000', 'slack-signing-abc', 'xoxb-slack-bot-def', 'approval-secret', 'oidc-secret-ghi']) {
      expect(printed).not.toContain(s);
    }
    expect(printed).toContain('postgres://trailbot:***@db:5432/trailbot');
    expect(printed).toContain('"apiToken":"*** (set)"');
    expect(printed).toContain('"email":"bot@corp.example"');
  });
});
