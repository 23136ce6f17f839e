import {
  AttachUserPolicyCommand,
  DeleteLoginProfileCommand,
  DeleteRolePolicyCommand,
  DetachUserPolicyCommand,
  GetLoginProfileCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  type IAMClient,
  ListAccessKeysCommand,
  ListAttachedUserPoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import { TrailbotError } from '../../errors.ts';
import { awsErrorName, classifyAwsError, scrubAws } from './errors.ts';
import type { CallerIdentity } from './sts.ts';

/**
 * The IAM calls approvals make (src/actions/approvals), behind a narrow port with the real
 * `@aws-sdk/client-iam` IAMClient inside. One port acts on one account: trailbot's own account (the
 * account of its credentials, STS GetCallerIdentity) directly, any other through STS AssumeRole of the
 * role configured for it (`accounts[].roleName`, else the `roleName` of a lookup source that reads it).
 * The endpoint is AWS_ENDPOINT_URL_IAM (or AWS_ENDPOINT_URL) when set, as for the other AWS clients.
 *
 * Reads answer `undefined` / `false` for what is not there (NoSuchEntity); writes are safe to repeat
 * (setting a key Inactive twice, attaching a policy twice, deleting what is already gone: `false`).
 *
 * Errors: every method throws a TrailbotError whose code says what to do:
 * - E_IAM_DENIED: AccessDenied (the hint names the IAM action trailbot's role needs), bad or expired
 *   credentials, or no role configured / assumable for the account. Fails the job at once.
 * - E_IAM_NOT_FOUND: the user, role or key is not there (a write on something deleted meanwhile).
 * - E_IAM_REJECTED: IAM refused the request as it is (UnmodifiableEntity, MalformedPolicyDocument,
 *   LimitExceeded, …). Fails the job at once.
 * - E_IAM_UNAVAILABLE: throttled, 5xx, network, EntityTemporarilyUnmodifiable; retried.
 */

export type AccessKeyStatus = 'Active' | 'Inactive';

export interface IamUser {
  userName: string;
  userId: string;
  arn: string;
  path: string;
  createDate: string | null;
}

export interface IamAccessKey {
  accessKeyId: string;
  status: AccessKeyStatus;
  createDate: string | null;
}

export interface IamLoginProfile {
  createDate: string | null;
  passwordResetRequired: boolean;
}

export interface IamAttachedPolicy {
  policyName: string;
  policyArn: string;
}

export interface IamRole {
  roleName: string;
  /** AROA…: what `aws:userid` of the role's sessions starts with (`<RoleId>:<RoleSessionName>`). */
  roleId: string;
  arn: string;
  path: string;
  /** A service-linked role (path /aws-service-role/): IAM refuses inline policies on it. */
  serviceLinked: boolean;
}

/** An IAM policy document as JSON (what PutRolePolicy takes and GetRolePolicy gives back, decoded). */
export type PolicyDocument = { Version: string; Statement: unknown } & Record<string, unknown>;

/**
 * trailbot's own identity in an account: what it must never deactivate there, or it would cut itself off
 * (including from undoing it). `caller` is STS GetCallerIdentity of the credentials this port uses;
 * `roleNames` every role trailbot is configured to assume in the account (`accounts[].roleName`, the
 * `roleName` of the sources that read it).
 */
export interface TrailbotIdentity {
  account: string;
  caller: CallerIdentity;
  roleNames: string[];
}

export interface IamPort {
  /** The account every call of this port acts on. */
  readonly account: string;
  /** trailbot's own identity in this account (GetCallerIdentity once, then kept). */
  trailbot(): Promise<TrailbotIdentity>;
  getUser(userName: string): Promise<IamUser | undefined>;
  listAccessKeys(userName: string): Promise<IamAccessKey[]>;
  updateAccessKey(userName: string, accessKeyId: string, status: AccessKeyStatus): Promise<void>;
  getLoginProfile(userName: string): Promise<IamLoginProfile | undefined>;
  /** false: there was no login profile (nothing to delete). */
  deleteLoginProfile(userName: string): Promise<boolean>;
  listAttachedUserPolicies(userName: string): Promise<IamAttachedPolicy[]>;
  attachUserPolicy(userName: string, policyArn: string): Promise<void>;
  /** false: the policy was not attached. */
  detachUserPolicy(userName: string, policyArn: string): Promise<boolean>;
  getRole(roleName: string): Promise<IamRole | undefined>;
  listRolePolicies(roleName: string): Promise<string[]>;
  getRolePolicy(roleName: string, policyName: string): Promise<PolicyDocument | undefined>;
  putRolePolicy(roleName: string, policyName: string, document: PolicyDocument): Promise<void>;
  /** false: there was no such inline policy. */
  deleteRolePolicy(roleName: string, policyName: string): Promise<boolean>;
}

/** The IAM actions trailbot's role needs for approvals (README, "IAM permissions for approvals"). */
export const IAM_ACTIONS = [
  'iam:GetUser',
  'iam:ListAccessKeys',
  'iam:UpdateAccessKey',
  'iam:GetLoginProfile',
  'iam:DeleteLoginProfile',
  'iam:ListAttachedUserPolicies',
  'iam:AttachUserPolicy',
  'iam:DetachUserPolicy',
  'iam:GetRole',
  'iam:ListRolePolicies',
  'iam:GetRolePolicy',
  'iam:PutRolePolicy',
  'iam:DeleteRolePolicy',
] as const;

const PERMISSIONS_HINT = 'README: "IAM permissions for approvals" lists every action trailbot needs';
const REJECTED = new Set(['UnmodifiableEntity', 'MalformedPolicyDocument', 'LimitExceeded', 'PolicyNotAttachable', 'InvalidInput', 'ValidationError', 'EntityAlreadyExists', 'PasswordPolicyViolation']);
const CREDENTIALS = new Set(['InvalidClientTokenId', 'SignatureDoesNotMatch', 'ExpiredToken', 'ExpiredTokenException', 'MissingAuthenticationToken', 'IncompleteSignature', 'CredentialsProviderError']);

/**
 * An IAM failure as a coded error: what was tried, what AWS said, and what to fix. `action` is the IAM
 * action (`UpdateAccessKey`), named in the hint when it was denied.
 */
export function iamError(e: unknown, account: string, action: string, what: string): TrailbotError {
  if (e instanceof TrailbotError) return e;
  // The SDK names IAM's modelled errors <Code>Exception (NoSuchEntityException); IAM's own code is shown.
  const name = awsErrorName(e).replace(/(.)Exception$/, '$1');
  const msg = scrubAws(((e as { message?: string })?.message ?? String(e)).split('\n')[0] ?? '');
  const message = `${what} in account ${account}: ${name}${msg && msg !== name ? `: ${msg}` : ''}`;
  const kind = classifyAwsError(e);
  if (CREDENTIALS.has(name)) {
    return new TrailbotError('E_IAM_DENIED', message, { hint: "check trailbot's AWS credentials (environment, profile or instance role) and, for a member account, the role it assumes there", cause: e });
  }
  if (kind === 'denied') {
    return new TrailbotError('E_IAM_DENIED', message, { hint: `allow iam:${action} to trailbot's role in account ${account} (${PERMISSIONS_HINT})`, cause: e });
  }
  if (kind === 'not-found') return new TrailbotError('E_IAM_NOT_FOUND', message, { hint: 'it is no longer in the account (deleted meanwhile?); look at the account and propose again', cause: e });
  if (name === 'UnmodifiableEntity') {
    return new TrailbotError('E_IAM_REJECTED', message, {
      hint: 'IAM does not let this role be changed (a service-linked or AWS-managed role); for an IAM Identity Center role, deny the user in the permission set\'s inline policy or with an SCP instead',
      cause: e,
    });
  }
  if (name === 'EntityTemporarilyUnmodifiable' || kind === 'throttled' || kind === 'transient') {
    return new TrailbotError('E_IAM_UNAVAILABLE', message, { hint: 'IAM is busy or unreachable; it is retried', cause: e });
  }
  if (REJECTED.has(name) || kind === 'invalid') return new TrailbotError('E_IAM_REJECTED', message, { hint: 'IAM refused the request as it is; see the message', cause: e });
  return new TrailbotError('E_IAM_UNAVAILABLE', message, { hint: 'an unexpected IAM failure; it is retried', cause: e });
}

const iso = (d: Date | undefined): string | null => (d ? d.toISOString().replace(/\.\d{3}Z$/, 'Z') : null);
const isNotFound = (e: unknown): boolean => /^NoSuchEntity(Exception)?$/.test(awsErrorName(e)) || (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === 404;

/** IAM answers policy documents URL-encoded (RFC 3986) inside the XML. */
export function decodePolicyDocument(text: string): PolicyDocument {
  const decoded = text.trimStart().startsWith('{') ? text : decodeURIComponent(text);
  return JSON.parse(decoded) as PolicyDocument;
}

/** The IAM calls of a port, without who trailbot is (createIamAccess adds that). */
export type IamCalls = Omit<IamPort, 'trailbot'>;

/** The port over an IAMClient whose credentials act on `account`. */
export function iamPort(client: IAMClient, account: string): IamCalls {
  const call = async <T>(action: string, what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw iamError(e, account, action, what);
    }
  };
  /** A read that answers undefined for NoSuchEntity. */
  const read = async <T>(action: string, what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw iamError(e, account, action, what);
    }
  };
  /** A removal that answers false when there was nothing to remove. */
  const remove = async (action: string, what: string, fn: () => Promise<unknown>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw iamError(e, account, action, what);
    }
  };
  const pages = async <T>(action: string, what: string, fn: (marker: string | undefined) => Promise<{ items: T[]; marker: string | undefined }>): Promise<T[]> =>
    call(action, what, async () => {
      const out: T[] = [];
      let marker: string | undefined;
      for (let i = 0; i < 100; i++) {
        const p = await fn(marker);
        out.push(...p.items);
        marker = p.marker;
        if (!marker) break;
      }
      return out;
    });

  return {
    account,
    getUser: (userName) =>
      read('GetUser', `cannot read IAM user ${userName}`, async () => {
        const u = (await client.send(new GetUserCommand({ UserName: userName }))).User;
        if (!u) return undefined;
        return { userName: u.UserName ?? userName, userId: u.UserId ?? '', arn: u.Arn ?? '', path: u.Path ?? '/', createDate: iso(u.CreateDate) };
      }),
    listAccessKeys: (userName) =>
      pages('ListAccessKeys', `cannot list the access keys of ${userName}`, async (marker) => {
        const r = await client.send(new ListAccessKeysCommand({ UserName: userName, Marker: marker }));
        const items = (r.AccessKeyMetadata ?? []).map((k) => ({ accessKeyId: k.AccessKeyId ?? '', status: (k.Status ?? 'Active') as AccessKeyStatus, createDate: iso(k.CreateDate) }));
        return { items, marker: r.IsTruncated ? r.Marker : undefined };
      }),
    updateAccessKey: (userName, accessKeyId, status) =>
      call('UpdateAccessKey', `cannot set access key ${accessKeyId} of ${userName} to ${status}`, async () => {
        await client.send(new UpdateAccessKeyCommand({ UserName: userName, AccessKeyId: accessKeyId, Status: status }));
      }),
    getLoginProfile: (userName) =>
      read('GetLoginProfile', `cannot read the console password (login profile) of ${userName}`, async () => {
        const p = (await client.send(new GetLoginProfileCommand({ UserName: userName }))).LoginProfile;
        return p ? { createDate: iso(p.CreateDate), passwordResetRequired: Boolean(p.PasswordResetRequired) } : undefined;
      }),
    deleteLoginProfile: (userName) =>
      remove('DeleteLoginProfile', `cannot delete the console password (login profile) of ${userName}`, () => client.send(new DeleteLoginProfileCommand({ UserName: userName }))),
    listAttachedUserPolicies: (userName) =>
      pages('ListAttachedUserPolicies', `cannot list the policies attached to ${userName}`, async (marker) => {
        const r = await client.send(new ListAttachedUserPoliciesCommand({ UserName: userName, Marker: marker }));
        const items = (r.AttachedPolicies ?? []).map((p) => ({ policyName: p.PolicyName ?? '', policyArn: p.PolicyArn ?? '' }));
        return { items, marker: r.IsTruncated ? r.Marker : undefined };
      }),
    attachUserPolicy: (userName, policyArn) =>
      call('AttachUserPolicy', `cannot attach ${policyArn} to ${userName}`, async () => {
        await client.send(new AttachUserPolicyCommand({ UserName: userName, PolicyArn: policyArn }));
      }),
    detachUserPolicy: (userName, policyArn) =>
      remove('DetachUserPolicy', `cannot detach ${policyArn} from ${userName}`, () => client.send(new DetachUserPolicyCommand({ UserName: userName, PolicyArn: policyArn }))),
    getRole: (roleName) =>
      read('GetRole', `cannot read IAM role ${roleName}`, async () => {
        const r = (await client.send(new GetRoleCommand({ RoleName: roleName }))).Role;
        if (!r) return undefined;
        const path = r.Path ?? '/';
        return { roleName: r.RoleName ?? roleName, roleId: r.RoleId ?? '', arn: r.Arn ?? '', path, serviceLinked: path.startsWith('/aws-service-role/') };
      }),
    listRolePolicies: (roleName) =>
      pages('ListRolePolicies', `cannot list the inline policies of role ${roleName}`, async (marker) => {
        const r = await client.send(new ListRolePoliciesCommand({ RoleName: roleName, Marker: marker }));
        return { items: r.PolicyNames ?? [], marker: r.IsTruncated ? r.Marker : undefined };
      }),
    getRolePolicy: (roleName, policyName) =>
      read('GetRolePolicy', `cannot read inline policy ${policyName} of role ${roleName}`, async () => {
        const r = await client.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }));
        return r.PolicyDocument ? decodePolicyDocument(r.PolicyDocument) : undefined;
      }),
    putRolePolicy: (roleName, policyName, document) =>
      call('PutRolePolicy', `cannot put inline policy ${policyName} on role ${roleName}`, async () => {
        await client.send(new PutRolePolicyCommand({ RoleName: roleName, PolicyName: policyName, PolicyDocument: JSON.stringify(document) }));
      }),
    deleteRolePolicy: (roleName, policyName) =>
      remove('DeleteRolePolicy', `cannot delete inline policy ${policyName} of role ${roleName}`, () => client.send(new DeleteRolePolicyCommand({ RoleName: roleName, PolicyName: policyName }))),
  };
}
