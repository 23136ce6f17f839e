import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record, records, replay } from '../../../test/fixtures/flows/load.ts';

const ID = 'ssm-parameters-bulk-decrypt';
const STRATUS = 'records/stratus-aws.credential-access.ssm-retrieve-securestring-parameters.json';

describe(ID, () => {
  it('raises on Stratus ssm-retrieve-securestring-parameters: 42 SecureStrings in 5 GetParameters calls', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.count).toBe(5);
    expect(f.title).toBe('christophe decrypted more than 10 different SSM parameters within 1 hour in account 933175858973');
  });

  it('counts names, not calls: one call of 10 names stays quiet, a second with other names raises', () => {
    const calls = records(STRATUS).filter((r) => r.eventName === 'GetParameters');
    expect(findings([calls[0]!], ID)).toEqual([]);
    expect(findings([calls[0]!, calls[1]!], ID)).toHaveLength(1);
    // The same 10 names read again and again: still 10.
    expect(findings(replay(calls[0]!, 6, 60), ID)).toEqual([]);
  });

  it('ignores reads without decryption, and DescribeParameters', () => {
    const plain = records(STRATUS)
      .filter((r) => r.eventName === 'GetParameters')
      .map((r) => ({ ...r, requestParameters: { ...(r.requestParameters as object), withDecryption: false } }));
    expect(findings(plain, ID)).toEqual([]);
    expect(findings([record(STRATUS, 'DescribeParameters')], ID)).toEqual([]);
  });

  it('ignores an IaC identity refreshing its parameters, but not a Terraform user agent alone', () => {
    const terraform = (r: ReturnType<typeof records>[number]) => ({ ...r, userAgent: 'APN/1.0 HashiCorp/1.0 Terraform/1.9.2 (+https://www.terraform.io) terraform-provider-aws/5.60.0' });
    const calls = records(STRATUS).map(terraform);
    expect(findings(calls, ID)).toHaveLength(1);
    expect(findings(calls, ID, { allow: { iacIdentities: ['christophe'] } })).toEqual([]);
  });

  it('counts a read by path once per path', () => {
    const byPath = replay({ ...record(STRATUS, 'GetParameters'), eventName: 'GetParametersByPath', requestParameters: { path: '/app/prod', recursive: true, withDecryption: true } }, 30, 30);
    expect(findings(byPath, ID)).toEqual([]);
  });
});
