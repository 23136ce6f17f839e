import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { call } from '../../../test/fixtures/flows/build.ts';
import { domainTransfer } from '../../../test/fixtures/flows/data-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'route53-domain-transfer';

describe(ID, () => {
  it('raises (critical) when a domain lock is disabled and the domain offered to another account', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('critical');
    expect(f.count).toBe(2);
    expect(f.title).toBe('Domain example.com being moved away (transfer lock disabled): mallory disabled a domain transfer lock');
    const [, transfer] = domainTransfer();
    expect(findings([transfer!], ID)[0]!.title).toMatch(/^Domain example\.com being moved away \(transfer to another AWS account 999988887777\): /);
  });

  it('ignores turning the lock on, transfers in, and attempts that failed', () => {
    const r53 = (name: string, error?: { code: string }) => call({ source: 'route53domains.amazonaws.com', name, region: 'us-east-1', request: { domainName: 'example.com' }, ...(error ? { error } : {}) });
    expect(findings([r53('EnableDomainTransferLock'), r53('TransferDomain'), r53('DisableDomainTransferLock', { code: 'AccessDenied' })], ID)).toEqual([]);
  });
});
