import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../../src/config/index.ts';
import { isoSeconds } from '../../src/integrations/aws/standins/records.ts';
import type { CloudTrailRecord } from '../../src/integrations/aws/standins/records.ts';
import { BASE_CLIENT_CREDENTIALS } from '../../src/integrations/aws/standins/testing.ts';
import type { SourceLog } from '../../src/sources/context.ts';
import { createSources, type Sources } from '../../src/sources/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { TEST_REDIS_URL } from '../helpers/env.ts';

export const BASE_ACCOUNT = '123456789012';
export const SEC = 1000;
export const MIN = 60 * SEC;
export const DAY = 86_400_000;

/** A deterministic uuid-like event id (so a test can name the events it expects). */
export function eventId(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export interface SynthOptions {
  account?: string;
  region?: string;
  newest: number;
  /** Time between records (several share a second: every `tieEvery`-th step is 0). */
  stepMs?: number;
  tieEvery?: number;
  /** iam.amazonaws.com (a global service: LookupEvents shows it only in us-east-1). */
  global?: boolean;
  user?: string;
  accessKeyId?: string;
  seed?: string;
}

/** `n` CloudTrail records, newest first, shaped like real management events. */
export function synthRecords(n: number, o: SynthOptions): CloudTrailRecord[] {
  const account = o.account ?? BASE_ACCOUNT;
  const region = o.region ?? 'eu-west-1';
  const step = o.stepMs ?? 7 * SEC;
  const tieEvery = o.tieEvery ?? 4;
  const seed = o.seed ?? randomBytes(4).toString('hex');
  const out: CloudTrailRecord[] = [];
  let t = o.newest;
  for (let i = 0; i < n; i++) {
    const user = o.user ?? `user${i % 5}`;
    out.push({
      eventVersion: '1.11',
      eventTime: isoSeconds(t),
      eventSource: o.global ? 'iam.amazonaws.com' : i % 3 === 0 ? 's3.amazonaws.com' : 'ec2.amazonaws.com',
      eventName: o.global ? 'CreateAccessKey' : i % 3 === 0 ? 'PutBucketPolicy' : 'DescribeInstances',
      awsRegion: o.global ? 'us-east-1' : region,
      eventID: eventId(`${seed}/${account}/${region}/${i}`),
      eventType: 'AwsApiCall',
      recipientAccountId: account,
      readOnly: !o.global && i % 3 !== 0,
      sourceIPAddress: '203.0.113.7',
      userAgent: 'aws-cli/2.15.0 Python/3.11',
      userIdentity: {
        type: 'IAMUser',
        userName: user,
        principalId: 'AIDAEXAMPLE0000000001',
        accessKeyId: o.accessKeyId ?? 'AKIAEXAMPLE000000001',
        accountId: account,
        arn: `arn:aws:iam::${account}:user/${user}`,
      },
      requestParameters: o.global ? { userName: user } : i % 3 === 0 ? { bucketName: `bucket-${i}` } : {},
    } as CloudTrailRecord);
    if ((i + 1) % tieEvery !== 0) t -= step;
  }
  return out;
}

/** A Config good enough for the sources (the rest of trailbot is not started). */
export function testConfig(o: { sources: Record<string, unknown>[]; accounts?: string[]; endpoint: string; redisUrl?: string; configFile?: string }): Config {
  return {
    sources: o.sources as Config['sources'],
    accounts: (o.accounts ?? []).map((id) => ({ id })),
    configFile: o.configFile,
    aws: { endpoints: { default: o.endpoint } },
    redisUrl: o.redisUrl,
  } as unknown as Config;
}

export interface TestDb {
  url: string;
  store: Store;
  close(): Promise<void>;
}

export async function testStore(): Promise<TestDb> {
  const db = await createTestDatabase('trailbot_src');
  const store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  return {
    url: db.url,
    store,
    async close() {
      await store.close();
      await db.drop();
    },
  };
}

/** createSources with the stand-ins' base key. */
export function testSources(config: Config, o: { leaseMs?: number; limiterPrefix?: string; log?: SourceLog } = {}): Sources {
  return createSources({ config, credentials: BASE_CLIENT_CREDENTIALS, leaseMs: o.leaseMs ?? 2000, limiterPrefix: o.limiterPrefix, log: o.log });
}

export const uniquePrefix = (): string => `trailbot-test-${randomBytes(4).toString('hex')}:`;
export { TEST_REDIS_URL };


export async function storedIds(store: Store): Promise<string[]> {
  return (await store.db.query<{ event_id: string }>('SELECT event_id FROM events ORDER BY event_id')).rows.map((r) => r.event_id);
}

const BIN = join(import.meta.dirname, '../../bin/trailbot.js');

/** Writes a trailbot.config.yaml for a child process. */
export async function writeConfig(doc: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'trailbot-src-'));
  const file = join(dir, 'trailbot.config.yaml');
  await writeFile(file, stringify(doc));
  return file;
}

/** The real CLI in a child process, with the stand-ins' settings in its environment. */
export function spawnCli(args: string[], env: Record<string, string>): ChildProcess & { output: () => string } {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(AWS_|DATABASE_URL|REDIS_URL|TRAILBOT_)/.test(k)) clean[k] = v;
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return Object.assign(child, { output: () => out });
}

export { exited, waitFor } from '../helpers/wait.ts';
