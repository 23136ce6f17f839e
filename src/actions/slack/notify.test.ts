import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type KeyFindings, openKeyFindings } from '../../../test/helpers/findings.ts';
import { waitFor } from '../../../test/helpers/wait.ts';
import { TrailbotError } from '../../errors.ts';
import { findingsPage, setFindingStatus } from '../../flows/index.ts';
import { createSlackClient } from '../../integrations/slack/client.ts';
import type { SlackPort } from '../../integrations/slack/port.ts';
import { type SlackStandin, type StoredMessage, startSlackStandin } from '../../integrations/slack/standin/index.ts';
import { defaultJobs, makeProcessor } from '../../runtime/definitions.ts';
import { enqueue } from '../../runtime/enqueue.ts';
import { openInlineQueue } from '../../runtime/inline.ts';
import type { JobInput } from '../../runtime/jobs.ts';
import { createLogger } from '../../runtime/logger.ts';
import { createMetrics } from '../../runtime/metrics.ts';
import type { Store } from '../../store/index.ts';
import { parseRouting } from '../jira/routing.ts';
import { messageOf } from './messages.ts';
import { createSlackNotifier, FINDING_EVENT, REPLY_EVENT, type SlackNotifyOptions } from './notify.ts';
import { syncSlackPage } from './sync.ts';

/**
 * The Slack notifier against the Slack stand-in through the real client (@slack/web-api's WebClient
 * over HTTP; no mocked functions): one message per finding, coalesced thread replies, a 429 storm
 * through the real queue, a crash between a post (or a reply) and its record, the first message kept
 * in step with the ticket and the finding's status, refusals, and the catch-up.
 */
const log = createLogger({ level: 'silent' });

let keys: KeyFindings;
let store: Store;
let slack: SlackStandin;
let port: SlackPort;

beforeAll(async () => {
  keys = await openKeyFindings('trailbot_slack', 'slack-person-');
  store = keys.store;
  slack = await startSlackStandin();
  port = createSlackClient({ botToken: slack.token, apiUrl: `${slack.url}/api` });
});
afterAll(async () => {
  await slack?.close();
  await keys?.close();
});
beforeEach(() => slack.faults.clear());

/** A new finding with `n` events (a new person's CreateAccessKey calls); its id and the person. */
const raise = (n?: number) => keys.raise(n);
const more = (actor: string, n: number) => keys.more(actor, n);

const ROUTING = parseRouting({ slack: { channel: '#security' } });
const options = (o: Partial<SlackNotifyOptions> = {}): SlackNotifyOptions => ({ slack: port, routing: ROUTING, publicUrl: 'https://trailbot.test', ...o });
const ctx = (job = 'notify-test') => ({ db: store.db, log, job: { id: job } });
const channel = () => slack.channels.get('security')!;
/** The top-level messages of a finding in #security. */
const messagesOf = (findingId: string): StoredMessage[] => channel().messages.filter((m) => m.metadata?.event_type === FINDING_EVENT && m.metadata.event_payload.finding_id === findingId);
const posts = () => slack.requests.filter((r) => r.method === 'chat.postMessage' && r.ok).length;
/** The real client with another post (a crash or a lost answer around the real request). */
const withPost = (post: SlackPort['post']): SlackPort => ({ ...port, post, findByMetadata: (...a) => port.findByMetadata(...a), update: (...a) => port.update(...a) });
/** As if the last reply was long ago (the reply window has passed) without waiting for it. */
const windowPassed = (findingId: string) => store.db.query("UPDATE slack_messages SET last_reply_at = now() - interval '1 hour' WHERE finding_id = $1", [findingId]);

