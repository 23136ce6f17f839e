import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ingestible } from '../events/model.ts';
import { openStore, type Store } from '../store/index.ts';
import { federationToken, ssoFirstAssumeRoot } from '../../test/fixtures/flows/identity-records.ts';
import { findings, toEvent } from '../../test/fixtures/flows/load.ts';
import { createTestDatabase } from '../../test/helpers/db.ts';
import { parseFlowsConfig } from './config.ts';
import { evaluateFlows, getFinding } from './index.ts';

/**
 * A flow's `severityOf`: the event that opens a finding may call for another severity than the
 * flow's (AssumeRoot, a federated session allowed everything). The same answer in memory
 * (`trailbot detect`) and in the store, where the stored row (what Jira routing and Slack read) says it.
 */
function ingestibles(raws: Record<string, unknown>[]): Ingestible[] {
  return raws.map((r) => ({ event: toEvent(r).event, raw: r }));
}

describe('severity decided by the opening event', () => {
  it('in memory: high for an allow-everything session, medium otherwise; configuration wins', () => {
    expect(findings([federationToken(true)], 'federation-token-issued')[0]!.severity).toBe('high');
    expect(findings([federationToken(false)], 'federation-token-issued')[0]!.severity).toBe('medium');
    expect(findings([federationToken(true)], 'federation-token-issued', { 'federation-token-issued': { severity: 'low' } })[0]!.severity).toBe('low');
  });

  describe('in the store (PostgreSQL)', () => {
    let store: Store;
    let drop: () => Promise<void>;
    beforeAll(async () => {
      const db = await createTestDatabase('trailbot_severity');
      drop = db.drop;
      store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
    });
    afterAll(async () => {
      await store?.close();
      await drop?.();
    });

    it('stores the severity the opening event calls for, in the evaluation that opens the finding', async () => {
      const config = parseFlowsConfig({});
      const batch = ingestibles([federationToken(true), federationToken(false)].map((r, i) => ({ ...r, userIdentity: { ...(r.userIdentity as object), userName: `u${i}`, arn: `arn:aws:iam::111122223333:user/u${i}` } })));
      await store.ingest(batch);
      const r = await evaluateFlows(store, batch, config);
      const fed = r.findings.filter((f) => f.flow === 'federation-token-issued').map((f) => f.severity).sort();
      expect(fed).toEqual(['high', 'medium']);
      for (const f of r.findings) expect((await getFinding(store.db, f.id))!.severity).toBe(f.severity);

      const roots = ingestibles(ssoFirstAssumeRoot());
      await store.ingest(roots);
      // In two batches: the history first, then the AssumeRoot alone.
      await evaluateFlows(store, roots.slice(0, -1), config);
      const root = (await evaluateFlows(store, roots.slice(-1), config)).findings.find((f) => f.flow === 'role-assumed-first-time')!;
      expect(root.severity).toBe('high');
      expect((await getFinding(store.db, root.id))!.severity).toBe('high');
    });
  });
});
