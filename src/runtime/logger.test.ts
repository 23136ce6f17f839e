import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SECRET_ENV, SECRET_PATHS } from '../config/index.ts';
import { createLogger, scrub } from './logger.ts';

/** A logger writing into an array of parsed lines. */
function capture(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[]; text: () => string } {
  let out = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  });
  const log = createLogger({ level: 'info', destination: sink });
  return {
    log,
    get lines() {
      return out.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    },
    text: () => out,
  };
}

/** `{a: {b: {…: {[key]: value}}}}`, `depth` levels down. */
function nest(depth: number, key: string, value: unknown): Record<string, unknown> {
  let o: Record<string, unknown> = { [key]: value };
  for (let i = 0; i < depth; i++) o = { [`l${i}`]: o };
  return o;
}

describe('logs: err', () => {
  it('logs an err given as a string as its message, not as an object of characters', () => {
    const c = capture();
    c.log.error({ err: 'E_X: something' }, 'failed');
    expect(c.lines[0]!.err).toEqual({ message: 'E_X: something' });
    expect(c.text()).not.toContain('"0":"E"');
  });

  it('logs null, plain objects and numbers given as err as they are, secrets censored', () => {
    const c = capture();
    c.log.error({ err: null }, 'a');
    c.log.error({ err: { code: 'E_Y', message: 'at https://u:pw-s3cret@h/x', password: 'pw2-s3cret' } }, 'b');
    c.log.error({ err: 42 }, 'c');
    const [a, b, n] = c.lines;
    expect(a!.err).toBeNull();
    expect(b!.err).toEqual({ code: 'E_Y', message: 'at https://u:***@h/x', password: '***' });
    expect(n!.err).toBe(42);
    expect(c.text()).not.toContain('s3cret');
  });

  it('serializes Errors at any key, their causes included, with credentials masked', () => {
    const c = capture();
    const cause = new Error('redis://:rd-s3cret@redis:6379 refused');
    c.log.error({ err: new Error('connect failed', { cause }), job: { last: new Error('xoxb-1-2-3 revoked') } }, 'x');
    const line = c.lines[0]!;
    expect((line.err as { message: string }).message).toMatch(/^connect failed/);
    expect(((line.err as { cause: { message: string } }).cause).message).toBe('redis://:***@redis:6379 refused');
    expect((line.job as { last: { message: string } }).last.message).toBe('*** revoked');
    expect(c.text()).not.toMatch(/rd-s3cret|xoxb-1-2-3/);
  });
});

