import type { Actor } from './model.ts';

/** Failed console sign-ins carry this instead of the user name. */
export const HIDDEN_USER = 'HIDDEN_DUE_TO_SECURITY_REASONS';

const EMAIL = /^[^\s@/:]+@[^\s@/:]+\.[^\s@/:]+$/;

export function isEmail(value: string | null | undefined): value is string {
  return typeof value === 'string' && value.length <= 320 && value.indexOf('@') > 0 && EMAIL.test(value);
}

type Obj = Record<string, unknown>;

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' ? v : null;
}

function obj(v: unknown): Obj | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : null;
}

function bool(v: unknown): boolean | null {
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  return null;
}

/** `arn:aws:sts::123:assumed-role/Role/session` → ['Role', 'session']. */
function assumedRoleParts(arn: string | null): [string | null, string | null] {
  if (!arn) return [null, null];
  const i = arn.indexOf(':assumed-role/');
  if (i < 0) return [null, null];
  const rest = arn.slice(i + 14);
  const slash = rest.indexOf('/');
  if (slash < 0) return [rest || null, null];
  return [rest.slice(0, slash) || null, rest.slice(slash + 1) || null];
}

function afterMarker(arn: string | null, marker: string): string | null {
  if (!arn) return null;
  const i = arn.indexOf(marker);
  return i < 0 ? null : arn.slice(i + marker.length) || null;
}

/** Values in sign-in data that may hold an Identity Center user's e-mail. */
function emailFromSignInData(record: Obj): string | null {
  const extra = obj(record.additionalEventData);
  if (extra) {
    for (const k of ['UserName', 'userName', 'Username', 'emailAddress', 'email']) {
      const v = str(extra[k]);
      if (isEmail(v)) return v;
    }
  }
  const details = obj(record.serviceEventDetails);
  if (details) {
    for (const k of ['UserName', 'userName', 'emailAddress', 'email']) {
      const v = str(details[k]);
      if (isEmail(v)) return v;
    }
  }
  return null;
}

/**
 * Who acted. Names follow one rule: the name a colleague would recognise.
 * SSO e-mail > IAM user name > `role/session` > `root` > the AWS service.
 */
export function normalizeActor(record: Obj): Actor {
  const ui = obj(record.userIdentity) ?? {};
  const type = str(ui.type);
  const arn = str(ui.arn);
  const accountId = str(ui.accountId);
  const principalId = str(ui.principalId);
  const accessKeyId = str(ui.accessKeyId);
  const invokedBy = str(ui.invokedBy);
  let userName = str(ui.userName);
  let roleName: string | null = null;
  let sessionName: string | null = null;

  const ctx = obj(ui.sessionContext);
  const issuer = ctx ? obj(ctx.sessionIssuer) : null;
  const attrs = ctx ? obj(ctx.attributes) : null;
  let mfa = attrs ? bool(attrs.mfaAuthenticated) : null;

  if (record.eventName === 'ConsoleLogin' || record.eventSource === 'signin.amazonaws.com') {
    const extra = obj(record.additionalEventData);
    const used = extra && typeof extra.MFAUsed === 'string' ? extra.MFAUsed.toLowerCase() : undefined;
    if (used === 'yes') mfa = true;
    else if (used === 'no') mfa = false;
  }

  if (type === 'AssumedRole') {
    const [r, s] = assumedRoleParts(arn);
    roleName = (issuer && str(issuer.userName)) ?? r;
    sessionName = s ?? (principalId?.includes(':') ? principalId.slice(principalId.indexOf(':') + 1) : null);
  } else if (type === 'FederatedUser') {
    sessionName = afterMarker(arn, ':federated-user/') ?? (principalId?.includes(':') ? principalId.slice(principalId.indexOf(':') + 1) : null);
    if (issuer && str(issuer.userName)) userName = userName ?? str(issuer.userName);
  } else if (type === 'IAMUser' && !userName) {
    userName = afterMarker(arn, ':user/');
  }
  if (userName === HIDDEN_USER) userName = HIDDEN_USER;

  let email: string | null = null;
  if (isEmail(sessionName)) email = sessionName;
  else if (isEmail(userName)) email = userName;
  else if (type === 'IdentityCenterUser' || type === 'Unknown' || record.eventSource === 'signin.amazonaws.com' || record.eventSource === 'sso.amazonaws.com') {
    email = emailFromSignInData(record);
  }
  if (email) email = email.toLowerCase();

  let name: string | null;
  switch (type) {
    case 'Root':
      name = 'root';
      break;
    case 'IAMUser':
      name = userName === HIDDEN_USER ? null : userName;
      break;
    case 'AssumedRole':
      name = email ?? (roleName && sessionName ? `${roleName}/${sessionName}` : roleName ?? sessionName ?? principalId);
      break;
    case 'FederatedUser':
      name = email ?? sessionName ?? userName;
      break;
    case 'AWSService':
      name = invokedBy ?? principalId;
      break;
    case 'AWSAccount':
      name = accountId ? `account/${accountId}` : principalId;
      break;
    case 'IdentityCenterUser': {
      const onBehalf = obj(ui.onBehalfOf);
      name = email ?? userName ?? (onBehalf ? str(onBehalf.userId) : null) ?? principalId;
      break;
    }
    default:
      name = email ?? (userName === HIDDEN_USER ? null : userName) ?? invokedBy ?? principalId ?? arn;
  }

  return { type, name, arn, accountId, principalId, accessKeyId, userName, roleName, sessionName, email, invokedBy, mfa };
}

/**
 * A stable key for "the same principal": the ARN when there is one (a role session's ARN names
 * the role and the session), else the type, account and best id.
 */
export function actorKey(actor: Actor, account: string | null): string | null {
  if (actor.type === 'AWSService') return actor.invokedBy ? `service:${actor.invokedBy}` : null;
  if (actor.type === 'Root') return `arn:aws:iam::${actor.accountId ?? account ?? 'unknown'}:root`;
  if (actor.arn) return actor.arn;
  const id = actor.principalId ?? actor.userName ?? actor.invokedBy;
  if (!id && !actor.type) return null;
  return `${actor.type ?? 'Unknown'}:${actor.accountId ?? account ?? ''}:${id ?? ''}`;
}
