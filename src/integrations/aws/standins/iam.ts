// IAM stand-in (awsQuery, as the installed @aws-sdk/client-iam speaks it): POST / with a form-encoded
// body `Action=…&Version=2010-05-08&…`, SigV4 scoped to us-east-1/iam, XML answers and AWS's errors with
// their modelled HTTP statuses. It holds users, access keys, login profiles, attached user policies,
// roles and role inline policies per account, as state: tests check what the account holds afterwards,
// and count the writes in the request log.
import { createCredentialStore } from './credentials.ts';
import type { CredentialStore, Principal } from './credentials.ts';
import { createIamAccounts, type IamAccount, type IamAccounts, type IamRoleState, type IamUserState, iamNow, type SeedRoleOptions, type SeedUserOptions } from './iam-state.ts';
import { createIamFaults, type IamFaults, type IamFaultState } from './iam-faults.ts';
import { AwsError, formParams, logRequest, operationOf, queryErrorXml, queryResponseXml, refusal } from './protocol.ts';
import type { CloudTrailRecord } from './records.ts';
import { listen, readBody, requestId, xmlEscape, xmlResponse } from './shared.ts';
import type { FetchHandler, ListenOptions, Listener, RequestRecord } from './shared.ts';

export type { IamAccessKeyState, IamRoleState, IamUserState, SeedRoleOptions, SeedUserOptions } from './iam-state.ts';
export type { IamFaultMatch, IamFaults } from './iam-faults.ts';

export const IAM_NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';
export const IAM_VERSION = '2010-05-08';

export interface IamServiceOptions {
  credentials?: CredentialStore;
  verifySignatures?: boolean;
  requests?: RequestRecord[];
}

export interface IamService {
  readonly service: 'iam';
  readonly handle: FetchHandler;
  readonly credentials: CredentialStore;
  readonly requests: RequestRecord[];
  readonly faults: IamFaults;
  /** Seeds a user (with keys, a login profile, policies); returns its state (a live copy: read it again with `user`). */
  createUser(account: string, userName: string, opts?: SeedUserOptions): IamUserState;
  createRole(account: string, roleName: string, opts?: SeedRoleOptions): IamRoleState;
  /** A copy of the user as the account holds it now, or undefined. */
  user(account: string, userName: string): IamUserState | undefined;
  role(account: string, roleName: string): IamRoleState | undefined;
  /** Users and roles for the IAM identities of CloudTrail records (each user one Active key, a login profile). */
  seedFromRecords(records: readonly CloudTrailRecord[]): { users: number; roles: number };
  /** Successful write requests (UpdateAccessKey, PutRolePolicy, …), optionally of one action. */
  writes(action?: string): RequestRecord[];
}

export interface IamStandin extends IamService, Listener {}

// Constraints from the IAM model (name patterns, lengths, enums).
const NAME = /^[\w+=,.@-]+$/;
const KEY_ID = /^[\w]+$/;
const ARN_POLICY = /^arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/(?:[\u0021-\u007E]+\/)*([\w+=,.@-]+)$/;

/** IAM writes policy documents URL-encoded (RFC 3986) inside its XML answers. */
const encodeDocument = (doc: string): string => encodeURIComponent(doc).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function validation(field: string, value: string | null, constraint: string): AwsError {
  return new AwsError('ValidationError', `1 validation error detected: Value ${value === null ? 'null' : `'${value}'`} at '${field}' failed to satisfy constraint: ${constraint}`);
}

/** One request to an operation: the caller's account (its state), the parameters, who calls. */
interface IamCall {
  action: string;
  p: Record<string, string>;
  account: string;
  a: IamAccount;
  caller: Principal;
  state: IamAccounts;
  faults: IamFaultState;
}

interface IamOperation {
  /** Changes state: counted by writes(), and an injected hold applies to it. */
  write?: true;
  /** Carries the action out on the caller's account; the XML inside <ActionResult>, or undefined for none. */
  run(c: IamCall): string | undefined;
}

