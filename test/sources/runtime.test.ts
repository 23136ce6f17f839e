import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config/index.ts';
import { cloudTrailNotificationMessage, type Standins, startStandins, toCloudTrailLogObjects } from '../../src/integrations/aws/standins/index.ts';
import { BASE_CLIENT_CREDENTIALS } from '../../src/integrations/aws/standins/testing.ts';
import { enqueue } from '../../src/runtime/enqueue.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { waitForJob } from '../../src/runtime/sample.ts';
import { type Service, startService } from '../../src/runtime/service.ts';
import { createSources, type Sources } from '../../src/sources/index.ts';
import { createTestDatabase } from '../helpers/db.ts';
import { BASE_ACCOUNT, MIN, synthRecords, waitFor, writeConfig } from './helpers.ts';

/**
 * The sources inside the runtime: `poll-source` jobs on the inline queue call Pipeline.pollSource,
 * new events go on to `evaluate-flows` exactly once, and a poll cut short by its time limit queues
 * its own continuation.
 */
let aws: Standins;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let service: Service;
let sources: Sources;
const evaluated: string[] = [];
const lookupRecords = synthRecords(200, { account: BASE_ACCOUNT, region: 'eu-west-1', newest: Date.now() - 30 * MIN, seed: 'rt-lookup' });
const fileRecords = synthRecords(40, { account: '111111111111', region: 'eu-west-2', newest: Date.now() - 30 * MIN, seed: 'rt-sqs' });

beforeAll(async () => {
  aws = await startStandins({ records: lookupRecords });
  db = await createTestDatabase('trailbot_srt');
  const logs = toCloudTrailLogObjects(fileRecords);
  for (const l of logs) aws.s3.putObject('trail', l.key, l.body);
  const queueUrl = aws.sqs.createQueue('trail');
  aws.sqs.sendRaw('trail', cloudTrailNotificationMessage('trail', logs.map((l) => l.key)));
  const file = await writeConfig({
    sources: [
      { id: 'lookup', kind: 'lookup', regions: ['eu-west-1'], skipGlobal: true, backfill: '1d', maxRun: '1s', every: '1h' },
      { id: 'queue', kind: 'sqs', queueUrl, waitSeconds: 0, every: '1h', buckets: ['trail'], accounts: ['111111111111'] },
    ],
  });
  const config = readConfig({ DATABASE_URL: db.url, TRAILBOT_QUEUE: 'inline', TRAILBOT_CONFIG: file, AWS_ENDPOINT_URL: aws.url, LOG_LEVEL: 'silent' });
  sources = createSources({ config, credentials: BASE_CLIENT_CREDENTIALS });
  service = await startService({
    config,
    role: 'all',
    listen: false,
    log: createLogger({ level: 'silent' }),
    pipeline: {
      pollSource: sources.pollSource,
      evaluateFlows: async (_ctx, p) => {
        evaluated.push(...p.eventIds);
        return { findings: {} };
      },
    },
  });
});
afterAll(async () => {
  await service?.close();
  await sources?.close();
  await aws?.close();
  await db?.drop();
});

describe('sources in the runtime', () => {
  it('a poll-source job for an SQS source stores the events and hands the new ones to evaluate-flows', async () => {
    const { id } = await enqueue(service.queue, 'poll-source', { source: 'queue' });
    const job = await waitForJob(service, id, 20_000);
    expect(job.state).toBe('completed');
    await waitFor('the flows to see the new events', async () => fileRecords.every((r) => evaluated.includes(r.eventID)), 10_000);
    // (The schedule reconciled at start may be the job that took the message: wait for its delete.)
    await waitFor('the message to be deleted', async () => aws.sqs.counts('trail').inFlight + aws.sqs.counts('trail').visible === 0, 5000);
  });

  it('a lookup backfill longer than one job carries on in follow-up jobs until caught up, each event evaluated once', async () => {
    await enqueue(service.queue, 'poll-source', { source: 'lookup' });
    await waitFor(
      'the backfill to finish',
      async () => (await service.store.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE region = 'eu-west-1'`)).rows[0]!.n === 200,
      30_000,
      100,
    );
    await waitFor('every new event to reach the flows', async () => lookupRecords.every((r) => evaluated.includes(r.eventID)), 10_000);
    const jobs = await service.queue.list('completed', 100);
    expect(jobs.filter((j) => j.name === 'poll-source' && (j.data as { source: string }).source === 'lookup').length).toBeGreaterThanOrEqual(2);
    expect(evaluated.length).toBe(new Set(evaluated).size);
    const status = await service.store.db.query<{ source: string; newest_event_at: string | null }>('SELECT source, newest_event_at FROM source_status ORDER BY source');
    expect(status.rows.map((r) => [r.source, r.newest_event_at !== null])).toEqual([
      ['lookup', true],
      ['queue', true],
    ]);
  });
});
