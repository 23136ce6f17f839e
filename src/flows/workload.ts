import type { TrailEvent } from '../events/model.ts';

/** EC2 names an instance-profile session after the instance (`i-0123456789abcdef0`). */
const INSTANCE_ID = /^i-[0-9a-z]{8,17}$/i;

/** A workload whose role session made the call. */
export type Workload = 'instance' | 'lambda';

/**
 * The workload a role session belongs to: an EC2 instance (the session is named after the instance,
 * as EC2 names instance-profile sessions; their records also carry `ec2RoleDelivery`) or a Lambda
 * function (the runtime's SDK writes `exec-env/AWS_Lambda_<runtime>` into the user agent; the
 * session is named after the function). Null for people, services and other sessions.
 *
 * Whoever holds the credentials can choose both the session name and the user agent: this is a
 * reason to look closer (the workload flows raise on it), never a reason to trust.
 */
export function workloadOf(e: TrailEvent): Workload | null {
  const a = e.actor;
  if (a.type !== 'AssumedRole' || a.sessionName === null) return null;
  if (INSTANCE_ID.test(a.sessionName)) return 'instance';
  const ua = e.userAgent;
  if (ua?.includes('AWS_Lambda_')) return 'lambda';
  return null;
}
