import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TrailbotError } from '../errors.ts';
import { checkExposure, isLoopback, maskConfig, readConfig } from './index.ts';

const cwd = (): string => mkdtempSync(join(tmpdir(), 'trailbot-access-'));
const T1 = 'a'.repeat(24) + '0123456789abcdef'.repeat(2) + 'b'.repeat(8);
const T2 = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2Fy';

function errorOf(fn: () => unknown): TrailbotError {
  try {
    fn();
  } catch (e) {
    return e as TrailbotError;
  }
  throw new Error('expected an error');
}

describe('TRAILBOT_API_TOKENS and HOST', () => {
  it('listen on 127.0.0.1 with no tokens by default', () => {
    const c = readConfig({}, { cwd: cwd() });
    expect(c.host).toBe('127.0.0.1');
    expect(c.api.tokens).toEqual([]);
    expect(() => checkExposure(c, 'all')).not.toThrow();
  });

  it('reads a comma-separated token list, spaces and empty entries ignored', () => {
    expect(readConfig({ TRAILBOT_API_TOKENS: ` ${T1} ,${T2}, ` }, { cwd: cwd() }).api.tokens).toEqual([T1, T2]);
    expect(readConfig({ TRAILBOT_API_TOKENS: T1 }, { cwd: cwd() }).api.tokens).toEqual([T1]);
    expect(readConfig({ TRAILBOT_API_TOKENS: '  ' }, { cwd: cwd() }).api.tokens).toEqual([]);
  });

  it('refuses short tokens and tokens a header cannot carry, naming which, never echoing them', () => {
    const short = 'hunter2-hunter2';
    const m = errorOf(() => readConfig({ TRAILBOT_API_TOKENS: `${T1},${short}`, HOST: 'not a host!' }, { cwd: cwd() })).message;
    expect(m).toMatch(/^2 settings are wrong:/);
    expect(m).toContain('TRAILBOT_API_TOKENS: token 2 of 2 is shorter than 32 characters');
    expect(m).toContain('example: TRAILBOT_API_TOKENS=<64 random hex characters: openssl rand -hex 32>');
    expect(m).toContain('HOST: expected an IP address or host name');
    expect(m).not.toContain(short);
    expect(m).not.toContain(T1);
    const bad = `${'x'.repeat(32)} ${'y'.repeat(32)}`;
    expect(errorOf(() => readConfig({ TRAILBOT_API_TOKENS: bad }, { cwd: cwd() })).message).toContain('the token has characters a bearer token cannot carry');
    expect(errorOf(() => readConfig({ TRAILBOT_API_TOKENS: ',,' }, { cwd: cwd() })).message).toContain('expected one or more tokens');
  });

  it('takes IP addresses and host names for HOST', () => {
    for (const h of ['0.0.0.0', '::', '::1', '10.0.0.7', 'localhost', 'trailbot.internal']) expect(readConfig({ HOST: h }, { cwd: cwd() }).host).toBe(h);
    for (const h of ['0.0.0.0:3000', 'http://0.0.0.0', '[::]', '-bad']) expect(errorOf(() => readConfig({ HOST: h }, { cwd: cwd() })).message, h).toContain('HOST: expected');
  });

  it('refuses HOST beyond this machine without API authentication, naming TRAILBOT_API_TOKENS and how to make one', () => {
    for (const host of ['0.0.0.0', '::', '10.0.0.7', 'trailbot.internal']) {
      const c = readConfig({ HOST: host }, { cwd: cwd() });
      for (const role of ['web', 'all'] as const) {
        const e = errorOf(() => checkExposure(c, role));
        expect(e.code).toBe('E_CONFIG_INVALID');
        expect(e.message).toContain(`HOST: HOST=${host} listens beyond this machine, but the API has no authentication: set TRAILBOT_API_TOKENS`);
        expect(e.message).toContain('example: TRAILBOT_API_TOKENS=$(openssl rand -hex 32)');
      }
      // Workers serve no API: only the probes and metrics.
      expect(() => checkExposure(c, 'worker')).not.toThrow();
      expect(() => checkExposure(readConfig({ HOST: host, TRAILBOT_API_TOKENS: T1 }, { cwd: cwd() }), 'web')).not.toThrow();
      const oidc = { OIDC_ISSUER: 'https://login.example.com', OIDC_CLIENT_ID: 'trailbot', OIDC_CLIENT_SECRET: 'oidc-secret' };
      expect(() => checkExposure(readConfig({ HOST: host, ...oidc }, { cwd: cwd() }), 'all')).not.toThrow();
    }
    for (const host of ['127.0.0.1', '127.0.0.53', 'localhost', '::1']) expect(() => checkExposure(readConfig({ HOST: host }, { cwd: cwd() }), 'all'), host).not.toThrow();
  });

  it('knows which addresses are this machine', () => {
    for (const a of ['127.0.0.1', '127.255.0.9', '::1', '[::1]', '::ffff:127.0.0.1', 'LOCALHOST']) expect(isLoopback(a), a).toBe(true);
    for (const a of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', '128.0.0.1', '127.example.com', 'localhost.evil.com']) expect(isLoopback(a), a).toBe(false);
  });

  it('masks the tokens in the printed configuration', () => {
    const printed = JSON.stringify(maskConfig(readConfig({ TRAILBOT_API_TOKENS: `${T1},${T2}` }, { cwd: cwd() })));
    expect(printed).not.toContain(T1);
    expect(printed).not.toContain(T2);
    expect(printed).toContain('"tokens":"*** (2 set)"');
    expect(JSON.stringify(maskConfig(readConfig({}, { cwd: cwd() })))).toContain('"tokens":[]');
  });
});

describe('per-role secrets', () => {
  it('lets the web role have the Slack signing secret and Jira webhook secret without the workers’ API secrets', () => {
    const web = readConfig({ SLACK_SIGNING_SECRET: 'slack-signing-secret', JIRA_WEBHOOK_SECRET: 'jira-webhook-secret-0000' }, { cwd: cwd() });
    expect(web.slack).toMatchObject({ signingSecret: 'slack-signing-secret', botToken: undefined });
    expect(web.jiraWebhookSecret).toBe('jira-webhook-secret-0000');
    expect(web.jira).toBeUndefined();
    const worker = readConfig(
      { SLACK_BOT_TOKEN: 'xoxb-1-2', JIRA_BASE_URL: 'https://corp.atlassian.net', JIRA_EMAIL: 'bot@corp.example', JIRA_API_TOKEN: 'jira-api-token', JIRA_PROJECT: 'SEC' },
      { cwd: cwd() },
    );
    expect(worker.slack).toMatchObject({ signingSecret: undefined, botToken: 'xoxb-1-2' });
    expect(worker.jira).toMatchObject({ apiToken: 'jira-api-token', project: 'SEC' });
    expect(worker.jiraWebhookSecret).toBeUndefined();
    const printed = JSON.stringify(maskConfig(readConfig({ JIRA_WEBHOOK_SECRET: 'jira-webhook-secret-0000' }, { cwd: cwd() })));
    expect(printed).not.toContain('jira-webhook-secret-0000');
  });
});
