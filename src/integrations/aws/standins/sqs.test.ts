import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  PurgeQueueCommand,
  PurgeQueueInProgress,
  QueueDoesNotExist,
  ReceiptHandleIsInvalid,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BASE_CREDENTIALS } from './credentials.ts';
import { md5OfMessageAttributes, startSqsStandin } from './sqs.ts';
import type { SqsStandin } from './sqs.ts';
import { clientConfig } from './testing.ts';

let sqs: SqsStandin;
let client: SQSClient;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const md5 = (s: string) => createHash('md5').update(s).digest('hex');

async function queue(name: string, attributes: Record<string, string> = {}): Promise<string> {
  const out = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  return out.QueueUrl ?? '';
}

async function counts(QueueUrl: string) {
  const out = await client.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return { visible: Number(out.Attributes?.ApproximateNumberOfMessages), inFlight: Number(out.Attributes?.ApproximateNumberOfMessagesNotVisible) };
}

beforeAll(async () => {
  sqs = await startSqsStandin();
  client = new SQSClient(clientConfig(sqs.url));
});
afterAll(() => sqs.close());

describe('MD5OfMessageAttributes', () => {
  it('matches values computed by other SQS implementations', () => {
    expect(md5OfMessageAttributes({ SellerName: { DataType: 'String', StringValue: 'Example Store' } })).toBe('cd28f3b68aeee4b2eac9c66f2f694b58');
    expect(md5OfMessageAttributes({ timestamp: { DataType: 'Number', StringValue: '1493147359900' } })).toBe('235c5c510d26fb653d073faed50ae77c');
    expect(md5OfMessageAttributes({ ordinal: { DataType: 'Number', StringValue: '1' }, category: { DataType: 'String', StringValue: 'test' } })).toBe('d21ae90c49061e927f57df5f5d72be1f');
  });
});

