import { z } from 'zod';
import type { TrailbotError } from '../../errors.ts';
import { parseDuration } from '../../time.ts';

/**
 * Who may approve a deactivation (`approvals:` in trailbot.config.yaml), read once with the rest of
 * the configuration, and the rules a decision goes through: a configured approver (by e-mail, or by
 * a group the identity provider puts in the id token), never the target themselves, and with
 * `required: 2` a second approver other than the first. Pure functions: the pages call them.
 */

const email = z
  .string({ error: 'expected an e-mail address, e.g. alana@corp.example' })
  .trim()
  .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'expected an e-mail address, e.g. alana@corp.example')
  .transform((s) => s.toLowerCase());

/** `72h` by default; from a minute to 30 days. */
const DEFAULT_LINK_TTL = '72h';
const LINK_TTL_MIN_MS = 60_000;
const LINK_TTL_MAX_MS = 30 * 86_400_000;

const linkTtl = z.string({ error: 'expected a duration, e.g. 72h' }).superRefine((s, ctx) => {
  try {
    parseDuration(s, { name: 'linkTtl', min: LINK_TTL_MIN_MS, max: LINK_TTL_MAX_MS });
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `${(e as TrailbotError).message} (${(e as TrailbotError).hint})` });
  }
});

export const approvalsSectionSchema = z
  .strictObject(
    {
      /** The e-mails (as the identity provider's id token says them) of who may approve. */
      approvers: z.array(email, { error: 'expected a list of e-mail addresses, e.g. [alana@corp.example]' }).default([]),
      /** Groups whose members may approve, as the id token's `groupsClaim` lists them. */
      groups: z.array(z.string({ error: 'expected a group name' }).trim().min(1, 'expected a group name'), { error: 'expected a list of group names, e.g. [security-oncall]' }).default([]),
      /** The id token claim that carries the groups (default `groups`). */
      groupsClaim: z.string({ error: 'expected the name of an id token claim, e.g. groups' }).trim().min(1, 'expected the name of an id token claim, e.g. groups').default('groups'),
      /** How many different people approve before trailbot acts: 1, or 2 (the two-person rule). */
      required: z.union([z.literal(1), z.literal(2)], { error: 'expected 1, or 2 for the two-person rule' }).default(1),
      /** How long a link works (72h by default; 1m–30d). */
      linkTtl: linkTtl.default(DEFAULT_LINK_TTL),
      /** After the plan ran, the ticket moves to this status (a transition whose target has this name); none: it stays. */
      jiraStatus: z.string({ error: 'expected a Jira status name, e.g. In Progress' }).trim().min(1, 'expected a Jira status name, e.g. In Progress').max(255).optional(),
    },
    { error: 'expected approvals: { approvers: [e-mails], groups: [names], groupsClaim: groups, required: 1, linkTtl: 72h, jiraStatus: "In Progress" }' },
  )
  .superRefine((a, ctx) => {
    if (a.required === 2 && a.groups.length === 0 && new Set(a.approvers).size < 2) {
      ctx.addIssue({ code: 'custom', path: ['required'], message: 'the two-person rule (required: 2) needs at least two approvers, or a group; add another e-mail under approvals.approvers or a group under approvals.groups' });
    }
  });

export type ApprovalsSection = z.output<typeof approvalsSectionSchema>;

/** The approvals settings as the rest of trailbot uses them. */
export interface ApprovalSettings {
  approvers: string[];
  groups: string[];
  groupsClaim: string;
  required: 1 | 2;
  linkTtlMs: number;
  jiraStatus: string | undefined;
}

/** The settings from the parsed section (none: nobody may approve, links last 72 h). */
export function approvalSettings(section: ApprovalsSection | undefined): ApprovalSettings {
  const s = section ?? approvalsSectionSchema.parse({});
  return {
    approvers: [...new Set(s.approvers)],
    groups: s.groups,
    groupsClaim: s.groupsClaim,
    required: s.required,
    linkTtlMs: parseDuration(s.linkTtl, { name: 'linkTtl', min: LINK_TTL_MIN_MS, max: LINK_TTL_MAX_MS }),
    jiraStatus: s.jiraStatus,
  };
}

/** A signed-in person, as the session holds them (from the id token). */
export interface Approver {
  email: string;
  name?: string | undefined;
  groups: string[];
}

/** Why someone may not make a decision (shown on the page; the audit log keeps it). */
export type Refusal = { reason: 'not-an-approver' | 'self' | 'already-approved' | 'no-approvers'; message: string };

