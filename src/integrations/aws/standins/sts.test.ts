import { CloudTrailClient, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_BASE_CREDENTIALS } from './credentials.ts';
import { startStandins } from './index.ts';
import type { Standins } from './index.ts';
import { isoSeconds } from './records.ts';
import type { CloudTrailRecord } from './records.ts';
import { clientConfig } from './testing.ts';
import type { ClientCredentials } from './testing.ts';

const MEMBER = '111111111111';
const OTHER_MEMBER = '222222222222';
const BASE = DEFAULT_BASE_CREDENTIALS.accountId;

const record = (accountId: string, eventName: string, i: number): CloudTrailRecord => ({
  eventTime: isoSeconds(Date.now() - 60_000 - i * 1000),
  eventSource: 'ec2.amazonaws.com',
  eventName,
  awsRegion: 'us-east-1',
  eventID: `${accountId}-${eventName}-${i}`,
  recipientAccountId: accountId,
  userIdentity: { type: 'IAMUser', userName: 'alice', accountId },
});

let s: Standins;
const sts = (credentials?: ClientCredentials) => new STSClient(clientConfig(s.url, { credentials }));

async function assume(accountId: string, extra: { DurationSeconds?: number; RoleSessionName?: string } = {}): Promise<ClientCredentials> {
  const out = await sts().send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${accountId}:role/TrailbotReader`, RoleSessionName: 'trailbot-poller', ...extra }));
  const c = out.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken) throw new Error('no credentials');
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
}

beforeAll(async () => {
  s = await startStandins({
    accounts: [MEMBER, OTHER_MEMBER],
    throttle: false,
    records: [record(BASE, 'BaseEvent', 1), record(MEMBER, 'MemberEvent', 1), record(MEMBER, 'MemberEvent', 2), record(OTHER_MEMBER, 'OtherEvent', 1)],
  });
});
afterAll(() => s.close());

describe('STS AssumeRole', () => {
  it('issues keys that act in the member account at the CloudTrail stand-in', async () => {
    const out = await sts().send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${MEMBER}:role/TrailbotReader`, RoleSessionName: 'trailbot-poller', DurationSeconds: 900 }));
    expect(out.AssumedRoleUser?.Arn).toBe(`arn:aws:sts::${MEMBER}:assumed-role/TrailbotReader/trailbot-poller`);
    expect(out.AssumedRoleUser?.AssumedRoleId).toMatch(/^AROA[0-9A-Z]+:trailbot-poller$/);
    expect(out.Credentials?.AccessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    const expiresIn = (out.Credentials?.Expiration?.getTime() ?? 0) - Date.now();
    expect(expiresIn).toBeGreaterThan(890_000);
    expect(expiresIn).toBeLessThanOrEqual(900_000);

    const creds = await assume(MEMBER);
    const who = await sts(creds).send(new GetCallerIdentityCommand({}));
    expect(who).toMatchObject({ Account: MEMBER, Arn: `arn:aws:sts::${MEMBER}:assumed-role/TrailbotReader/trailbot-poller` });

    const member = await new CloudTrailClient(clientConfig(s.url, { credentials: creds })).send(new LookupEventsCommand({}));
    expect(member.Events?.map((e) => e.EventName)).toEqual(['MemberEvent', 'MemberEvent']);
    const base = await new CloudTrailClient(clientConfig(s.url)).send(new LookupEventsCommand({}));
    expect(base.Events?.map((e) => e.EventName)).toEqual(['BaseEvent']);
    const lookups = s.cloudtrail.requests.slice(-2);
    expect(lookups.map((r) => r.accountId)).toEqual([MEMBER, BASE]);
  });

  it("keys for one member account never see another account's events", async () => {
    const member = await assume(MEMBER);
    const other = await assume(OTHER_MEMBER);
    const seen = async (c: ClientCredentials) => (await new CloudTrailClient(clientConfig(s.url, { credentials: c })).send(new LookupEventsCommand({}))).Events?.map((e) => e.EventName);
    expect(await seen(member)).not.toContain('OtherEvent');
    expect(await seen(other)).toEqual(['OtherEvent']);
  });

  it('refuses accounts and roles that are not configured with AccessDenied (HTTP 403)', async () => {
    for (const RoleArn of ['arn:aws:iam::999999999999:role/TrailbotReader', `arn:aws:iam::${MEMBER}:role/Admin`]) {
      const err = await sts().send(new AssumeRoleCommand({ RoleArn, RoleSessionName: 'x1' })).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
      expect((err as Error).message).toBe(`User: arn:aws:iam::${BASE}:user/trailbot is not authorized to perform: sts:AssumeRole on resource: ${RoleArn}`);
    }
  });

  it('validates the session name and duration', async () => {
    await expect(assume(MEMBER, { RoleSessionName: 'bad name!' })).rejects.toMatchObject({ name: 'ValidationError', $metadata: { httpStatusCode: 400 } });
    await expect(assume(MEMBER, { DurationSeconds: 600 })).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(assume(MEMBER, { DurationSeconds: 7200 })).rejects.toMatchObject({ name: 'ValidationError' });
  });

  it('refuses a wrong session token, a tampered secret and an expired session', async () => {
    const creds = await assume(MEMBER);
    const lookup = (c: ClientCredentials) => new CloudTrailClient(clientConfig(s.url, { credentials: c })).send(new LookupEventsCommand({}));
    await expect(lookup({ ...creds, sessionToken: 'forged' })).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    await expect(lookup({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey })).rejects.toMatchObject({ name: 'UnrecognizedClientException' });
    await expect(lookup({ ...creds, secretAccessKey: 'x'.repeat(40) })).rejects.toMatchObject({ name: 'InvalidSignatureException' });
    await expect(sts({ ...creds, sessionToken: 'forged' }).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: 'InvalidClientTokenId', $metadata: { httpStatusCode: 403 } });
    const principal = s.credentials.get(creds.accessKeyId);
    if (!principal) throw new Error('issued key not stored');
    principal.expiresAt = Date.now() - 1;
    await expect(lookup(creds)).rejects.toMatchObject({ name: 'ExpiredTokenException' });
  });

  it('answers GetCallerIdentity for the base key', async () => {
    await expect(sts().send(new GetCallerIdentityCommand({}))).resolves.toMatchObject({ Account: BASE, Arn: `arn:aws:iam::${BASE}:user/trailbot`, UserId: expect.stringMatching(/^AIDA/) });
  });
});
