import type { TrailEvent } from '../../events/model.ts';
import { defineFlow } from '../define.ts';
import { permissionSetOf, serviceOf } from '../match.ts';
import { workloadOf } from '../workload.ts';

const ACTIONS = new Set(['AssumeRole', 'AssumeRoot']);

/**
 * The person behind the call, when it is one: an IAM user, an Identity Center user, or an Identity
 * Center permission-set session (its session name is the person's, set by Identity Center, not by
 * the caller). Other role sessions (programs, workloads, chained roles) are not people: their
 * session names are whatever the caller picked.
 */
function personOf(e: TrailEvent): string | null {
  const a = e.actor;
  switch (a.type) {
    case 'IAMUser':
    case 'IdentityCenterUser':
      return e.actorKey;
    case 'AssumedRole':
      return permissionSetOf(a.roleName) !== null && workloadOf(e) === null ? e.actorKey : null;
    default:
      return null;
  }
}

/** What was assumed: the role's ARN, or `root:<account>` for AssumeRoot (a member account's root, for a task). */
function targetOf(e: TrailEvent): string | null {
  if (e.action === 'AssumeRoot') {
    const acct = e.resources.find((r) => r.type === 'AWS::Organizations::Account')?.id;
    return `root:${acct ?? e.account ?? 'unknown'}`;
  }
  const role = e.resources.find((r) => r.type === 'AWS::IAM::Role');
  return role ? (role.arn ?? role.id) : null;
}

/**
 * Panther AWS.IAM.AssumeRole anomalies; AWS's "centralized root access" (AssumeRoot, 2024). A person
 * reaching a role for the first time is how stolen credentials move sideways: each new role is a
 * new set of permissions, often in another account. Reported once a person has a history
 * (`learningPeriod`), so that everyone's first days do not raise it.
 */
export const roleAssumedFirstTime = defineFlow({
  id: 'role-assumed-first-time',
  kind: 'first-seen',
  severity: 'medium',
  description: "A person assumed a role they had never assumed before (AssumeRoot, a member account's root session: high).",
  runbook: 'Ask the person whether they meant to use this role; if not, revoke the role\'s sessions and look at what was done with it. For AssumeRoot, check the task policy and what the root session did.',
  falsePositives: ['A new job or project; on-call engineers reaching a role during an incident.'],
  references: ['panther: AWS.IAM.AssumeRole (anomaly)', 'aws: sts:AssumeRoot (centralized root access)', 'MITRE ATT&CK T1078.004'],
  params: { learningPeriod: '14d' },
  dedupPeriod: '24h',
  allow: [],
  actions: [...ACTIONS],
  match: (e) => e.outcome === 'success' && e.action !== null && ACTIONS.has(e.action) && serviceOf(e) === 'sts' && personOf(e) !== null,
  dimensions: (e, _p, dim) => {
    const who = personOf(e);
    const what = targetOf(e);
    if (who !== null && what !== null) dim('person-role', who, what);
  },
  severityOf: (e) => (e.action === 'AssumeRoot' ? 'high' : null),
  context: (e) => {
    const target = targetOf(e);
    return { root: e.action === 'AssumeRoot', target, rootAccount: target?.startsWith('root:') ? target.slice(5) : null };
  },
});