describe('queues', () => {
  it('creates queues idempotently and resolves their URL', async () => {
    const url = await queue('notifications');
    expect(url).toBe(`${sqs.url}/${DEFAULT_BASE_CREDENTIALS.accountId}/notifications`);
    expect(await queue('notifications')).toBe(url);
    await expect(client.send(new CreateQueueCommand({ QueueName: 'notifications', Attributes: { VisibilityTimeout: '5' } }))).rejects.toMatchObject({ name: 'QueueNameExists' });
    expect((await client.send(new GetQueueUrlCommand({ QueueName: 'notifications' }))).QueueUrl).toBe(url);
  });

  it('reports a missing queue as the typed QueueDoesNotExist, with the query-compatible code', async () => {
    const err = await client.send(new GetQueueUrlCommand({ QueueName: 'missing' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueDoesNotExist);
    expect(err).toMatchObject({ $metadata: { httpStatusCode: 400 }, Code: 'AWS.SimpleQueueService.NonExistentQueue' });
    await expect(client.send(new SendMessageCommand({ QueueUrl: `${sqs.url}/${DEFAULT_BASE_CREDENTIALS.accountId}/missing`, MessageBody: 'x' }))).rejects.toBeInstanceOf(QueueDoesNotExist);
  });
});

describe('messages', () => {
  it('sends and receives with correct MD5s and system attributes', async () => {
    const QueueUrl = await queue('basic');
    const body = '{"s3Bucket":"trail-logs","s3ObjectKey":["AWSLogs/1/CloudTrail/x.json.gz"]} – ünïcødé';
    const sent = await client.send(
      new SendMessageCommand({ QueueUrl, MessageBody: body, MessageAttributes: { kind: { DataType: 'String', StringValue: 'cloudtrail' }, n: { DataType: 'Number', StringValue: '3' } } }),
    ); // the client checks MD5OfMessageBody
    expect(sent.MD5OfMessageBody).toBe(md5(body));
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/);

    const got = await client.send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] })); // the client checks MD5OfBody
    expect(got.Messages).toHaveLength(1);
    const m = got.Messages![0];
    expect(m).toMatchObject({ MessageId: sent.MessageId, Body: body, MD5OfBody: md5(body), MD5OfMessageAttributes: sent.MD5OfMessageAttributes });
    expect(m.MessageAttributes?.kind).toEqual({ DataType: 'String', StringValue: 'cloudtrail' });
    expect(m.Attributes).toMatchObject({ ApproximateReceiveCount: '1', SentTimestamp: expect.stringMatching(/^\d{13}$/), SenderId: expect.stringMatching(/^AIDA/) });
    expect(await counts(QueueUrl)).toEqual({ visible: 0, inFlight: 1 });
  });

  it('redelivers an unacknowledged message after its visibility timeout with a new receipt handle', async () => {
    const QueueUrl = await queue('redelivery', { VisibilityTimeout: '30' });
    sqs.sendRaw('redelivery', 'hello');
    const first = (await client.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 1, AttributeNames: ['All'] }))).Messages![0];
    expect(first.Attributes?.ApproximateReceiveCount).toBe('1');
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages).toBeUndefined(); // invisible now

    const t0 = performance.now();
    const second = (await client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }))).Messages![0];
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThan(700);
    expect(waited).toBeLessThan(2000); // long poll returned as soon as the message became visible again
    expect(second.MessageId).toBe(first.MessageId);
    expect(second.ReceiptHandle).not.toBe(first.ReceiptHandle);
    expect(second.Attributes?.ApproximateReceiveCount).toBe('2');

    // the stale handle: AWS answers success but leaves the message in place
    await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: first.ReceiptHandle }));
    expect(await counts(QueueUrl)).toEqual({ visible: 0, inFlight: 1 });
    await client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: second.ReceiptHandle }));
    expect(await counts(QueueUrl)).toEqual({ visible: 0, inFlight: 0 });
  }, 10_000);

  it('returns a long poll as soon as a message arrives, and an empty answer when the wait runs out', async () => {
    const QueueUrl = await queue('long-poll');
    const t0 = performance.now();
    setTimeout(() => sqs.sendRaw('long-poll', 'late'), 200);
    const got = await client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }));
    expect(got.Messages?.[0].Body).toBe('late');
    expect(performance.now() - t0).toBeLessThan(1500);

    const t1 = performance.now();
    const empty = await client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
    expect(empty.Messages).toBeUndefined();
    expect(performance.now() - t1).toBeGreaterThanOrEqual(950);
  });

  it('does not hand a message to a long poll the client has abandoned', async () => {
    const QueueUrl = await queue('abandoned');
    const abort = new AbortController();
    const poll = client.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }), { abortSignal: abort.signal }).catch((e: unknown) => e);
    await sleep(100);
    abort.abort();
    expect(await poll).toMatchObject({ name: 'AbortError' });
    await sleep(50);
    sqs.sendRaw('abandoned', 'still here');
    const got = await client.send(new ReceiveMessageCommand({ QueueUrl, MessageSystemAttributeNames: ['ApproximateReceiveCount'] }));
    expect(got.Messages?.[0]).toMatchObject({ Body: 'still here', Attributes: { ApproximateReceiveCount: '1' } });
  });

  it('changes visibility, and refuses handles that are not receipt handles', async () => {
    const QueueUrl = await queue('visibility');
    sqs.sendRaw('visibility', 'v');
    const m = (await client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages![0];
    await client.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    const again = (await client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages![0];
    expect(again.MessageId).toBe(m.MessageId);
    await expect(client.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: 'garbage' }))).rejects.toBeInstanceOf(ReceiptHandleIsInvalid);
    await expect(client.send(new ChangeMessageVisibilityCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 10 }))).rejects.toBeInstanceOf(ReceiptHandleIsInvalid);
  });

  it('sends and deletes in batches and receives up to ten at once', async () => {
    const QueueUrl = await queue('batch');
    const Entries = Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, MessageBody: `body-${i}` }));
    const sent = await client.send(new SendMessageBatchCommand({ QueueUrl, Entries }));
    expect(sent.Successful).toHaveLength(10);
    sqs.sendRaw('batch', 'eleventh');
    const got = await client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(got.Messages).toHaveLength(10);
    const del = await client.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: got.Messages!.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) }));
    expect(del.Successful).toHaveLength(10);
    expect(await counts(QueueUrl)).toEqual({ visible: 1, inFlight: 0 });
    await expect(client.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 11 }))).rejects.toMatchObject({ name: 'InvalidParameterValue', $metadata: { httpStatusCode: 400 } });
    await expect(client.send(new SendMessageBatchCommand({ QueueUrl, Entries: [{ Id: 'a', MessageBody: 'x' }, { Id: 'a', MessageBody: 'y' }] }))).rejects.toMatchObject({ name: 'BatchEntryIdsNotDistinct' });
  });

  it('purges once a minute, like AWS', async () => {
    const QueueUrl = await queue('purge');
    sqs.sendRaw('purge', 'x');
    await client.send(new PurgeQueueCommand({ QueueUrl }));
    expect(sqs.counts('purge')).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    await expect(client.send(new PurgeQueueCommand({ QueueUrl }))).rejects.toBeInstanceOf(PurgeQueueInProgress);
  });

  it('moves a message to the dead-letter queue after maxReceiveCount receives', async () => {
    const dlqUrl = await queue('dead');
    const dlqArn = (await client.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
    const QueueUrl = await queue('live', { RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: '1' }) });
    sqs.sendRaw('live', 'poison');
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl, VisibilityTimeout: 0 }))).Messages).toHaveLength(1);
    expect((await client.send(new ReceiveMessageCommand({ QueueUrl }))).Messages).toBeUndefined();
    const dead = await client.send(new ReceiveMessageCommand({ QueueUrl: dlqUrl, MessageSystemAttributeNames: ['DeadLetterQueueSourceArn'] }));
    expect(dead.Messages?.[0]).toMatchObject({ Body: 'poison', Attributes: { DeadLetterQueueSourceArn: expect.stringMatching(/:live$/) } });
  });
});
