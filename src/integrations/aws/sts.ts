import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { TrailbotError } from '../../errors.ts';
import { awsError } from './errors.ts';

/** Credentials as the AWS SDK takes them (its AwsCredentialIdentity). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  expiration?: Date | undefined;
}

/** The STS calls trailbot makes: who am I, and credentials for a role in a member account. */
export interface StsPort {
  /** The account of trailbot's own credentials (GetCallerIdentity). */
  callerAccount(): Promise<string>;
  assumeRole(input: { roleArn: string; sessionName: string; externalId?: string | undefined; durationSeconds?: number }): Promise<AwsCredentials>;
}

export function stsPort(client: STSClient): StsPort {
  return {
    async callerAccount() {
      try {
        const r = await client.send(new GetCallerIdentityCommand({}));
        if (!r.Account) throw new Error('GetCallerIdentity returned no account');
        return r.Account;
      } catch (e) {
        throw awsError(e, 'cannot tell which AWS account trailbot runs as (sts:GetCallerIdentity)', 'check the AWS credentials trailbot runs with (environment, profile or instance role)');
      }
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