const requireName = (p: Record<string, string>, key: string, field: string, max: number): string => {
  const v = p[key];
  if (v === undefined) throw validation(field, null, 'Member must not be null');
  if (v.length < 1 || v.length > max) throw validation(field, v, `Member must have length less than or equal to ${max}`);
  if (!NAME.test(v)) throw validation(field, v, 'Member must satisfy regular expression pattern: [\\w+=,.@-]+');
  return v;
};
const userOf = ({ a, p, caller, action, account, state, faults }: IamCall): IamUserState => {
  const name = requireName(p, 'UserName', 'userName', 64);
  faults.checkDenied(action, account, caller, `user ${name}`);
  const u = state.findUser(a, name);
  if (!u) throw new AwsError('NoSuchEntity', `The user with name ${name} cannot be found.`, { status: 404 });
  return u;
};
const roleOf = ({ a, p, caller, action, account, state, faults }: IamCall): IamRoleState => {
  const name = requireName(p, 'RoleName', 'roleName', 64);
  faults.checkDenied(action, account, caller, `role ${name}`);
  const r = state.findRole(a, name);
  if (!r) throw new AwsError('NoSuchEntity', `The role with name ${name} cannot be found.`, { status: 404 });
  return r;
};
const page = <T>(items: T[], p: Record<string, string>, render: (x: T) => string, tag: string): string => {
  const max = p.MaxItems === undefined ? 100 : Number(p.MaxItems);
  if (!Number.isInteger(max) || max < 1 || max > 1000) throw validation('maxItems', p.MaxItems ?? null, 'Member must have value less than or equal to 1000');
  let start = 0;
  if (p.Marker !== undefined) {
    start = Number(Buffer.from(p.Marker, 'base64url').toString('utf8').replace(/^m:/, ''));
    if (!Number.isInteger(start) || start < 0 || !Buffer.from(p.Marker, 'base64url').toString('utf8').startsWith('m:')) throw new AwsError('InvalidInput', 'Invalid Marker.');
  }
  const slice = items.slice(start, start + max);
  const truncated = start + max < items.length;
  return `<${tag}>${slice.map((x) => `<member>${render(x)}</member>`).join('')}</${tag}><IsTruncated>${truncated}</IsTruncated>${truncated ? `<Marker>${Buffer.from(`m:${start + max}`).toString('base64url')}</Marker>` : ''}`;
};
const policyArn = (p: Record<string, string>): string => {
  const arn = p.PolicyArn;
  if (arn === undefined) throw validation('policyArn', null, 'Member must not be null');
  if (arn.length < 20 || arn.length > 2048) throw validation('policyArn', arn, 'Member must have length greater than or equal to 20');
  if (!ARN_POLICY.test(arn)) throw new AwsError('InvalidInput', `ARN ${arn} is not valid.`);
  return arn;
};
const userXml = (u: IamUserState) => `<Path>${xmlEscape(u.path)}</Path><UserName>${xmlEscape(u.userName)}</UserName><UserId>${u.userId}</UserId><Arn>${xmlEscape(u.arn)}</Arn><CreateDate>${u.createDate}</CreateDate>`;

