import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type Handlebars from 'handlebars';
import { parse } from 'yaml';
import { TrailbotError } from '../../errors.ts';
import type { Actor } from '../../events/model.ts';
import type { AccessKeyStatus, IamAccessKey, IamAttachedPolicy, IamPort, PolicyDocument, TrailbotIdentity } from '../../integrations/aws/iam.ts';
import { actorIs, type Db, eventsAt } from '../../store/index.ts';
import { isoText } from '../../store/sql.ts';
import { compileText, readTemplate, textEnv } from '../../templates/index.ts';

/**
 * What deactivating a person in AWS means, as data: who the target is (`targetOf`), the exact steps
 * read from the live account as a dry run (`proposePlan`: nothing is changed), and the steps that
 * undo what can be undone (`reversePlan`). Plans are JSON: the approval stores the one it shows and
 * the `remediate` job carries out exactly that one (execute.ts).
 *
 * - IAM user: each access key → Inactive, the console password (login profile) deleted (cannot be
 *   undone), the AWS managed policy AWSDenyAll attached.
 * - Role session (IAM Identity Center included): an inline policy on the role denying everything to
 *   that session only (`aws:userid` = `<RoleId>:<session>`), and, when asked, AWSRevokeOlderSessions
 *   (every session of the role issued before now); plus who else used the role, so the blast radius
 *   is seen before anyone approves.
 * - Root, AWS services, other accounts' callers, federated users: refused, with the reason.
 * - trailbot itself: a role it is configured to assume in the account (`targetOf` with its role names,
 *   and `proposePlan`), or the identity of its own credentials there (STS GetCallerIdentity, checked by
 *   `proposePlan`): a deny on it would cut trailbot off in that account, including from undoing it.
 */

export const DENY_ALL_ARN = 'arn:aws:iam::aws:policy/AWSDenyAll';
export const REVOKE_OLDER_SESSIONS = 'AWSRevokeOlderSessions';
/** How far back "who else uses the role" looks. */
export const ROLE_USERS_DAYS = 30;

export interface UserTarget {
  kind: 'iam-user';
  account: string;
  userName: string;
  arn: string | null;
  /** The name people know (actor.name): the user name, or the e-mail when it is one. */
  name: string;
  email: string | null;
}

export interface RoleSessionTarget {
  kind: 'role-session';
  account: string;
  roleName: string;
  sessionName: string;
  /** An IAM Identity Center role (AWSReservedSSO_…): the session name is the person's e-mail or user name. */
  sso: boolean;
  /** The session's ARN (arn:aws:sts::<account>:assumed-role/<role>/<session>). */
  arn: string | null;
  /** AROA… as the events wrote it; the plan reads the live one (GetRole). */
  roleId: string | null;
  name: string;
  email: string | null;
}

export type Target = UserTarget | RoleSessionTarget;

export type RefusalReason = 'root' | 'aws-service' | 'service-role' | 'other-account' | 'federated' | 'identity-center' | 'no-account' | 'trailbot' | 'unknown';

export interface Refusal {
  kind: 'refused';
  reason: RefusalReason;
  /** Plain language: why trailbot will not propose a deactivation, and what to do instead. */
  message: string;
  name: string | null;
  account: string | null;
}

/** One IAM change, as data. `revoke-older-sessions` gets its aws:TokenIssueTime when it is carried out. */
export type StepAction =
  | { type: 'update-access-key'; userName: string; accessKeyId: string; status: AccessKeyStatus }
  | { type: 'delete-login-profile'; userName: string }
  | { type: 'attach-user-policy'; userName: string; policyArn: string }
  | { type: 'detach-user-policy'; userName: string; policyArn: string }
  | { type: 'put-role-policy'; roleName: string; policyName: string; document: PolicyDocument }
  | { type: 'revoke-older-sessions'; roleName: string }
  | { type: 'delete-role-policy'; roleName: string; policyName: string };

