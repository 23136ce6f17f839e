import {
  AttachUserPolicyCommand,
  CreateLoginProfileCommand,
  DeleteLoginProfileCommand,
  DeleteRolePolicyCommand,
  DetachUserPolicyCommand,
  GetLoginProfileCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  IAMClient,
  paginateListAccessKeys,
  ListAttachedUserPoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_BASE_CREDENTIALS } from './credentials.ts';
import { startStandins } from './index.ts';
import type { Standins } from './index.ts';
import { clientConfig } from './testing.ts';
import type { ClientCredentials } from './testing.ts';

const BASE = DEFAULT_BASE_CREDENTIALS.accountId;
const MEMBER = '111111111111';
const DENY_ALL = 'arn:aws:iam::aws:policy/AWSDenyAll';

let s: Standins;
const iam = (o: { credentials?: ClientCredentials; region?: string; maxAttempts?: number } = {}) => new IAMClient(clientConfig(s.url, o));

/** What the SDK makes of an error answer: its name (the XML Code), HTTP status and message. */
async function failure(p: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string; fault: string | undefined }> {
  try {
    await p;
  } catch (e) {
    const x = e as { name: string; $metadata?: { httpStatusCode?: number }; message: string; $fault?: string };
    return { name: x.name, status: x.$metadata?.httpStatusCode, message: x.message, fault: x.$fault };
  }
  throw new Error('expected the request to fail');
}

beforeAll(async () => {
  s = await startStandins({ accounts: [MEMBER], roleName: 'TrailbotResponder', throttle: false });
});
afterAll(() => s.close());
beforeEach(() => s.iam.faults.clear());

