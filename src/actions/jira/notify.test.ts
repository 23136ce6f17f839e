import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type KeyFindings, openKeyFindings } from '../../../test/helpers/findings.ts';
import { TrailbotError } from '../../errors.ts';
import { getFinding } from '../../flows/index.ts';
import { createJiraClient } from '../../integrations/jira/client.ts';
import type { JiraPort } from '../../integrations/jira/port.ts';
import { type JiraStandin, startJiraStandin } from '../../integrations/jira/standin/index.ts';
import { defaultJobs, makeProcessor } from '../../runtime/definitions.ts';
import { openInlineQueue } from '../../runtime/inline.ts';
import { createLogger } from '../../runtime/logger.ts';
import { createMetrics } from '../../runtime/metrics.ts';
import type { Store } from '../../store/index.ts';
import { onJiraIssueEvent } from './issue-events.ts';
import { createJiraNotifier, findingLabel, type JiraNotifyOptions } from './notify.ts';
import { parseRouting } from './routing.ts';
import { currentTicket, listTickets, ticketBriefs } from './tickets.ts';

/**
 * The notify orchestration against the Jira stand-in through the real jira.js client (no mocked
 * functions): one ticket per finding, a crash between create and record, coalesced comments, the
 * closed-ticket rule, refusals, and tickets kept without Jira.
 */
const log = createLogger({ level: 'silent' });

let keys: KeyFindings;
let store: Store;
let jira: JiraStandin;
let port: JiraPort;

beforeAll(async () => {
  keys = await openKeyFindings('trailbot_tickets', 'person-');
  store = keys.store;
  jira = await startJiraStandin({ indexDelayMs: 0 });
  port = createJiraClient({ baseUrl: jira.url, email: jira.credentials.email, apiToken: jira.credentials.apiToken });
});
afterAll(async () => {
  await jira?.close();
  await keys?.close();
});
beforeEach(() => {
  jira.indexDelayMs = 0;
  jira.faults.clear();
});

/** A new finding with `n` events (a new person's CreateAccessKey calls); its id and the person. */
const raise = (n?: number) => keys.raise(n);
const more = (actor: string, n: number) => keys.more(actor, n);

const options = (o: Partial<JiraNotifyOptions> = {}): JiraNotifyOptions => ({ jira: port, routing: undefined, project: 'SEC', publicUrl: 'http://trailbot.test', settleMs: 30_000, ...o });
const ctx = (job = 'notify-test') => ({ db: store.db, log, job: { id: job } });
/** The real client with another create (a crash or a refused connection around the real request). */
const withCreate = (create: JiraPort['create']): JiraPort => ({
  create,
  findByLabel: (l, p) => port.findByLabel(l, p),
  get: (k) => port.get(k),
  comment: (k, b) => port.comment(k, b),
  reopen: (k) => port.reopen(k),
  link: (a, b, t) => port.link(a, b, t),
  transitionTo: (k, st) => port.transitionTo(k, st),
  findComment: (k, m) => port.findComment(k, m),
  browseUrl: (k) => port.browseUrl(k),
});
const ticketsOf = (findingId: string) => jira.issues().filter((i) => i.labels.includes(findingLabel(findingId)));
const creates = () => jira.requests.filter((r) => r.method === 'POST' && r.path === '/rest/api/3/issue').length;

