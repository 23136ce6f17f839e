import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStandins } from './index.ts';
import type { Standins } from './index.ts';
import { isoSeconds, loadRecordsFromPaths } from './records.ts';
import type { CloudTrailRecord } from './records.ts';
import { clientConfig, fixturePath } from './testing.ts';

const rec = (i: number, extra: Partial<CloudTrailRecord> = {}): CloudTrailRecord => ({
  eventTime: isoSeconds(Date.now() - 120_000 + i * 1000),
  eventSource: 'ec2.amazonaws.com',
  eventName: `Op${i}`,
  awsRegion: 'us-east-1',
  eventID: `id-${i}`,
  recipientAccountId: '123456789012',
  ...extra,
});

describe('one port for all four services', () => {
  let s: Standins;
  beforeAll(async () => {
    s = await startStandins({ records: [rec(1)], throttle: false });
  });
  afterAll(() => s.close());

  it('routes each SDK client by its signing scope', async () => {
    const cfg = clientConfig(s.url);
    const events = await new CloudTrailClient(cfg).send(new LookupEventsCommand({}));
    expect(events.Events?.map((e) => e.EventName)).toEqual(['Op1']);
    s.s3.createBucket('shared-port');
    await new S3Client(cfg).send(new PutObjectCommand({ Bucket: 'shared-port', Key: 'k', Body: 'v' }));
    const sqs = new SQSClient(cfg);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'q' }));
    expect(QueueUrl?.startsWith(s.url)).toBe(true);
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'm' }));
    const who = await new STSClient(cfg).send(new GetCallerIdentityCommand({}));
    expect(who.Account).toBe('123456789012');
    expect(new Set(s.requests.map((r) => r.service))).toEqual(new Set(['cloudtrail', 's3', 'sqs', 'sts']));
    expect(s.requests.every((r) => r.status === 200)).toBe(true);
  });

  it('is reachable through AWS_ENDPOINT_URL_CLOUDTRAIL instead of an endpoint option', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_CLOUDTRAIL;
    process.env.AWS_ENDPOINT_URL_CLOUDTRAIL = s.url;
    try {
      const c = new CloudTrailClient({ region: 'us-east-1', credentials: { accessKeyId: s.credentials.base.accessKeyId, secretAccessKey: s.credentials.base.secretAccessKey } });
      const out = await c.send(new LookupEventsCommand({}));
      expect(out.Events?.map((e) => e.EventName)).toEqual(['Op1']);
      expect(s.cloudtrail.requests.at(-1)).toMatchObject({ operation: 'LookupEvents', status: 200, region: 'us-east-1' });
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_CLOUDTRAIL;
      else process.env.AWS_ENDPOINT_URL_CLOUDTRAIL = saved;
    }
  });
});

describe('record loading', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'standin-records-'));
    await writeFile(join(dir, 'a.json.gz'), gzipSync(JSON.stringify({ Records: [rec(1), rec(2)] })));
    await writeFile(join(dir, 'b.ndjson'), `${JSON.stringify(rec(3))}\n\n${JSON.stringify({ Records: [rec(4)] })}\n{broken\n`);
    await writeFile(join(dir, 'c.json'), JSON.stringify([rec(5)]));
    await mkdir(join(dir, 'AWSLogs/1/CloudTrail-Digest/us-east-1'), { recursive: true });
    await writeFile(join(dir, 'AWSLogs/1/CloudTrail-Digest/us-east-1/digest.json.gz'), gzipSync(JSON.stringify({ Records: [rec(9)] })));
    await writeFile(join(dir, 'digest-shaped.json'), JSON.stringify({ awsAccountId: '1', digestStartTime: 'x', logFiles: [] }));
    await writeFile(join(dir, 'notes.txt'), 'not records');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads JSON arrays, {"Records":[]} files and NDJSON, gzipped or not, skipping digests', async () => {
    const { records } = await loadRecordsFromPaths([dir]);
    expect(records.map((r) => r.eventID).sort()).toEqual(['id-1', 'id-2', 'id-3', 'id-4', 'id-5']);
  });
});

describe('cli', () => {
  it('starts everything, seeds S3 and SQS from records and prints working exports', async () => {
    const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
    const child = spawn(process.execPath, [cli, '--port', '0', '--records', fixturePath('stratus-records.json'), '--shift-to-now', '--accounts', '229654561268,900138736586'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const env: Record<string, string> = {};
    const comments: string[] = [];
    try {
      const lines = createInterface({ input: child.stdout });
      for await (const line of lines) {
        if (line.startsWith('#')) comments.push(line);
        const m = /^export (\w+)=(.*)$/.exec(line);
        if (m) env[m[1]] = m[2];
        if (m?.[1] === 'AWS_REGION') break;
      }
      expect(Object.keys(env).sort()).toEqual([
        'AWS_ACCESS_KEY_ID',
        'AWS_ENDPOINT_URL_CLOUDTRAIL',
        'AWS_ENDPOINT_URL_IAM',
        'AWS_ENDPOINT_URL_S3',
        'AWS_ENDPOINT_URL_SQS',
        'AWS_ENDPOINT_URL_STS',
        'AWS_REGION',
        'AWS_SECRET_ACCESS_KEY',
      ]);
      const queueUrl = comments.join('\n').match(/notification\(s\) on (\S+)/)?.[1];
      expect(queueUrl).toBeDefined();

      const saved = { ...process.env };
      Object.assign(process.env, env);
      delete process.env.AWS_SESSION_TOKEN;
      delete process.env.AWS_PROFILE;
      try {
        // no endpoint and no credentials in code: everything comes from the printed exports
        const sqs = new SQSClient({});
        const s3 = new S3Client({ forcePathStyle: true });
        const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
        expect(got.Messages?.length).toBeGreaterThan(0);
        const envelope = JSON.parse(got.Messages![0].Body ?? '{}') as { Type: string; Message: string };
        expect(envelope.Type).toBe('Notification');
        const note = JSON.parse(envelope.Message) as { s3Bucket: string; s3ObjectKey: string[] };
        const obj = await s3.send(new GetObjectCommand({ Bucket: note.s3Bucket, Key: note.s3ObjectKey[0] }));
        const doc = JSON.parse(gunzipSync(await obj.Body!.transformToByteArray()).toString()) as { Records: CloudTrailRecord[] };
        expect(doc.Records.length).toBeGreaterThan(0);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: got.Messages![0].ReceiptHandle }));
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: note.s3Bucket, Prefix: 'AWSLogs/', Delimiter: '/' }));
        expect(listed.CommonPrefixes?.map((p) => p.Prefix)).toContain('AWSLogs/229654561268/');

        const role = await new STSClient({}).send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::229654561268:role/TrailbotReader', RoleSessionName: 'cli-test' }));
        const c = role.Credentials;
        const ct = new CloudTrailClient({ credentials: { accessKeyId: c?.AccessKeyId ?? '', secretAccessKey: c?.SecretAccessKey ?? '', sessionToken: c?.SessionToken } });
        const events = await ct.send(new LookupEventsCommand({}));
        expect(events.Events?.map((e) => e.EventName).sort()).toEqual(['AttachUserPolicy', 'CreateAccessKey', 'CreateUser']);
      } finally {
        for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
        Object.assign(process.env, saved);
      }
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });
});
