import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'clickops-production';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises when a resource tagged production is changed in the console (tag list)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('Production changed by hand: tester/tester created the VPC vpc-1');
    expect(f.body).toContain('vpc-1 is marked production');
  });
  it('matches production by ARN pattern', () => {
    const change = [record(`${R}writes-iam.json`, 'UploadSSHPublicKey')];
    expect(findings(change, ID, { production: { arnPatterns: ['arn:aws:iam::*:user/Alice'] } })).toHaveLength(1);
  });
  it('ignores resources not marked production, tags that do not mark production, and changes outside the console', () => {
    const { records } = positive();
    expect(findings(records, ID)).toEqual([]);
    expect(findings(records, ID, { production: { resources: [{ arn: 'vpc-1', tags: { Environment: 'staging' } }] } })).toEqual([]);
    const cli = [record(`${R}writes-data.json`, 'DeleteDBInstance')];
    expect(findings(cli, ID, { production: { arnPatterns: ['arn:aws:rds:*'] } })).toEqual([]);
  });
});