export interface PlanStep {
  /** Stable within the plan and across plans for the same change (`key-AKIA…-inactive`, `deny-all`, …). */
  id: string;
  action: StepAction;
  /** Plain language: exactly what changes in AWS. */
  description: string;
  /** What the live account held for this step when the plan was made. */
  current: string;
  /** The account already is as this step wants it: carrying it out checks again and changes nothing. */
  alreadyDone: boolean;
  reversible: boolean;
  /** What undoes it (a reactivation's step), or null when nothing can. */
  reverse: StepAction | null;
  /** Said next to the step (why it cannot be undone, …). */
  note?: string | undefined;
}

export interface RoleUser {
  sessionName: string | null;
  name: string | null;
  email: string | null;
  lastSeen: string;
  /** Events of that session in the window. */
  events: number;
}

export interface RoleUsers {
  roleName: string;
  days: number;
  sessions: RoleUser[];
  /** More sessions than listed. */
  more: boolean;
}

/** What the live account held when the plan was read (for the page). */
export interface LiveState {
  user?: { userName: string; userId: string; arn: string; accessKeys: IamAccessKey[]; loginProfile: { createDate: string | null } | null; attachedPolicies: IamAttachedPolicy[] } | undefined;
  role?: { roleName: string; roleId: string; arn: string; path: string; inlinePolicies: string[] } | undefined;
}

export interface Plan {
  version: 1;
  kind: 'deactivate' | 'reactivate';
  target: Target;
  account: string;
  /** When the live account was read (ISO). */
  readAt: string;
  options: { revokeOlderSessions: boolean };
  steps: PlanStep[];
  /** Plain-language lines for the page: what cannot be undone, who else is affected, … */
  notes: string[];
  live: LiveState;
  /** Role sessions: who else used the role lately. */
  others?: RoleUsers | undefined;
  /** A reactivation: the approval whose plan it reverses. */
  reverses?: string | undefined;
}

/** How a step ended, as execute.ts records it (the parts reversePlan reads). */
export interface StepOutcome {
  id: string;
  state: 'pending' | 'running' | 'done' | 'failed';
  outcome: 'changed' | 'already' | null;
  finishedAt: string | null;
}

// ---------------------------------------------------------------------------------------------------
// Words

interface PlanWords {
  steps: Record<string, string>;
  current: Record<string, string>;
  notes: Record<string, string>;
  refusals: Record<RefusalReason, string>;
  results: Record<string, string>;
}
const env = textEnv();
const raw = parse(readTemplate('approvals/plan.yaml')) as PlanWords;
const compiled = new Map<string, Handlebars.TemplateDelegate>();
/** `say('steps.deactivate-key', {...})`: a sentence from src/templates/approvals/plan.yaml. */
export function say(path: string, data: object = {}): string {
  let t = compiled.get(path);
  if (!t) {
    const [group, key] = path.split('.') as [keyof PlanWords, string];
    const source = (raw[group] as Record<string, string> | undefined)?.[key];
    if (source === undefined) throw new Error(`no words for ${path} in src/templates/approvals/plan.yaml`);
    t = compileText(env, source);
    compiled.set(path, t);
  }
  return t(data);
}

// ---------------------------------------------------------------------------------------------------
// Who

const SSO_ROLE = /^AWSReservedSSO_/;
const SERVICE_ROLE = /^AWSServiceRoleFor/;

function refuse(reason: RefusalReason, actor: Pick<Actor, 'name' | 'accountId' | 'type' | 'roleName'>, extra: Record<string, string> = {}): Refusal {
  const name = actor.name;
  return { kind: 'refused', reason, name, account: actor.accountId, message: say(`refusals.${reason}`, { name: name ?? 'this caller', account: actor.accountId ?? 'the account', type: actor.type ?? 'no type', roleName: actor.roleName, ...extra }) };
}

const sameName = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * Why `target` is trailbot itself in its account, or undefined: a role trailbot is configured to assume
 * there (any session of it: revoking older sessions would cut them all), the role of its own
 * credentials' session, or the IAM user its credentials are (IAM names are case-insensitive).
 */
