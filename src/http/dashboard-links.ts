import type { Outcome, Via } from '../events/model.ts';

/**
 * The dashboard's Events page addresses, built from filters: the one place that knows how a filter is
 * spelled in the URL. The page reads the same names (src/http/dashboard.ts), its form fields, pager and
 * links are made with them, and whatever links to the dashboard from elsewhere (Slack `/trail` answers,
 * finding alerts in Slack, Jira tickets) is built here too, so a link and the page cannot drift apart.
 * Pure: no I/O.
 */

/** The Events page's filters as they appear in the URL, in the order a link writes them. */
export const EVENT_FILTERS = ['person', 'resource', 'action', 'service', 'account', 'region', 'outcome', 'via', 'writes', 'finding', 'since', 'until'] as const;
export type EventFilter = (typeof EVENT_FILTERS)[number];

export interface EventFilters {
  /** Anyone `/trail` finds (resolvePrincipals): e-mail or its start, user, session, access key, ARN. */
  person?: string | undefined;
  /** A resource's name, id or ARN. */
  resource?: string | undefined;
  action?: string | undefined;
  /** The event source, `s3.amazonaws.com`. */
  service?: string | undefined;
  account?: string | undefined;
  region?: string | undefined;
  outcome?: Outcome | undefined;
  via?: Via | undefined;
  /** Changes only (calls not marked read-only), as `/trail … writes` asks. */
  writes?: boolean | undefined;
  /** The events of this finding. */
  finding?: string | undefined;
  /** Times in the CLI's forms: 7d, 2024-08-01, ISO. */
  since?: string | undefined;
  until?: string | undefined;
}

/** How `writes` is written in the URL (the form's checkbox sends the same). */
export const WRITES_ON = '1';

/** The query string of these filters (and a page's cursor), empty ones left out: `?person=alana&since=7d`, or ''. */
export function eventsQuery(f: EventFilters, cursor?: string): string {
  const p = new URLSearchParams();
  for (const k of EVENT_FILTERS) {
    const v = f[k];
    if (k === 'writes') {
      if (v === true) p.set(k, WRITES_ON);
    } else if (typeof v === 'string' && v !== '') p.set(k, v);
  }
  if (cursor) p.set('cursor', cursor);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** The Events page with these filters, as a path on the dashboard's own server: `/?finding=…`. */
export function eventsPath(f: EventFilters, cursor?: string): string {
  return `/${eventsQuery(f, cursor)}`;
}

/** The Events page with these filters at PUBLIC_URL, for links from Slack and Jira. */
export function eventsUrl(publicUrl: string, f: EventFilters): string {
  return `${publicUrl.replace(/\/+$/, '')}${eventsPath(f)}`;
}

/** A finding opens on its events: the Events page filtered on the finding. */
export function findingUrl(publicUrl: string, findingId: string): string {
  return eventsUrl(publicUrl, { finding: findingId });
}

/**
 * The filters in a request's query, as the page reads them: each trimmed, empty ones left out. Values
 * are not checked here (outcome and via are, by the page, which says what is wrong).
 */
export function readEventFilters(q: Record<string, string | undefined>): Record<Exclude<EventFilter, 'writes'>, string | undefined> & { writes: boolean } {
  const out: Record<string, string | undefined> = {};
  for (const k of EVENT_FILTERS) if (k !== 'writes') out[k] = q[k]?.trim() || undefined;
  const w = q.writes?.trim();
  return { ...(out as Record<Exclude<EventFilter, 'writes'>, string | undefined>), writes: w !== undefined && w !== '' && w !== '0' && w !== 'false' };
}
