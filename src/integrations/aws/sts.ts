import { AssumeRoleCommand, GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { TrailbotError } from '../../errors.ts';
import { awsError } from './errors.ts';

/** Credentials as the AWS SDK takes them (its AwsCredentialIdentity). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  expiration?: Date | undefined;
}

/** Who a set of credentials is (GetCallerIdentity). */
export interface CallerIdentity {
  account: string;
  /** arn:aws:iam::<account>:user/<name>, arn:aws:sts::<account>:assumed-role/<role>/<session>, … */
  arn: string;
  /** AIDA… for a user, `<RoleId>:<session>` for a role session. */
  userId: string;
}

/** The STS calls trailbot makes: who am I, and credentials for a role in a member account. */
export interface StsPort {
  /** The account of trailbot's own credentials (GetCallerIdentity). */
  callerAccount(): Promise<string>;
  /** The whole identity of these credentials (GetCallerIdentity). */
  callerIdentity(): Promise<CallerIdentity>;
  assumeRole(input: { roleArn: string; sessionName: string; externalId?: string | undefined; durationSeconds?: number }): Promise<AwsCredentials>;
}

export function stsPort(client: STSClient): StsPort {
  const callerIdentity = async (): Promise<CallerIdentity> => {
    try {
      const r = await client.send(new GetCallerIdentityCommand({}));
      if (!r.Account) throw new Error('GetCallerIdentity returned no account');
      return { account: r.Account, arn: r.Arn ?? '', userId: r.UserId ?? '' };
    } catch (e) {
      throw awsError(e, 'cannot tell which AWS account trailbot runs as (sts:GetCallerIdentity)', 'check the AWS credentials trailbot runs with (environment, profile or instance role)');
    }
  };
  return {
    callerIdentity,
    async callerAccount() {
      return (await callerIdentity()).account;
    },
    async assumeRole({ roleArn, sessionName, externalId, durationSeconds = 3600 }) {
      try {
        const r = await client.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: sessionName, ExternalId: externalId, DurationSeconds: durationSeconds }));
        const c = r.Credentials;
        if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('AssumeRole returned no credentials');
        return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
      } catch (e) {
        if (e instanceof TrailbotError) throw e;
        throw awsError(e, `cannot assume ${roleArn}`, `check that the role exists, trusts trailbot's account${externalId ? ' with this external id' : ''}, and that trailbot may call sts:AssumeRole on it`);
      }
    },
  };
}
