import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from './helpers/db.ts';
import { FIXTURES } from './helpers/fixtures.ts';

const BIN = join(import.meta.dirname, '../bin/trailbot.js');
const INPUTS = join(FIXTURES, 'inputs');
const RECORDS = join(FIXTURES, 'records');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process with a clean environment plus `env`. */
function trailbot(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', TRAILBOT_DATA_DIR: join(tmpdir(), 'trailbot-cli-unused'), ...env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

describe('trailbot CLI: usage', () => {
  it('prints help for the program and for every command', async () => {
    const top = await trailbot(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['normalize', 'ingest', 'trail', 'search']) {
      expect(top.stdout).toContain(c);
      const h = await trailbot([c, '--help']);
      expect(h.code, c).toBe(0);
      expect(h.stdout).toContain(`Usage: trailbot ${c}`);
    }
  });

  it.each([
    [['bogus'], /unknown command 'bogus'/],
    [['trail'], /missing required argument 'who'/],
    [['trail', 'x', '--since', '2x'], /E_USAGE: --since "2x" is not a time/],
    [['trail', 'x', '--limit', '0'], /--limit "0" must be a whole number/],
    [['search', '--outcome', 'maybe'], /expected one of success, denied, failed/],
    [['search', '--read-only', 'yes'], /expected one of true, false/],
    [['normalize'], /missing required argument 'path'/],
  ])('rejects %j with a clear message and exit 2', async (args, message) => {
    const r = await trailbot(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('names a wrong setting and exits 2', async () => {
    const r = await trailbot(['trail', 'x'], { DATABASE_URL: 'mysql://nope' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/E_CONFIG_INVALID[\s\S]*DATABASE_URL: .*PostgreSQL URL/);
  });

  it('says when the store cannot be reached, without printing the password', async () => {
    const r = await trailbot(['trail', 'x'], { DATABASE_URL: 'postgres://u:s3cret@127.0.0.1:1/db' });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/E_STORE_UNAVAILABLE: cannot connect to PostgreSQL at postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/);
    expect(r.stderr).not.toContain('s3cret');
  });
});

describe('trailbot normalize', () => {
  it('prints one JSON object per good record in input order, reports the bad ones and exits 1', async () => {
    const r = await trailbot(['normalize', join(INPUTS, 'mixed.ndjson')]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(r.stderr).toMatch(/mixed\.ndjson:2: not valid JSON/);
    expect(r.stderr).toMatch(/mixed\.ndjson:4: not a CloudTrail record: missing eventSource, eventTime/);
    expect(r.stderr).toMatch(/mixed\.ndjson:6: expected a JSON object, got number/);
    const keys = ['eventId', 'time', 'account', 'region', 'service', 'action', 'readOnly', 'eventType', 'outcome', 'errorCode', 'errorMessage', 'actor', 'via', 'tool', 'sourceIp', 'sourceAddress', 'userAgent', 'resources', 'primaryResource', 'summary'];
    for (const k of keys) expect(lines[0]).toHaveProperty(k);
    for (const k of ['type', 'name', 'arn', 'accountId', 'principalId', 'accessKeyId', 'userName', 'roleName', 'sessionName', 'email', 'invokedBy', 'mfa']) {
      expect(lines[0].actor).toHaveProperty(k);
    }
  });

  it('reads stdin, gzipped trees and every envelope, and skips digests', async () => {
    const stdin = await trailbot(['normalize', '-'], {}, '{"Records":[{"eventVersion":"1.08","eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"DeleteBucket","awsRegion":"eu-west-1","requestParameters":{"bucketName":"b1"},"userIdentity":{"type":"Root","accountId":"111122223333","arn":"arn:aws:iam::111122223333:root"}}]}');
    expect(stdin.code).toBe(0);
    const e = JSON.parse(stdin.stdout);
    expect(e.derivedId).toBe(true);
    expect(e.summary).toBe('the root user of account 111122223333 deleted the S3 bucket b1 in eu-west-1 on 2024-01-01 at 00:00:00 UTC');
    const all = await trailbot(['normalize', join(INPUTS, 'trail'), join(INPUTS, 'lookup-events.json'), join(INPUTS, 'eventbridge.ndjson'), join(INPUTS, 'digest.json')]);
    expect(all.code).toBe(1);
    const ids = all.stdout.trim().split('\n').map((l) => JSON.parse(l).eventId);
    expect(ids).toHaveLength(9);
    expect(ids.slice(0, 3)).toEqual(ids.slice(3, 6));
    expect(all.stderr).not.toMatch(/digest/i);
  });
});

describe.each([
  ['PostgreSQL', true],
  ['the embedded store', false],
])('trailbot ingest, trail and search on %s', (_name, usePostgres) => {
  const env: Record<string, string> = {};
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    if (usePostgres) {
      const db = await createTestDatabase();
      env.DATABASE_URL = db.url;
      cleanup = db.drop;
    } else {
      const dir = await mkdtemp(join(tmpdir(), 'trailbot-cli-'));
      env.TRAILBOT_DATA_DIR = dir;
      cleanup = () => rm(dir, { recursive: true, force: true });
    }
  });
  afterAll(async () => cleanup?.());

  it('ingests, then adds nothing the second time', async () => {
    const first = await trailbot(['ingest', RECORDS, join(INPUTS, 'trail')], env);
    expect(first.stderr).toMatch(/ingested \d+ files: [\d,]+ events new, [\d,]+ duplicate, 1 rejected in [\d.]+ s \([\d,]+ events\/s\)/);
    expect(first.stderr).toMatch(/rejected .*signin\.json: \[8\]: eventTime "redacted" is not a date/);
    const newCount = Number(/: ([\d,]+) events new/.exec(first.stderr)![1]!.replace(/,/g, ''));
    expect(newCount).toBeGreaterThan(300);
    const second = await trailbot(['ingest', RECORDS, join(INPUTS, 'trail')], env);
    expect(second.stderr).toMatch(/: 0 events new, [\d,]+ duplicate/);
  });

  it('answers trail with a header naming the principals and one line per event, newest first', async () => {
    const r = await trailbot(['trail', 'pedro', '--since', '2020-09-14', '--until', '2020-09-15', '--limit', '3'], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('Principal matching "pedro":');
    expect(lines[1]).toMatch(/^ {2}pedro \(IAMUser, account 123456789123, arn:aws:iam::123456789123:user\/pedro, \d+ events, last 2020-09-14T/);
    expect(lines[2]).toMatch(/^3 events since 2020-09-14T00:00:00.000Z until 2020-09-15T00:00:00.000Z \(newest 3; raise --limit for more\):$/);
    expect(lines.slice(3)).toHaveLength(3);
    for (const l of lines.slice(3)) expect(l).toMatch(/^pedro .* on 2020-09-14 at \d\d:\d\d:\d\d UTC$/);
    const json = JSON.parse((await trailbot(['trail', 'PEDRO', '--since', '2020-01-01', '--writes-only', '--json'], env)).stdout);
    expect(json.principals).toHaveLength(1);
    expect(json.events.every((e: { readOnly: boolean | null }) => e.readOnly !== true)).toBe(true);
  });

  it('says when nobody matches', async () => {
    const r = await trailbot(['trail', 'nobody@nowhere'], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/nobody matches "nobody@nowhere"/);
  });

  it('combines search filters', async () => {
    const r = await trailbot(['search', '--event-source', 'cloudtrail.amazonaws.com', '--read-only', 'false', '--since', '2000-01-01', '--json'], env);
    expect(r.code).toBe(0);
    const { events } = JSON.parse(r.stdout);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e: { service: string; readOnly: boolean | null }) => e.service === 'cloudtrail.amazonaws.com' && e.readOnly !== true)).toBe(true);
  });
});
