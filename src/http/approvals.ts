import { setTimeout as sleep } from 'node:timers/promises';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { getExecution, queueRemediation } from '../actions/approvals/execute.ts';
import type { Plan, Target } from '../actions/approvals/plan.ts';
import { linkFor, planDigest, type PlanRead } from '../actions/approvals/proposals.ts';
import { type ApprovalSettings, mayApprove, type Refusal } from '../actions/approvals/rules.ts';
import { type Approval, audit, auditAnonymous, type AuditEntry, getApproval, proposeReactivationAgain, reactivationOf, recordApproval, recordDismissal } from '../actions/approvals/store.ts';
import { checkLink, type LinkAction, samePrincipal } from '../actions/approvals/tokens.ts';
import { currentTicket } from '../actions/jira/tickets.ts';
import { describeError } from '../errors.ts';
import { getFinding } from '../flows/index.ts';
import { enqueue } from '../runtime/enqueue.ts';
import type { Logger } from '../runtime/logger.ts';
import type { JobQueue } from '../runtime/queue.ts';
import type { Db } from '../store/index.ts';
import { clientOf, type PageFrame, sameSitePost, sendNotice, sendPage } from './pages.ts';
import { csrfOk, csrfToken, type Session, type SignIn, signInUrl } from './signin.ts';

/**
 * The approval pages, `PUBLIC_URL/approvals/<token>` (outside /api: people open them from a ticket or
 * a Slack alert, signed in with the company's provider, not with a bearer token):
 *
 * - GET shows the finding in plain language, the target, who else uses its role, and the exact plan as
 *   a dry run read from the live account (by a worker's `approval` read-plan job: the web role holds no
 *   AWS credentials), then one form whose button says Approve and a separate Dismiss form, each with a
 *   CSRF token bound to the session. A GET never decides anything, so link unfurlers and mail scanners
 *   that open links cannot act. After a decision it shows what was done, step by step, and the
 *   Reactivate link.
 * - POST decides: the link checked (signature, expiry, the approval, finding, action and principal it
 *   names), a same-site form, a signed-in approver, the CSRF token, the rules (an approver, not the
 *   target, a second person for the two-person rule), the plan still the one shown; then the decision
 *   is recorded under a row lock (the link works once) and the remediate job queued.
 * - On a carried-out deactivation's page, a signed-in approver may propose its reactivation again
 *   (`decision=reactivate-again`, same checks) when the last one expired or was dismissed: fresh links,
 *   never two live ones. A decided approval's page stays readable to a signed-in person after its link
 *   expired (for this); deciding never does.
 *
 * Every view, decision and refusal goes to the audit log with who, when and from where; those of
 * someone not signed in are coalesced (one row per address and reason a minute, with a count).
 */

export interface ApprovalPagesOptions {
  db: Db;
  queue: JobQueue;
  log: Logger;
  /** APPROVAL_SECRET; without it every link is refused. */
  secret: string | undefined;
  publicUrl: string;
  settings: ApprovalSettings;
  signIn: SignIn;
  /** How long a page waits for its plan to be read (default 4 s; then it shows what it has and reloads). */
  planWaitMs?: number;
  /** A plan read this recently is shown as it is (default 60 s). */
  planFreshMs?: number;
}

/** `expired`: the link is out of time, but names a decided approval a signed-in person may still look at. */
type Checked = { approval: Approval; action: LinkAction; token: string; expired?: boolean };
type Bad = { status: ContentfulStatusCode; headline: string; lines: string[]; reason: string; approvalId?: string; findingId?: string; signIn?: boolean };

const KINDS: Record<Target['kind'], string> = { 'iam-user': 'IAM user', 'role-session': 'role session' };
const fmt = (iso: string | null | undefined): string => (iso ? iso.replace('T', ' ').replace(/(\.\d+)?Z$/, '') : '');
/** Which links go with which proposals: a deactivation's review and dismiss links, a reactivation's own (and its dismiss). */
const fits = (action: LinkAction, a: Approval): boolean => (action === 'dismiss' ? true : action === 'deactivate' ? a.kind === 'deactivate' : a.kind === 'reactivate');