describe('notify (Slack)', () => {
  it('posts one message per finding in the routed channel, with the finding id in its metadata; a second open posts nothing', async () => {
    const notify = createSlackNotifier(options());
    const f = await raise();
    const r = await notify(ctx(), { findingId: f.id, action: 'open' });
    expect(r).toMatchObject({ message: 'posted', channel: channel().id });
    expect(await notify(ctx('again'), { findingId: f.id, action: 'open' })).toMatchObject({ message: 'unchanged', ts: r.ts });
    const [m, ...rest] = messagesOf(f.id);
    expect(rest).toEqual([]);
    expect(m!.ts).toBe(r.ts);
    const blocks = m!.blocks as { type: string; elements?: { action_id?: string; value?: string }[] }[];
    expect(blocks.map((b) => b.type)).toEqual(['header', 'context', 'section', 'actions']);
    expect(blocks[3]!.elements!.find((e) => e.action_id === 'trail-run')!.value).toBe(`arn:aws:iam::229654561268:user/${f.actor}`);
    expect(await messageOf(store.db, f.id)).toMatchObject({ state: 'posted', channelId: channel().id, ts: r.ts, attempts: 1, reportedCount: 1, replies: 0 });
  });

  it('posts nothing without a routed channel or without SLACK_BOT_TOKEN', async () => {
    const f = await raise();
    const before = posts();
    expect(await createSlackNotifier(options({ routing: undefined }))(ctx(), { findingId: f.id, action: 'open' })).toMatchObject({ message: 'unchanged', reason: expect.stringMatching(/routing/) });
    expect(await createSlackNotifier(options({ routing: parseRouting({ slack: { channel: '#security', minSeverity: 'high' } }) }))(ctx(), { findingId: f.id, action: 'open' })).toMatchObject({ message: 'unchanged' });
    expect(await createSlackNotifier(options({ slack: undefined }))(ctx(), { findingId: f.id, action: 'open' })).toMatchObject({ message: 'unchanged', reason: expect.stringMatching(/SLACK_BOT_TOKEN/) });
    expect(posts()).toBe(before);
    expect(await messageOf(store.db, f.id)).toBeUndefined();
  });

  it('more events make ONE thread reply per window: "N more events", the newest in words; within the window the job waits', async () => {
    const notify = createSlackNotifier(options());
    const f = await raise();
    const { ts } = await notify(ctx(), { findingId: f.id, action: 'open' });
    await more(f.actor, 7);
    // Two update jobs for the same window's events (a retry, the catch-up): one reply.
    expect(await notify(ctx('u1'), { findingId: f.id, action: 'update' })).toMatchObject({ message: 'replied' });
    expect(await notify(ctx('u2'), { findingId: f.id, action: 'update' })).toMatchObject({ message: 'unchanged' });
    let thread = channel().thread(ts!);
    expect(thread).toHaveLength(1);
    expect(thread[0]!.text).toMatch(/^7 more events: /);
    const text = (thread[0]!.blocks as { text: { text: string } }[])[0]!.text.text;
    expect(text.split('\n')[0]).toMatch(/^\*7 more events\*, newest 2024-08-01 \d\d:\d\d:\d\d UTC \(8 in all\):$/);
    expect(text.split('\n').filter((l) => l.startsWith('• '))).toHaveLength(5);
    expect(text).toContain('…and 2 more');
    expect(thread[0]!.metadata).toEqual({ event_type: REPLY_EVENT, event_payload: expect.objectContaining({ finding_id: f.id, upto: '8' }) });

    // More events less than a window after that reply: no second reply now; the job is retried at the window's end without using an attempt.
    await more(f.actor, 2);
    const e = (await notify(ctx('u3'), { findingId: f.id, action: 'update' }).catch((x: unknown) => x)) as TrailbotError;
    expect(e).toBeInstanceOf(TrailbotError);
    expect(e.retryAfterMs).toBeGreaterThan(50_000);
    expect(channel().thread(ts!)).toHaveLength(1);
    await windowPassed(f.id);
    expect(await notify(ctx('u3'), { findingId: f.id, action: 'update' })).toMatchObject({ message: 'replied' });
    thread = channel().thread(ts!);
    expect(thread).toHaveLength(2);
    expect(thread[1]!.text).toMatch(/^2 more events: /);
    expect(await messageOf(store.db, f.id)).toMatchObject({ reportedCount: 10, replies: 2, replyUpto: null });
    expect(messagesOf(f.id)).toHaveLength(1);
  });

  it('a crash between the post and its record: the retry finds the message by its metadata and posts nothing', async () => {
    const f = await raise();
    const dying = withPost(async (c, m, o) => {
      await port.post(c, m, o);
      throw new Error('worker killed');
    });
    await expect(createSlackNotifier(options({ slack: dying }))(ctx('j'), { findingId: f.id, action: 'open' })).rejects.toThrow('worker killed');
    expect(messagesOf(f.id)).toHaveLength(1);
    expect(await messageOf(store.db, f.id)).toMatchObject({ state: 'intent', attempts: 1, ts: null });
    const before = posts();
    // The same job retried (its lease is its own): looks in the channel first, records what it finds.
    const r = await createSlackNotifier(options())(ctx('j'), { findingId: f.id, action: 'open' });
    expect(r).toMatchObject({ message: 'posted', ts: messagesOf(f.id)[0]!.ts });
    expect(posts()).toBe(before);
    expect(messagesOf(f.id)).toHaveLength(1);
    expect(await messageOf(store.db, f.id)).toMatchObject({ state: 'posted', ts: messagesOf(f.id)[0]!.ts });
  });

  it('a crash between a thread reply and its record: the retry finds the reply in the thread and replies nothing more', async () => {
    const f = await raise();
    const { ts } = await createSlackNotifier(options())(ctx(), { findingId: f.id, action: 'open' });
    await more(f.actor, 3);
    const dying = withPost(async (c, m, o) => {
      const r = await port.post(c, m, o);
      if (o?.threadTs) throw new Error('worker killed');
      return r;
    });
    await expect(createSlackNotifier(options({ slack: dying }))(ctx('r'), { findingId: f.id, action: 'update' })).rejects.toThrow('worker killed');
    expect(channel().thread(ts!)).toHaveLength(1);
    expect(await messageOf(store.db, f.id)).toMatchObject({ replyUpto: 4, replyAttempts: 1, reportedCount: 1 });
    const before = posts();
    // Counted as the reply it is (the killed try counted nothing), posted once.
    expect(await createSlackNotifier(options())(ctx('r'), { findingId: f.id, action: 'update' })).toMatchObject({ message: 'replied' });
    expect(posts()).toBe(before);
    expect(channel().thread(ts!)).toHaveLength(1);
    expect(await messageOf(store.db, f.id)).toMatchObject({ reportedCount: 4, replies: 1, replyUpto: null });
  });

  it("a 429 storm through the real queue: Slack's Retry-After is honoured, no attempt is used up, every finding gets exactly one message", async () => {
    const notify = createSlackNotifier(options());
    const queue = openInlineQueue(store.db, 'slack-storm', { pollMs: 20 });
    const retries: number[] = [];
    const processor = makeProcessor(defaultJobs({ notify: (c, p) => notify({ db: c.store.db, log, job: c.job }, p) }), { store, queue, log, metrics: createMetrics({ store, queue }), config: undefined });
    const worker = await queue.work(processor, { concurrency: 2, onEvent: (e) => e.type === 'failed' && e.retryInMs !== undefined && retries.push(e.retryInMs) });
    try {
      const fs = [await raise(), await raise(), await raise()];
      slack.faults.rateLimit({ count: 5, retryAfterSeconds: 1, method: 'chat.postMessage' });
      const started = Date.now();
      const seen = slack.requests.length;
      for (const f of fs) await enqueue(queue, 'notify', { target: 'slack', findingId: f.id, action: 'open' } satisfies JobInput<'notify'>);
      await waitFor('a message for every finding', async () => (await Promise.all(fs.map((f) => messageOf(store.db, f.id)))).every((m) => m?.state === 'posted'), 30_000);
      expect(slack.requests.slice(seen).filter((r) => r.fault === '429').length).toBe(5);
      expect(retries.length).toBeGreaterThanOrEqual(5);
      expect(retries.every((ms) => ms >= 1000)).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
      for (const f of fs) expect(messagesOf(f.id)).toHaveLength(1);
      // Answered 429, nothing was posted: the attempts were taken back, so no retry had to look first.
      for (const f of fs) expect((await messageOf(store.db, f.id))!.attempts).toBe(1);
      expect(slack.requests.slice(seen).filter((r) => r.method === 'conversations.history').length).toBe(0);
      expect(await queue.counts()).toMatchObject({ failed: 0 });
    } finally {
      await worker.close();
      await queue.close();
    }
  });

  it('the first message follows the ticket and the finding: "Open ticket" once there is one, "Resolved" once resolved', async () => {
    const notify = createSlackNotifier(options());
    const f = await raise();
    const { ts } = await notify(ctx(), { findingId: f.id, action: 'open' });
    const buttons = () => ((channel().messages.find((m) => m.ts === ts)!.blocks as { type: string; elements?: { action_id: string; url?: string }[] }[]).at(-1)!.elements ?? []).map((b) => b.action_id);
    expect(buttons()).toEqual(['trail-run', 'open-trailbot']);
    // The ticket, as the Jira notifier records it.
    await store.db.query(
      `INSERT INTO tickets (finding_id, generation, state, project, issue_type, labels, summary, description, jira_key, url)
       VALUES ($1, 1, 'created', 'SEC', 'Task', '{}', 's', '{}'::jsonb, $2, $3)`,
      [f.id, `SEC-${keys.raised}`, `https://jira.test/browse/SEC-${keys.raised}`],
    );
    expect(await notify(ctx(), { findingId: f.id, action: 'update' })).toMatchObject({ message: 'updated' });
    expect(buttons()).toEqual(['open-ticket', 'trail-run', 'open-trailbot']);
    expect(await notify(ctx(), { findingId: f.id, action: 'update' })).toMatchObject({ message: 'unchanged' });
    await setFindingStatus(store.db, f.id, 'resolved');
    expect(await notify(ctx(), { findingId: f.id, action: 'resolve' })).toMatchObject({ message: 'updated' });
    const m = channel().messages.find((x) => x.ts === ts)!;
    expect(m.text).toMatch(/^medium: Resolved: /);
    expect(JSON.stringify(m.blocks)).toContain(`SEC-${keys.raised} was closed`);
    expect(m.edited).toBeDefined();
    expect(messagesOf(f.id)).toHaveLength(1);
    expect(await messageOf(store.db, f.id)).toMatchObject({ shownTicket: `SEC-${keys.raised}`, shownResolved: true });
  });

  it('a channel Slack does not know fails at once, naming the setting; once fixed, `jobs retry` posts it', async () => {
    const f = await raise();
    const wrong = createSlackNotifier(options({ routing: parseRouting({ slack: { channel: '#no-such-channel' } }) }));
    const e = (await wrong(ctx(), { findingId: f.id, action: 'open' }).catch((x: unknown) => x)) as TrailbotError;
    expect(e.code).toBe('E_SLACK_REJECTED');
    expect(`${e.message} ${e.hint}`).toMatch(/routing\.slack/);
    expect(await messageOf(store.db, f.id)).toMatchObject({ state: 'failed', error: expect.stringMatching(/E_SLACK_REJECTED/) });
    // As a job: no retries.
    const queue = openInlineQueue(store.db, 'slack-permanent');
    const processor = makeProcessor(defaultJobs({ notify: (c, p) => wrong({ db: c.store.db, log, job: c.job }, p) }), { store, queue, log, metrics: createMetrics({ store, queue }), config: undefined });
    const failed = (await processor({ id: 'j1', name: 'notify', data: { target: 'slack', findingId: f.id, action: 'open' }, attemptsMade: 0, attempts: 8 }).catch((x: unknown) => x)) as Error;
    expect(failed.name).toBe('UnrecoverableError');
    expect(await createSlackNotifier(options())(ctx(), { findingId: f.id, action: 'open' })).toMatchObject({ message: 'posted', channel: channel().id });
    expect(messagesOf(f.id)).toHaveLength(1);
  });
});