describe('logs: redaction', () => {
  it('censors every secret setting, by env name and by config key, at any depth', () => {
    const names = [...SECRET_ENV, ...SECRET_PATHS.map((p) => p.split('.').at(-1)!)];
    expect(names.length).toBeGreaterThanOrEqual(12);
    const c = capture();
    for (const [i, name] of names.entries()) c.log.info(nest(8, name, `value-${i}-s3cret`), name);
    expect(c.lines).toHaveLength(names.length);
    expect(c.text()).not.toContain('s3cret');
    expect(c.text()).toContain('"***"');
  });

  it('censors header and AWS credential keys whatever their case, inside arrays too', () => {
    const c = capture();
    c.log.info(
      {
        req: { headers: { Authorization: 'Bearer h1-s3cret', COOKIE: 'sid=h2-s3cret', 'X-Slack-Signature': 'v0=h3-s3cret' } },
        calls: [{ creds: { SecretAccessKey: 'h4-s3cret', sessionToken: 'h5-s3cret', accessKeyId: 'AKIAEXAMPLE' } }],
        env: { AWS_SECRET_ACCESS_KEY: 'h6-s3cret', jira_api_token: 'h7-s3cret' },
      },
      'request',
    );
    expect(c.text()).not.toContain('s3cret');
    const line = c.lines[0] as { calls: { creds: Record<string, string> }[] };
    expect(line.calls[0]!.creds.accessKeyId).toBe('AKIAEXAMPLE');
  });

  it('censors child-logger bindings and masks URL credentials in any string value', () => {
    const c = capture();
    const child = c.log.child({ config: { jira: { apiToken: 'b1-s3cret' }, databaseUrl: 'postgres://u:b2-s3cret@db/x' } });
    child.info({ deep: nest(5, 'url', 'https://a:b3-s3cret@h/') }, 'child');
    child.child({ headers: { cookie: 'b4-s3cret' } }).warn('grandchild');
    expect(c.lines).toHaveLength(2);
    expect(c.text()).not.toContain('s3cret');
    expect(c.text()).toContain('postgres://u:***@db/x');
  });

  it('survives cycles and absurd depth without throwing or leaking', () => {
    const c = capture();
    const cyclic: Record<string, unknown> = { password: 'c1-s3cret' };
    cyclic.self = cyclic;
    cyclic.list = [cyclic, { token: 'c2-s3cret' }];
    c.log.info({ cyclic }, 'cycle');
    c.log.info(nest(10_000, 'secret', 'c3-s3cret'), 'deep');
    expect(c.lines).toHaveLength(2);
    expect(c.text()).not.toContain('s3cret');
  });

  it('censors and masks under a `__proto__` key too, and pollutes nothing', () => {
    const c = capture();
    c.log.info(JSON.parse('{"__proto__":{"password":"p1-s3cret"},"x":{"__proto__":"https://u:p2-s3cret@h/"}}') as object, 'proto');
    expect(c.text()).not.toContain('s3cret');
    expect(({} as Record<string, unknown>).password).toBeUndefined();
  });

  it("censors a Slack command's response_url, which is a credential", () => {
    const c = capture();
    c.log.info({ command: { text: 'alana@corp', response_url: 'http://127.0.0.1:3900/commands/T1/1/secretpart' } }, 'x');
    expect(c.lines[0]).toMatchObject({ command: { text: 'alana@corp', response_url: '***' } });
  });

  it('leaves ordinary fields alone', () => {
    const c = capture();
    c.log.info({ job: { id: 'j1', attempts: 2, tags: ['a'], at: new Date('2024-01-01T00:00:00Z') }, secretId: 'prod/db' }, 'ok');
    expect(c.lines[0]).toMatchObject({ job: { id: 'j1', attempts: 2, tags: ['a'], at: '2024-01-01T00:00:00.000Z' }, secretId: 'prod/db', msg: 'ok' });
  });
});

describe('scrub', () => {
  it('masks URL passwords, Slack and Atlassian tokens and AWS secret keys', () => {
    expect(scrub('token xoxb-123-abc and https://u:p@h/')).toBe('token *** and https://u:***@h/');
    expect(scrub('postgres://trailbot:pg:s3@db:5432/x and redis://:pw@r:6379')).toBe('postgres://trailbot:***@db:5432/x and redis://:***@r:6379');
    expect(scrub('key ATATT3xFfGF0abcdefghij=XYZ end')).toBe('key *** end');
    expect(scrub('posting to https://hooks.slack.com/commands/T1/397700885554/96rGlfmibIGlgcZRskXaIFfN failed')).toBe('posting to https://hooks.slack.com/*** failed');
    expect(scrub('aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY')).toBe('aws_secret_access_key = ***');
    expect(scrub('https://example.com/a:b@c and mailto:x@y and https://user@host/')).toBe('https://example.com/a:b@c and mailto:x@y and https://user@host/');
  });

  // A complexity bug, not a speed target: the old pattern took ~10 s on 80 KB of "a.a.a.…".
  it.each([
    ['a.a.a.…', 'a.'.repeat(500_000)],
    ['a-a-a-…', 'a-'.repeat(500_000)],
    ["'a://' and colons", `a://${':'.repeat(1_000_000)}`],
    ["'x://a:' repeated", 'x://a:'.repeat(170_000)],
    ["'a://' repeated", 'a://'.repeat(250_000)],
    ['a URL password that never ends', `a://b:${'c:'.repeat(500_000)}`],
  ])('is linear: 1 MB of %s is scrubbed at once', (_name, s) => {
    const t0 = performance.now();
    scrub(s);
    expect(performance.now() - t0).toBeLessThan(200);
  });
});
