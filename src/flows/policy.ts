import type { TrailEvent } from '../events/model.ts';
import type { FlowEnv } from './define.ts';
import { asDoc, asList } from './fields.ts';

/**
 * Who a resource policy or a trust policy lets in, for the sharing and exposure flows: everyone
 * (`*`), or AWS accounts that are not ours (`env.knownAccount`). Pure.
 *
 * An `Allow` statement counts when its principal is `*` (or `{"AWS": "*"}`, or any `NotPrincipal`),
 * or an account id / ARN of an account that is not ours. Service principals (`s3.amazonaws.com`),
 * federated providers and `Deny` statements do not. A `*` statement is not public when a condition
 * pins the caller to our organization (`aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`,
 * `aws:SourceOrgID`, `aws:SourceOrgPaths`, `aws:ResourceOrgID`) or to accounts that are all ours
 * (`aws:PrincipalAccount`, `aws:SourceAccount`, `aws:SourceOwner`, `kms:CallerAccount`,
 * `aws:PrincipalArn` / `aws:SourceArn` naming our accounts).
 */
export interface Exposure {
  /** Some statement lets in anyone. */
  public: boolean;
  /** Accounts that are not ours that some statement lets in, sorted. */
  accounts: string[];
}

export const NOT_EXPOSED: Exposure = { public: false, accounts: [] };

const ORG_KEYS = new Set(['aws:principalorgid', 'aws:principalorgpaths', 'aws:sourceorgid', 'aws:sourceorgpaths', 'aws:resourceorgid', 'aws:resourceorgpaths']);
const ACCOUNT_KEYS = new Set(['aws:principalaccount', 'aws:sourceaccount', 'aws:sourceowner', 'kms:calleraccount', 'aws:resourceaccount']);
const ARN_KEYS = new Set(['aws:principalarn', 'aws:sourcearn']);

/** The account an account id or ARN names (`123456789012`, `arn:aws:iam::123456789012:root`), else null. */
export function accountOf(principal: string): string | null {
  if (/^\d{12}$/.test(principal)) return principal;
  const m = /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):/.exec(principal);
  return m ? m[1]! : null;
}

/** The `AWS` principals of a statement's `Principal` (`*` included), or ['*'] for a bare `"*"`. */
function awsPrincipals(p: unknown): string[] {
  if (p === '*') return ['*'];
  if (p === null || typeof p !== 'object') return [];
  return asList((p as Record<string, unknown>).AWS).filter((x): x is string => typeof x === 'string');
}

/** Whether a condition block keeps the statement to our organization or our accounts. */
function conditionKeepsToUs(condition: unknown, e: TrailEvent, env: FlowEnv): boolean {
  if (condition === null || typeof condition !== 'object') return false;
  for (const [op, block] of Object.entries(condition as Record<string, unknown>)) {
    // A negated or IfExists operator does not pin the caller down.
    if (/^(?:ForAnyValue:|ForAllValues:)?(?:String|Arn)Not/i.test(op) || /IfExists$/i.test(op) || block === null || typeof block !== 'object') continue;
    for (const [key, value] of Object.entries(block as Record<string, unknown>)) {
      const k = key.toLowerCase();
      const values = asList(value).filter((x): x is string => typeof x === 'string');
      if (values.length === 0) continue;
      if (ORG_KEYS.has(k)) return true;
      if (ACCOUNT_KEYS.has(k) && values.every((v) => /^\d{12}$/.test(v) && env.knownAccount(e, v))) return true;
      if (ARN_KEYS.has(k) && values.every((v) => {
        const a = accountOf(v);
        return a !== null && env.knownAccount(e, a);
      })) return true;
    }
  }
  return false;
}

/** Who a policy document (an object, or JSON written as a string) lets in that is not us. */
export function exposureOf(policy: unknown, e: TrailEvent, env: FlowEnv): Exposure {
  const doc = asDoc(policy);
  if (doc === null || typeof doc !== 'object') return NOT_EXPOSED;
  let open = false;
  const accounts = new Set<string>();
  for (const s of asList((doc as Record<string, unknown>).Statement)) {
    if (s === null || typeof s !== 'object') continue;
    const st = s as Record<string, unknown>;
    if (st.Effect !== 'Allow') continue;
    const principals = st.NotPrincipal !== undefined ? ['*'] : awsPrincipals(st.Principal);
    if (principals.length === 0) continue;
    if (conditionKeepsToUs(st.Condition, e, env)) continue;
    for (const p of principals) {
      if (p === '*') open = true;
      else {
        const a = accountOf(p);
        if (a !== null && !env.knownAccount(e, a)) accounts.add(a);
      }
    }
  }
  return open || accounts.size > 0 ? { public: open, accounts: [...accounts].sort() } : NOT_EXPOSED;
}

/** Whether an exposure lets anyone or any account in. */
export function exposed(x: Exposure): boolean {
  return x.public || x.accounts.length > 0;
}

/** One principal as a sharing call names it: `*`/`all` is public, an account id or ARN of another account is external. */
export function exposureOfPrincipal(principal: string | null, e: TrailEvent, env: FlowEnv): Exposure {
  if (principal === null) return NOT_EXPOSED;
  if (principal === '*' || principal.toLowerCase() === 'all') return { public: true, accounts: [] };
  const a = accountOf(principal);
  return a !== null && !env.knownAccount(e, a) ? { public: false, accounts: [a] } : NOT_EXPOSED;
}

/** Several exposures as one. */
export function mergeExposures(xs: readonly Exposure[]): Exposure {
  let open = false;
  const accounts = new Set<string>();
  for (const x of xs) {
    if (x.public) open = true;
    for (const a of x.accounts) accounts.add(a);
  }
  return open || accounts.size > 0 ? { public: open, accounts: [...accounts].sort() } : NOT_EXPOSED;
}
