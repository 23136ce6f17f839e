import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type QueueAttributeName,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { awsError } from './errors.ts';

export interface QueueMessage {
  id: string;
  receiptHandle: string;
  body: string;
  /** How many times SQS has handed this message out (1 on the first delivery). */
  receiveCount: number;
}

/** The SQS calls trailbot makes on a notification queue. */
export interface SqsPort {
  receive(queueUrl: string, opts: { max?: number; waitSeconds?: number; visibilitySeconds?: number; signal?: AbortSignal | undefined }): Promise<QueueMessage[]>;
  /** Deletes messages; returns the ids that could not be deleted, with why. */
  deleteMany(queueUrl: string, messages: { id: string; receiptHandle: string }[]): Promise<{ id: string; reason: string }[]>;
  changeVisibility(queueUrl: string, receiptHandle: string, seconds: number): Promise<void>;
  attributes(queueUrl: string, names: QueueAttributeName[]): Promise<Record<string, string>>;
}

export function sqsPort(client: SQSClient): SqsPort {
  return {
    async receive(queueUrl, { max = 10, waitSeconds = 0, visibilitySeconds, signal }) {
      try {
        const r = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: max,
            WaitTimeSeconds: waitSeconds,
            VisibilityTimeout: visibilitySeconds,
            MessageSystemAttributeNames: ['ApproximateReceiveCount'],
          }),
          signal ? { abortSignal: signal } : {},
        );
        return (r.Messages ?? []).map((m) => ({
          id: m.MessageId ?? '?',
          receiptHandle: m.ReceiptHandle ?? '',
          body: m.Body ?? '',
          receiveCount: Number(m.Attributes?.ApproximateReceiveCount ?? 1),
        }));
      } catch (e) {
        throw awsError(e, `cannot receive from ${queueUrl}`, 'check the queue URL and region, and that trailbot may call sqs:ReceiveMessage on it');
      }
    },
    async deleteMany(queueUrl, messages) {
      const failed: { id: string; reason: string }[] = [];
      for (let i = 0; i < messages.length; i += 10) {
        const part = messages.slice(i, i + 10);
        try {
          const r = await client.send(
            new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: part.map((m, j) => ({ Id: String(j), ReceiptHandle: m.receiptHandle })) }),
          );
          for (const f of r.Failed ?? []) failed.push({ id: part[Number(f.Id)]?.id ?? '?', reason: `${f.Code}: ${f.Message ?? ''}` });
        } catch (e) {
          throw awsError(e, `cannot delete messages from ${queueUrl}`, 'check that trailbot may call sqs:DeleteMessage on the queue; undeleted messages come back and are stored again without duplicates');
        }
      }
      return failed;
    },
    async changeVisibility(queueUrl, receiptHandle, seconds) {
      try {
        await client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }));
      } catch (e) {
        throw awsError(e, `cannot change a message's visibility on ${queueUrl}`);
      }
    },
    async attributes(queueUrl, names) {
      try {
        const r = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: names }));
        return r.Attributes ?? {};
      } catch (e) {
        throw awsError(e, `cannot read the attributes of ${queueUrl}`, 'check the queue URL and that trailbot may call sqs:GetQueueAttributes on it');
      }
    },
  };
}

/** The Region in an SQS queue URL (`https://sqs.eu-west-1.amazonaws.com/…`), if it names one. */
export function regionOfQueueUrl(url: string): string | undefined {
  try {
    const host = new URL(url).hostname;
    return /^sqs[.-]([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(host)?.[1] ?? /^([a-z]{2}(-gov)?-[a-z]+-\d)\.queue\.amazonaws\.com$/.exec(host)?.[1];
  } catch {
    return undefined;
  }
}