/** The operations, by their Action. */
const OPERATIONS: Record<string, IamOperation> = {
  GetUser: {
    run(c) {
      const { a, p, account, caller, action } = c;
      if (p.UserName === undefined) {
        c.faults.checkDenied(action, account, caller, caller.arn);
        if (caller.kind !== 'user') throw new AwsError('ValidationError', 'Must specify userName when calling with non-User credentials');
        const name = caller.arn.slice(caller.arn.lastIndexOf('/') + 1);
        const u = c.state.findUser(a, name) ?? { userName: name, userId: caller.userId, arn: caller.arn, path: '/', createDate: iamNow(), accessKeys: [], loginProfile: null, attachedPolicies: [] };
        return `<User>${userXml(u)}</User>`;
      }
      return `<User>${userXml(userOf(c))}</User>`;
    },
  },
  ListAccessKeys: {
    run(c) {
      const { p } = c;
      const u = userOf(c);
      return page(u.accessKeys, p, (k) => `<UserName>${xmlEscape(u.userName)}</UserName><AccessKeyId>${k.accessKeyId}</AccessKeyId><Status>${k.status}</Status><CreateDate>${k.createDate}</CreateDate>`, 'AccessKeyMetadata');
    },
  },
  UpdateAccessKey: {
    write: true,
    run(c) {
      const { p } = c;
      const u = userOf(c);
      const id = p.AccessKeyId;
      if (id === undefined) throw validation('accessKeyId', null, 'Member must not be null');
      if (id.length < 16 || id.length > 128 || !KEY_ID.test(id)) throw validation('accessKeyId', id, 'Member must have length greater than or equal to 16');
      const status = p.Status;
      if (status !== 'Active' && status !== 'Inactive') throw validation('status', status ?? null, 'Member must satisfy enum value set: [Active, Inactive]');
      const k = u.accessKeys.find((x) => x.accessKeyId === id);
      if (!k) throw new AwsError('NoSuchEntity', `The Access Key with id ${id} cannot be found.`, { status: 404 });
      k.status = status;
      return undefined;
    },
  },
  GetLoginProfile: {
    run(c) {
      const u = userOf(c);
      if (!u.loginProfile) throw new AwsError('NoSuchEntity', `Login Profile for User ${u.userName} cannot be found.`, { status: 404 });
      return `<LoginProfile><UserName>${xmlEscape(u.userName)}</UserName><CreateDate>${u.loginProfile.createDate}</CreateDate><PasswordResetRequired>${u.loginProfile.passwordResetRequired}</PasswordResetRequired></LoginProfile>`;
    },
  },
  DeleteLoginProfile: {
    write: true,
    run(c) {
      const u = userOf(c);
      if (!u.loginProfile) throw new AwsError('NoSuchEntity', `Login Profile for User ${u.userName} cannot be found.`, { status: 404 });
      u.loginProfile = null;
      return undefined;
    },
  },
  CreateLoginProfile: {
    write: true,
    run(c) {
      const { p } = c;
      const u = userOf(c);
      if (!p.Password) throw validation('password', null, 'Member must not be null');
      if (u.loginProfile) throw new AwsError('EntityAlreadyExists', `Login Profile for user ${u.userName} already exists.`, { status: 409 });
      u.loginProfile = { createDate: iamNow(), passwordResetRequired: p.PasswordResetRequired === 'true' };
      return `<LoginProfile><UserName>${xmlEscape(u.userName)}</UserName><CreateDate>${u.loginProfile.createDate}</CreateDate><PasswordResetRequired>${u.loginProfile.passwordResetRequired}</PasswordResetRequired></LoginProfile>`;
    },
  },
  ListAttachedUserPolicies: {
    run(c) {
      const { p } = c;
      const u = userOf(c);
      return page(u.attachedPolicies, p, (arn) => `<PolicyName>${xmlEscape(arn.slice(arn.lastIndexOf('/') + 1))}</PolicyName><PolicyArn>${xmlEscape(arn)}</PolicyArn>`, 'AttachedPolicies');
    },
  },
  AttachUserPolicy: {
    write: true,
    run(c) {
      const { p, account } = c;
      const u = userOf(c);
      const arn = policyArn(p);
      const owner = ARN_POLICY.exec(arn)?.[1];
      if (owner !== 'aws' && owner !== account) throw new AwsError('NoSuchEntity', `Policy ${arn} does not exist or is not attachable.`, { status: 404 });
      if (!u.attachedPolicies.includes(arn)) {
        if (u.attachedPolicies.length >= 10) throw new AwsError('LimitExceeded', 'Cannot exceed quota for PoliciesPerUser: 10', { status: 409 });
        u.attachedPolicies.push(arn);
      }
      return undefined;
    },
  },
  DetachUserPolicy: {
    write: true,
    run(c) {
      const { p } = c;
      const u = userOf(c);
      const arn = policyArn(p);
      if (!u.attachedPolicies.includes(arn)) throw new AwsError('NoSuchEntity', `Policy ${arn} was not found.`, { status: 404 });
      u.attachedPolicies = u.attachedPolicies.filter((x) => x !== arn);
      return undefined;
    },
  },
  GetRole: {
    run(c) {
      const r = roleOf(c);
      return `<Role><Path>${xmlEscape(r.path)}</Path><RoleName>${xmlEscape(r.roleName)}</RoleName><RoleId>${r.roleId}</RoleId><Arn>${xmlEscape(r.arn)}</Arn><CreateDate>${r.createDate}</CreateDate><AssumeRolePolicyDocument>${encodeDocument(r.assumeRolePolicyDocument)}</AssumeRolePolicyDocument><MaxSessionDuration>${r.maxSessionDuration}</MaxSessionDuration></Role>`;
    },
  },
  ListRolePolicies: {
    run(c) {
      const { p } = c;
      const r = roleOf(c);
      return page(Object.keys(r.inlinePolicies).sort(), p, (n) => xmlEscape(n), 'PolicyNames');
    },
  },
  GetRolePolicy: {
    run(c) {
      const { p } = c;
      const r = roleOf(c);
      const name = requireName(p, 'PolicyName', 'policyName', 128);
      const doc = r.inlinePolicies[name];
      if (doc === undefined) throw new AwsError('NoSuchEntity', `The role policy with name ${name} cannot be found.`, { status: 404 });
      return `<RoleName>${xmlEscape(r.roleName)}</RoleName><PolicyName>${xmlEscape(name)}</PolicyName><PolicyDocument>${encodeDocument(doc)}</PolicyDocument>`;
    },
  },
  PutRolePolicy: {
    write: true,
    run(c) {
      const { p } = c;
      const r = roleOf(c);
      const name = requireName(p, 'PolicyName', 'policyName', 128);
      const doc = p.PolicyDocument;
      if (doc === undefined) throw validation('policyDocument', null, 'Member must not be null');
      if (doc.length > 131_072) throw validation('policyDocument', '…', 'Member must have length less than or equal to 131072');
      if (r.path.startsWith('/aws-service-role/')) throw new AwsError('UnmodifiableEntity', `Cannot perform the operation on the protected role '${r.roleName}' - this role is only modifiable by AWS`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(doc);
      } catch {
        throw new AwsError('MalformedPolicyDocument', 'Syntax errors in policy.');
      }
      const d = parsed as { Version?: unknown; Statement?: unknown };
      if (!d || typeof d !== 'object' || d.Statement === undefined) throw new AwsError('MalformedPolicyDocument', 'Syntax errors in policy.');
      if (d.Version !== undefined && d.Version !== '2012-10-17' && d.Version !== '2008-10-17') throw new AwsError('MalformedPolicyDocument', 'The policy must contain a valid version string');
      const size = Object.entries(r.inlinePolicies).filter(([n]) => n !== name).reduce((s, [, v]) => s + v.replace(/\s/g, '').length, 0) + doc.replace(/\s/g, '').length;
      if (size > 10_240) throw new AwsError('LimitExceeded', `Maximum policy size of 10240 bytes exceeded for role ${r.roleName}`, { status: 409 });
      r.inlinePolicies[name] = doc;
      return undefined;
    },
  },
  DeleteRolePolicy: {
    write: true,
    run(c) {
      const { p } = c;
      const r = roleOf(c);
      const name = requireName(p, 'PolicyName', 'policyName', 128);
      if (r.path.startsWith('/aws-service-role/')) throw new AwsError('UnmodifiableEntity', `Cannot perform the operation on the protected role '${r.roleName}' - this role is only modifiable by AWS`);
      if (r.inlinePolicies[name] === undefined) throw new AwsError('NoSuchEntity', `The role policy with name ${name} cannot be found.`, { status: 404 });
      delete r.inlinePolicies[name];
      return undefined;
    },
  },
};