export function createApprovalPages(o: ApprovalPagesOptions): Hono {
  const { db, log, signIn } = o;
  const waitMs = o.planWaitMs ?? 4000;
  const freshMs = o.planFreshMs ?? 60_000;
  const app = new Hono();

  const frame = (title: string, session: Session | undefined, path: string, refreshSeconds?: number): PageFrame => ({
    title,
    session,
    here: path,
    signInUrl: signIn.configured && !session ? signInUrl(path) : undefined,
    refreshSeconds,
  });

  const note = (e: unknown) => log.error({ err: e }, `could not write the audit log: ${describeError(e)}`);
  /** An audit entry: as it is for a signed-in person; coalesced (one row a minute per address and `key`, counted) for anyone else. */
  const record = (e: AuditEntry, key: string): Promise<unknown> => (e.actor ? audit(db, e) : auditAnonymous(db, { ...e, reason: key })).catch(note);

  /** The link's token checked against the approval it names; what to answer when it is not good. */
  async function check(c: Context, token: string, session: Session | undefined): Promise<Checked | Bad> {
    if (!o.secret) return { status: 404, headline: 'Approval links are not set up on this trailbot.', lines: ['Set APPROVAL_SECRET (32+ random characters) on the web role and the workers.'], reason: 'no-secret' };
    const k = checkLink(o.secret, token);
    if (!k.ok && k.reason !== 'expired') {
      return { status: 400, headline: 'This link is not valid.', lines: ['It was changed, cut short or not made by this trailbot. Open the link from the ticket or the Slack alert again.'], reason: k.reason };
    }
    const claims = k.ok ? k.claims : k.claims;
    const a = await getApproval(db, claims.approval);
    if (!a || a.findingId !== claims.finding || !samePrincipal(claims.principalDigest, a.principal) || !fits(claims.action, a)) {
      return { status: 404, headline: 'This link does not belong to this finding.', lines: ['It names a proposal of another finding, or one that no longer exists. Open the link from the finding\'s own ticket.'], reason: 'wrong-finding', approvalId: a?.id, findingId: claims.finding };
    }
    if (!k.ok || Date.parse(a.expiresAt) <= Date.now()) {
      // What became of a decided approval stays readable to someone signed in (and its reactivation can be proposed again from it).
      if (a.state !== 'proposed' && session) return { approval: a, action: claims.action, token, expired: true };
      const decided = a.state !== 'proposed';
      const lines = decided ? ['Links work for a limited time (approvals.linkTtl). Sign in to see what became of it.'] : ['Links work for a limited time (approvals.linkTtl). Nothing was changed; the finding stays as it is.'];
      return { status: 410, headline: `This link expired on ${fmt(a.expiresAt)} UTC.`, lines, reason: 'expired', approvalId: a.id, findingId: a.findingId, signIn: decided };
    }
    void c;
    return { approval: a, action: claims.action, token };
  }

  async function refuseLink(c: Context, bad: Bad, session: Session | undefined, method: string): Promise<Response> {
    await record({ action: 'refused', actor: session?.email ?? null, ...clientOf(c), approvalId: bad.approvalId ?? null, findingId: bad.findingId ?? null, outcome: 'refused', detail: { reason: bad.reason, method } }, `${bad.reason} ${method}${bad.approvalId ? ` ${bad.approvalId}` : ''}`);
    return sendNotice(c, bad.status, frame('Approval link refused', session, c.req.path), { headline: bad.headline, lines: bad.lines, code: 'E_APPROVAL_LINK', signInUrl: bad.signIn && !session && signIn.configured ? signInUrl(c.req.path) : undefined });
  }

  /** Asks a worker to read the plan and waits a little for it (the page reloads itself if it takes longer). */
  async function freshPlan(a: Approval): Promise<Approval> {
    if (a.planReadAt && Date.now() - Date.parse(a.planReadAt) < freshMs) return a;
    try {
      await enqueue(o.queue, 'approval', { approvalId: a.id, task: 'read-plan' });
    } catch (e) {
      log.warn({ err: e, approvalId: a.id }, `could not queue the plan read of approval ${a.id}: ${describeError(e)}`);
      return a;
    }
    const until = Date.now() + waitMs;
    let now = a;
    while (Date.now() < until) {
      await sleep(100);
      now = (await getApproval(db, a.id)) ?? now;
      if (now.planReadAt !== a.planReadAt || now.planErrorAt !== a.planErrorAt) return now;
    }
    return now;
  }

  /** The page of an approval in any state, with the forms when `decide` is given. */
  async function page(c: Context, ch: Checked, session: Session | undefined, status: ContentfulStatusCode = 200, banner?: { kind: string; headline: string; lines: string[] }): Promise<Response> {
    let a = ch.approval;
    const t = a.target as Target;
    const path = `/approvals/${ch.token}`;
    const f = await getFinding(db, a.findingId);
    const ticket = f ? await currentTicket(db, a.findingId) : undefined;
    const open = a.state === 'proposed';
    // The plan is read only for a proposal someone can still approve (not on a Dismiss link's page).
    if (open && ch.action !== 'dismiss' && a.approvedBy.length === 0) a = await freshPlan(a);
    const read = a.planRead as PlanRead | null;
    const shown: Plan | undefined = a.plan ? (a.plan as Plan) : open && ch.action !== 'dismiss' ? read?.base : undefined;
    const revokeStep = !a.plan && read?.revoke ? read.revoke.steps.find((s) => s.action.type === 'revoke-older-sessions') : undefined;
    const run = a.state === 'proposed' ? undefined : await getExecution(db, a.id);
    const again = a.kind === 'deactivate' && o.secret ? await reactivationOf(db, a.id) : undefined;
    const others = shown?.others ?? read?.base.others;
    const csrf = session && o.secret ? csrfToken(o.secret, session.sid, a.id) : '';
    const who = t.name;
    const rule = o.settings.required === 2 ? 'Two different approvers are needed (approvals.required: 2).' : '';
    // The reactivation: its link while it works; once it expired or was dismissed, a form to propose it again.
    const againLive = again !== undefined && again.state === 'proposed' && Date.parse(again.expiresAt) > Date.now();
    const lapsed = again && (again.state === 'dismissed' || (again.state === 'proposed' && !againLive)) ? again : undefined;
    const undoable = a.kind === 'deactivate' && (a.state === 'done' || a.state === 'partial') && Boolean(run?.steps.some((s) => s.state === 'done' && s.outcome === 'changed' && s.reversible));
    const offerAgain = undoable && (!again || lapsed !== undefined) && ch.action === 'deactivate';
    const reactivate =
      o.secret && (again || offerAgain)
        ? {
            url: again && !lapsed ? linkFor(o.secret, o.publicUrl, again, 'reactivate') : null,
            text: `Reactivate ${who}`,
            notes: run && a.plan ? reactivationNotes(a.plan as Plan) : [],
            lapsed: lapsed
              ? lapsed.state === 'dismissed'
                ? `The reactivation of ${who} was dismissed by ${lapsed.decidedBy ?? 'someone'} on ${fmt(lapsed.decidedAt)} UTC; nothing was undone.`
                : `The reactivation link expired on ${fmt(lapsed.expiresAt)} UTC; nothing was undone.`
              : !again
                ? `No reactivation is proposed for ${who}.`
                : null,
            again: offerAgain && session ? { action: path, csrf: csrfToken(o.secret, session.sid, `${a.id}:reactivate-again`), button: `Propose the reactivation of ${who} again` } : null,
            signInUrl: offerAgain && !session && signIn.configured ? signInUrl(path) : undefined,
          }
        : null;

    const data: Record<string, unknown> = {
      status: banner ?? statusOf(a, run?.state),
      finding: f
        ? { title: f.title, summary: f.summary, severity: f.severity, flow: f.flow, count: f.count, one: f.count === 1, firstSeen: fmt(f.firstSeen), lastSeen: fmt(f.lastSeen), ticket: ticket?.key ?? null }
        : null,
      target: { name: who, kind: `${KINDS[t.kind]}${t.kind === 'role-session' && t.sso ? ', IAM Identity Center' : ''}`, account: t.account, principal: a.principal, roleName: t.kind === 'role-session' ? t.roleName : null, sessionName: t.kind === 'role-session' ? t.sessionName : null, sso: t.kind === 'role-session' && t.sso },
      others: others ? { roleName: others.roleName, days: others.days, more: others.more, sessions: others.sessions.map((s) => ({ label: s.email ?? s.sessionName ?? s.name ?? '?', lastSeen: fmt(s.lastSeen), events: s.events, one: s.events === 1 })) } : null,
      plan: shown
        ? {
            heading: a.plan ? (a.state === 'proposed' ? 'The plan, as approved so far' : 'The plan approved') : a.kind === 'reactivate' ? 'What would be undone' : 'What would change',
            readAt: fmt(shown.readAt),
            // Only a plan not carried out yet is a dry run of which nothing has been changed.
            dryRun: a.state === 'proposed',
            steps: shown.steps,
            noSteps: shown.steps.length === 0,
            notes: shown.notes,
          }
        : null,
      reading: open && ch.action !== 'dismiss' && !shown && !a.planError,
      // A refusal (the target is trailbot itself) is said as one, not as a read that may work next time.
      planError: open && !shown && a.planError && !a.planError.startsWith('E_APPROVAL_REFUSED: ') ? a.planError : null,
      planRefused: open && !shown && a.planError?.startsWith('E_APPROVAL_REFUSED: ') ? a.planError.slice('E_APPROVAL_REFUSED: '.length).replace(/ — .*$/, '') : null,
      results: run
        ? {
            state: run.state,
            at: fmt(run.finishedAt ?? run.startedAt),
            runs: run.runs,
            oneRun: run.runs === 1,
            steps: run.steps.map((s) => ({ state: s.state, line: s.line, hint: s.error?.hint ?? null })),
            warnings: run.warnings,
          }
        : null,
      reactivate,
      expires: fmt(a.expiresAt),
      decide: open
        ? {
            action: path,
            session: Boolean(session),
            signInUrl: signIn.configured ? signInUrl(path) : undefined,
            oidcMissing: signIn.configured ? null : signIn.missing,
            csrf,
            digest: planDigest(a.plan ? (a.plan as Plan) : (read ?? undefined)),
            approve: ch.action !== 'dismiss' && shown ? `Approve ${a.kind === 'reactivate' ? 'reactivation' : 'deactivation'} of ${who}` : null,
            revoke: revokeStep && t.kind === 'role-session' ? revokeStep.description : null,
            dismiss: 'Dismiss',
            review: ch.action === 'dismiss' && a.kind === 'deactivate' && o.secret ? linkFor(o.secret, '', a, 'deactivate') : null,
            waiting: a.approvedBy.length > 0 ? `Approved by ${a.approvedBy.map((m) => m.email).join(', ')}; waiting for ${a.required - a.approvedBy.length} more approver${a.required - a.approvedBy.length === 1 ? '' : 's'}.` : null,
            rule,
          }
        : null,
    };
    const title = ch.action === 'dismiss' ? `Dismiss the ${a.kind === 'reactivate' ? 'reactivation' : 'deactivation'} of ${who}?` : a.kind === 'reactivate' ? `Reactivate ${who}?` : `Deactivate ${who}?`;
    const working = a.state === 'approved' || (data.reading as boolean);
    return sendPage(c, status, 'approval', frame(title, session, path, working ? 3 : undefined), data);
  }

  app.get('/:token', async (c) => {
    const session = await signIn.session(c);
    const ch = await check(c, c.req.param('token'), session);
    if ('status' in ch) return refuseLink(c, ch, session, 'GET');
    const a = ch.approval;
    await record({ action: 'viewed', actor: session?.email ?? null, ...clientOf(c), approvalId: a.id, findingId: a.findingId, target: a.principal, outcome: 'ok', detail: { link: ch.action, state: a.state, ...(ch.expired ? { expired: true } : {}) } }, `${ch.action} ${a.id}`);
    // An approval whose remediate job could not be queued (the queue was down when it was decided) is queued now: deciding is done, this only carries it out.
    if (a.state === 'approved' && a.plan && !(await getExecution(db, a.id))) {
      await queueRemediation({ enqueue: (k, i, opts) => enqueue(o.queue, k, i, opts) }, db, a.id, a.plan as Plan).catch((e: unknown) => log.warn({ err: e }, describeError(e)));
    }
    return page(c, ch, session);
  });

  // A decision is a few short fields: anything bigger is not one of these forms.
  const small = bodyLimit({ maxSize: 16 * 1024, onError: async (c) => sendNotice(c, 413, frame('Refused', await signIn.session(c), c.req.path), { headline: 'This is not a form of the approval page; nothing was done.', code: 'E_TOO_LARGE' }) });

  app.post('/:token', small, async (c) => {
    const session = await signIn.session(c);
    const who = clientOf(c);
    const ch = await check(c, c.req.param('token'), session);
    if ('status' in ch) return refuseLink(c, ch, session, 'POST');
    const a = ch.approval;
    const path = `/approvals/${ch.token}`;
    const refuse = async (status: ContentfulStatusCode, reason: string, headline: string, lines: string[], code = 'E_APPROVAL_REFUSED'): Promise<Response> => {
      await record({ action: 'refused', actor: session?.email ?? null, ...who, approvalId: a.id, findingId: a.findingId, target: a.principal, outcome: 'refused', detail: { reason, link: ch.action } }, `${reason} POST ${a.id}`);
      return sendNotice(c, status, frame('Not done', session, path), { headline, lines, code, back: path, signInUrl: !session && signIn.configured ? signInUrl(path) : undefined });
    };
    if (!sameSitePost(c, o.publicUrl)) return refuse(403, 'cross-site', 'A page of another site sent this; nothing was done.', ['Decide from the approval page itself.']);
    if (!signIn.configured) return refuse(403, 'no-oidc', 'Approving needs sign-in, which is not set up on this trailbot; nothing was done.', [`To let approvers decide, ${signIn.missing}.`]);
    if (!session) return refuse(401, 'no-session', 'Sign in first; nothing was done.', ['Deciding needs to know who you are: sign in with your company account, then decide on the page.']);
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const t = a.target as Target;
    const names = { name: t.kind === 'iam-user' ? t.userName : t.sessionName, email: t.email };
    const decider = { email: session.email, ip: who.ip, userAgent: who.userAgent };
    if (form.decision === 'reactivate-again') {
      if (a.kind !== 'deactivate' || ch.action !== 'deactivate') return refuse(400, 'bad-decision', 'Only the page of a carried-out deactivation proposes its reactivation again; nothing was done.', []);
      if (!csrfOk(o.secret!, session.sid, `${a.id}:reactivate-again`, form.csrf)) return refuse(403, 'csrf', 'This form is out of date or was not sent from the approval page; nothing was done.', ['Open the approval page again (it makes a fresh form for your session) and use it there.']);
      const run = await getExecution(db, a.id);
      if (!run?.steps.some((s) => s.state === 'done' && s.outcome === 'changed' && s.reversible)) return refuse(409, 'not-reversible', `Nothing this deactivation changed can be undone; nothing was done.`, []);
      // The approver rules, as for approving the reactivation itself: an approver, not the person it is about.
      const r = await proposeReactivationAgain(db, a.id, decider, { required: o.settings.required, ttlMs: o.settings.linkTtlMs }, () => mayApprove({ email: session.email, groups: session.groups }, names, [], o.settings));
      if ('refused' in r) return refuse(r.refused.reason === 'live' || r.refused.reason === 'decided' || r.refused.reason === 'not-reversible' ? 409 : 403, r.refused.reason, `${r.refused.message}. Nothing was done.`, []);
      return c.redirect(path, 303);
    }
    if (ch.expired) return refuse(410, 'expired', `This link expired on ${fmt(a.expiresAt)} UTC; nothing was done.`, ['Links work for a limited time (approvals.linkTtl).'], 'E_APPROVAL_LINK');
    if (!csrfOk(o.secret!, session.sid, a.id, form.csrf)) return refuse(403, 'csrf', 'This form is out of date or was not sent from the approval page; nothing was done.', ['Open the approval page again (it makes a fresh form for your session) and decide there.']);
    const decision = form.decision === 'dismiss' ? 'dismiss' : form.decision === 'approve' ? 'approve' : undefined;
    if (!decision || (decision === 'approve' && ch.action === 'dismiss')) return refuse(400, 'bad-decision', 'This link dismisses; it cannot approve. Nothing was done.', ['Use the review link to approve.']);
    // Under the row lock: an approver, not the target; approving, not one who approved it already.
    const rule = (approving: boolean) => (x: Approval): Refusal | undefined => mayApprove({ email: session.email, groups: session.groups }, names, approving ? x.approvedBy.map((m) => m.email) : [], o.settings);
    const spent = (r: { spent: 'decided' | 'expired'; approval: Approval }): Promise<Response> =>
      r.spent === 'expired'
        ? refuse(410, 'expired', `This link expired on ${fmt(r.approval.expiresAt)} UTC; nothing was done.`, ['Links work for a limited time (approvals.linkTtl).'], 'E_APPROVAL_LINK')
        : refuse(409, 'used', `This link was used already: ${r.approval.state} by ${r.approval.decidedBy ?? 'someone'} on ${fmt(r.approval.decidedAt)} UTC. Nothing more was done.`, ['A link works once; the approval page shows what became of it.'], 'E_APPROVAL_LINK');

    if (decision === 'dismiss') {
      const r = await recordDismissal(db, a.id, decider, rule(false));
      if ('spent' in r) return spent(r);
      if ('refused' in r) return refuse(403, r.refused.reason, `${r.refused.message}. Nothing was done.`, []);
      for (const task of ['tell-jira', 'tell-slack'] as const) await enqueue(o.queue, 'approval', { approvalId: a.id, task, state: 'dismissed' }).catch((e: unknown) => log.warn({ err: e }, describeError(e)));
      return c.redirect(path, 303);
    }

    // The plan approved is the one the page showed: the first approver's is the plan read (with or
    // without revoking older sessions); later approvers approve the one the first approved.
    const read = a.planRead as PlanRead | null;
    const plan: Plan | undefined = a.plan ? (a.plan as Plan) : form.revoke === '1' && read?.revoke ? read.revoke : read?.base;
    if (!plan) return refuse(409, 'no-plan', 'The plan has not been read from the account yet; nothing was done.', ['Open the approval page again: it reads the plan, then you can approve it.']);
    const shownDigest = planDigest(a.plan ? (a.plan as Plan) : (read ?? undefined));
    if (typeof form.plan !== 'string' || form.plan !== shownDigest) {
      return refuse(409, 'plan-changed', 'The plan changed since the page was opened (the account changed); nothing was done.', ['Open the approval page again, look at the plan as it is now, and decide on that.']);
    }
    const r = await recordApproval(db, a.id, decider, { plan, options: { revokeOlderSessions: plan.options.revokeOlderSessions } }, rule(true));
    if ('spent' in r) return spent(r);
    if ('refused' in r) return refuse(403, r.refused.reason, `${r.refused.message}. Nothing was done.`, []);
    if (r.complete) {
      try {
        await queueRemediation({ enqueue: (k, i, opts) => enqueue(o.queue, k, i, opts) }, db, a.id, r.approval.plan as Plan);
      } catch (e) {
        // Decided and kept; the next view of the page queues it again (idempotent: one job per approval).
        log.error({ err: e, approvalId: a.id }, `approval ${a.id} is approved, but its remediate job could not be queued: ${describeError(e)}`);
      }
    }
    return c.redirect(path, 303);
  });

  return app;
}