describe('notify (Jira)', () => {
  it('files one ticket per finding, with the labels and the trailbot property, and no second one for the same finding', async () => {
    const notify = createJiraNotifier(options());
    const f = await raise();
    const r = await notify(ctx(), { findingId: f.id, action: 'open' });
    expect(r.ticket).toBe('created');
    expect(await notify(ctx('again'), { findingId: f.id, action: 'open' })).toMatchObject({ ticket: 'unchanged', key: r.key });
    const [issue, ...rest] = ticketsOf(f.id);
    expect(rest).toEqual([]);
    expect(issue!.labels).toEqual(expect.arrayContaining(['trailbot', 'access-key-created', findingLabel(f.id)]));
    const finding = (await getFinding(store.db, f.id))!;
    expect(issue!.properties.get('trailbot')).toEqual({ findingId: f.id, key: finding.key });
    const t = (await currentTicket(store.db, f.id))!;
    expect(t).toMatchObject({ state: 'created', key: r.key, url: `${jira.url}/browse/${r.key}`, summary: issue!.summary, reportedCount: 1 });
    expect(t.description).toEqual(issue!.description);
    expect((await ticketBriefs(store.db, [f.id])).get(f.id)).toEqual({ key: r.key, url: `${jira.url}/browse/${r.key}`, status: 'To Do' });
  });

  it('after a crash between create and record, searches before creating: waits while the search may lag, then records the one ticket', async () => {
    const f = await raise();
    // The create reaches Jira, then the process "dies" before recording the key.
    const dying = withCreate(async (input, o) => {
      await port.create(input, o);
      throw new Error('worker killed');
    });
    jira.indexDelayMs = 600_000; // Jira's search does not show the new issue yet
    await expect(createJiraNotifier(options({ jira: dying }))(ctx(), { findingId: f.id, action: 'open' })).rejects.toThrow('worker killed');
    expect(ticketsOf(f.id)).toHaveLength(1);
    expect(await currentTicket(store.db, f.id)).toMatchObject({ state: 'intent', attempts: 1, key: null });

    // The retry searches, finds nothing (not indexed yet) within the settle window: retry later, no create.
    const before = creates();
    const notify = createJiraNotifier(options());
    const e = await notify(ctx(), { findingId: f.id, action: 'open' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TrailbotError);
    expect((e as TrailbotError).code).toBe('E_JIRA_UNAVAILABLE');
    expect((e as { retryAfterMs?: number }).retryAfterMs).toBeGreaterThan(20_000);
    expect(creates()).toBe(before);

    // Once the search shows it: found by its label, recorded, still one ticket.
    jira.reindex();
    const r = await notify(ctx(), { findingId: f.id, action: 'open' });
    expect(r.ticket).toBe('created');
    expect(ticketsOf(f.id).map((i) => i.key)).toEqual([r.key]);
    expect(creates()).toBe(before);
    expect(await currentTicket(store.db, f.id)).toMatchObject({ state: 'created', key: r.key });
  });

  it('creates after the settle window when an interrupted attempt never reached Jira', async () => {
    const f = await raise();
    const failing = withCreate(async () => {
      throw new TrailbotError('E_JIRA_UNAVAILABLE', 'connection reset');
    });
    await expect(createJiraNotifier(options({ jira: failing }))(ctx(), { findingId: f.id, action: 'open' })).rejects.toThrow('connection reset');
    expect(ticketsOf(f.id)).toHaveLength(0);
    const r = await createJiraNotifier(options({ settleMs: 0 }))(ctx(), { findingId: f.id, action: 'open' });
    expect(r.ticket).toBe('created');
    expect(ticketsOf(f.id)).toHaveLength(1);
  });

  it('a create Jira answered 429 made nothing: the retry creates at once, without searching or waiting for the search to settle', async () => {
    const f = await raise();
    jira.faults.rateLimit({ count: 1, retryAfterSeconds: 1, match: { method: 'POST', path: '/rest/api/3/issue' } });
    const notify = createJiraNotifier(options());
    const e = await notify(ctx(), { findingId: f.id, action: 'open' }).catch((x: unknown) => x);
    expect((e as TrailbotError).code).toBe('E_JIRA_RATE_LIMITED');
    expect((e as { retryAfterMs?: number }).retryAfterMs).toBe(1000);
    expect(await currentTicket(store.db, f.id)).toMatchObject({ state: 'intent', attempts: 0 });
    const searches = jira.requests.filter((r) => r.path === '/rest/api/3/search/jql').length;
    const r = await notify(ctx(), { findingId: f.id, action: 'open' });
    expect(r.ticket).toBe('created');
    expect(jira.requests.filter((x) => x.path === '/rest/api/3/search/jql').length).toBe(searches);
    expect(ticketsOf(f.id).map((i) => i.key)).toEqual([r.key]);
  });

  it('one notify job at a time per ticket: another job waits, a retry of the same job takes over', async () => {
    const f = await raise();
    const dying = withCreate(async () => Promise.reject(new Error('worker killed')));
    await expect(createJiraNotifier(options({ jira: dying }))(ctx('job-a'), { findingId: f.id, action: 'open' })).rejects.toThrow();
    // job-a's lease is released when it fails in-process; a lease left by a killed worker:
    await store.db.query(`UPDATE tickets SET lease_job = 'job-a', lease_until = now() + interval '10 minutes' WHERE finding_id = $1`, [f.id]);
    await expect(createJiraNotifier(options({ settleMs: 0 }))(ctx('job-b'), { findingId: f.id, action: 'update' })).rejects.toMatchObject({ code: 'E_JIRA_UNAVAILABLE' });
    expect(ticketsOf(f.id)).toHaveLength(0);
    const r = await createJiraNotifier(options({ settleMs: 0 }))(ctx('job-a'), { findingId: f.id, action: 'open' });
    expect(r.ticket).toBe('created');
    expect(ticketsOf(f.id)).toHaveLength(1);
  });

  it('500 events: one ticket, then one coalesced comment with the newest events and a count of the rest', async () => {
    const notify = createJiraNotifier(options());
    const f = await raise();
    const { key } = await notify(ctx(), { findingId: f.id, action: 'open' });
    for (let i = 0; i < 5; i++) await more(f.actor, 100 - (i === 0 ? 1 : 0));
    expect((await getFinding(store.db, f.id))!.count).toBe(500);
    // The minute's update job: one comment for all 499.
    expect(await notify(ctx('u1'), { findingId: f.id, action: 'update' })).toMatchObject({ ticket: 'updated', key });
    expect(await notify(ctx('u2'), { findingId: f.id, action: 'update' })).toMatchObject({ ticket: 'unchanged' });
    expect(ticketsOf(f.id)).toHaveLength(1);
    const issue = jira.issue(key!)!;
    expect(issue.comments).toHaveLength(1);
    expect(JSON.stringify(issue.comments[0]!.body)).toMatch(/479|499/);
    expect(await currentTicket(store.db, f.id)).toMatchObject({ reportedCount: 500, comments: 1 });
  });

  it('a ticket closed in Jira: new activity opens a new ticket that links the old one (the default)', async () => {
    const notify = createJiraNotifier(options());
    const f = await raise();
    const first = await notify(ctx(), { findingId: f.id, action: 'open' });
    jira.closeIssue(first.key!);
    await more(f.actor, 2);
    const r = await notify(ctx(), { findingId: f.id, action: 'update' });
    expect(r.ticket).toBe('created');
    expect(r.key).not.toBe(first.key);
    expect(ticketsOf(f.id)).toHaveLength(2);
    const links = JSON.stringify(jira.issueJson(r.key!));
    expect(links).toContain(first.key!);
    expect(await currentTicket(store.db, f.id)).toMatchObject({ generation: 2, key: r.key, linksKey: first.key });
    expect(jira.issue(first.key!)!.comments).toHaveLength(0);
  });

  it('a ticket closed in Jira, with onClosed: reopen: reopened and commented, no new ticket; the finding open again', async () => {
    const notify = createJiraNotifier(options({ routing: parseRouting({ jira: { onClosed: 'reopen' } }) }));
    const f = await raise();
    const first = await notify(ctx(), { findingId: f.id, action: 'open' });
    jira.closeIssue(first.key!);
    await onJiraIssueEvent(store.db, { key: first.key!, status: 'Done', statusCategory: 'done' });
    expect((await getFinding(store.db, f.id))!.status).toBe('resolved');
    await more(f.actor, 2);
    expect(await notify(ctx(), { findingId: f.id, action: 'update' })).toMatchObject({ ticket: 'updated', key: first.key });
    expect(ticketsOf(f.id)).toHaveLength(1);
    expect((jira.issueJson(first.key!) as { fields: { status: { statusCategory: { key: string } } } }).fields.status.statusCategory.key).not.toBe('done');
    expect(jira.issue(first.key!)!.comments).toHaveLength(1);
    expect((await getFinding(store.db, f.id))!.status).toBe('open');
  });

  it('a refused project fails at once with the setting named, and the finding shows no ticket', async () => {
    const f = await raise();
    const notify = createJiraNotifier(options({ project: 'NOPE' }));
    const e = (await notify(ctx(), { findingId: f.id, action: 'open' }).catch((x: unknown) => x)) as TrailbotError;
    expect(e.code).toBe('E_JIRA_REJECTED');
    expect(`${e.message} ${e.hint}`).toMatch(/JIRA_PROJECT|routing/);
    expect(await currentTicket(store.db, f.id)).toMatchObject({ state: 'failed' });
    expect((await ticketBriefs(store.db, [f.id])).get(f.id)).toBeUndefined();
    expect((await listTickets(store.db, { state: 'failed' })).find((t) => t.findingId === f.id)?.error).toMatch(/E_JIRA_REJECTED/);

    // As a job: failed for good (no retries), with the message.
    const queue = openInlineQueue(store.db, 'notify-permanent');
    const processor = makeProcessor(defaultJobs({ notify: (c, p) => notify({ db: c.store.db, log, job: c.job }, p) }), { store, queue, log, metrics: createMetrics({ store, queue }), config: undefined });
    const failed = (await processor({ id: 'j1', name: 'notify', data: { target: 'jira', findingId: f.id, action: 'update' }, attemptsMade: 0, attempts: 8 }).catch((x: unknown) => x)) as Error;
    expect(failed.name).toBe('UnrecoverableError');
    expect(failed.message).toMatch(/E_JIRA_REJECTED/);
  });

  it('without Jira, keeps the ticket as it would be sent (not sent), shown by the API brief and the listing', async () => {
    const notify = createJiraNotifier(options({ jira: undefined }));
    const f = await raise();
    expect(await notify(ctx(), { findingId: f.id, action: 'open' })).toMatchObject({ ticket: 'not-sent' });
    const t = (await currentTicket(store.db, f.id))!;
    expect(t).toMatchObject({ state: 'not-sent', key: null, issueType: 'Task' });
    expect(t.labels).toEqual(expect.arrayContaining(['trailbot', 'access-key-created', findingLabel(f.id)]));
    expect(t.description).toMatchObject({ type: 'doc', version: 1 });
    expect((await ticketBriefs(store.db, [f.id])).get(f.id)).toEqual({ key: null, url: null, status: 'not sent' });
    await more(f.actor, 3);
    expect(await notify(ctx(), { findingId: f.id, action: 'update' })).toMatchObject({ ticket: 'unchanged' });
    expect(await currentTicket(store.db, f.id)).toMatchObject({ state: 'not-sent', reportedCount: 4 });
    expect((await listTickets(store.db)).find((x) => x.findingId === f.id)).toMatchObject({ state: 'not-sent', status: 'not sent', summary: t.summary });
  });
});

describe('onJiraIssueEvent (what the webhook calls)', () => {
  it('done resolves the finding, reopened opens it again, the assignee is kept; an unknown key changes nothing', async () => {
    const notify = createJiraNotifier(options());
    const f = await raise();
    const { key } = await notify(ctx(), { findingId: f.id, action: 'open' });
    const who = { accountId: '5b10ac8d82e05b22cc7d4ef5', displayName: 'Alana' };
    expect(await onJiraIssueEvent(store.db, { key: key!, status: 'Done', statusCategory: 'done', assignee: who })).toBe('updated');
    expect((await getFinding(store.db, f.id))!.status).toBe('resolved');
    expect(await currentTicket(store.db, f.id)).toMatchObject({ status: 'Done', statusCategory: 'done', assignee: who });
    expect(await onJiraIssueEvent(store.db, { key: key!, status: 'To Do', statusCategory: 'new' })).toBe('updated');
    expect((await getFinding(store.db, f.id))!.status).toBe('open');
    expect(await onJiraIssueEvent(store.db, { key: 'SEC-99999', status: 'Done', statusCategory: 'done' })).toBe('unknown');
  });

  it('events that arrive out of order: an older one (by timestamp, then changelog id) changes nothing', async () => {
    const notify = createJiraNotifier(options());
    const f = await raise();
    const { key } = await notify(ctx(), { findingId: f.id, action: 'open' });
    const at = Date.parse('2026-12-03T10:00:00Z');
    // Closed through In Progress in the same millisecond: Done (changelog 12) arrives before In Progress (11).
    expect(await onJiraIssueEvent(store.db, { key: key!, status: 'Done', statusCategory: 'done', position: { at, seq: 12 } })).toBe('updated');
    expect(await onJiraIssueEvent(store.db, { key: key!, status: 'In Progress', statusCategory: 'indeterminate', position: { at, seq: 11 } })).toBe('stale');
    expect((await getFinding(store.db, f.id))!.status).toBe('resolved');
    expect(await currentTicket(store.db, f.id)).toMatchObject({ status: 'Done', statusCategory: 'done' });
    // An earlier timestamp loses whatever its changelog id; a later one applies.
    expect(await onJiraIssueEvent(store.db, { key: key!, status: 'To Do', statusCategory: 'new', position: { at: at - 1, seq: 99 } })).toBe('stale');
    expect(await onJiraIssueEvent(store.db, { key: key!, status: 'To Do', statusCategory: 'new', position: { at: at + 1, seq: 13 } })).toBe('updated');
    expect((await getFinding(store.db, f.id))!.status).toBe('open');
  });
});