describe('the Slack catch-up', () => {
  it('enqueues the missing first message, the reply a thread is behind on, and the resolved update; nothing twice', async () => {
    const notify = createSlackNotifier(options());
    const lost = await raise(); // its open job was never enqueued
    const behind = await raise();
    await notify(ctx(), { findingId: behind.id, action: 'open' });
    await more(behind.actor, 2);
    const closed = await raise();
    await notify(ctx(), { findingId: closed.id, action: 'open' });
    await setFindingStatus(store.db, closed.id, 'resolved');
    const quiet = await raise(); // below the channel's minimum: never posted
    const queue = openInlineQueue(store.db, 'slack-sync');
    try {
      const c = { store, enqueue: ((k, i, o) => enqueue(queue, k, i, o)) as Parameters<typeof syncSlackPage>[0]['enqueue'] };
      const page = (await findingsPage(store.db, { limit: 1000 })).findings.filter((f) => [lost.id, behind.id, closed.id, quiet.id].includes(f.id));
      const routing = parseRouting({ slack: { channel: '#security' }, rules: [{ match: { flow: 'access-key-created', severity: 'medium' }, slack: { minSeverity: 'high' } }] });
      // With the rule, none of these is routed for a first message; the posted ones are still kept in step.
      expect(await syncSlackPage(c, page, { routing, enabled: true })).toEqual({ opened: 0, updated: 1, resolved: 1 });
      expect(await syncSlackPage(c, page, { routing: ROUTING, enabled: true })).toEqual({ opened: 2, updated: 0, resolved: 0 });
      expect(await syncSlackPage(c, page, { routing: ROUTING, enabled: true })).toEqual({ opened: 0, updated: 0, resolved: 0 });
      expect(await syncSlackPage(c, page, { routing: ROUTING, enabled: false })).toEqual({ opened: 0, updated: 0, resolved: 0 });
      const jobs = (await queue.list('waiting', 100)).concat(await queue.list('delayed', 100)).map((j) => `${(j.data as { action: string }).action}:${(j.data as { findingId: string }).findingId}`);
      expect(jobs.sort()).toEqual([`open:${lost.id}`, `open:${quiet.id}`, `update:${behind.id}`, `resolve:${closed.id}`].sort());
    } finally {
      await queue.close();
    }
  });
});
