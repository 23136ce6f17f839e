import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { roleSession } from '../../../test/fixtures/flows/build.ts';
import { iamFromInstance, iamFromLambda } from '../../../test/fixtures/flows/identity-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'iam-change-from-workload';

describe(ID, () => {
  it('raises once when a Lambda function creates a user and a key for it (built from the API reference)', () => {
    const f = positiveFinding(ID);
    expect(f.count).toBe(2);
    expect(f.title).toMatch(/^IAM changed from Lambda function image-resizer: /);
  });

  it('is the one report of the event: the generic IAM flows yield to it', () => {
    const all = findings(iamFromLambda());
    expect(all.map((f) => f.flow).filter((f) => f === 'access-key-created' || f === 'iam-user-created-or-deleted')).toEqual([]);
    const fromInstance = findings([iamFromInstance()]);
    expect(fromInstance.map((f) => f.flow)).toContain(ID);
    expect(fromInstance.map((f) => f.flow)).not.toContain('iam-policy-change');
    expect(fromInstance.find((f) => f.flow === ID)!.title).toMatch(/^IAM changed from instance i-0a1b2c3d4e5f60718: /);
  });

  it('ignores people and other role sessions, and refused calls', () => {
    const person = { ...iamFromInstance(), userIdentity: roleSession('web-server', 'deploy-42') };
    expect(findings([person], ID)).toEqual([]);
    expect(findings([{ ...iamFromInstance(), errorCode: 'AccessDenied', errorMessage: 'denied' }], ID)).toEqual([]);
  });
});