/** The operations that change state (what "each IAM change made once" counts). */
export const IAM_WRITE_ACTIONS: ReadonlySet<string> = new Set(Object.entries(OPERATIONS).flatMap(([name, op]) => (op.write ? [name] : [])));

export function createIamService(opts: IamServiceOptions = {}): IamService {
  const credentials = opts.credentials ?? createCredentialStore();
  const requests = opts.requests ?? [];
  const verifySignatures = opts.verifySignatures ?? true;
  const state = createIamAccounts();
  const faults = createIamFaults();

  const handle: FetchHandler = async (req) => {
    const log = logRequest('iam', requests, credentials);
    const { record } = log;
    const rid = requestId();
    const body = await readBody(req);
    const p = Object.fromEntries([...formParams(req, body)].filter(([k]) => !k.startsWith('X-Amz-')));
    const action = p.Action ?? '';
    record.operation = action || 'Unknown';
    record.params = { ...p, ...(p.Password ? { Password: '***' } : {}) };
    const send = (status: number, xml: string, errorType?: string): Response => log.finish(xmlResponse(status, xml, { 'x-amzn-requestid': rid }), errorType);
    const fail = (e: AwsError) => send(e.status, queryErrorXml(IAM_NAMESPACE, e, rid), e.code);

    const auth = log.authenticate(req, body, verifySignatures);
    if (!auth.ok) return fail(refusal('iam', auth));
    // IAM is global: its requests are signed for us-east-1 (the aws partition).
    if (verifySignatures && auth.region !== 'us-east-1') return fail(new AwsError('SignatureDoesNotMatch', `Credential should be scoped to a valid region, not '${auth.region}'. `, { status: 403 }));
    const caller = auth.principal;
    const account = caller.accountId;
    if (p.Version !== IAM_VERSION) return fail(new AwsError('InvalidAction', `Could not find operation ${action} for version ${p.Version ?? 'NO_VERSION_SPECIFIED'}`));

    try {
      const failure = faults.failureFor(action, account, p);
      if (failure) throw failure;
      const operation = operationOf(OPERATIONS, action);
      if (!operation) throw new AwsError('InvalidAction', `Could not find operation ${action} for version ${IAM_VERSION} (the stand-in implements ${Object.keys(OPERATIONS).join(', ')})`);
      const result = operation.run({ action, p, account, a: state.account(account), caller, state, faults });
      if (operation.write) await faults.held(action, account, p);
      return send(200, queryResponseXml(IAM_NAMESPACE, action, result, rid));
    } catch (e) {
      if (e instanceof AwsError) return fail(e);
      throw e;
    }
  };

  const copy = <T>(x: T | undefined): T | undefined => (x === undefined ? undefined : structuredClone(x));
  return {
    service: 'iam',
    handle,
    credentials,
    requests,
    faults: faults.faults,
    createUser: (account, userName, o) => copy(state.createUser(account, userName, o))!,
    createRole: (account, roleName, o) => copy(state.createRole(account, roleName, o))!,
    user: (account, userName) => copy(state.findUser(state.account(account), userName)),
    role: (account, roleName) => copy(state.findRole(state.account(account), roleName)),
    seedFromRecords: (records) => state.seedFromRecords(records),
    writes: (action) => requests.filter((r) => r.status === 200 && IAM_WRITE_ACTIONS.has(r.operation) && (!action || r.operation === action)),
  };
}

export type IamStandinOptions = IamServiceOptions & ListenOptions;

export async function startIamStandin(opts: IamStandinOptions = {}): Promise<IamStandin> {
  const svc = createIamService(opts);
  return Object.assign(svc, await listen(svc.handle, opts));
}
