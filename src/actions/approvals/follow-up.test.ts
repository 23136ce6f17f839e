import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/helpers/db.ts';
import { record } from '../../../test/helpers/fixtures.ts';
import type { Ingestible, RawRecord } from '../../events/model.ts';
import { normalize } from '../../events/normalize.ts';
import { defaultFlowsConfig, evaluateFlows } from '../../flows/index.ts';
import { createJiraClient } from '../../integrations/jira/client.ts';
import { type JiraStandin, startJiraStandin } from '../../integrations/jira/standin/index.ts';
import { statusById } from '../../integrations/jira/standin/site.ts';
import type { JobContext } from '../../runtime/pipeline.ts';
import { createLogger } from '../../runtime/logger.ts';
import { openStore, type Store } from '../../store/index.ts';
import { createJiraNotifier } from '../jira/notify.ts';
import { createApprovalFollowUp } from './follow-up.ts';
import { approvalLinks } from './proposals.ts';
import { approvalSettings } from './rules.ts';
import { approvalsOf, listAudit, recordDismissal } from './store.ts';

/**
 * Telling Jira what became of an approval, against the Jira stand-in through the real jira.js client:
 * a comment whose answer was lost is found by its marker on the retry (one comment); the port's move
 * to a status by name.
 */
const TEMPLATE = record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04');
const SECRET = 'approval-secret-follow-up-0123456789-abcdef';
const log = createLogger({ level: 'silent' });
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let jira: JiraStandin;
let seq = 0;

beforeAll(async () => {
  db = await createTestDatabase('trailbot_follow_up');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  jira = await startJiraStandin({ indexDelayMs: 0 });
});
afterAll(async () => {
  await jira?.close();
  await store?.close();
  await db?.drop();
});

/** A finding about IAM user `who`, its ticket in Jira (with the approval links), and its proposal dismissed by ana. */
async function dismissedProposal(who: string): Promise<{ approvalId: string; key: string }> {
  const events: Ingestible[] = Array.from({ length: 2 }, () => {
    seq++;
    const raw = structuredClone(TEMPLATE) as RawRecord & Record<string, unknown>;
    raw.eventID = `f011${String(seq).padStart(4, '0')}-0fa4-46e6-9322-022e8e934f04`;
    raw.eventTime = new Date(Date.parse('2024-08-01T13:00:00Z') + seq * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    Object.assign(raw.userIdentity as Record<string, unknown>, { userName: who, arn: `arn:aws:iam::229654561268:user/${who}` });
    return { event: normalize(raw), raw };
  });
  await store.ingest(events);
  const f = (await evaluateFlows(store, events, defaultFlowsConfig())).findings[0]!;
  const links = { secret: SECRET, publicUrl: 'https://trailbot.example', settings: approvalSettings(undefined) };
  const notify = createJiraNotifier({ jira: createJiraClient({ baseUrl: jira.url, email: jira.credentials.email, apiToken: jira.credentials.apiToken }), routing: undefined, project: 'SEC', publicUrl: 'https://trailbot.example', links: (d, x) => approvalLinks(d, x.id, links) });
  const r = await notify({ db: store.db, log, job: { id: `notify-${f.id}` } }, { findingId: f.id, action: 'open' });
  const a = (await approvalsOf(store.db, f.id))[0]!;
  const d = await recordDismissal(store.db, a.id, { email: 'ana@corp.example', ip: '10.0.0.1', userAgent: 'test' }, () => undefined);
  expect('approval' in d && d.approval.state).toBe('dismissed');
  return { approvalId: a.id, key: r.key! };
}

const ctx = (attempt = 1) => ({ store, log, job: { id: 'approval-test', kind: 'approval', attempt, attempts: 6 }, enqueue: async () => ({ id: 'x', duplicate: false }) }) as unknown as JobContext;

describe('telling Jira', () => {
  it('a comment whose answer was lost is found by its marker on the retry: one comment', async () => {
    const { approvalId, key } = await dismissedProposal('dora');
    const slow = createJiraClient({ baseUrl: jira.url, email: jira.credentials.email, apiToken: jira.credentials.apiToken }, { timeoutMs: 300 });
    const settings = approvalSettings(undefined);
    const tell = createApprovalFollowUp({ jira: slow, slack: undefined, secret: SECRET, publicUrl: 'https://trailbot.example', settings }).tell;
    // Jira makes the comment and holds its answer past the client's timeout.
    jira.faults.hold({ count: 1, ms: 1000, match: { method: 'POST', path: /\/comment$/ } });
    await expect(tell(ctx(1), { approvalId, task: 'tell-jira', state: 'dismissed' })).rejects.toMatchObject({ code: 'E_JIRA_UNAVAILABLE' });
    expect(jira.issue(key)!.comments).toHaveLength(1);
    jira.faults.clear();
    const again = await tell(ctx(2), { approvalId, task: 'tell-jira', state: 'dismissed' });
    expect(again).toMatchObject({ jira: 'commented', key });
    expect(jira.issue(key)!.comments).toHaveLength(1);
    expect(JSON.stringify(jira.issue(key)!.comments[0]!.body)).toContain('ana@corp.example dismissed the proposed deactivation of dora');
    // Told once: a third run changes nothing.
    expect(await tell(ctx(3), { approvalId, task: 'tell-jira', state: 'dismissed' })).toMatchObject({ jira: 'done' });
    expect(jira.issue(key)!.comments).toHaveLength(1);
    expect((await listAudit(store.db, { approvalId, action: 'told' }))[0]).toMatchObject({ actor: 'trailbot', outcome: 'dismissed', detail: { jira: key } });
  });

  it('transitionTo moves the ticket through a transition whose target has that name (any case), says when it is there already, and leaves it when no transition leads there', async () => {
    const client = createJiraClient({ baseUrl: jira.url, email: jira.credentials.email, apiToken: jira.credentials.apiToken });
    const first = await dismissedProposal('mona');
    expect(await client.transitionTo(first.key, 'in progress')).toBe('moved');
    expect(statusById(jira.issue(first.key)!.statusId).name).toBe('In Progress');
    expect(await client.transitionTo(first.key, 'In Progress')).toBe('already');
    // From In Progress the stand-in's workflow reaches Done, not To Do.
    expect(await client.transitionTo(first.key, 'To Do')).toBe('unavailable');
    expect(statusById(jira.issue(first.key)!.statusId).name).toBe('In Progress');
    expect(await client.findComment(first.key, 'no such marker')).toBeUndefined();
  });
});