export function trailbotItself(target: Target, self: Pick<TrailbotIdentity, 'roleNames'> & { caller?: { account: string; arn: string } | undefined }): string | undefined {
  const caller = self.caller && self.caller.account === target.account ? self.caller.arn : '';
  const assumed = /^arn:aws[\w-]*:sts::\d{12}:assumed-role\/([^/]+)\//.exec(caller)?.[1];
  const user = /^arn:aws[\w-]*:iam::\d{12}:user\/(?:.*\/)?([^/]+)$/.exec(caller)?.[1];
  if (target.kind === 'role-session') {
    if (self.roleNames.some((r) => sameName(r, target.roleName))) return `role ${target.roleName}, which trailbot assumes there`;
    if (assumed && sameName(assumed, target.roleName)) return `role ${target.roleName}, whose session trailbot's credentials are (${caller})`;
  } else if (user && sameName(user, target.userName)) {
    return `IAM user ${target.userName}, whose keys trailbot's credentials are (${caller})`;
  }
  return undefined;
}

export interface TargetOptions {
  /** The role names trailbot assumes in an account (trailbotRoleNames of the config): their sessions are refused. */
  trailbotRoles?: ((account: string) => string[]) | undefined;
}

/** The identity an event's actor is, as something trailbot can deactivate, or why it cannot. */
export function targetOf(actor: Actor, opts: TargetOptions = {}): Target | Refusal {
  const t = targetOfActor(actor);
  if (t.kind === 'refused' || !opts.trailbotRoles) return t;
  const what = trailbotItself(t, { roleNames: opts.trailbotRoles(t.account) });
  return what ? refuse('trailbot', actor, { name: t.name, what }) : t;
}

function targetOfActor(actor: Actor): Target | Refusal {
  const type = actor.type;
  if (type === 'Root') return refuse('root', actor);
  if (type === 'AWSService' || (!type && actor.invokedBy)) return refuse('aws-service', actor);
  if (type === 'AWSAccount') return refuse('other-account', actor);
  if (type === 'FederatedUser') return refuse('federated', actor);
  if (type === 'IdentityCenterUser') return refuse('identity-center', actor);
  if (type === 'IAMUser' && actor.userName) {
    if (!actor.accountId) return refuse('no-account', actor);
    return { kind: 'iam-user', account: actor.accountId, userName: actor.userName, arn: actor.arn, name: actor.name ?? actor.userName, email: actor.email };
  }
  if (type === 'AssumedRole' && actor.roleName && actor.sessionName) {
    if (!actor.accountId) return refuse('no-account', actor);
    if (SERVICE_ROLE.test(actor.roleName)) return refuse('service-role', actor);
    const roleId = actor.principalId?.includes(':') ? actor.principalId.slice(0, actor.principalId.indexOf(':')) : null;
    return {
      kind: 'role-session',
      account: actor.accountId,
      roleName: actor.roleName,
      sessionName: actor.sessionName,
      sso: SSO_ROLE.test(actor.roleName),
      arn: actor.arn,
      roleId,
      name: actor.name ?? `${actor.roleName}/${actor.sessionName}`,
      email: actor.email,
    };
  }
  return refuse('unknown', actor);
}

/**
 * The person a finding is about: the actor of most of its events (the earliest on a tie), as a target
 * or a refusal. Undefined when the finding or its events are not in the store.
 */
