// IAM stand-in (awsQuery, as the installed @aws-sdk/client-iam speaks it): POST / with a form-encoded
// body `Action=…&Version=2010-05-08&…`, SigV4 scoped to us-east-1/iam, XML answers and AWS's errors with
// their modelled HTTP statuses. It holds users, access keys, login profiles, attached user policies,
// roles and role inline policies per account, as state: tests check what the account holds afterwards,
// and count the writes in the request log.
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { authenticate, createCredentialStore, roleIdFor, userIdFor } from './credentials.ts';
import type { AuthFailureReason, CredentialStore, Principal } from './credentials.ts';
import type { CloudTrailRecord } from './records.ts';
import { listen, nextSeq, readBody, requestId, stampDate, xmlEscape, xmlResponse } from './shared.ts';
import type { FetchHandler, ListenOptions, Listener, RequestRecord } from './shared.ts';

export const IAM_NAMESPACE = 'https://iam.amazonaws.com/doc/2010-05-08/';
export const IAM_VERSION = '2010-05-08';

/** The operations that change state (what "each IAM change made once" counts). */
export const IAM_WRITE_ACTIONS = new Set(['UpdateAccessKey', 'DeleteLoginProfile', 'CreateLoginProfile', 'AttachUserPolicy', 'DetachUserPolicy', 'PutRolePolicy', 'DeleteRolePolicy']);

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

/** Which requests a fault hits: an action name, and optionally a test on its parameters. */
export interface IamFaultMatch {
  action?: string;
  account?: string;
  params?: (p: Record<string, string>) => boolean;
}

export interface IamFaults {
  /**
   * The next `count` matching requests are carried out, then their answers are held `ms` (default 30 s):
   * IAM made the change and the client is still waiting (a test kills the worker meanwhile).
   */
  hold(f?: { count?: number; ms?: number; match?: IamFaultMatch }): void;
  /** Answers held right now. */
  readonly holding: number;
  /** The next `count` matching requests fail (not carried out) with `code` (default ServiceFailure 500). */
  fail(f?: { count?: number; code?: string; status?: number; message?: string; match?: IamFaultMatch }): void;
  /** Refuses `action` (iam:<Action>) with AccessDenied, as a missing permission would, in `account` (default every account). */
  deny(action: string, account?: string): void;
  /** Drops pending faults and denials, and lets held answers go. */
  clear(): void;
}

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

class IamError extends Error {
  readonly code: string;
  readonly status: number;
  readonly type: 'Sender' | 'Receiver';
  constructor(code: string, message: string, status = 400, type: 'Sender' | 'Receiver' = 'Sender') {
    super(message);
    this.code = code;
    this.status = status;
    this.type = type;
  }
}

const AUTH_ERRORS: Record<AuthFailureReason, [string, number]> = {
  missing: ['MissingAuthenticationToken', 403],
  'unknown-key': ['InvalidClientTokenId', 403],
  'bad-token': ['InvalidClientTokenId', 403],
  expired: ['ExpiredToken', 403],
  'request-expired': ['SignatureDoesNotMatch', 403],
  'bad-expires': ['IncompleteSignature', 400],
  skewed: ['SignatureDoesNotMatch', 403],
  'unsigned-host': ['SignatureDoesNotMatch', 403],
  'bad-payload-hash': ['SignatureDoesNotMatch', 403],
  'bad-signature': ['SignatureDoesNotMatch', 403],
  'wrong-service': ['SignatureDoesNotMatch', 403],
};

// Constraints from the IAM model (name patterns, lengths, enums).
const NAME = /^[\w+=,.@-]+$/;
const KEY_ID = /^[\w]+$/;
const ARN_POLICY = /^arn:aws[a-z-]*:iam::(aws|\d{12}):policy\/(?:[\u0021-\u007E]+\/)*([\w+=,.@-]+)$/;

const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const newKeyId = (): string => `AKIA${[...randomBytes(16)].map((b) => KEY_ALPHABET[b % 32]).join('')}`;

/** IAM writes policy documents URL-encoded (RFC 3986) inside its XML answers. */
const encodeDocument = (doc: string): string => encodeURIComponent(doc).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function validation(field: string, value: string | null, constraint: string): IamError {
  return new IamError('ValidationError', `1 validation error detected: Value ${value === null ? 'null' : `'${value}'`} at '${field}' failed to satisfy constraint: ${constraint}`);
}

