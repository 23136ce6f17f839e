import { describe, expect, it } from 'vitest';
import { dbBackends } from '../../test/helpers/backends.ts';
import { allIngestible } from '../../test/helpers/fixtures.ts';
import type { Ingestible } from '../events/model.ts';
import { type Db, migrate } from './db.ts';
import { storeOn } from './index.ts';
import { eventsAt, rawsAt } from './queries.ts';

/** The last migration before the slim row (024): events kept every field in columns. */
const PREVIOUS = 23;

/**
 * Events as version 023 wrote them: every field in its column (resources as JSON, ids as resource
 * keys), raw records in format-1 chunks (one record a line, compressed by PostgreSQL), 64 a chunk.
 */
async function insertAs023(db: Db, items: Ingestible[]): Promise<void> {
  const chunkIds: number[] = [];
  const chunkDays: string[] = [];
  const chunkText: string[] = [];
  const refs: [number, number][] = [];
  for (let off = 0; off < items.length; off += 64) {
    const id = 1000 + chunkIds.length;
    // One chunk per slice; the day is the slice's first event's (a chunk's day only says its partition).
    chunkIds.push(id);
    chunkDays.push(`${items[off]!.event.time!.slice(0, 10)}T00:00:00Z`);
    const part = items.slice(off, off + 64);
    chunkText.push(part.map((x) => JSON.stringify(x.raw)).join('\n'));
    for (let i = 0; i < part.length; i++) refs.push([id, i]);
  }
  // A chunk holds records of one day: keep each event's chunk on its own day by writing one chunk per event
  // whose day differs from its slice's.
  const e = items.map((x) => x.event);
  for (let i = 0; i < items.length; i++) {
    if (e[i]!.time!.slice(0, 10) !== chunkDays[Math.floor(i / 64)]!.slice(0, 10)) {
      const id = 1000 + chunkIds.length;
      chunkIds.push(id);
      chunkDays.push(`${e[i]!.time!.slice(0, 10)}T00:00:00Z`);
      chunkText.push(JSON.stringify(items[i]!.raw));
      refs[i] = [id, 0];
    }
  }
  await db.query('INSERT INTO raw_chunks (id, time, records) SELECT * FROM unnest($1::int8[], $2::timestamptz[], $3::text[])', [chunkIds, chunkDays, chunkText]);
  const col = <T>(f: (x: Ingestible['event']) => T): T[] => e.map(f);
  await db.query(
    `INSERT INTO events (event_id, time, account, region, service, action, read_only, event_type, event_category, outcome, error_code, error_message,
       actor_key, actor_type, actor_name, actor_arn, actor_account, principal_id, access_key_id, user_name, role_name, session_name, email, invoked_by, mfa,
       via, tool, source_ip, source_address, user_agent, resources, resource_keys, primary_type, primary_id, primary_arn, primary_named, derived_id, raw_chunk, raw_at)
     SELECT u.event_id, u.time, u.account, u.region, u.service, u.action, u.read_only, u.event_type, u.event_category, u.outcome, u.error_code, u.error_message,
       u.actor_key, u.actor_type, u.actor_name, u.actor_arn, u.actor_account, u.principal_id, u.access_key_id, u.user_name, u.role_name, u.session_name, u.email, u.invoked_by, u.mfa,
       u.via, u.tool, u.source_ip, u.source_address, u.user_agent, u.resources, string_to_array(u.keys, E'\\x1f'), u.primary_type, u.primary_id, u.primary_arn, u.primary_named, u.derived_id, u.raw_chunk, u.raw_at
     FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
       $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[], $25::boolean[],
       $26::text[], $27::text[], $28::text[], $29::text[], $30::text[], $31::jsonb[], $32::text[], $33::text[], $34::text[], $35::text[], $36::boolean[], $37::boolean[], $38::int8[], $39::int4[])
       AS u(event_id, time, account, region, service, action, read_only, event_type, event_category, outcome, error_code, error_message,
         actor_key, actor_type, actor_name, actor_arn, actor_account, principal_id, access_key_id, user_name, role_name, session_name, email, invoked_by, mfa,
         via, tool, source_ip, source_address, user_agent, resources, keys, primary_type, primary_id, primary_arn, primary_named, derived_id, raw_chunk, raw_at)`,
    [
      col((x) => x.eventId), col((x) => x.time), col((x) => x.account), col((x) => x.region), col((x) => x.service), col((x) => x.action), col((x) => x.readOnly),
      col((x) => x.eventType), col((x) => x.eventCategory), col((x) => x.outcome), col((x) => x.errorCode), col((x) => x.errorMessage),
      col((x) => x.actorKey), col((x) => x.actor.type), col((x) => x.actor.name), col((x) => x.actor.arn), col((x) => x.actor.accountId), col((x) => x.actor.principalId),
      col((x) => x.actor.accessKeyId), col((x) => x.actor.userName), col((x) => x.actor.roleName), col((x) => x.actor.sessionName), col((x) => x.actor.email),
      col((x) => x.actor.invokedBy), col((x) => x.actor.mfa), col((x) => x.via), col((x) => x.tool), col((x) => x.sourceIp), col((x) => x.sourceAddress), col((x) => x.userAgent),
      col((x) => JSON.stringify(x.resources)), col((x) => x.resources.map((r) => r.id.toLowerCase()).join('\x1f')),
      col((x) => x.primaryResource?.type ?? null), col((x) => x.primaryResource?.id ?? null), col((x) => x.primaryResource?.arn ?? null),
      col((x) => x.primaryNamed), col((x) => x.derivedId), refs.map((r) => r[0]), refs.map((r) => r[1]),
    ],
  );
  // The people, as that version folded them.
  await db.query(
    `INSERT INTO principals (actor_key, type, name, arn, account, principal_id, user_name, role_name, session_name, email, first_seen, last_seen, events)
     SELECT actor_key, max(actor_type), max(actor_name), max(actor_arn), max(actor_account), max(principal_id), max(user_name), max(role_name), max(session_name), max(email), min(time), max(time), count(*)
       FROM events WHERE actor_key IS NOT NULL GROUP BY actor_key`,
  );
}

