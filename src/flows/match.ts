import type { Actor, TrailEvent } from '../events/model.ts';
import type { Fields } from './fields.ts';

/** Small shared predicates the catalog is written with. Pure. */

/** The short service name: `iam.amazonaws.com` → `iam`. */
export function serviceOf(e: TrailEvent): string {
  const s = e.service ?? '';
  // Several flows ask about the same event one after the other: remember the last answer.
  if (s === lastService) return lastShort;
  let short = SHORT.get(s);
  if (short === undefined) {
    const i = s.indexOf('.');
    short = i > 0 ? s.slice(0, i) : s;
    if (SHORT.size < 10_000) SHORT.set(s, short);
  }
  lastService = s;
  lastShort = short;
  return short;
}
const SHORT = new Map<string, string>();
let lastService = '';
let lastShort = '';

/** The call went through (not denied, not failed). */
export function succeeded(e: TrailEvent): boolean {
  return e.outcome === 'success';
}

/** `service` is the short name (`ec2`) and the action is one of `actions`. */
export function isCall(e: TrailEvent, service: string, actions: ReadonlySet<string>): boolean {
  return e.action !== null && actions.has(e.action) && serviceOf(e) === service;
}

/** A person or program acting, as opposed to AWS acting on its own account. */
export function isHumanOrProgram(e: TrailEvent): boolean {
  return e.actor.type !== 'AWSService' && e.eventType !== 'AwsServiceEvent';
}

/** The group key most flows use: the same principal in the same account. */
export function byActor(e: TrailEvent): string {
  return `${e.account ?? 'unknown'}|${e.actorKey ?? e.actor.name ?? 'unknown'}`;
}

/**
 * Services whose calls CloudTrail records in one region whatever region the caller works in
 * (IAM, STS's global endpoint, sign-in, Organizations, Route 53, CloudFront, ...). A call to them says
 * nothing about which regions are in use.
 */
export const GLOBAL_SERVICES: ReadonlySet<string> = new Set([
  'iam', 'sts', 'signin', 'organizations', 'route53', 'route53domains', 'cloudfront', 'support', 'health',
  'trustedadvisor', 'account', 'billingconsole', 'billing', 'ce', 'budgets', 'sso', 'sso-directory', 'identitystore',
  'globalaccelerator', 'shield', 'waf', 'aws-portal', 'iam-identity-center', 'notifications', 'uxc', 'cur',
  'pricing', 'tax', 'invoicing', 'freetier', 'payments', 'artifact',
]);

/** The role's ARN for an assumed-role session (`arn:aws:iam::<acct>:role/<name>`), else null. */
export function roleArnOf(a: Actor): string | null {
  if (a.type !== 'AssumedRole' || !a.roleName) return null;
  const acct = a.accountId ?? (a.arn ? a.arn.split(':')[4] : null);
  return acct ? `arn:aws:iam::${acct}:role/${a.roleName}` : null;
}

/** An Identity Center role (`AWSReservedSSO_<permission set>_<16 hex>`) → the permission set's name. */
export function permissionSetOf(roleName: string | null): string | null {
  if (roleName === null) return null;
  const m = /^AWSReservedSSO_(.+)_[0-9a-f]{16}$/.exec(roleName);
  return m ? m[1]! : null;
}

/**
 * Every name an allow-list pattern may be written against: only what the account controls. Role
 * names and ARNs, user names and ARNs, the root ARN, the SSO permission set. Never a role session's
 * name (`AssumeRole --role-session-name BreakGlass-x` picks it), nor what is derived from it (the
 * session's `assumed-role/<role>/<session>` ARN, an e-mail read from it), nor a federated user's
 * chosen name.
 */
export function actorNames(a: Actor): string[] {
  const out: string[] = [];
  switch (a.type) {
    case 'IAMUser':
    case 'Root':
      if (a.arn) out.push(a.arn);
      if (a.userName) out.push(a.userName);
      break;
    case 'AssumedRole': {
      const arn = roleArnOf(a);
      if (arn) out.push(arn);
      if (a.roleName) out.push(a.roleName);
      const set = permissionSetOf(a.roleName);
      if (set) out.push(set);
      break;
    }
    case 'FederatedUser':
      // GetFederationToken's caller names the session; the IAM user who called it is the account's.
      if (a.userName) out.push(a.userName);
      break;
    default:
      break;
  }
  return out;
}

/**
 * A call CloudFormation made for a stack: AWS writes `invokedBy` and `sourceIPAddress`
 * `cloudformation.amazonaws.com` (a caller cannot), unlike the user agent, which the caller picks.
 */
export function cloudFormationMade(e: TrailEvent): boolean {
  return e.actor.invokedBy === CFN || e.sourceAddress === CFN;
}
const CFN = 'cloudformation.amazonaws.com';

/**
 * AWS acting for the account rather than a person or program: an AWS service as the actor, a service
 * event, or a call a service made on the principal's behalf (`invokedBy` an AWS service host, which
 * AWS writes and a caller cannot: target tracking deleting the alarms it made, AWS Backup expiring a
 * recovery point). The console (`signin.amazonaws.com`) and CloudFormation do not count: a person
 * is behind those, and CloudFormation is the `iac` allow-list's to judge.
 */
export function madeByAws(e: TrailEvent): boolean {
  if (!isHumanOrProgram(e)) return true;
  const by = e.actor.invokedBy;
  return by?.endsWith('.amazonaws.com') === true && by !== CFN && by !== 'signin.amazonaws.com';
}

/** A case-insensitive glob (`*` matches anything, including `/` and `:`). */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`, 'i');
}

/** Does any of the patterns match any of the names? */
export function anyMatch(patterns: readonly RegExp[], names: readonly string[]): boolean {
  for (const p of patterns) for (const n of names) if (p.test(n)) return true;
  return false;
}

/**
 * Reads a nested value from a plain object (a parsed policy document, a statement). For the
 * record's parts use `env.request(e).get(...)` and the other typed reads of `Fields`; handing
 * `get` a `Fields` is a type error.
 */
export function get<T>(obj: T extends Fields ? never : T, ...path: string[]): unknown {
  let cur: unknown = obj;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}