export async function targetOfFinding(db: Db, findingId: string, opts: TargetOptions = {}): Promise<Target | Refusal | undefined> {
  // The actor as the row has it (key, type, name, e-mail, access key), then the whole actor from the
  // first of its events (the rest of an actor is in the event's detail: src/store/detail.ts).
  const r = await db.query<{ event_id: string; time: string }>(
    `SELECT (array_agg(fe.event_id ORDER BY fe.time, fe.event_id))[1] AS event_id, ${isoText('min(fe.time)', 'ms')} AS time
       FROM finding_events fe JOIN events e ON e.event_id = fe.event_id AND e.time = fe.time
      WHERE fe.finding_id = $1
      GROUP BY e.actor_key, e.actor_type, e.actor_name, e.access_key_id, e.email
      ORDER BY count(*) DESC, min(fe.time) ASC
      LIMIT 1`,
    [findingId],
  );
  const x = r.rows[0];
  if (!x) return undefined;
  const [event] = await eventsAt(db, [{ eventId: x.event_id, time: x.time }]);
  if (!event) return undefined;
  return targetOf({ ...event.actor, mfa: null }, opts);
}

/** Other sessions of the role seen in the store in the last `days` days, most recent first. */
export async function roleUsers(db: Db, q: { account: string; roleName: string; exceptSession?: string | undefined; days?: number; limit?: number; now?: number }): Promise<RoleUsers> {
  const days = q.days ?? ROLE_USERS_DAYS;
  const limit = q.limit ?? 20;
  const since = new Date((q.now ?? Date.now()) - days * 86_400_000).toISOString();
  const r = await db.query<{ session_name: string | null; name: string | null; email: string | null; last_seen: string; events: number }>(
    `SELECT p.session_name, p.name, p.email, p.last_seen,
            (SELECT count(*) FROM events e WHERE ${actorIs('p.actor_key')} AND e.time >= $4) AS events
       FROM principals p
      WHERE lower(p.role_name) = lower($1) AND p.account = $2 AND p.type = 'AssumedRole' AND p.last_seen >= $4
        AND p.session_name IS DISTINCT FROM $3
      ORDER BY p.last_seen DESC
      LIMIT $5`,
    [q.roleName, q.account, q.exceptSession ?? null, since, limit + 1],
  );
  const sessions = r.rows.slice(0, limit).map((x) => ({ sessionName: x.session_name, name: x.name, email: x.email, lastSeen: new Date(x.last_seen).toISOString(), events: Number(x.events) }));
  return { roleName: q.roleName, days, sessions, more: r.rows.length > limit };
}

// ---------------------------------------------------------------------------------------------------
// Policies

/** A short stable name for the session's deny: `trailbot-deny-<16 hex of sha256(role id:session)>`. */
export function sessionDenyName(roleId: string, sessionName: string): string {
  return `trailbot-deny-${createHash('sha256').update(`${roleId}:${sessionName}`).digest('hex').slice(0, 16)}`;
}

/** Deny everything to one session of a role: `aws:userid` is `<RoleId>:<RoleSessionName>`. */
export function sessionDenyDocument(roleId: string, sessionName: string): PolicyDocument {
  return {
    Version: '2012-10-17',
    Statement: [{ Sid: 'TrailbotDenySession', Effect: 'Deny', Action: '*', Resource: '*', Condition: { StringEquals: { 'aws:userid': `${roleId}:${sessionName}` } } }],
  };
}

/** AWS's revoke of a role's sessions issued before `time` (what the console's "Revoke active sessions" writes). */
export function revokeOlderDocument(time: string): PolicyDocument {
  return { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: ['*'], Resource: ['*'], Condition: { DateLessThan: { 'aws:TokenIssueTime': time } } }] };
}

/** The aws:TokenIssueTime an AWSRevokeOlderSessions-like document revokes before, if it is one. */
export function revokedBefore(doc: PolicyDocument | undefined): string | undefined {
  if (!doc) return undefined;
  const statements = Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
  for (const s of statements as { Effect?: string; Condition?: { DateLessThan?: Record<string, unknown> } }[]) {
    const t = s?.Effect === 'Deny' ? s.Condition?.DateLessThan?.['aws:TokenIssueTime'] : undefined;
    if (typeof t === 'string') return t;
  }
  return undefined;
}

const policyNameOf = (arn: string): string => arn.slice(arn.lastIndexOf('/') + 1);
const shortTime = (iso: string | null | undefined): string => (iso ? iso.replace('T', ' ').replace(/(:\d{2})(\.\d+)?Z$/, '$1 UTC') : '');

