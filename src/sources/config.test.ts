import { describe, expect, it } from 'vitest';
import type { Config } from '../config/index.ts';
import { checkSources, type SqsSource } from './config.ts';

const queueUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/cloudtrail';
const check = (sources: Record<string, unknown>[], accounts: string[] = []) =>
  checkSources({ sources: sources as Config['sources'], accounts: accounts.map((id) => ({ id })) as Config['accounts'], configFile: undefined });
const sqsOf = (specs: { kind: string }[]): SqsSource => specs.find((s) => s.kind === 'sqs') as SqsSource;

describe('sqs allow-lists', () => {
  it('default to the buckets of the s3 sources and the top-level accounts', () => {
    const { specs, problems } = check(
      [
        { id: 'queue', kind: 'sqs', queueUrl },
        { id: 'bucket-a', kind: 's3', bucket: 'org-cloudtrail' },
        { id: 'bucket-b', kind: 's3', bucket: 'other-trail', prefix: 'logs' },
      ],
      ['111111111111', '222222222222'],
    );
    expect(problems).toEqual([]);
    expect(sqsOf(specs)).toMatchObject({ buckets: ['org-cloudtrail', 'other-trail'], accounts: ['111111111111', '222222222222'] });
  });

  it('take what the source says instead, "*" included', () => {
    const { specs, problems } = check([{ id: 'queue', kind: 'sqs', queueUrl, buckets: ['log-archive'], accounts: ['*'] }, { id: 'b', kind: 's3', bucket: 'org-cloudtrail' }], ['111111111111']);
    expect(problems).toEqual([]);
    expect(sqsOf(specs)).toMatchObject({ buckets: ['log-archive'], accounts: ['*'] });
    expect(sqsOf(check([{ id: 'queue', kind: 'sqs', queueUrl, buckets: [] }], ['111111111111']).specs).buckets).toEqual([]);
  });

  it('refuse a source with nothing to default to, naming the setting to write', () => {
    const { problems } = check([{ id: 'queue', kind: 'sqs', queueUrl }]);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^sources\[0\] \(queue\): set buckets: to the trail bucket\(s\) this queue announces/);
    expect(problems[1]).toMatch(/^sources\[0\] \(queue\): set accounts: to the account ids whose events this queue carries/);
  });

  it('check their entries', () => {
    const { problems } = check([{ id: 'queue', kind: 'sqs', queueUrl, buckets: ['Not A Bucket'], accounts: ['1234', '*'] }]);
    expect(problems).toEqual([
      'sources[0].buckets[0] (queue): expected an S3 bucket name',
      'sources[0].accounts[0] (queue): expected a 12-digit AWS account id in quotes, e.g. "111111111111"',
      'sources[0].accounts (queue): "*" (any) stands alone in the list',
    ]);
  });
});