const backends = dbBackends('slim');

describe.each(backends)('the slim event row (migration 024) on %s', (_name, open) => {
  it('upgrades a store made by version 023: every event, old and new, reads back exactly as normalized and is found by every filter', async () => {
    const { db, cleanup } = await open();
    try {
      const seen = new Set<string>();
      const all = allIngestible().filter((x) => x.event.time && !seen.has(x.event.eventId) && seen.add(x.event.eventId));
      const half = Math.floor(all.length / 2);
      const before = all.slice(0, half);
      const after = all.slice(half);

      await migrate(db, { upTo: PREVIOUS });
      await insertAs023(db, before);
      expect(await migrate(db)).toContain('024_slim_events.sql');
      const store = storeOn(db);
      // The upgrade neither loses nor doubles an event; the same events again add nothing.
      expect(await store.count()).toBe(before.length);
      expect((await store.ingest(before)).inserted).toBe(0);
      // Events stored after it: the row keeps the filter columns only, the detail is in the chunk.
      expect((await store.ingest(after)).inserted).toBe(after.length);
      const slim = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events WHERE resources IS NULL AND user_agent IS NULL AND actor_arn IS NULL');
      expect(slim.rows[0]!.n).toBe(after.length);

      for (const x of all) {
        const refs = [{ eventId: x.event.eventId, time: x.event.time }];
        expect(await eventsAt(db, refs), x.event.eventId).toEqual([x.event]);
        expect((await rawsAt(db, refs)).get(x.event.eventId), x.event.eventId).toEqual(x.raw);
        const since = '1990-01-01T00:00:00Z';
        const found = async (q: Parameters<typeof store.search>[0]): Promise<string[]> => (await store.search({ ...q, eventIds: [x.event.eventId], since, limit: 5 })).events.map((e) => e.eventId);
        for (const r of x.event.resources) {
          expect(await found({ resourceType: r.type }), `${x.event.eventId} type ${r.type}`).toEqual([x.event.eventId]);
          expect(await found({ resourceName: r.id.toUpperCase() }), `${x.event.eventId} id ${r.id}`).toEqual([x.event.eventId]);
          if (r.arn) expect(await found({ resourceName: r.arn }), `${x.event.eventId} arn ${r.arn}`).toEqual([x.event.eventId]);
        }
        expect(await found({ resourceType: 'AWS::No::Such' })).toEqual([]);
        expect(await found({ resourceName: 'arn:aws:s3:::no-such-bucket' })).toEqual([]);
      }
      // A page that mixes both kinds of rows, newest first, each event whole.
      const page = await store.search({ since: '1990-01-01T00:00:00Z', limit: 1000 });
      const byId = new Map(all.map((x) => [x.event.eventId, x.event]));
      expect(page.events).toHaveLength(all.length);
      for (const e of page.events) expect(e).toEqual(byId.get(e.eventId));
      // A person's trail across both.
      const person = all.find((x) => x.event.actor.userName && before.includes(x))!.event.actor.userName!;
      const t = await store.trail({ who: person, since: '1990-01-01T00:00:00Z', limit: 1000 });
      const expected = all.filter((x) => t.principals.some((p) => p.actorKey === x.event.actorKey)).map((x) => x.event.eventId).sort();
      expect(t.events.map((e) => e.eventId).sort()).toEqual(expected);
      expect(expected.length).toBeGreaterThan(0);
    } finally {
      await cleanup();
    }
  }, 120_000);
});