// ---------------------------------------------------------------------------------------------------
// Steps: their words and their check against the live account (shared by the dry run and execute.ts)

/** The plain-language description of an action. */
export function describeAction(a: StepAction, ctx: { sessionName?: string; userId?: string; previousTime?: string } = {}): string {
  switch (a.type) {
    case 'update-access-key':
      return say(a.status === 'Inactive' ? 'steps.deactivate-key' : 'steps.activate-key', a);
    case 'delete-login-profile':
      return say('steps.delete-login-profile', a);
    case 'attach-user-policy':
      return say('steps.attach-policy', { ...a, policyName: policyNameOf(a.policyArn) });
    case 'detach-user-policy':
      return say('steps.detach-policy', { ...a, policyName: policyNameOf(a.policyArn) });
    case 'put-role-policy':
      if (a.policyName === REVOKE_OLDER_SESSIONS) return say('steps.restore-revoke-older', { ...a, time: shortTime(revokedBefore(a.document)) });
      return say('steps.deny-session', { ...a, sessionName: ctx.sessionName ?? '', userId: ctx.userId ?? '' });
    case 'revoke-older-sessions':
      return say('steps.revoke-older', a);
    case 'delete-role-policy':
      return a.policyName === REVOKE_OLDER_SESSIONS ? say('steps.unrevoke-older', a) : say('steps.allow-session', { ...a, sessionName: ctx.sessionName ?? '' });
  }
}

export interface StepCheck {
  /** The account already is as the action wants it. */
  done: boolean;
  /** What the account holds, in plain language. */
  current: string;
  /** The access key is gone (update-access-key only). */
  gone?: boolean;
}

/**
 * Reads the live account for one action: is it already so? `tokenIssueTime`: for a revoke being carried
 * out, the time it settled on (done when the role revokes sessions before that time or later).
 */
export async function checkAction(iam: IamPort, a: StepAction, opts: { tokenIssueTime?: string | undefined } = {}): Promise<StepCheck> {
  switch (a.type) {
    case 'update-access-key': {
      const key = (await iam.listAccessKeys(a.userName)).find((k) => k.accessKeyId === a.accessKeyId);
      if (!key) return { done: false, gone: true, current: say('current.key-gone') };
      return { done: key.status === a.status, current: say('current.key', { status: key.status, created: shortTime(key.createDate) }) };
    }
    case 'delete-login-profile': {
      const p = await iam.getLoginProfile(a.userName);
      return p ? { done: false, current: say('current.login-profile', { created: shortTime(p.createDate) }) } : { done: true, current: say('current.no-login-profile') };
    }
    case 'attach-user-policy':
    case 'detach-user-policy': {
      const on = (await iam.listAttachedUserPolicies(a.userName)).some((p) => p.policyArn === a.policyArn);
      return { done: a.type === 'attach-user-policy' ? on : !on, current: say(on ? 'current.attached' : 'current.not-attached') };
    }
    case 'put-role-policy': {
      const doc = await iam.getRolePolicy(a.roleName, a.policyName);
      if (!doc) return { done: false, current: say('current.policy-absent') };
      const same = isDeepStrictEqual(doc, a.document);
      return { done: same, current: say(same ? 'current.policy-present' : 'current.policy-other') };
    }
    case 'revoke-older-sessions': {
      const before = revokedBefore(await iam.getRolePolicy(a.roleName, REVOKE_OLDER_SESSIONS));
      if (!before) return { done: false, current: say('current.revoke-absent') };
      const done = opts.tokenIssueTime !== undefined && Date.parse(before) >= Date.parse(opts.tokenIssueTime);
      return { done, current: say('current.revoke-present', { time: shortTime(before) }) };
    }
    case 'delete-role-policy': {
      const doc = await iam.getRolePolicy(a.roleName, a.policyName);
      return doc ? { done: false, current: say('current.policy-present') } : { done: true, current: say('current.policy-absent') };
    }
  }
}

