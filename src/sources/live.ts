import type { LookupAttributeKey } from '@aws-sdk/client-cloudtrail';
import { describeError } from '../errors.ts';
import { type Unwrapped, unwrap } from '../events/envelopes.ts';
import type { TrailEvent } from '../events/model.ts';
import { normalizeItems } from '../ingest.ts';
import type { Aws } from '../integrations/aws/index.ts';
import { kindOf } from '../integrations/aws/errors.ts';
import { LimiterTimeout } from '../integrations/aws/limiter.ts';
import type { Store } from '../store/index.ts';
import { resolvePrincipals } from '../store/queries.ts';
import type { LookupSource } from './config.ts';
import { type LookupPart, lookupParts, partName } from './lookup.ts';
import type { Sink } from './sink.ts';

/**
 * Live lookup for `/trail`: what one person did, asked of CloudTrail itself, in every configured
 * account-region at once. LookupEvents takes one lookup attribute per call, so each account-region
 * is asked by `Username` (the name, and the user and session names the store knows for them) and by
 * each access key the store has seen them use. Answers are merged, de-duplicated by event id and
 * sorted newest first. Whatever did not answer in full is named in `partial` and `note`.
 */

export interface LiveLookupOptions {
  /** A user name, role session name, SSO e-mail or access key id, as a person types it. */
  who: string;
  /** More access keys to ask about (the store's `access_keys` for `who` are added). */
  accessKeys?: string[] | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
  /** Events to return (default 50). */
  limit?: number | undefined;
  /** Everything must answer within this (default 8 s); what has not is reported as timed out. */
  timeoutMs?: number | undefined;
  /** Pages per question (default 2, i.e. up to 100 events each). */
  maxPages?: number | undefined;
  signal?: AbortSignal | undefined;
}

export type QueryStatus = 'ok' | 'truncated' | 'throttled' | 'denied' | 'timed-out' | 'failed';

export interface LiveQuery {
  account: string;
  region: string;
  attribute: 'Username' | 'AccessKeyId';
  value: string;
  status: QueryStatus;
  events: number;
  pages: number;
  detail?: string | undefined;
}

export interface LiveLookupResult {
  who: string;
  events: TrailEvent[];
  queries: LiveQuery[];
  /** Questions that did not answer in full (anything but ok). */
  partial: LiveQuery[];
  /** One plain sentence: complete, or what is missing and why. */
  note: string;
  /** Events stored for the first time (when a sink was given). */
  stored: number;
}

export interface LiveDeps {
  aws: Aws;
  store?: Store | undefined;
  /** Store what was found too, so the next /trail has it without asking AWS. */
  sink?: Sink | undefined;
}

const ACCESS_KEY = /^(AKIA|ASIA)[A-Z0-9]{12,124}$/;

/** The names and keys to ask LookupEvents about for `who`. */
export async function lookupSubjects(store: Store | undefined, who: string, extraKeys: string[] = []): Promise<{ usernames: string[]; keys: string[] }> {
  const w = who.trim();
  const usernames = new Set<string>();
  const keys = new Set<string>(extraKeys.map((k) => k.toUpperCase()));
  if (ACCESS_KEY.test(w.toUpperCase())) keys.add(w.toUpperCase());
  else if (w) usernames.add(w);
  if (store) {
    const principals = await resolvePrincipals(store.db, w);
    for (const p of principals.slice(0, 10)) {
      if (p.userName) usernames.add(p.userName);
      if (p.sessionName) usernames.add(p.sessionName);
    }
    if (principals.length > 0) {
      const r = await store.db.query<{ access_key_id: string }>(
        'SELECT access_key_id FROM access_keys WHERE actor_key = ANY($1::text[]) ORDER BY last_seen DESC LIMIT 20',
        [principals.map((p) => p.actorKey)],
      );
      for (const k of r.rows) keys.add(k.access_key_id);
    }
  }
  return { usernames: [...usernames].slice(0, 5), keys: [...keys].slice(0, 20) };
}

/** Every account-region of every lookup source, once, with the role settings to reach it. */
export async function liveParts(aws: Aws, sources: LookupSource[]): Promise<(LookupPart & { roleName?: string | undefined; externalId?: string | undefined })[]> {
  const seen = new Map<string, LookupPart & { roleName?: string | undefined; externalId?: string | undefined }>();
  for (const s of sources) {
    for (const p of await lookupParts({ aws }, s)) if (!seen.has(partName(p))) seen.set(partName(p), { ...p, roleName: s.roleName, externalId: s.externalId });
  }
  return [...seen.values()];
}

