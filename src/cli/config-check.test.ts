import { afterEach, describe, expect, it } from 'vitest';
import { main } from './main.ts';

/**
 * `trailbot config check` says who may call /api. OIDC signs approvers in to the approval pages; /api
 * does not take their session (a signed-in person is anyone the company's provider knows), so with OIDC
 * and no bearer tokens the API still answers this machine only, and the check must say so.
 */

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
});

async function check(env: Record<string, string>): Promise<string> {
  for (const k of ['TRAILBOT_API_TOKENS', 'OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'HOST', 'DATABASE_URL', 'REDIS_URL']) delete process.env[k];
  Object.assign(process.env, { LOG_LEVEL: 'silent', TRAILBOT_DATA_DIR: '/nonexistent/trailbot' }, env);
  let out = '';
  expect(await main(['config', 'check', '--role', 'web'], { out: (s) => (out += s), err: () => undefined, tty: false })).toBe(0);
  return /HTTP: .*/.exec(out)![0];
}

const OIDC = { OIDC_ISSUER: 'https://login.corp.example', OIDC_CLIENT_ID: 'trailbot', OIDC_CLIENT_SECRET: 'oidc-secret' };
const TOKEN = 'a'.repeat(40);

describe('trailbot config check: the API line', () => {
  it('does not call OIDC sign-in an API authentication: /api takes bearer tokens only', async () => {
    const line = await check({ HOST: '0.0.0.0', ...OIDC });
    expect(line).not.toContain('API: OIDC sign-in');
    expect(line).toContain('this machine only');
    expect(line).toContain('TRAILBOT_API_TOKENS');
    const both = await check({ HOST: '0.0.0.0', ...OIDC, TRAILBOT_API_TOKENS: TOKEN });
    expect(both).toContain('API: bearer tokens (1 in TRAILBOT_API_TOKENS)');
    expect(both).not.toContain('or OIDC sign-in');
  });
});
