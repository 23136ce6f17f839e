import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TrailbotError } from '../../errors.ts';
import { approvalRoleFor, createIamAccess, type IamAccess } from './iam-access.ts';
import { DEFAULT_BASE_CREDENTIALS, type Standins, startStandins } from './standins/index.ts';

const BASE = DEFAULT_BASE_CREDENTIALS.accountId;
const MEMBER = '111111111111';
const STRANGER = '333333333333';
const credentials = { accessKeyId: DEFAULT_BASE_CREDENTIALS.accessKeyId, secretAccessKey: DEFAULT_BASE_CREDENTIALS.secretAccessKey };

let s: Standins;
let access: IamAccess;
const config = (accounts: { id: string; roleName?: string }[] = [{ id: MEMBER, roleName: 'TrailbotResponder' }], sources: unknown[] = []) =>
  ({ aws: { endpoints: { default: s.url } }, accounts, sources }) as never;

async function coded(p: Promise<unknown>): Promise<TrailbotError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TrailbotError);
    return e as TrailbotError;
  }
  throw new Error('expected a coded failure');
}

beforeAll(async () => {
  s = await startStandins({ accounts: [MEMBER], roleName: 'TrailbotResponder', throttle: false });
  access = createIamAccess({ config: config(), credentials });
});
afterAll(async () => {
  access.destroy();
  await s.close();
});
beforeEach(() => s.iam.faults.clear());