/** Carries out one action (each is safe to repeat). */
export async function applyAction(iam: IamPort, a: StepAction, opts: { tokenIssueTime?: string | undefined } = {}): Promise<void> {
  switch (a.type) {
    case 'update-access-key':
      return iam.updateAccessKey(a.userName, a.accessKeyId, a.status);
    case 'delete-login-profile':
      await iam.deleteLoginProfile(a.userName);
      return;
    case 'attach-user-policy':
      return iam.attachUserPolicy(a.userName, a.policyArn);
    case 'detach-user-policy':
      await iam.detachUserPolicy(a.userName, a.policyArn);
      return;
    case 'put-role-policy':
      return iam.putRolePolicy(a.roleName, a.policyName, a.document);
    case 'revoke-older-sessions':
      if (!opts.tokenIssueTime) throw new Error('revoke-older-sessions needs the aws:TokenIssueTime it settled on');
      return iam.putRolePolicy(a.roleName, REVOKE_OLDER_SESSIONS, revokeOlderDocument(opts.tokenIssueTime));
    case 'delete-role-policy':
      await iam.deleteRolePolicy(a.roleName, a.policyName);
      return;
  }
}

// ---------------------------------------------------------------------------------------------------
// Plans

export interface ProposeOptions {
  /** Role sessions: also revoke every session of the role issued before the plan is carried out. */
  revokeOlderSessions?: boolean | undefined;
  /** Reads who else used the role (role sessions); without it the plan lists nobody. */
  db?: Db | undefined;
  now?: number | undefined;
}

const isoNow = (now: number): string => new Date(now).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The exact steps, read from the live account (a dry run: only reads). Throws E_APPROVAL_REFUSED when
 * the target is trailbot itself there (before anything is read), E_IAM_NOT_FOUND when the user or role
 * is not in the account, and IamPort's other coded errors.
 */
export async function proposePlan(iam: IamPort, target: Target, opts: ProposeOptions = {}): Promise<Plan> {
  const now = opts.now ?? Date.now();
  const what = trailbotItself(target, await iam.trailbot());
  if (what) {
    throw new TrailbotError('E_APPROVAL_REFUSED', say('refusals.trailbot', { name: target.name, account: target.account, what }), {
      hint: 'nothing was changed; trailbot proposes no deactivation of its own identity',
    });
  }
  const base = { version: 1 as const, kind: 'deactivate' as const, target, account: target.account, readAt: isoNow(now), options: { revokeOlderSessions: Boolean(opts.revokeOlderSessions) && target.kind === 'role-session' } };
  return target.kind === 'iam-user' ? { ...base, ...(await userSteps(iam, target)) } : { ...base, ...(await roleSteps(iam, target, base.options.revokeOlderSessions, opts.db, now)) };
}

function notFound(what: string, account: string): never {
  throw new TrailbotError('E_IAM_NOT_FOUND', `${what} is not in account ${account}`, { hint: 'it may have been deleted or renamed since the finding; there is nothing to deactivate' });
}