/** The approval's state in a line or two (the banner of its page). */
function statusOf(a: Approval, run: string | undefined): { kind: string; headline: string; lines: string[] } | undefined {
  // Every approver (the two-person rule's two), else who decided (a dismissal).
  const names = a.approvedBy.length > 0 && a.state !== 'dismissed' ? a.approvedBy.map((m) => m.email).join(' and ') : a.decidedBy;
  const by = names ? ` by ${names}` : '';
  const at = a.decidedAt ? ` on ${fmt(a.decidedAt)} UTC` : '';
  switch (a.state) {
    case 'proposed':
      return a.approvedBy.length > 0 ? { kind: 'waiting', headline: `Approved by ${a.approvedBy.map((m) => m.email).join(', ')}: waiting for a second approver.`, lines: [] } : undefined;
    case 'approved':
      return { kind: 'waiting', headline: `Approved${by}${at}: trailbot is carrying it out${run === 'running' ? ' now' : ''}.`, lines: ['This page reloads until it is done.'] };
    case 'done':
      return { kind: 'done', headline: `Done: approved${by}${at}, and every step is carried out.`, lines: [] };
    case 'partial':
      return { kind: 'partial', headline: `Partly done: approved${by}${at}, but NOT every step could be carried out.`, lines: ['The steps below say exactly what was and was not done, and why.'] };
    case 'failed':
      return { kind: 'failed', headline: `Not done: approved${by}${at}, but no step could be carried out.`, lines: ['The steps below say why.'] };
    case 'dismissed':
      return { kind: 'notice', headline: `Dismissed${by}${at}: nothing was changed in AWS.`, lines: [] };
  }
}

/** What a reactivation cannot bring back (the page says it next to the Reactivate link). */
function reactivationNotes(plan: Plan): string[] {
  return plan.steps.filter((s) => !s.reversible && s.note).map((s) => s.note!);
}
