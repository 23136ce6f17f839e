import type { Config } from '../../config/index.ts';
import { TrailbotError } from '../../errors.ts';
import type { IamPort, TrailbotIdentity } from './iam.ts';
import { type Aws, type AwsTarget, createAws } from './index.ts';
import type { AwsCredentials } from './sts.ts';

/*
 * IAM for approvals across accounts: which role reaches an account, which roles are trailbot's own there,
 * and IamAccess, which hands out an IamPort (src/integrations/aws/iam.ts) per account.
 */

/** The role trailbot assumes in an account for approvals. */
export interface ApprovalRole {
  roleName: string;
  externalId?: string | undefined;
}

/**
 * Which role reaches `account`: its entry under `accounts:` (`roleName`, `externalId`), else the first
 * lookup source that reads it (its `accounts`, or every account when it lists none) and has a
 * `roleName`, as the sources reach it. Undefined: no role (only trailbot's own account is reachable).
 */
export function approvalRoleFor(config: Pick<Config, 'accounts' | 'sources'>, account: string): ApprovalRole | undefined {
  const entry = config.accounts.find((a) => a.id === account);
  if (entry?.roleName) return { roleName: entry.roleName, externalId: entry.externalId };
  for (const s of config.sources as { kind?: string; accounts?: string[]; roleName?: string; externalId?: string; account?: string }[]) {
    if (!s.roleName) continue;
    const reads = s.kind === 'lookup' ? !s.accounts || s.accounts.includes(account) : s.account === account;
    if (reads) return { roleName: s.roleName, externalId: s.externalId };
  }
  return undefined;
}

/**
 * Every role name trailbot is configured to assume in `account`: its `accounts:` entry's `roleName` and
 * the `roleName` of each source that reads the account (a lookup source listing it or listing none, an
 * S3 or SQS source of that account). A deny on any of them would cut trailbot off there.
 */
export function trailbotRoleNames(config: Pick<Config, 'accounts' | 'sources'>, account: string): string[] {
  const names = new Set<string>();
  const entry = config.accounts.find((a) => a.id === account);
  if (entry?.roleName) names.add(entry.roleName);
  for (const s of config.sources as { kind?: string; accounts?: string[]; roleName?: string; account?: string }[]) {
    if (!s.roleName) continue;
    const reads = s.kind === 'lookup' ? !s.accounts || s.accounts.includes(account) : s.account === account;
    if (reads) names.add(s.roleName);
  }
  // A role name may carry a path (TeamRoles/Trailbot): the role's name is its last part.
  return [...names].map((n) => n.slice(n.lastIndexOf('/') + 1));
}

/** IamPorts per account, sharing credentials and clients. */
export interface IamAccess {
  /** trailbot's own account (STS GetCallerIdentity). */
  callerAccount(): Promise<string>;
  /** The port acting on `account`: directly when it is trailbot's own, else through its role. */
  forAccount(account: string): Promise<IamPort>;
  destroy(): void;
}

export interface IamAccessOptions {
  config: Pick<Config, 'aws' | 'accounts' | 'sources'>;
  /** Base credentials (tests); the SDK's default chain otherwise. */
  credentials?: AwsCredentials | undefined;
  /** An Aws to share (its credentials and role cache); made from the config otherwise. */
  aws?: Aws | undefined;
}

export function createIamAccess(opts: IamAccessOptions): IamAccess {
  const own = !opts.aws;
  const aws = opts.aws ?? createAws({ endpoints: opts.config.aws.endpoints, credentials: opts.credentials, sessionName: 'trailbot-approvals' });
  const callerAccount = async (): Promise<string> => {
    try {
      return await aws.callerAccount();
    } catch (e) {
      throw new TrailbotError('E_IAM_DENIED', `cannot tell which AWS account trailbot runs as (sts:GetCallerIdentity): ${(e as Error).message}`, {
        hint: "check trailbot's AWS credentials (environment, profile or instance role) and AWS_ENDPOINT_URL_STS",
        cause: e,
      });
    }
  };
  return {
    callerAccount,
    async forAccount(account) {
      const caller = await callerAccount();
      let target: AwsTarget = {};
      if (account !== caller) {
        const role = approvalRoleFor(opts.config, account);
        if (!role) {
          throw new TrailbotError('E_IAM_DENIED', `no role is configured to reach account ${account} (trailbot runs in ${caller})`, {
            hint: `name the role trailbot assumes there in trailbot.config.yaml: accounts: [{ id: "${account}", roleName: TrailbotResponder }] (it needs the IAM actions in README: "IAM permissions for approvals")`,
          });
        }
        target = { account, roleName: role.roleName, externalId: role.externalId };
      }
      try {
        const calls = await aws.iam(target, account);
        const roleNames = trailbotRoleNames(opts.config, account);
        let self: Promise<TrailbotIdentity> | undefined;
        const trailbot = (): Promise<TrailbotIdentity> => {
          self ??= aws.callerIdentity(target).then(
            (caller) => ({ account, caller, roleNames }),
            (e: unknown) => {
              self = undefined;
              throw new TrailbotError('E_IAM_DENIED', `cannot tell who trailbot is in account ${account} (sts:GetCallerIdentity): ${(e as Error).message}`, {
                hint: "trailbot checks it never deactivates itself; check its credentials and the role it assumes there",
                cause: e,
              });
            },
          );
          return self;
        };
        return { ...calls, trailbot };
      } catch (e) {
        if (e instanceof TrailbotError && e.code.startsWith('E_IAM_')) throw e;
        throw new TrailbotError('E_IAM_DENIED', `cannot reach account ${account}: ${(e as Error).message}`, {
          hint: `check that role ${target.roleName ?? '(none)'} exists in ${account}, trusts trailbot's account ${caller}${target.externalId ? ' with this external id' : ''}, and that trailbot may call sts:AssumeRole on it`,
          cause: e,
        });
      }
    },
    destroy() {
      if (own) aws.destroy();
    },
  };
}