async function userSteps(iam: IamPort, t: UserTarget): Promise<Pick<Plan, 'steps' | 'notes' | 'live'>> {
  const user = await iam.getUser(t.userName);
  if (!user) return notFound(`IAM user ${t.userName}`, t.account);
  const [keys, profile, attached] = await Promise.all([iam.listAccessKeys(t.userName), iam.getLoginProfile(t.userName), iam.listAttachedUserPolicies(t.userName)]);
  const steps: PlanStep[] = [];
  const notes: string[] = [];
  for (const k of keys) {
    const action: StepAction = { type: 'update-access-key', userName: t.userName, accessKeyId: k.accessKeyId, status: 'Inactive' };
    steps.push({
      id: `key-${k.accessKeyId}-inactive`,
      action,
      description: describeAction(action),
      current: say('current.key', { status: k.status, created: shortTime(k.createDate) }),
      alreadyDone: k.status === 'Inactive',
      reversible: true,
      reverse: { type: 'update-access-key', userName: t.userName, accessKeyId: k.accessKeyId, status: 'Active' },
    });
  }
  if (keys.length === 0) notes.push(say('notes.no-keys', t));
  if (profile) {
    const action: StepAction = { type: 'delete-login-profile', userName: t.userName };
    const note = say('notes.password-irreversible', t);
    steps.push({ id: 'login-profile-delete', action, description: describeAction(action), current: say('current.login-profile', { created: shortTime(profile.createDate) }), alreadyDone: false, reversible: false, reverse: null, note });
    notes.push(note);
  }
  const denyAll: StepAction = { type: 'attach-user-policy', userName: t.userName, policyArn: DENY_ALL_ARN };
  const on = attached.some((p) => p.policyArn === DENY_ALL_ARN);
  steps.push({
    id: 'deny-all-attach',
    action: denyAll,
    description: describeAction(denyAll),
    current: say(on ? 'current.attached' : 'current.not-attached'),
    alreadyDone: on,
    reversible: true,
    reverse: { type: 'detach-user-policy', userName: t.userName, policyArn: DENY_ALL_ARN },
  });
  const already = steps.filter((s) => s.alreadyDone).length;
  if (already > 0) notes.push(say('notes.already', { n: already }));
  return {
    steps,
    notes,
    live: { user: { userName: user.userName, userId: user.userId, arn: user.arn, accessKeys: keys, loginProfile: profile ? { createDate: profile.createDate } : null, attachedPolicies: attached } },
  };
}

async function roleSteps(iam: IamPort, t: RoleSessionTarget, revoke: boolean, db: Db | undefined, now: number): Promise<Pick<Plan, 'steps' | 'notes' | 'live' | 'others'>> {
  const role = await iam.getRole(t.roleName);
  if (!role) return notFound(`IAM role ${t.roleName}`, t.account);
  if (role.serviceLinked) {
    throw new TrailbotError('E_IAM_REJECTED', say('refusals.service-role', { roleName: t.roleName }), { hint: 'AWS does not allow inline policies on service-linked roles' });
  }
  const inline = await iam.listRolePolicies(t.roleName);
  const userId = `${role.roleId}:${t.sessionName}`;
  const policyName = sessionDenyName(role.roleId, t.sessionName);
  const document = sessionDenyDocument(role.roleId, t.sessionName);
  const deny: StepAction = { type: 'put-role-policy', roleName: t.roleName, policyName, document };
  const existing = inline.includes(policyName) ? await iam.getRolePolicy(t.roleName, policyName) : undefined;
  const same = existing !== undefined && isDeepStrictEqual(existing, document);
  const steps: PlanStep[] = [
    {
      id: 'session-deny',
      action: deny,
      description: describeAction(deny, { sessionName: t.sessionName, userId }),
      current: say(existing ? (same ? 'current.policy-present' : 'current.policy-other') : 'current.policy-absent'),
      alreadyDone: same,
      reversible: true,
      reverse: { type: 'delete-role-policy', roleName: t.roleName, policyName },
    },
  ];
  const others = db ? await roleUsers(db, { account: t.account, roleName: t.roleName, exceptSession: t.sessionName, now }) : undefined;
  const notes: string[] = [say('notes.session-only', t)];
  if (t.sso) notes.push(say('notes.sso', t));
  if (others) {
    const list = others.sessions.map((s) => s.email ?? s.sessionName ?? s.name ?? '?').join(', ');
    notes.push(others.sessions.length === 0 ? say('notes.others-none', { roleName: t.roleName, days: others.days }) : say('notes.others-some', { roleName: t.roleName, days: others.days, n: others.sessions.length, one: others.sessions.length === 1, list, more: others.more }));
  }
  if (revoke) {
    const previous = inline.includes(REVOKE_OLDER_SESSIONS) ? await iam.getRolePolicy(t.roleName, REVOKE_OLDER_SESSIONS) : undefined;
    const before = revokedBefore(previous);
    const action: StepAction = { type: 'revoke-older-sessions', roleName: t.roleName };
    steps.push({
      id: 'revoke-older-sessions',
      action,
      description: describeAction(action),
      current: before ? say('current.revoke-present', { time: shortTime(before) }) : say('current.revoke-absent'),
      alreadyDone: false,
      reversible: true,
      // Undo: what the role had before (an earlier revoke stays), else no revoke at all.
      reverse: previous ? { type: 'put-role-policy', roleName: t.roleName, policyName: REVOKE_OLDER_SESSIONS, document: previous } : { type: 'delete-role-policy', roleName: t.roleName, policyName: REVOKE_OLDER_SESSIONS },
    });
    notes.push(say('notes.revoke-scope', t));
  }
  return { steps, notes, others, live: { role: { roleName: role.roleName, roleId: role.roleId, arn: role.arn, path: role.path, inlinePolicies: inline } } };
}