interface AccountState {
  users: Map<string, IamUserState>;
  roles: Map<string, IamRoleState>;
}

interface Hold {
  remaining: number;
  ms: number;
  match?: IamFaultMatch | undefined;
}
interface Failure {
  remaining: number;
  code: string;
  status: number;
  message: string;
  match?: IamFaultMatch | undefined;
}

export function createIamService(opts: IamServiceOptions = {}): IamService {
  const credentials = opts.credentials ?? createCredentialStore();
  const requests = opts.requests ?? [];
  const verifySignatures = opts.verifySignatures ?? true;
  const accounts = new Map<string, AccountState>();
  const acct = (id: string): AccountState => {
    let a = accounts.get(id);
    if (!a) accounts.set(id, (a = { users: new Map(), roles: new Map() }));
    return a;
  };
  /** IAM names are unique case-insensitively. */
  const findUser = (a: AccountState, name: string) => [...a.users.values()].find((u) => u.userName.toLowerCase() === name.toLowerCase());
  const findRole = (a: AccountState, name: string) => [...a.roles.values()].find((r) => r.roleName.toLowerCase() === name.toLowerCase());

  let holds: Hold[] = [];
  let failures: Failure[] = [];
  const denied = new Set<string>();
  const waiting = new Set<() => void>();
  const matches = (m: IamFaultMatch | undefined, action: string, account: string, params: Record<string, string>): boolean =>
    !m || ((!m.action || m.action === action) && (!m.account || m.account === account) && (!m.params || m.params(params)));
  const faults: IamFaults = {
    hold({ count = 1, ms = 30_000, match } = {}) {
      holds.push({ remaining: count, ms, match });
    },
    get holding() {
      return waiting.size;
    },
    fail({ count = 1, code = 'ServiceFailure', status, message, match } = {}) {
      failures.push({ remaining: count, code, status: status ?? (code === 'ServiceFailure' ? 500 : code === 'Throttling' ? 400 : 400), message: message ?? (code === 'ServiceFailure' ? 'The request processing has failed because of an unknown error, exception or failure.' : code === 'Throttling' ? 'Rate exceeded' : 'injected by the stand-in'), match });
    },
    deny(action, account) {
      denied.add(`${account ?? '*'}|${action.replace(/^iam:/, '')}`);
    },
    clear() {
      holds = [];
      failures = [];
      denied.clear();
      for (const done of [...waiting]) done();
    },
  };
  const held = async (action: string, account: string, params: Record<string, string>): Promise<void> => {
    const h = holds.find((x) => x.remaining > 0 && matches(x.match, action, account, params));
    if (!h) return;
    h.remaining--;
    holds = holds.filter((x) => x.remaining > 0);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, h.ms);
      waiting.add(done);
    });
  };

  const createUser = (account: string, userName: string, o: SeedUserOptions = {}): IamUserState => {
    const a = acct(account);
    const path = o.path ?? '/';
    const statuses = typeof o.keys === 'number' ? Array.from({ length: o.keys }, () => 'Active' as const) : (o.keys ?? []);
    const user: IamUserState = {
      userName,
      userId: userIdFor(account, userName),
      arn: `arn:aws:iam::${account}:user${path}${userName}`,
      path,
      createDate: now(),
      accessKeys: statuses.map((status, i) => ({ accessKeyId: o.keyIds?.[i] ?? newKeyId(), status, createDate: now() })),
      loginProfile: o.loginProfile ? { createDate: now(), passwordResetRequired: false } : null,
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
      createDate: now(),
      assumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'sts:AssumeRole' }] }),
      maxSessionDuration: 3600,
      inlinePolicies: Object.fromEntries(Object.entries(o.inlinePolicies ?? {}).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
    };
    acct(account).roles.set(roleName, role);
    return role;
  };

  const handle: FetchHandler = async (req) => {
    const timeMs = performance.now();
    const rid = requestId();
    const record: RequestRecord = { seq: nextSeq(), service: 'iam', operation: 'Unknown', timeMs, at: new Date().toISOString(), status: 0, durationMs: 0 };
    requests.push(record);
    const body = await readBody(req);
    const params = new URLSearchParams(new URL(req.url).search);
    if (req.method === 'POST') for (const [k, v] of new URLSearchParams(body.toString('utf8'))) params.set(k, v);
    const p = Object.fromEntries([...params].filter(([k]) => !k.startsWith('X-Amz-')));
    const action = p.Action ?? '';
    record.operation = action || 'Unknown';
    record.params = { ...p, ...(p.Password ? { Password: '***' } : {}) };

    const send = (status: number, xml: string, errorType?: string): Response => {
      record.status = status;
      if (errorType) record.errorType = errorType;
      record.durationMs = performance.now() - timeMs;
      return stampDate(xmlResponse(status, xml, { 'x-amzn-requestid': rid }), credentials.now());
    };
    const fail = (e: IamError) =>
      send(e.status, `<ErrorResponse xmlns="${IAM_NAMESPACE}"><Error><Type>${e.type}</Type><Code>${xmlEscape(e.code)}</Code><Message>${xmlEscape(e.message)}</Message></Error><RequestId>${rid}</RequestId></ErrorResponse>`, e.code);
    const ok = (inner?: string) =>
      send(200, `<${action}Response xmlns="${IAM_NAMESPACE}">${inner === undefined ? '' : `<${action}Result>${inner}</${action}Result>`}<ResponseMetadata><RequestId>${rid}</RequestId></ResponseMetadata></${action}Response>`);

    const auth = authenticate(req, body, credentials, { service: 'iam', verifySignature: verifySignatures });
    if (auth.accessKeyId) record.accessKeyId = auth.accessKeyId;
    if (auth.region) record.region = auth.region;
    if (!auth.ok) {
      const [code, status] = AUTH_ERRORS[auth.reason];
      return fail(new IamError(code, auth.reason === 'missing' ? 'Request is missing Authentication Token' : auth.message, status));
    }
    // IAM is global: its requests are signed for us-east-1 (the aws partition).
    if (verifySignatures && auth.region !== 'us-east-1') return fail(new IamError('SignatureDoesNotMatch', `Credential should be scoped to a valid region, not '${auth.region}'. `, 403));
    const caller = auth.principal;
    const account = caller.accountId;
    record.accountId = account;
    if (p.Version !== IAM_VERSION) return fail(new IamError('InvalidAction', `Could not find operation ${action} for version ${p.Version ?? 'NO_VERSION_SPECIFIED'}`));

    try {
      const failure = failures.find((f) => f.remaining > 0 && matches(f.match, action, account, p));
      if (failure) {
        failure.remaining--;
        failures = failures.filter((f) => f.remaining > 0);
        throw new IamError(failure.code, failure.message, failure.status, failure.status >= 500 ? 'Receiver' : 'Sender');
      }
      const inner = run(action, p, account, caller);
      if (IAM_WRITE_ACTIONS.has(action)) await held(action, account, p);
      return ok(inner);
    } catch (e) {
      if (e instanceof IamError) return fail(e);
      throw e;
    }
  };

  const requireName = (p: Record<string, string>, key: string, field: string, max: number): string => {
    const v = p[key];
    if (v === undefined) throw validation(field, null, 'Member must not be null');
    if (v.length < 1 || v.length > max) throw validation(field, v, `Member must have length less than or equal to ${max}`);
    if (!NAME.test(v)) throw validation(field, v, 'Member must satisfy regular expression pattern: [\\w+=,.@-]+');
    return v;
  };
  const checkDenied = (action: string, account: string, caller: Principal, resource: string) => {
    if (denied.has(`*|${action}`) || denied.has(`${account}|${action}`)) {
      throw new IamError('AccessDenied', `User: ${caller.arn} is not authorized to perform: iam:${action} on resource: ${resource} because no identity-based policy allows the iam:${action} action`, 403);
    }
  };
  const userOf = (a: AccountState, p: Record<string, string>, caller: Principal, action: string, account: string): IamUserState => {
    const name = requireName(p, 'UserName', 'userName', 64);
    checkDenied(action, account, caller, `user ${name}`);
    const u = findUser(a, name);
    if (!u) throw new IamError('NoSuchEntity', `The user with name ${name} cannot be found.`, 404);
    return u;
  };
  const roleOf = (a: AccountState, p: Record<string, string>, caller: Principal, action: string, account: string): IamRoleState => {
    const name = requireName(p, 'RoleName', 'roleName', 64);
    checkDenied(action, account, caller, `role ${name}`);
    const r = findRole(a, name);
    if (!r) throw new IamError('NoSuchEntity', `The role with name ${name} cannot be found.`, 404);
    return r;
  };
  const page = <T>(items: T[], p: Record<string, string>, render: (x: T) => string, tag: string): string => {
    const max = p.MaxItems === undefined ? 100 : Number(p.MaxItems);
    if (!Number.isInteger(max) || max < 1 || max > 1000) throw validation('maxItems', p.MaxItems ?? null, 'Member must have value less than or equal to 1000');
    let start = 0;
    if (p.Marker !== undefined) {
      start = Number(Buffer.from(p.Marker, 'base64url').toString('utf8').replace(/^m:/, ''));
      if (!Number.isInteger(start) || start < 0 || !Buffer.from(p.Marker, 'base64url').toString('utf8').startsWith('m:')) throw new IamError('InvalidInput', 'Invalid Marker.');
    }
    const slice = items.slice(start, start + max);
    const truncated = start + max < items.length;
    return `<${tag}>${slice.map((x) => `<member>${render(x)}</member>`).join('')}</${tag}><IsTruncated>${truncated}</IsTruncated>${truncated ? `<Marker>${Buffer.from(`m:${start + max}`).toString('base64url')}</Marker>` : ''}`;
  };
  const policyArn = (p: Record<string, string>): string => {
    const arn = p.PolicyArn;
    if (arn === undefined) throw validation('policyArn', null, 'Member must not be null');
    if (arn.length < 20 || arn.length > 2048) throw validation('policyArn', arn, 'Member must have length greater than or equal to 20');
    if (!ARN_POLICY.test(arn)) throw new IamError('InvalidInput', `ARN ${arn} is not valid.`);
    return arn;
  };
  const userXml = (u: IamUserState) => `<Path>${xmlEscape(u.path)}</Path><UserName>${xmlEscape(u.userName)}</UserName><UserId>${u.userId}</UserId><Arn>${xmlEscape(u.arn)}</Arn><CreateDate>${u.createDate}</CreateDate>`;

  /** Carries out one action on the caller's account; the XML inside <ActionResult>, or undefined for none. */
  function run(action: string, p: Record<string, string>, account: string, caller: Principal): string | undefined {
    const a = acct(account);
    switch (action) {
      case 'GetUser': {
        if (p.UserName === undefined) {
          checkDenied(action, account, caller, caller.arn);
          if (caller.kind !== 'user') throw new IamError('ValidationError', 'Must specify userName when calling with non-User credentials');
          const name = caller.arn.slice(caller.arn.lastIndexOf('/') + 1);
          const u = findUser(a, name) ?? { userName: name, userId: caller.userId, arn: caller.arn, path: '/', createDate: now(), accessKeys: [], loginProfile: null, attachedPolicies: [] };
          return `<User>${userXml(u)}</User>`;
        }
        return `<User>${userXml(userOf(a, p, caller, action, account))}</User>`;
      }
      case 'ListAccessKeys': {
        const u = userOf(a, p, caller, action, account);
        return page(u.accessKeys, p, (k) => `<UserName>${xmlEscape(u.userName)}</UserName><AccessKeyId>${k.accessKeyId}</AccessKeyId><Status>${k.status}</Status><CreateDate>${k.createDate}</CreateDate>`, 'AccessKeyMetadata');
      }
      case 'UpdateAccessKey': {
        const u = userOf(a, p, caller, action, account);
        const id = p.AccessKeyId;
        if (id === undefined) throw validation('accessKeyId', null, 'Member must not be null');
        if (id.length < 16 || id.length > 128 || !KEY_ID.test(id)) throw validation('accessKeyId', id, 'Member must have length greater than or equal to 16');
        const status = p.Status;
        if (status !== 'Active' && status !== 'Inactive') throw validation('status', status ?? null, 'Member must satisfy enum value set: [Active, Inactive]');
        const k = u.accessKeys.find((x) => x.accessKeyId === id);
        if (!k) throw new IamError('NoSuchEntity', `The Access Key with id ${id} cannot be found.`, 404);
        k.status = status;
        return undefined;
      }
      case 'GetLoginProfile': {
        const u = userOf(a, p, caller, action, account);
        if (!u.loginProfile) throw new IamError('NoSuchEntity', `Login Profile for User ${u.userName} cannot be found.`, 404);
        return `<LoginProfile><UserName>${xmlEscape(u.userName)}</UserName><CreateDate>${u.loginProfile.createDate}</CreateDate><PasswordResetRequired>${u.loginProfile.passwordResetRequired}</PasswordResetRequired></LoginProfile>`;
      }
      case 'DeleteLoginProfile': {
        const u = userOf(a, p, caller, action, account);
        if (!u.loginProfile) throw new IamError('NoSuchEntity', `Login Profile for User ${u.userName} cannot be found.`, 404);
        u.loginProfile = null;
        return undefined;
      }
      case 'CreateLoginProfile': {
        const u = userOf(a, p, caller, action, account);
        if (!p.Password) throw validation('password', null, 'Member must not be null');
        if (u.loginProfile) throw new IamError('EntityAlreadyExists', `Login Profile for user ${u.userName} already exists.`, 409);
        u.loginProfile = { createDate: now(), passwordResetRequired: p.PasswordResetRequired === 'true' };
        return `<LoginProfile><UserName>${xmlEscape(u.userName)}</UserName><CreateDate>${u.loginProfile.createDate}</CreateDate><PasswordResetRequired>${u.loginProfile.passwordResetRequired}</PasswordResetRequired></LoginProfile>`;
      }
      case 'ListAttachedUserPolicies': {
        const u = userOf(a, p, caller, action, account);
        return page(u.attachedPolicies, p, (arn) => `<PolicyName>${xmlEscape(arn.slice(arn.lastIndexOf('/') + 1))}</PolicyName><PolicyArn>${xmlEscape(arn)}</PolicyArn>`, 'AttachedPolicies');
      }
      case 'AttachUserPolicy': {
        const u = userOf(a, p, caller, action, account);
        const arn = policyArn(p);
        const owner = ARN_POLICY.exec(arn)?.[1];
        if (owner !== 'aws' && owner !== account) throw new IamError('NoSuchEntity', `Policy ${arn} does not exist or is not attachable.`, 404);
        if (!u.attachedPolicies.includes(arn)) {
          if (u.attachedPolicies.length >= 10) throw new IamError('LimitExceeded', 'Cannot exceed quota for PoliciesPerUser: 10', 409);
          u.attachedPolicies.push(arn);
        }
        return undefined;
      }
      case 'DetachUserPolicy': {
        const u = userOf(a, p, caller, action, account);
        const arn = policyArn(p);
        if (!u.attachedPolicies.includes(arn)) throw new IamError('NoSuchEntity', `Policy ${arn} was not found.`, 404);
        u.attachedPolicies = u.attachedPolicies.filter((x) => x !== arn);
        return undefined;
      }
      case 'GetRole': {
        const r = roleOf(a, p, caller, action, account);
        return `<Role><Path>${xmlEscape(r.path)}</Path><RoleName>${xmlEscape(r.roleName)}</RoleName><RoleId>${r.roleId}</RoleId><Arn>${xmlEscape(r.arn)}</Arn><CreateDate>${r.createDate}</CreateDate><AssumeRolePolicyDocument>${encodeDocument(r.assumeRolePolicyDocument)}</AssumeRolePolicyDocument><MaxSessionDuration>${r.maxSessionDuration}</MaxSessionDuration></Role>`;
      }
      case 'ListRolePolicies': {
        const r = roleOf(a, p, caller, action, account);
        return page(Object.keys(r.inlinePolicies).sort(), p, (n) => xmlEscape(n), 'PolicyNames');
      }
      case 'GetRolePolicy': {
        const r = roleOf(a, p, caller, action, account);
        const name = requireName(p, 'PolicyName', 'policyName', 128);
        const doc = r.inlinePolicies[name];
        if (doc === undefined) throw new IamError('NoSuchEntity', `The role policy with name ${name} cannot be found.`, 404);
        return `<RoleName>${xmlEscape(r.roleName)}</RoleName><PolicyName>${xmlEscape(name)}</PolicyName><PolicyDocument>${encodeDocument(doc)}</PolicyDocument>`;
      }
      case 'PutRolePolicy': {
        const r = roleOf(a, p, caller, action, account);
        const name = requireName(p, 'PolicyName', 'policyName', 128);
        const doc = p.PolicyDocument;
        if (doc === undefined) throw validation('policyDocument', null, 'Member must not be null');
        if (doc.length > 131_072) throw validation('policyDocument', '…', 'Member must have length less than or equal to 131072');
        if (r.path.startsWith('/aws-service-role/')) throw new IamError('UnmodifiableEntity', `Cannot perform the operation on the protected role '${r.roleName}' - this role is only modifiable by AWS`);
        let parsed: unknown;
        try {
          parsed = JSON.parse(doc);
        } catch {
          throw new IamError('MalformedPolicyDocument', 'Syntax errors in policy.');
        }
        const d = parsed as { Version?: unknown; Statement?: unknown };
        if (!d || typeof d !== 'object' || d.Statement === undefined) throw new IamError('MalformedPolicyDocument', 'Syntax errors in policy.');
        if (d.Version !== undefined && d.Version !== '2012-10-17' && d.Version !== '2008-10-17') throw new IamError('MalformedPolicyDocument', 'The policy must contain a valid version string');
        const size = Object.entries(r.inlinePolicies).filter(([n]) => n !== name).reduce((s, [, v]) => s + v.replace(/\s/g, '').length, 0) + doc.replace(/\s/g, '').length;
        if (size > 10_240) throw new IamError('LimitExceeded', `Maximum policy size of 10240 bytes exceeded for role ${r.roleName}`, 409);
        r.inlinePolicies[name] = doc;
        return undefined;
      }
      case 'DeleteRolePolicy': {
        const r = roleOf(a, p, caller, action, account);
        const name = requireName(p, 'PolicyName', 'policyName', 128);
        if (r.path.startsWith('/aws-service-role/')) throw new IamError('UnmodifiableEntity', `Cannot perform the operation on the protected role '${r.roleName}' - this role is only modifiable by AWS`);
        if (r.inlinePolicies[name] === undefined) throw new IamError('NoSuchEntity', `The role policy with name ${name} cannot be found.`, 404);
        delete r.inlinePolicies[name];
        return undefined;
      }
      default:
        throw new IamError('InvalidAction', `Could not find operation ${action} for version ${IAM_VERSION} (the stand-in implements ${[...IMPLEMENTED].join(', ')})`);
    }
  }

  const copy = <T>(x: T | undefined): T | undefined => (x === undefined ? undefined : structuredClone(x));
  return {
    service: 'iam',
    handle,
    credentials,
    requests,
    faults,
    createUser: (account, userName, o) => copy(createUser(account, userName, o))!,
    createRole: (account, roleName, o) => copy(createRole(account, roleName, o))!,
    user: (account, userName) => copy(findUser(acct(account), userName)),
    role: (account, roleName) => copy(findRole(acct(account), roleName)),
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
    writes: (action) => requests.filter((r) => r.status === 200 && IAM_WRITE_ACTIONS.has(r.operation) && (!action || r.operation === action)),
  };
}

const IMPLEMENTED = new Set([
  'GetUser', 'ListAccessKeys', 'UpdateAccessKey', 'GetLoginProfile', 'DeleteLoginProfile', 'CreateLoginProfile', 'ListAttachedUserPolicies', 'AttachUserPolicy',
  'DetachUserPolicy', 'GetRole', 'ListRolePolicies', 'GetRolePolicy', 'PutRolePolicy', 'DeleteRolePolicy',
]);

export type IamStandinOptions = IamServiceOptions & ListenOptions;

export async function startIamStandin(opts: IamStandinOptions = {}): Promise<IamStandin> {
  const svc = createIamService(opts);
  return Object.assign(svc, await listen(svc.handle, opts));
}
