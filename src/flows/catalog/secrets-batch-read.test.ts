import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, records, replay } from '../../../test/fixtures/flows/load.ts';

const ID = 'secrets-batch-read';
const STRATUS = 'records/stratus-aws.credential-access.secretsmanager-batch-retrieve-secrets.json';

describe(ID, () => {
  it('raises on Stratus secretsmanager-batch-retrieve-secrets: 5 pages of secrets read by tag filter', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.count).toBe(5);
    expect(f.title).toBe('christophe read secrets in bulk (5 BatchGetSecretValue calls by filter) in account 165109126369');
  });

  it('stays quiet at 4 pages', () => {
    expect(findings(records(STRATUS).slice(0, 4), ID)).toEqual([]);
  });

  it('counts the same named list read again once, different lists each', () => {
    const named = records(STRATUS)[0]!;
    const same = replay({ ...named, requestParameters: { secretIdList: ['prod/db', 'prod/api'] } }, 10, 60);
    expect(findings(same, ID)).toEqual([]);
    const pages = replay({ ...named, requestParameters: { secretIdList: ['x'] } }, 5, 60).map((r, i) => ({ ...r, requestParameters: { secretIdList: [`prod/s-${i}`] } }));
    expect(findings(pages, ID)).toHaveLength(1);
  });
});