/** A reactivation step's id from its action. */
function reverseId(a: StepAction): string {
  switch (a.type) {
    case 'update-access-key':
      return `key-${a.accessKeyId}-${a.status.toLowerCase()}`;
    case 'detach-user-policy':
      return a.policyArn === DENY_ALL_ARN ? 'deny-all-detach' : `policy-detach-${policyNameOf(a.policyArn)}`;
    case 'delete-role-policy':
      return a.policyName === REVOKE_OLDER_SESSIONS ? 'revoke-older-sessions-remove' : 'session-deny-remove';
    case 'put-role-policy':
      return a.policyName === REVOKE_OLDER_SESSIONS ? 'revoke-older-sessions-restore' : `role-policy-put-${a.policyName}`;
    default:
      return a.type;
  }
}

/**
 * The reactivation: the reverse of every step the deactivation changed (keys back to Active, the
 * denies removed), last first. Steps that already held before it are left (they were not trailbot's),
 * and what cannot come back (a deleted console password) is said in the notes. Pure: call
 * `checkPlan` to read the live account for it.
 */
export function reversePlan(plan: Plan, results: readonly StepOutcome[], opts: { approvalId?: string; now?: number } = {}): Plan {
  const byId = new Map(results.map((r) => [r.id, r]));
  const steps: PlanStep[] = [];
  const notes: string[] = [];
  const ctx = plan.target.kind === 'role-session' ? { sessionName: plan.target.sessionName } : {};
  for (const s of [...plan.steps].reverse()) {
    const r = byId.get(s.id);
    if (r?.state !== 'done') {
      if (s.reversible) notes.push(say('notes.not-reversed', { description: s.description }));
      continue;
    }
    if (!s.reversible || !s.reverse) {
      if (s.action.type === 'delete-login-profile') notes.push(say('notes.password-gone', { userName: s.action.userName, at: shortTime(r.finishedAt) }));
      else if (s.note) notes.push(s.note);
      continue;
    }
    if (r.outcome === 'already') {
      notes.push(say('notes.kept-already', { description: s.description }));
      continue;
    }
    steps.push({ id: reverseId(s.reverse), action: s.reverse, description: describeAction(s.reverse, ctx), current: '', alreadyDone: false, reversible: true, reverse: s.action });
  }
  return {
    version: 1,
    kind: 'reactivate',
    target: plan.target,
    account: plan.account,
    readAt: isoNow(opts.now ?? Date.now()),
    options: plan.options,
    steps,
    notes,
    live: {},
    reverses: opts.approvalId,
  };
}

/** The plan with each step's `current` and `alreadyDone` read again from the live account (a dry run). */
export async function checkPlan(iam: IamPort, plan: Plan, opts: { now?: number } = {}): Promise<Plan> {
  const steps: PlanStep[] = [];
  for (const s of plan.steps) {
    const c = await checkAction(iam, s.action);
    steps.push({ ...s, current: c.current, alreadyDone: c.done });
  }
  return { ...plan, steps, readAt: isoNow(opts.now ?? Date.now()) };
}