/** Whether `who` is a configured approver: their e-mail is listed, or one of their groups is. */
export function isApprover(who: Pick<Approver, 'email' | 'groups'>, s: Pick<ApprovalSettings, 'approvers' | 'groups'>): boolean {
  const email = who.email.toLowerCase();
  if (s.approvers.includes(email)) return true;
  const groups = new Set(who.groups.map((g) => g.toLowerCase()));
  return s.groups.some((g) => groups.has(g.toLowerCase()));
}

/** The names a target goes by that could be an approver's: its user or session name, its e-mail. */
export interface TargetNames {
  /** IAM user name, or the role session's name (for SSO, usually the person's e-mail). */
  name?: string | null | undefined;
  /** The person's e-mail when the finding knows it. */
  email?: string | null | undefined;
}

/** The forms a name or e-mail is compared in: itself, and for an e-mail its local part, with and without a `+tag`. */
function selfForms(s: string): string[] {
  const x = s.trim().toLowerCase();
  const at = x.lastIndexOf('@');
  if (at < 0) return [x];
  const local = x.slice(0, at);
  return [x, local, local.replace(/\+.*$/, '')].filter((f) => f !== '');
}

/**
 * Whether the approver is the target: their e-mail is the target's e-mail, user name or session name,
 * or the local parts match (`alana@corp.example` and the IAM user `alana`, or the Identity Center
 * session `alana@corp.com` of another domain), `+tags` aside. Refusing on a mere name match is the
 * safe side: another approver decides.
 */
export function isSelf(approverEmail: string, t: TargetNames): boolean {
  const mine = new Set(selfForms(approverEmail));
  const names = [t.name, t.email].filter((x): x is string => typeof x === 'string' && x.trim() !== '');
  return names.some((n) => selfForms(n).some((f) => mine.has(f)));
}

/**
 * Whether `who` may approve now, or why not: a configured approver, not the target, not one who
 * already approved this (the two-person rule needs a second person).
 */
export function mayApprove(who: Approver, target: TargetNames, already: readonly string[], s: ApprovalSettings): Refusal | undefined {
  if (s.approvers.length === 0 && s.groups.length === 0) {
    return { reason: 'no-approvers', message: 'nobody may approve yet: list the approvers under approvals.approvers (or approvals.groups) in trailbot.config.yaml' };
  }
  if (!isApprover(who, s)) return { reason: 'not-an-approver', message: `${who.email} is not among the approvers (approvals.approvers and approvals.groups in trailbot.config.yaml)` };
  if (isSelf(who.email, target)) return { reason: 'self', message: `${who.email} is the person this would deactivate: nobody approves their own deactivation` };
  if (already.map((e) => e.toLowerCase()).includes(who.email.toLowerCase())) {
    return { reason: 'already-approved', message: `${who.email} has approved this already; the two-person rule needs a second approver` };
  }
  return undefined;
}

/** What approvals will do with these settings, for `trailbot config check`: off, or what is missing, or who may approve. */
export function describeApprovals(c: { approvalSecret: string | undefined; oidc: { issuer: string } | undefined; approvals: ApprovalSettings }): string {
  if (!c.approvalSecret) return 'off (no links in tickets or alerts: set APPROVAL_SECRET on the web role and the workers)';
  const hours = Math.round(c.approvals.linkTtlMs / 3600_000);
  const links = `links work ${hours >= 1 ? `${hours} h` : `${Math.round(c.approvals.linkTtlMs / 60_000)} min`}`;
  if (!c.oidc) return `${links}; approving is refused until sign-in is set: OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET`;
  const { approvers, groups, required, jiraStatus } = c.approvals;
  if (approvers.length === 0 && groups.length === 0) return `${links}, sign-in at ${c.oidc.issuer}; nobody may approve yet: list approvals.approvers (or approvals.groups) in trailbot.config.yaml`;
  const who = [approvers.length ? `${approvers.length} approver${approvers.length === 1 ? '' : 's'}` : '', groups.length ? `members of ${groups.join(', ')} (claim ${c.approvals.groupsClaim})` : ''].filter(Boolean).join(' and ');
  return `${links}, sign-in at ${c.oidc.issuer}; ${who} may approve${required === 2 ? ', two of them each time (two-person rule)' : ''}${jiraStatus ? `; tickets then move to ${jiraStatus}` : ''}`;
}
