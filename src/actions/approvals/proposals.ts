import { createHash } from 'node:crypto';
import type Handlebars from 'handlebars';
import { parse } from 'yaml';
import { describeError, TrailbotError } from '../../errors.ts';
import type { IamAccess } from '../../integrations/aws/iam-access.ts';
import type { Db } from '../../store/index.ts';
import { compileText, readTemplate, textEnv } from '../../templates/index.ts';
import { getExecution, getPlan } from './execute.ts';
import { checkPlan, type Plan, proposePlan, reversePlan, type Target, targetOfFinding } from './plan.ts';
import type { ApprovalSettings } from './rules.ts';
import { type Approval, getApproval, notePlanRead, proposeDeactivation } from './store.ts';
import { type LinkAction, linkUrl, signLink } from './tokens.ts';

/**
 * Proposals: the links a finding about a person gets (in its Jira ticket and its Slack alert), the
 * plan each page shows (read from the live account by a worker: the web role holds no AWS
 * credentials), and what makes two reads of it "the same plan" for an approver.
 */

interface PeopleWords {
  links: Record<'review' | 'dismiss' | 'reactivate' | 'page', string>;
  told: Record<string, string>;
  kinds: Record<'deactivate' | 'reactivate', string>;
}
const words = parse(readTemplate('approvals/people.yaml')) as PeopleWords;
const env = textEnv();
const compiled = new Map<string, Handlebars.TemplateDelegate>();

/** `word('links.review', {who})`: a phrase from src/templates/approvals/people.yaml. */
export function word(path: string, data: object = {}): string {
  let t = compiled.get(path);
  if (!t) {
    const [group, key] = path.split('.') as [keyof PeopleWords, string];
    const source = (words[group] as Record<string, string> | undefined)?.[key];
    if (source === undefined) throw new Error(`no words for ${path} in src/templates/approvals/people.yaml`);
    t = compileText(env, source);
    compiled.set(path, t);
  }
  return t(data);
}

/** The principal a target's links are bound to: its ARN as the events wrote it, else the one it must have. */
export function principalOf(t: Target): string {
  if (t.arn) return t.arn;
  return t.kind === 'iam-user' ? `arn:aws:iam::${t.account}:user/${t.userName}` : `arn:aws:sts::${t.account}:assumed-role/${t.roleName}/${t.sessionName}`;
}

/** What a page shows and an approver approves: the plan, and for a role session the same plan with older sessions revoked. */
export interface PlanRead {
  base: Plan;
  /** Role sessions: the plan when the approver ticks "revoke older sessions". */
  revoke?: Plan | undefined;
}

/**
 * A digest of what a plan would change: its kind, account and each step's id, action and whether it
 * already holds. Two reads of an unchanged account give the same digest (their times differ); an
 * approval is refused when the plan changed between the page and the decision.
 */
export function planDigest(p: Plan | PlanRead | undefined): string {
  if (!p) return '';
  const plans = 'base' in p ? [p.base, p.revoke] : [p];
  const what = plans.map((x) => (x ? { kind: x.kind, account: x.account, steps: x.steps.map((s) => ({ id: s.id, action: s.action, alreadyDone: s.alreadyDone })) } : null));
  return createHash('sha256').update(JSON.stringify(what)).digest('base64url').slice(0, 32);
}

/**
 * Reads the plan of an approval from the live account (a dry run: only reads). A deactivation: the
 * steps for its target (and the revoke variant for a role session). A reactivation: the reverse of
 * what the deactivation did, checked against the account.
 */
export async function readPlan(db: Db, access: IamAccess, a: Approval): Promise<PlanRead> {
  if (a.kind === 'reactivate') {
    const of = a.reverses ? await getApproval(db, a.reverses) : undefined;
    const plan = of ? await getPlan(db, of.id) : undefined;
    const run = of ? await getExecution(db, of.id) : undefined;
    if (!of || !plan || !run) throw new TrailbotError('E_USAGE', `approval ${a.id} reactivates a deactivation that was not carried out`, { hint: 'nothing to reverse' });
    const reverse = reversePlan(plan, run.steps, { approvalId: of.id });
    return { base: await checkPlan(await access.forAccount(reverse.account), reverse) };
  }
  const t = a.target as Target;
  const iam = await access.forAccount(t.account);
  const base = await proposePlan(iam, t, { db });
  const revoke = t.kind === 'role-session' ? await proposePlan(iam, t, { db, revokeOlderSessions: true }) : undefined;
  return { base, revoke };
}

/** The `read-plan` task of an `approval` job: the plan read and kept for the page, or why it could not be. */
export async function readPlanJob(db: Db, access: IamAccess, approvalId: string): Promise<Record<string, unknown>> {
  const a = await getApproval(db, approvalId);
  if (!a) throw new TrailbotError('E_INPUT_SHAPE', `there is no approval ${approvalId}`);
  try {
    const read = await readPlan(db, access, a);
    await notePlanRead(db, a.id, { plan: read });
    return { approvalId, steps: read.base.steps.length, digest: planDigest(read) };
  } catch (e) {
    // The page says why (the person is looking at it); the next view reads again.
    await notePlanRead(db, a.id, { error: describeError(e) });
    return { approvalId, error: describeError(e) };
  }
}

/** A link token of an approval. */
export function tokenFor(secret: string, a: Pick<Approval, 'id' | 'findingId' | 'principal' | 'expiresAt'>, action: LinkAction): string {
  return signLink(secret, { approval: a.id, finding: a.findingId, action, principal: a.principal, expiresAt: Date.parse(a.expiresAt) });
}

export function linkFor(secret: string, publicUrl: string, a: Pick<Approval, 'id' | 'findingId' | 'principal' | 'expiresAt'>, action: LinkAction): string {
  return linkUrl(publicUrl, tokenFor(secret, a, action));
}

export interface LinkOptions {
  /** APPROVAL_SECRET; without it there are no links. */
  secret: string | undefined;
  publicUrl: string;
  settings: Pick<ApprovalSettings, 'required' | 'linkTtlMs'>;
  /** The role names trailbot assumes in an account (trailbotRoleNames): a finding about one of their sessions gets no links. */
  trailbotRoles?: ((account: string) => string[]) | undefined;
}

export interface ApprovalLink {
  text: string;
  url: string;
}

/**
 * The links of a finding about a person (an IAM user or a role session): "Review deactivation of
 * <who>" and "Dismiss", its proposal made (once) on the way. None without APPROVAL_SECRET, or when the
 * finding is about root, an AWS service, trailbot itself or anyone trailbot cannot deactivate.
 */
export async function approvalLinks(db: Db, findingId: string, o: LinkOptions): Promise<ApprovalLink[]> {
  if (!o.secret) return [];
  const t = await targetOfFinding(db, findingId, { trailbotRoles: o.trailbotRoles });
  if (!t || t.kind === 'refused') return [];
  const a = await proposeDeactivation(db, { findingId, target: t, principal: principalOf(t), required: o.settings.required, ttlMs: o.settings.linkTtlMs });
  return [
    { text: word('links.review', { who: t.name }), url: linkFor(o.secret, o.publicUrl, a, 'deactivate') },
    { text: word('links.dismiss'), url: linkFor(o.secret, o.publicUrl, a, 'dismiss') },
  ];
}