describe('IamPort (the real IAMClient against the IAM stand-in)', () => {
  it("acts on trailbot's own account directly: reads say what is missing, removals say when nothing was there", async () => {
    s.iam.createUser(BASE, 'alice', { keys: 2, loginProfile: true });
    s.iam.createRole(BASE, 'Deployer');
    const iam = await access.forAccount(BASE);
    expect(iam.account).toBe(BASE);
    expect(await iam.getUser('nobody')).toBeUndefined();
    expect(await iam.getUser('alice')).toMatchObject({ userName: 'alice', arn: `arn:aws:iam::${BASE}:user/alice`, path: '/' });
    const keys = await iam.listAccessKeys('alice');
    expect(keys.map((k) => k.status)).toEqual(['Active', 'Active']);
    await iam.updateAccessKey('alice', keys[0]!.accessKeyId, 'Inactive');
    await iam.updateAccessKey('alice', keys[0]!.accessKeyId, 'Inactive');
    expect((await iam.listAccessKeys('alice'))[0]!.status).toBe('Inactive');
    expect(await iam.getLoginProfile('alice')).toMatchObject({ passwordResetRequired: false });
    expect(await iam.deleteLoginProfile('alice')).toBe(true);
    expect(await iam.deleteLoginProfile('alice')).toBe(false);
    expect(await iam.getLoginProfile('alice')).toBeUndefined();
    await iam.attachUserPolicy('alice', 'arn:aws:iam::aws:policy/AWSDenyAll');
    expect(await iam.listAttachedUserPolicies('alice')).toEqual([{ policyName: 'AWSDenyAll', policyArn: 'arn:aws:iam::aws:policy/AWSDenyAll' }]);
    expect(await iam.detachUserPolicy('alice', 'arn:aws:iam::aws:policy/AWSDenyAll')).toBe(true);
    expect(await iam.detachUserPolicy('alice', 'arn:aws:iam::aws:policy/AWSDenyAll')).toBe(false);

    const role = (await iam.getRole('Deployer'))!;
    expect(role).toMatchObject({ roleName: 'Deployer', path: '/', serviceLinked: false });
    expect(role.roleId).toMatch(/^AROA/);
    const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringEquals: { 'aws:userid': `${role.roleId}:alice` } } }] };
    await iam.putRolePolicy('Deployer', 'deny-alice', doc);
    expect(await iam.listRolePolicies('Deployer')).toEqual(['deny-alice']);
    expect(await iam.getRolePolicy('Deployer', 'deny-alice')).toEqual(doc);
    expect(await iam.getRolePolicy('Deployer', 'other')).toBeUndefined();
    expect(await iam.deleteRolePolicy('Deployer', 'deny-alice')).toBe(true);
    expect(await iam.deleteRolePolicy('Deployer', 'deny-alice')).toBe(false);
    expect(await iam.getRole('Nope')).toBeUndefined();
  });

  it("reaches a member account through its role (assumed once) and changes that account's state", async () => {
    s.iam.createUser(MEMBER, 'bob', { keys: 1 });
    const before = s.sts.requests.filter((r) => r.operation === 'AssumeRole').length;
    const iam = await access.forAccount(MEMBER);
    expect(iam.account).toBe(MEMBER);
    const [key] = await iam.listAccessKeys('bob');
    await iam.updateAccessKey('bob', key!.accessKeyId, 'Inactive');
    expect(s.iam.user(MEMBER, 'bob')!.accessKeys[0]!.status).toBe('Inactive');
    await access.forAccount(MEMBER);
    expect(s.sts.requests.filter((r) => r.operation === 'AssumeRole' && r.status === 200)).toHaveLength(before + 1);
    expect(s.sts.requests.at(-1)?.params).toMatchObject({ RoleArn: `arn:aws:iam::${MEMBER}:role/TrailbotResponder`, RoleSessionName: 'trailbot-approvals' });
  });

  it('says which setting to add when no role reaches an account, and what to check when the role cannot be assumed', async () => {
    const none = await coded(access.forAccount(STRANGER));
    expect(none.code).toBe('E_IAM_DENIED');
    expect(none.message).toContain(`no role is configured to reach account ${STRANGER}`);
    expect(none.hint).toContain(`accounts: [{ id: "${STRANGER}", roleName: TrailbotResponder }]`);

    const wrong = createIamAccess({ config: config([{ id: MEMBER, roleName: 'NotThere' }]), credentials });
    try {
      const e = await coded(wrong.forAccount(MEMBER));
      expect(e.code).toBe('E_IAM_DENIED');
      expect(e.hint).toContain('check that role NotThere exists in 111111111111, trusts trailbot');
      expect(e.hint).toContain('sts:AssumeRole');
    } finally {
      wrong.destroy();
    }
  });

  it('maps IAM failures to coded errors naming what to fix', async () => {
    s.iam.createUser(BASE, 'carol', { keys: 1 });
    s.iam.createRole(BASE, 'AWSServiceRoleForSupport', { path: '/aws-service-role/support.amazonaws.com/' });
    const iam = await access.forAccount(BASE);
    const [key] = await iam.listAccessKeys('carol');
    s.iam.faults.deny('iam:UpdateAccessKey');
    const denied = await coded(iam.updateAccessKey('carol', key!.accessKeyId, 'Inactive'));
    expect(denied.code).toBe('E_IAM_DENIED');
    expect(denied.message).toBe(`cannot set access key ${key!.accessKeyId} of carol to Inactive in account ${BASE}: AccessDenied: User: arn:aws:iam::${BASE}:user/trailbot is not authorized to perform: iam:UpdateAccessKey on resource: user carol because no identity-based policy allows the iam:UpdateAccessKey action`);
    expect(denied.hint).toContain(`allow iam:UpdateAccessKey to trailbot's role in account ${BASE}`);
    s.iam.faults.clear();

    expect((await coded(iam.updateAccessKey('carol', 'AKIAAAAAAAAAAAAAAAAA', 'Inactive'))).code).toBe('E_IAM_NOT_FOUND');
    expect((await coded(iam.updateAccessKey('gone', key!.accessKeyId, 'Inactive'))).code).toBe('E_IAM_NOT_FOUND');
    const unmodifiable = await coded(iam.putRolePolicy('AWSServiceRoleForSupport', 'x', { Version: '2012-10-17', Statement: [] }));
    expect(unmodifiable.code).toBe('E_IAM_REJECTED');
    expect(unmodifiable.hint).toContain('service-linked');
    // The SDK retries a 500 ServiceFailure twice itself; a fourth one in a row is E_IAM_UNAVAILABLE.
    s.iam.faults.fail({ count: 3, match: { action: 'GetUser' } });
    expect((await coded(iam.getUser('carol'))).code).toBe('E_IAM_UNAVAILABLE');
  });

  it('finds the role for an account under accounts:, else a lookup source that reads it', () => {
    const c = { accounts: [{ id: MEMBER, roleName: 'Responder', externalId: 'ext-1' }, { id: '222222222222' }], sources: [{ id: 'l', kind: 'lookup', accounts: ['222222222222'], roleName: 'TrailbotReader' }, { id: 's', kind: 's3', account: '444444444444', roleName: 'LogReader' }] } as never;
    expect(approvalRoleFor(c, MEMBER)).toEqual({ roleName: 'Responder', externalId: 'ext-1' });
    expect(approvalRoleFor(c, '222222222222')).toEqual({ roleName: 'TrailbotReader', externalId: undefined });
    expect(approvalRoleFor(c, '444444444444')).toEqual({ roleName: 'LogReader', externalId: undefined });
    expect(approvalRoleFor(c, STRANGER)).toBeUndefined();
    expect(approvalRoleFor({ accounts: [], sources: [{ id: 'all', kind: 'lookup', roleName: 'OrgReader' }] } as never, STRANGER)).toEqual({ roleName: 'OrgReader', externalId: undefined });
  });
});
