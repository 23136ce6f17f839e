import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { roleSession } from '../../../test/fixtures/flows/build.ts';
import { secretReads } from '../../../test/fixtures/flows/data-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';
import { secretName } from './secrets-bulk-read.ts';

const ID = 'secrets-bulk-read';

describe(ID, () => {
  it('raises when one principal reads 20 different secrets (as Stratus secretsmanager-retrieve-secrets does)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.count).toBe(20);
    expect(f.title).toBe('mallory read more than 10 different secrets within 1 hour in account 111122223333');
  });

  it('counts secrets, not reads: 11 different secrets raise, 10 do not, nor 50 reads of one secret', () => {
    expect(findings(secretReads(11), ID)).toHaveLength(1);
    expect(findings(secretReads(10), ID)).toEqual([]);
    expect(findings(secretReads(50, { sameSecret: true }), ID)).toEqual([]);
  });

  it('counts a secret read by name and by ARN once', () => {
    expect(secretName('arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/app-3-Ab12Cd')).toBe('prod/app-3');
    expect(secretName('prod/app-3')).toBe('prod/app-3');
    // 11 reads alternating name and ARN of 6 secrets: 6 distinct.
    const six = secretReads(11).map((r, i) => {
      (r.requestParameters as Record<string, unknown>).secretId = i % 2 === 0 ? `prod/s-${i % 6}` : `arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/s-${i % 6}-Zz99Yy`;
      return r;
    });
    expect(findings(six, ID)).toEqual([]);
  });

  it('stays quiet when the reads spread over more than the window, and for an automation role on the allow-list', () => {
    expect(findings(secretReads(20, { step: 400 }), ID)).toEqual([]);
    const app = roleSession('external-secrets', 'sync');
    expect(findings(secretReads(20, { identity: app }), ID)).toHaveLength(1);
    expect(findings(secretReads(20, { identity: app }), ID, { allow: { automationRoles: ['external-secrets'] } })).toEqual([]);
  });

  it('counts denied reads too (someone trying every secret there is)', () => {
    const tries = secretReads(11).map((r) => ({ ...r, errorCode: 'AccessDeniedException', errorMessage: 'User: arn:aws:iam::111122223333:user/mallory is not authorized to perform: secretsmanager:GetSecretValue' }));
    expect(findings(tries, ID)).toHaveLength(1);
  });
});
