import type { TrailEvent } from '../../events/model.ts';
import { type AnyFlow, defineFlow, type SingleFlow } from '../define.ts';
import { byActor } from '../match.ts';

export const CRITICAL_ACTION_DENIED = 'critical-action-denied';

/**
 * The flows whose attempts count: single-event flows of high or critical severity that list their
 * actions (StopLogging, DeleteTrail, LeaveOrganization, DeleteDetector, AttachUserPolicy …).
 * Derived from the catalog, so a flow added or made high later is covered without a second list.
 */
export function criticalSources(catalog: readonly AnyFlow[]): AnyFlow[] {
  return catalog.filter(
    (f) => f.id !== CRITICAL_ACTION_DENIED && f.kind === 'single' && (f.severity === 'high' || f.severity === 'critical') && f.actions !== undefined && f.actions.length > 0,
  );
}

/** The event as it would have been had the call gone through (what the source flows match on). */
function asGranted(e: TrailEvent): TrailEvent {
  return { ...e, outcome: 'success', errorCode: null, errorMessage: null };
}

/**
 * A denied attempt at anything the catalog's high and critical flows report: the caller tried and
 * AWS refused, so nothing changed, but one such try is worth a look (Stratus'
 * `organizations-leave` is exactly this). Built from the catalog it watches (see the registry).
 *
 * An attempt counts when a source flow would have matched the call had it been allowed (its own
 * conditions included: an UpdateDetector counts only when it would turn GuardDuty off). Flows that
 * report denied attempts themselves (any outcome, e.g. organization-leave-attempt) take precedence.
 * Source flows are asked with their default parameters.
 */
export function criticalActionDenied(catalog: readonly AnyFlow[]): SingleFlow {
  const sources = criticalSources(catalog);
  const byAction = new Map<string, AnyFlow[]>();
  for (const f of sources) {
    for (const a of f.actions!) {
      let list = byAction.get(a);
      if (!list) byAction.set(a, (list = []));
      list.push(f);
    }
  }
  /** The first source flow the denied call would have raised, or null. */
  const wouldRaise = (e: TrailEvent, env: Parameters<SingleFlow['match']>[2]): AnyFlow | null => {
    if (e.outcome !== 'denied' || e.action === null) return null;
    const list = byAction.get(e.action);
    if (list === undefined) return null;
    const granted = asGranted(e);
    for (const f of list) if (f.match(granted, f.params, env)) return f;
    return null;
  };
  return defineFlow({
    id: CRITICAL_ACTION_DENIED,
    kind: 'single',
    severity: 'high',
    description: "A denied attempt at something the catalog's high and critical flows report (stopping a trail, leaving the organization, deleting a detector, granting administrator access …): one is enough.",
    runbook: 'Nothing changed, but find out why this principal tried: a legitimate need goes through the owners of the guardrail; otherwise treat its credentials as stolen and look at what else it did.',
    falsePositives: ['Someone probing what their new role may do; a pipeline deploying with a role that lacks one permission.'],
    references: ['Panther AWS.CloudTrail.UnauthorizedAPICall (single-event variant)', 'stratus: aws.defense-evasion.organizations-leave'],
    params: {},
    dedupPeriod: '24h',
    // A pipeline on the IaC list (or CloudFormation) refused one permission is a deployment to fix,
    // and a service control policy's refusal of it is still reported, by scp-denied.
    allow: ['iac'],
    actions: [...byAction.keys()],
    // A source flow that matched the denied call itself (it counts any outcome) reports it.
    yieldsTo: sources.map((f) => f.id),
    match: (e, _p, env) => wouldRaise(e, env) !== null,
    key: byActor,
    context: (e, _p, env) => {
      const f = wouldRaise(e, env);
      return { flow: f?.id ?? null, flowSeverity: f?.severity ?? null, flowDescription: f ? f.description.replace(/\.$/, '') : null };
    },
  });
}