describe('IAM stand-in, through the real IAMClient', () => {
  it('deactivates a user as IAM does: keys Inactive, login profile deleted, AWSDenyAll attached; the state shows it', async () => {
    s.iam.createUser(BASE, 'alice', { keys: ['Active', 'Active'], loginProfile: true });
    const c = iam();
    const u = await c.send(new GetUserCommand({ UserName: 'alice' }));
    expect(u.User).toMatchObject({ UserName: 'alice', Arn: `arn:aws:iam::${BASE}:user/alice`, Path: '/' });
    expect(u.User?.UserId).toMatch(/^AIDA/);
    expect(u.User?.CreateDate).toBeInstanceOf(Date);

    // Two pages of one key each: Marker and IsTruncated as IAM pages them.
    const keys = [];
    for await (const page of paginateListAccessKeys({ client: c, pageSize: 1 }, { UserName: 'alice' })) {
      expect(page.AccessKeyMetadata).toHaveLength(1);
      keys.push(...(page.AccessKeyMetadata ?? []));
    }
    expect(keys.map((k) => k.Status)).toEqual(['Active', 'Active']);
    expect(keys[0]?.AccessKeyId).toMatch(/^AKIA[A-Z2-7]{16}$/);

    for (const k of keys) await c.send(new UpdateAccessKeyCommand({ UserName: 'alice', AccessKeyId: k.AccessKeyId, Status: 'Inactive' }));
    expect((await c.send(new GetLoginProfileCommand({ UserName: 'alice' }))).LoginProfile).toMatchObject({ UserName: 'alice', PasswordResetRequired: false });
    await c.send(new DeleteLoginProfileCommand({ UserName: 'alice' }));
    await c.send(new AttachUserPolicyCommand({ UserName: 'alice', PolicyArn: DENY_ALL }));
    await c.send(new AttachUserPolicyCommand({ UserName: 'alice', PolicyArn: DENY_ALL })); // twice: still once
    expect((await c.send(new ListAttachedUserPoliciesCommand({ UserName: 'alice' }))).AttachedPolicies).toEqual([{ PolicyName: 'AWSDenyAll', PolicyArn: DENY_ALL }]);

    const state = s.iam.user(BASE, 'alice')!;
    expect(state.accessKeys.map((k) => k.status)).toEqual(['Inactive', 'Inactive']);
    expect(state.loginProfile).toBeNull();
    expect(state.attachedPolicies).toEqual([DENY_ALL]);

    // And back: keys Active, the policy detached; the password is a new one, created anew.
    await c.send(new UpdateAccessKeyCommand({ UserName: 'alice', AccessKeyId: keys[0]!.AccessKeyId, Status: 'Active' }));
    await c.send(new DetachUserPolicyCommand({ UserName: 'alice', PolicyArn: DENY_ALL }));
    await c.send(new CreateLoginProfileCommand({ UserName: 'alice', Password: 'N3w-password-0000' }));
    expect(s.iam.user(BASE, 'alice')).toMatchObject({ attachedPolicies: [], loginProfile: { passwordResetRequired: false } });
    expect(s.iam.user(BASE, 'alice')!.accessKeys.map((k) => k.status)).toEqual(['Active', 'Inactive']);
    // The request log has every write, the password masked.
    expect(s.iam.writes('UpdateAccessKey').length).toBeGreaterThanOrEqual(3);
    expect(s.iam.requests.find((r) => r.operation === 'CreateLoginProfile')?.params).toMatchObject({ Password: '***', UserName: 'alice' });
  });

  it("answers IAM's errors with their codes and statuses", async () => {
    s.iam.createUser(BASE, 'bob', { keys: 1 });
    s.iam.createRole(BASE, 'AWSServiceRoleForSupport', { path: '/aws-service-role/support.amazonaws.com/' });
    const c = iam({ maxAttempts: 1 });
    expect(await failure(c.send(new GetUserCommand({ UserName: 'nobody' })))).toMatchObject({ name: 'NoSuchEntityException', status: 404, message: 'The user with name nobody cannot be found.' });
    expect(await failure(c.send(new GetLoginProfileCommand({ UserName: 'bob' })))).toMatchObject({ name: 'NoSuchEntityException', status: 404, message: 'Login Profile for User bob cannot be found.' });
    expect(await failure(c.send(new DeleteLoginProfileCommand({ UserName: 'bob' })))).toMatchObject({ name: 'NoSuchEntityException', status: 404 });
    expect(await failure(c.send(new UpdateAccessKeyCommand({ UserName: 'bob', AccessKeyId: 'AKIAAAAAAAAAAAAAAAAA', Status: 'Inactive' })))).toMatchObject({ name: 'NoSuchEntityException', message: 'The Access Key with id AKIAAAAAAAAAAAAAAAAA cannot be found.' });
    expect(await failure(c.send(new UpdateAccessKeyCommand({ UserName: 'bob', AccessKeyId: 'AKIAAAAAAAAAAAAAAAAA', Status: 'Disabled' as 'Active' })))).toMatchObject({ name: 'ValidationError', status: 400 });
    expect(await failure(c.send(new DetachUserPolicyCommand({ UserName: 'bob', PolicyArn: DENY_ALL })))).toMatchObject({ name: 'NoSuchEntityException', message: `Policy ${DENY_ALL} was not found.` });
    expect(await failure(c.send(new AttachUserPolicyCommand({ UserName: 'bob', PolicyArn: 'not-an-arn-at-all-nope' })))).toMatchObject({ name: 'InvalidInputException', status: 400 });
    await c.send(new CreateLoginProfileCommand({ UserName: 'bob', Password: 'x' }));
    expect(await failure(c.send(new CreateLoginProfileCommand({ UserName: 'bob', Password: 'x' })))).toMatchObject({ name: 'EntityAlreadyExistsException', status: 409 });
    expect(await failure(c.send(new PutRolePolicyCommand({ RoleName: 'AWSServiceRoleForSupport', PolicyName: 'p', PolicyDocument: '{"Version":"2012-10-17","Statement":[]}' })))).toMatchObject({
      name: 'UnmodifiableEntityException',
      status: 400,
    });
    expect(await failure(c.send(new GetRoleCommand({ RoleName: 'Nope' })))).toMatchObject({ name: 'NoSuchEntityException', message: 'The role with name Nope cannot be found.' });
    // A missing permission, as AWS words it.
    s.iam.faults.deny('iam:UpdateAccessKey');
    const key = s.iam.user(BASE, 'bob')!.accessKeys[0]!.accessKeyId;
    const denied = await failure(c.send(new UpdateAccessKeyCommand({ UserName: 'bob', AccessKeyId: key, Status: 'Inactive' })));
    expect(denied).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(denied.message).toContain('is not authorized to perform: iam:UpdateAccessKey on resource: user bob');
    expect(s.iam.user(BASE, 'bob')!.accessKeys[0]!.status).toBe('Active');
    // A 500 ServiceFailure (not carried out), a server fault the SDK would retry.
    s.iam.faults.fail({ match: { action: 'GetUser' } });
    expect(await failure(c.send(new GetUserCommand({ UserName: 'bob' })))).toMatchObject({ name: 'ServiceFailureException', status: 500, fault: 'server' });
    expect((await c.send(new GetUserCommand({ UserName: 'bob' }))).User?.UserName).toBe('bob');
  });

  it('role inline policies: put, read back (URL-encoded on the wire), list, delete; malformed documents refused', async () => {
    s.iam.createRole(BASE, 'Deployer');
    const c = iam({ maxAttempts: 1 });
    const role = (await c.send(new GetRoleCommand({ RoleName: 'Deployer' }))).Role!;
    expect(role.RoleId).toMatch(/^AROA/);
    expect(JSON.parse(decodeURIComponent(role.AssumeRolePolicyDocument!))).toMatchObject({ Version: '2012-10-17' });
    const doc = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringEquals: { 'aws:userid': `${role.RoleId}:alice@example.com` } } }] };
    await c.send(new PutRolePolicyCommand({ RoleName: 'Deployer', PolicyName: 'trailbot-deny-1', PolicyDocument: JSON.stringify(doc) }));
    const got = await c.send(new GetRolePolicyCommand({ RoleName: 'Deployer', PolicyName: 'trailbot-deny-1' }));
    expect(got.PolicyDocument).toContain('%22aws%3Auserid%22');
    expect(JSON.parse(decodeURIComponent(got.PolicyDocument!))).toEqual(doc);
    expect((await c.send(new ListRolePoliciesCommand({ RoleName: 'Deployer' }))).PolicyNames).toEqual(['trailbot-deny-1']);
    expect(await failure(c.send(new PutRolePolicyCommand({ RoleName: 'Deployer', PolicyName: 'bad', PolicyDocument: '{not json' })))).toMatchObject({ name: 'MalformedPolicyDocumentException', status: 400 });
    await c.send(new DeleteRolePolicyCommand({ RoleName: 'Deployer', PolicyName: 'trailbot-deny-1' }));
    expect(s.iam.role(BASE, 'Deployer')!.inlinePolicies).toEqual({});
    expect(await failure(c.send(new DeleteRolePolicyCommand({ RoleName: 'Deployer', PolicyName: 'trailbot-deny-1' })))).toMatchObject({
      name: 'NoSuchEntityException',
      message: 'The role policy with name trailbot-deny-1 cannot be found.',
    });
  });

  it("acts on the credentials' account: AssumeRole'd keys change the member account, not trailbot's", async () => {
    s.iam.createUser(MEMBER, 'carol', { keys: 1 });
    s.iam.createUser(BASE, 'carol', { keys: 1 });
    const out = await new STSClient(clientConfig(s.url)).send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${MEMBER}:role/TrailbotResponder`, RoleSessionName: 'trailbot-approvals' }));
    const creds = { accessKeyId: out.Credentials!.AccessKeyId!, secretAccessKey: out.Credentials!.SecretAccessKey!, sessionToken: out.Credentials!.SessionToken! };
    expect((await new STSClient(clientConfig(s.url, { credentials: creds })).send(new GetCallerIdentityCommand({}))).Account).toBe(MEMBER);
    const c = iam({ credentials: creds });
    const key = s.iam.user(MEMBER, 'carol')!.accessKeys[0]!.accessKeyId;
    await c.send(new UpdateAccessKeyCommand({ UserName: 'carol', AccessKeyId: key, Status: 'Inactive' }));
    expect(s.iam.user(MEMBER, 'carol')!.accessKeys[0]!.status).toBe('Inactive');
    expect(s.iam.user(BASE, 'carol')!.accessKeys[0]!.status).toBe('Active');
    expect(s.iam.writes('UpdateAccessKey').at(-1)).toMatchObject({ accountId: MEMBER, status: 200 });
  });

  it('checks SigV4 as the other stand-ins do, and that IAM is signed for us-east-1', async () => {
    s.iam.createUser(BASE, 'dave');
    const wrong = await failure(iam({ credentials: { accessKeyId: DEFAULT_BASE_CREDENTIALS.accessKeyId, secretAccessKey: 'not-the-secret' }, maxAttempts: 1 }).send(new GetUserCommand({ UserName: 'dave' })));
    expect(wrong).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    const unknown = await failure(iam({ credentials: { accessKeyId: 'AKIANOTKNOWN00000000', secretAccessKey: 'x' }, maxAttempts: 1 }).send(new GetUserCommand({ UserName: 'dave' })));
    expect(unknown).toMatchObject({ name: 'InvalidClientTokenId', status: 403 });
    const region = await failure(iam({ region: 'eu-west-1', maxAttempts: 1 }).send(new GetUserCommand({ UserName: 'dave' })));
    expect(region).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
    expect(region.message).toContain("Credential should be scoped to a valid region, not 'eu-west-1'");
    // Unsigned, or another version: refused before anything is read.
    const res = await fetch(s.url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=GetUser&Version=2010-05-08&UserName=dave' });
    expect(res.status).toBe(403); // routed to STS by its form body: unsigned requests never reach IAM's state
    const wrongVersion = await s.iam.handle(new Request('http://x/', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'Action=GetUser&Version=2010-05-08' }));
    expect(wrongVersion.status).toBe(403);
    expect(await wrongVersion.text()).toMatch(/^<ErrorResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code>/);
  });

  it('holds an answer after carrying the write out (a client killed meanwhile finds the change made)', async () => {
    s.iam.createUser(BASE, 'erin', { keys: 1 });
    const key = s.iam.user(BASE, 'erin')!.accessKeys[0]!.accessKeyId;
    s.iam.faults.hold({ ms: 10_000, match: { action: 'UpdateAccessKey' } });
    const abort = new AbortController();
    const pending = iam({ maxAttempts: 1 }).send(new UpdateAccessKeyCommand({ UserName: 'erin', AccessKeyId: key, Status: 'Inactive' }), { abortSignal: abort.signal });
    const deadline = Date.now() + 5000;
    while (s.iam.faults.holding === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(s.iam.faults.holding).toBe(1);
    expect(s.iam.user(BASE, 'erin')!.accessKeys[0]!.status).toBe('Inactive');
    abort.abort();
    await expect(pending).rejects.toThrow();
    s.iam.faults.clear();
    expect(s.iam.faults.holding).toBe(0);
  });

  it('seeds users and roles from CloudTrail records', () => {
    const seeded = s.iam.seedFromRecords([
      { userIdentity: { type: 'IAMUser', userName: 'frank', accountId: MEMBER, accessKeyId: 'AKIAFRANK00000000001' } },
      {
        userIdentity: {
          type: 'AssumedRole',
          accountId: MEMBER,
          sessionContext: { sessionIssuer: { type: 'Role', userName: 'AWSReservedSSO_Admin_0123abcd', arn: `arn:aws:iam::${MEMBER}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123abcd` } },
        },
      },
    ] as never);
    expect(seeded).toEqual({ users: 1, roles: 1 });
    expect(s.iam.user(MEMBER, 'frank')).toMatchObject({ accessKeys: [{ accessKeyId: 'AKIAFRANK00000000001', status: 'Active' }], loginProfile: { passwordResetRequired: false } });
    expect(s.iam.role(MEMBER, 'AWSReservedSSO_Admin_0123abcd')).toMatchObject({ path: '/aws-reserved/sso.amazonaws.com/' });
  });
});
