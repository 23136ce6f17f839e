// Findings for the tests of what is done about them (Jira tickets, Slack messages): CreateAccessKey
// calls by one person (the recorded Stratus call; the access-key-created flow, medium, one finding per
// person and day) stored on a throwaway database and run through the flows.
import { expect } from 'vitest';
import type { Ingestible, RawRecord } from '../../src/events/model.ts';
import { normalize } from '../../src/events/normalize.ts';
import { defaultFlowsConfig, evaluateFlows } from '../../src/flows/index.ts';
import { openStore, type Store } from '../../src/store/index.ts';
import { createTestDatabase } from './db.ts';
import { record } from './fixtures.ts';

const KEY_CALL = record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04');

export interface KeyFindings {
  /** The store on the new database. */
  readonly store: Store;
  /** How many people raise() has made a finding for so far. */
  readonly raised: number;
  /** A new person (`<actorPrefix><n>`) with `n` calls: stored, through the flows, exactly one new finding. */
  raise(n?: number): Promise<{ id: string; actor: string }>;
  /** `n` more calls by `actor`, stored and through the flows. */
  more(actor: string, n: number): Promise<void>;
  /** Closes the store and drops the database. */
  close(): Promise<void>;
}

/**
 * A store on a new database named after `database`, and findings raised on it. The calls are a second
 * apart from 2024-08-01T13:00:00Z on, numbered across every raise() and more() so ids never repeat.
 */
export async function openKeyFindings(database: string, actorPrefix: string): Promise<KeyFindings> {
  const db = await createTestDatabase(database);
  const store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  let seq = 0;
  let raised = 0;
  const calls = (n: number, actor: string): Ingestible[] =>
    Array.from({ length: n }, () => {
      seq++;
      const raw = structuredClone(KEY_CALL) as RawRecord & Record<string, unknown>;
      raw.eventID = `${String(seq).padStart(8, '0')}-0fa4-46e6-9322-022e8e934f04`;
      raw.eventTime = new Date(Date.parse('2024-08-01T13:00:00Z') + seq * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      Object.assign(raw.userIdentity as Record<string, unknown>, { userName: actor, arn: `arn:aws:iam::229654561268:user/${actor}` });
      return { event: normalize(raw), raw };
    });
  const evaluate = async (events: Ingestible[]) => {
    await store.ingest(events);
    return evaluateFlows(store, events, defaultFlowsConfig());
  };
  return {
    store,
    get raised() {
      return raised;
    },
    async raise(n = 1) {
      const actor = `${actorPrefix}${++raised}`;
      const r = await evaluate(calls(n, actor));
      expect(r.findings).toHaveLength(1);
      return { id: r.findings[0]!.id, actor };
    },
    async more(actor, n) {
      await evaluate(calls(n, actor));
    },
    async close() {
      await store.close();
      await db.drop();
    },
  };
}