export async function liveLookup(deps: LiveDeps, sources: LookupSource[], opts: LiveLookupOptions): Promise<LiveLookupResult> {
  const limit = opts.limit ?? 50;
  const maxPages = opts.maxPages ?? 2;
  const deadline = Date.now() + (opts.timeoutMs ?? 8000);
  const timeout = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  const { usernames, keys } = await lookupSubjects(deps.store, opts.who, opts.accessKeys);
  const parts = await liveParts(deps.aws, sources);
  const questions: { attribute: 'Username' | 'AccessKeyId'; value: string }[] = [
    ...usernames.map((value) => ({ attribute: 'Username' as const, value })),
    ...keys.map((value) => ({ attribute: 'AccessKeyId' as const, value })),
  ];
  const items: Unwrapped[] = [];
  const queries: LiveQuery[] = [];
  await Promise.all(
    parts.flatMap((p) =>
      questions.map(async (q) => {
        const query: LiveQuery = { account: p.account, region: p.region, attribute: q.attribute, value: q.value, status: 'ok', events: 0, pages: 0 };
        queries.push(query);
        try {
          const port = await deps.aws.cloudtrail({ account: p.account, roleName: p.roleName, externalId: p.externalId }, p.region);
          let token: string | undefined;
          do {
            const page = await port.lookupEvents(
              { attribute: { key: q.attribute as LookupAttributeKey, value: q.value }, start: opts.since, end: opts.until, nextToken: token },
              { signal, deadline },
            );
            query.pages++;
            query.events += page.events.length;
            for (const [i, e] of page.events.entries()) items.push(...unwrap(e, { file: `LookupEvents ${partName(p)}`, at: `Events[${i}]` }));
            token = page.nextToken;
          } while (token && query.pages < maxPages);
          if (token) {
            query.status = 'truncated';
            query.detail = `more than ${query.pages * 50} events; only the newest were read`;
          }
        } catch (e) {
          const kind = kindOf(e);
          query.status =
            e instanceof LimiterTimeout ? 'throttled' : timeout.aborted ? 'timed-out' : kind === 'throttled' ? 'throttled' : kind === 'denied' ? 'denied' : 'failed';
          query.detail = e instanceof LimiterTimeout ? 'the request budget (2/s) was in use until the time limit' : describeError(e);
        }
      }),
    ),
  );
  const byId = new Map<string, TrailEvent>();
  for (const e of normalizeItems(items, () => undefined)) byId.set(e.event.eventId, e.event);
  let stored = 0;
  if (deps.sink && items.length > 0) stored = (await deps.sink.put(items)).inserted;
  const events = [...byId.values()]
    .sort((a, b) => ((b.time ?? '') < (a.time ?? '') ? -1 : (b.time ?? '') > (a.time ?? '') ? 1 : a.eventId < b.eventId ? -1 : 1))
    .slice(0, limit);
  queries.sort((a, b) => `${a.account}/${a.region}/${a.attribute}/${a.value}`.localeCompare(`${b.account}/${b.region}/${b.attribute}/${b.value}`));
  const partial = queries.filter((q) => q.status !== 'ok');
  return { who: opts.who, events, queries, partial, note: describePartial(parts.length, questions.length, partial), stored };
}

const STATUS_WORDS: Record<Exclude<QueryStatus, 'ok'>, string> = {
  truncated: 'had more than was read',
  throttled: 'throttled',
  denied: 'access denied',
  'timed-out': 'timed out',
  failed: 'failed',
};

/** "Complete: 16 account-regions answered." or what is missing, grouped by reason. */
export function describePartial(parts: number, questions: number, partial: LiveQuery[]): string {
  if (parts === 0) return 'No account-region to ask: configure a source of kind lookup.';
  if (questions === 0) return 'Nothing to ask CloudTrail: no user name or access key.';
  if (partial.length === 0) return `Complete: ${parts} account-region${parts === 1 ? '' : 's'} answered every question.`;
  const groups = new Map<string, Set<string>>();
  for (const q of partial) {
    const w = STATUS_WORDS[q.status as Exclude<QueryStatus, 'ok'>];
    if (!groups.has(w)) groups.set(w, new Set());
    groups.get(w)!.add(`${q.account}/${q.region}`);
  }
  const byReason = [...groups].map(([w, set]) => `${w}: ${[...set].sort().join(', ')}`);
  const affected = new Set(partial.map((q) => `${q.account}/${q.region}`)).size;
  return `Partial: ${affected} of ${parts} account-region${parts === 1 ? '' : 's'} did not answer in full (${byReason.join('; ')}); events from there may be missing.`;
}
