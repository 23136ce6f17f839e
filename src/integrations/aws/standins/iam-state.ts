// The IAM stand-in's state: users (with access keys, login profile, attached policies) and roles (with
// inline policies), per account, and how tests seed them.
import { randomBytes } from 'node:crypto';
import { roleIdFor, userIdFor } from './credentials.ts';
import type { CloudTrailRecord } from './records.ts';

export interface IamAccessKeyState {
  accessKeyId: string;
  status: 'Active' | 'Inactive';
  createDate: string;
}

export interface IamUserState {
  userName: string;
  userId: string;
  arn: string;
  path: string;
  createDate: string;
  accessKeys: IamAccessKeyState[];
  loginProfile: { createDate: string; passwordResetRequired: boolean } | null;
  /** Attached managed policy ARNs, in attach order. */
  attachedPolicies: string[];
}

export interface IamRoleState {
  roleName: string;
  roleId: string;
  arn: string;
  path: string;
  createDate: string;
  assumeRolePolicyDocument: string;
  maxSessionDuration: number;
  /** Inline policies: name → the JSON document as put. */
  inlinePolicies: Record<string, string>;
}

export interface SeedUserOptions {
  path?: string;
  /** Access keys to create: a count (all Active) or their statuses (at most 2, as in IAM). */
  keys?: number | ('Active' | 'Inactive')[];
  /** Give the user a console password (login profile). */
  loginProfile?: boolean;
  attachedPolicies?: string[];
  /** Access key ids to use instead of generated ones (e.g. the ones in CloudTrail records). */
  keyIds?: string[];
}

export interface SeedRoleOptions {
  path?: string;
  inlinePolicies?: Record<string, unknown>;
}

export interface IamAccount {
  users: Map<string, IamUserState>;
  roles: Map<string, IamRoleState>;
}

/** IAM's times: whole seconds, UTC. */
export const iamNow = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const newKeyId = (): string => `AKIA${[...randomBytes(16)].map((b) => KEY_ALPHABET[b % 32]).join('')}`;

export interface IamAccounts {
  /** The account's state, made empty on first use. */
  account(id: string): IamAccount;
  /** IAM names are unique case-insensitively. */
  findUser(a: IamAccount, name: string): IamUserState | undefined;
  findRole(a: IamAccount, name: string): IamRoleState | undefined;
  createUser(account: string, userName: string, o?: SeedUserOptions): IamUserState;
  createRole(account: string, roleName: string, o?: SeedRoleOptions): IamRoleState;
  /** Users and roles for the IAM identities of CloudTrail records (each user one Active key, a login profile). */
  seedFromRecords(records: readonly CloudTrailRecord[]): { users: number; roles: number };
}

export function createIamAccounts(): IamAccounts {
  const accounts = new Map<string, IamAccount>();
  const acct = (id: string): IamAccount => {
    let a = accounts.get(id);
    if (!a) accounts.set(id, (a = { users: new Map(), roles: new Map() }));
    return a;
  };
  const findUser = (a: IamAccount, name: string) => [...a.users.values()].find((u) => u.userName.toLowerCase() === name.toLowerCase());
  const findRole = (a: IamAccount, name: string) => [...a.roles.values()].find((r) => r.roleName.toLowerCase() === name.toLowerCase());
  const createUser = (account: string, userName: string, o: SeedUserOptions = {}): IamUserState => {
    const a = acct(account);
    const path = o.path ?? '/';
    const statuses = typeof o.keys === 'number' ? Array.from({ length: o.keys }, () => 'Active' as const) : (o.keys ?? []);
    const user: IamUserState = {
      userName,
      userId: userIdFor(account, userName),
      arn: `arn:aws:iam::${account}:user${path}${userName}`,
      path,
      createDate: iamNow(),
      accessKeys: statuses.map((status, i) => ({ accessKeyId: o.keyIds?.[i] ?? newKeyId(), status, createDate: iamNow() })),
      loginProfile: o.loginProfile ? { createDate: iamNow(), passwordResetRequired: false } : null,
      attachedPolicies: [...(o.attachedPolicies ?? [])],
    };
    a.users.set(userName, user);
    return user;
  };
  const createRole = (account: string, roleName: string, o: SeedRoleOptions = {}): IamRoleState => {
    const path = o.path ?? '/';
    const role: IamRoleState = {
      roleName,
      roleId: roleIdFor(account, roleName),
      arn: `arn:aws:iam::${account}:role${path}${roleName}`,
      path,
      createDate: iamNow(),
      assumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'sts:AssumeRole' }] }),
      maxSessionDuration: 3600,
      inlinePolicies: Object.fromEntries(Object.entries(o.inlinePolicies ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
    };
    acct(account).roles.set(roleName, role);
    return role;
  };

  return {
    account: acct,
    findUser,
    findRole,
    createUser,
    createRole,
    seedFromRecords(records) {
      let users = 0;
      let roles = 0;
      for (const r of records) {
        const id = (r as { userIdentity?: Record<string, unknown> }).userIdentity;
        const account = typeof id?.accountId === 'string' ? id.accountId : undefined;
        if (!id || !account) continue;
        if (id.type === 'IAMUser' && typeof id.userName === 'string' && !findUser(acct(account), id.userName)) {
          const key = typeof id.accessKeyId === 'string' && id.accessKeyId.startsWith('AKIA') ? [id.accessKeyId] : undefined;
          createUser(account, id.userName, { keys: 1, keyIds: key, loginProfile: true });
          users++;
        }
        const issuer = (id.sessionContext as { sessionIssuer?: { type?: string; userName?: string; arn?: string } } | undefined)?.sessionIssuer;
        if (id.type === 'AssumedRole' && issuer?.type === 'Role' && issuer.userName && !findRole(acct(account), issuer.userName)) {
          const path = issuer.arn?.match(/:role(\/.*\/)[^/]+$/)?.[1] ?? '/';
          createRole(account, issuer.userName, { path });
          roles++;
        }
      }
      return { users, roles };
    },
  };
}
