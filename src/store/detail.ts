/*
 * An event's detail: the fields of the normalized event (src/events/model.ts) that no SQL filters,
 * sorts or groups on, kept as one JSON line in the event's chunk (chunks.ts) instead of in columns of
 * its row (migration 024). The row keeps the rest; a stored event read back is the row's columns plus
 * this, the very event normalize() made (store.test.ts checks every field of the corpus' events).
 *
 * Null fields are left out of the line (a missing key reads back as null).
 */
import type { Resource, TrailEvent } from '../events/model.ts';

interface Detail {
  eventCategory?: string;
  errorCode?: string;
  errorMessage?: string;
  arn?: string;
  accountId?: string;
  principalId?: string;
  userName?: string;
  roleName?: string;
  sessionName?: string;
  invokedBy?: string;
  mfa?: boolean;
  tool?: string;
  sourceIp?: string;
  sourceAddress?: string;
  userAgent?: string;
  resources?: Resource[];
  /** Only when false (true is the usual). */
  primaryNamed?: false;
  /** Only when true. */
  derivedId?: true;
}

/** The detail line of an event. */
export function detailJson(e: TrailEvent): string {
  const a = e.actor;
  const d: Detail = {};
  if (e.eventCategory !== null) d.eventCategory = e.eventCategory;
  if (e.errorCode !== null) d.errorCode = e.errorCode;
  if (e.errorMessage !== null) d.errorMessage = e.errorMessage;
  if (a.arn !== null) d.arn = a.arn;
  if (a.accountId !== null) d.accountId = a.accountId;
  if (a.principalId !== null) d.principalId = a.principalId;
  if (a.userName !== null) d.userName = a.userName;
  if (a.roleName !== null) d.roleName = a.roleName;
  if (a.sessionName !== null) d.sessionName = a.sessionName;
  if (a.invokedBy !== null) d.invokedBy = a.invokedBy;
  if (a.mfa !== null) d.mfa = a.mfa;
  if (e.tool !== null) d.tool = e.tool;
  if (e.sourceIp !== null) d.sourceIp = e.sourceIp;
  if (e.sourceAddress !== null) d.sourceAddress = e.sourceAddress;
  if (e.userAgent !== null) d.userAgent = e.userAgent;
  if (e.resources.length > 0) d.resources = e.resources;
  if (!e.primaryNamed) d.primaryNamed = false;
  if (e.derivedId) d.derivedId = true;
  return JSON.stringify(d);
}

/** The columns a detail line stands for, as a legacy row (stored before migration 024) has them. */
export interface DetailColumns {
  event_category: string | null;
  error_code: string | null;
  error_message: string | null;
  actor_arn: string | null;
  actor_account: string | null;
  principal_id: string | null;
  user_name: string | null;
  role_name: string | null;
  session_name: string | null;
  invoked_by: string | null;
  mfa: boolean | null;
  tool: string | null;
  source_ip: string | null;
  source_address: string | null;
  user_agent: string | null;
  resources: Resource[] | null;
  primary_named: boolean | null;
  derived_id: boolean | null;
}

/** A detail line as the columns of a legacy row. Throws on a line that is not a JSON object. */
export function detailColumns(line: string): DetailColumns {
  const d = JSON.parse(line) as Detail;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) throw new Error('an event detail line is not a JSON object');
  return {
    event_category: d.eventCategory ?? null,
    error_code: d.errorCode ?? null,
    error_message: d.errorMessage ?? null,
    actor_arn: d.arn ?? null,
    actor_account: d.accountId ?? null,
    principal_id: d.principalId ?? null,
    user_name: d.userName ?? null,
    role_name: d.roleName ?? null,
    session_name: d.sessionName ?? null,
    invoked_by: d.invokedBy ?? null,
    mfa: d.mfa ?? null,
    tool: d.tool ?? null,
    source_ip: d.sourceIp ?? null,
    source_address: d.sourceAddress ?? null,
    user_agent: d.userAgent ?? null,
    resources: d.resources ?? [],
    primary_named: d.primaryNamed ?? true,
    derived_id: d.derivedId ?? false,
  };
}
