import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { at, findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'unexpected-region';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises on the first use of a region in an account with history (AWS docs, then Panther)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('First activity in region us-west-2 in account 123456789012: Tester stopped logging on the CloudTrail trail example-trail');
    expect(f.key).toBe('unexpected-region:account-region:123456789012:us-west-2');
  });
  it('stays quiet for expected regions (globally or per account)', () => {
    const { records } = positive();
    expect(findings(records, ID, { expected: { regions: ['us-west-2'] } })).toEqual([]);
    expect(findings(records, ID, { expected: { accounts: { '123456789012': ['us-west-2'] } } })).toEqual([]);
  });
  it('needs a baseline: the first events of an account, or within the learning period, raise nothing', () => {
    expect(findings([record(`${R}writes-logging.json`, 'StopLogging')], ID)).toEqual([]);
    const { records } = positive();
    expect(findings(records, ID, { [ID]: { params: { learningPeriod: '520w' } } })).toEqual([]);
  });
  it('ignores global services such as IAM, whatever region they are logged in', () => {
    const iam = record(`${R}aws-docs-examples.json`, 'CreateUser');
    expect(findings([at(`${R}aws-docs-examples.json`, 11), { ...iam, awsRegion: 'eu-west-3', recipientAccountId: '123456789012' }], ID)).toEqual([]);
  });
});
