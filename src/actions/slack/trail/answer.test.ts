import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../../test/helpers/db.ts';
import { record } from '../../../../test/helpers/fixtures.ts';
import { TrailbotError } from '../../../errors.ts';
import type { Ingestible, RawRecord } from '../../../events/model.ts';
import { normalize } from '../../../events/normalize.ts';
import { defaultFlowsConfig, evaluateFlows } from '../../../flows/index.ts';
import { createResponder } from '../../../integrations/slack/client.ts';
import { type ResponseUrl, type SlackStandin, startSlackStandin } from '../../../integrations/slack/standin/index.ts';
import { jobPayloads } from '../../../runtime/jobs.ts';
import { createLogger } from '../../../runtime/logger.ts';
import type { JobContext } from '../../../runtime/pipeline.ts';
import type { LiveLookupResult } from '../../../sources/index.ts';
import { openStore, type Store } from '../../../store/index.ts';
import { insertTicket, markCreated } from '../../jira/tickets.ts';
import { trailAccess } from './access.ts';
import { createTrailAnswerer, type TrailAnswerDeps } from './answer.ts';
import { decodeCursor } from './cursor.ts';
import { parseTrail } from './grammar.ts';
import { MORE_ACTION } from './render.ts';

/**
 * The slack-trail job against a real PostgreSQL store, answering through the real responder to the
 * Slack stand-in's response_url receivers: pages, counts, ticket links, refusals, and how a failure
 * reaches the person (once, on the try that is not retried).
 */
const TEMPLATE = record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04');
const NOW = Date.now();
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** alana's calls: a minute apart, newest first; every 5th a read, every 7th denied, every 3rd from the console. */
function calls(n: number, user = 'alana', start = NOW - 60_000): RawRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const raw = structuredClone(TEMPLATE) as RawRecord & Record<string, unknown>;
    raw.eventID = `a1a0${user.length}000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    raw.eventTime = iso(start - i * 60_000);
    Object.assign(raw.userIdentity as Record<string, unknown>, { userName: user, arn: `arn:aws:iam::229654561268:user/${user}` });
    if (i % 5 === 4) Object.assign(raw, { eventName: 'ListUsers', readOnly: true });
    if (i % 7 === 6) Object.assign(raw, { errorCode: 'AccessDenied', errorMessage: 'User is not authorized to perform iam:CreateAccessKey' });
    if (i % 3 === 2) raw.userAgent = 'console.amazonaws.com';
    return raw;
  });
}

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let store: Store;
let slack: SlackStandin;
const log = createLogger({ level: 'silent' });
const ALLOWED = 'U0ANALYST';

const ctx = (attempt = 1, attempts = 3): JobContext =>
  ({ store, log, job: { id: 'slack-trail-test', kind: 'slack-trail', attempt, attempts }, enqueue: async () => ({ id: 'x', duplicate: false }), metrics: undefined, config: undefined }) as unknown as JobContext;

const noLookup = async (_s: Store, o: { who: string }): Promise<LiveLookupResult> => ({ who: o.who, events: [], queries: [], partial: [], note: 'No account-region to ask: configure a source of kind lookup.', stored: 0 });

function deps(o: Partial<TrailAnswerDeps> = {}): TrailAnswerDeps {
  return {
    respond: createResponder({ apiUrl: `${slack.url}/api` }),
    access: trailAccess({ allow: { users: [ALLOWED], usergroups: [], channels: [] } }),
    live: noLookup,
    publicUrl: 'https://trailbot.example.com',
    ...o,
  };
}

function job(url: ResponseUrl, text: string, o: { page?: number; offset?: number; after?: { time: string; eventId: string }; replaceOriginal?: boolean; userId?: string } = {}) {
  const parsed = parseTrail(text);
  if (parsed.kind !== 'query') throw new Error(text);
  return jobPayloads['slack-trail'].parse({
    responseUrl: url.url,
    userId: o.userId ?? ALLOWED,
    channelId: 'C0SECURITY',
    replaceOriginal: o.replaceOriginal ?? false,
    answer: { kind: 'page', query: parsed.query, page: o.page ?? 1, offset: o.offset ?? 0, after: o.after },
  });
}

type Block = { type: string; text?: { text: string }; fields?: { text: string }[]; elements?: { text?: unknown; value?: string; action_id?: string }[] };
const shown = (url: ResponseUrl) => (url.latest?.blocks ?? []) as Block[];
const callLines = (url: ResponseUrl) =>
  shown(url)
    .filter((b) => b.type === 'section' && b.text)
    .flatMap((b) => b.text!.text.split('\n'))
    .filter((l) => l.startsWith('• ') && l.includes(' UTC'));

beforeAll(async () => {
  db = await createTestDatabase('trailbot_trail');
  store = await openStore({ databaseUrl: db.url, dataDir: '/nonexistent' });
  slack = await startSlackStandin();
  const own: Ingestible[] = [...calls(45), ...calls(3, 'alana', NOW - 3 * 86_400_000), ...calls(4, 'omar')].map((raw) => ({ event: normalize(raw), raw }));
  await store.ingest(own);
  // A ticket of a finding alana took part in: the answer links it.
  const r = await evaluateFlows(store, own.slice(0, 45), defaultFlowsConfig());
  const finding = r.findings.find((f) => f.flow === 'access-key-created')!;
  await insertTicket(store.db, {
    findingId: finding.id,
    generation: 1,
    state: 'intent',
    project: 'SEC',
    issueType: 'Task',
    labels: [],
    priority: undefined,
    summary: finding.title,
    description: { type: 'doc', version: 1, content: [] },
    linksKey: undefined,
    reportedCount: 1,
    reportedLastSeen: finding.lastSeen,
    leaseJob: undefined,
    leaseMs: 0,
  });
  await markCreated(store.db, finding.id, 1, { id: '10001', key: 'SEC-7', url: 'https://corp.atlassian.net/browse/SEC-7' });
});
afterAll(async () => {
  await store?.close();
  await slack?.close();
  await db?.drop();
});

describe('the slack-trail job', () => {
  it('answers page after page, newest first, each call once, with the counts, tops, ticket and trailbot links', async () => {
    const answer = createTrailAnswerer(deps());
    const url = slack.responseUrl({ userId: ALLOWED });
    const first = await answer(ctx(), job(url, 'alana 24h'));
    expect(first).toMatchObject({ answered: 'page', page: 1, principals: 1, calls: 45, shown: 20, more: true });
    const [post] = await url.waitForPosts(1);
    expect(post!.status).toBe(200);
    expect(post!.body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    const b = shown(url);
    expect(b[0]).toMatchObject({ type: 'header', text: { text: 'Trail of alana' } });
    // 45 calls: 9 reads (every 5th), 6 denied (every 7th), 15 from the console (every 3rd).
    expect(b[2]!.text!.text).toMatch(/^\*45\* calls in the last 24 hours \(.* UTC\): \*36\* changes · \*6\* denied · \*15\* from the console$/);
    expect(b[3]!.fields![0]!.text).toBe('*Most frequent actions*\n• CreateAccessKey (iam) ×36\n• ListUsers (iam) ×9');
    const all = JSON.stringify(b);
    expect(all).toContain('<https://corp.atlassian.net/browse/SEC-7|SEC-7>');
    expect(all).toContain('<https://trailbot.example.com/?person=alana&amp;since=');

    const seen = [...callLines(url)];
    expect(seen).toHaveLength(20);
    let value = (b.at(-1)!.elements![0] as { value: string; action_id: string });
    expect(value.action_id).toBe(MORE_ACTION);
    for (const [page, expectShown, more] of [[2, 20, true], [3, 5, false]] as const) {
      const c = decodeCursor(value.value)!;
      expect(c.page).toBe(page);
      const click = slack.responseUrl({ userId: ALLOWED, on: url });
      const r = await answer(ctx(), jobPayloads['slack-trail'].parse({ responseUrl: click.url, userId: ALLOWED, channelId: 'C0SECURITY', replaceOriginal: true, answer: { kind: 'page', query: c.query, page: c.page, offset: c.offset, after: c.after } }));
      expect(r).toMatchObject({ page, shown: expectShown, more });
      await click.waitForPosts(1);
      // Replaced the message the button was on: the person still sees one message.
      expect(url.messages).toHaveLength(1);
      expect(url.latest!.replaced).toBe(page - 1);
      const heading = shown(url).find((x) => x.text?.text.includes('newest first'))!.text!.text;
      expect(heading).toMatch(new RegExp(`^\\*Calls ${(page - 1) * 20 + 1}–${(page - 1) * 20 + expectShown} of 45\\*`));
      seen.push(...callLines(url));
      if (more) value = shown(url).at(-1)!.elements![0] as { value: string; action_id: string };
      else expect(shown(url).some((x) => x.type === 'actions')).toBe(false);
    }
    expect(seen).toHaveLength(45);
    expect(new Set(seen).size).toBe(45);
    const times = seen.map((l) => / on (\d{4}-\d\d-\d\d) at (\d\d:\d\d:\d\d) UTC/.exec(l)!.slice(1).join('T'));
    expect([...times].sort().reverse()).toEqual(times);
  });

  it('applies the filters to the counts and the calls', async () => {
    const url = slack.responseUrl({ userId: ALLOWED });
    const r = await createTrailAnswerer(deps())(ctx(), job(url, 'alana denied console 7d'));
    // denied (i % 7 == 6) and console (i % 3 == 2): i = 20, 41.
    expect(r).toMatchObject({ calls: 2, shown: 2, more: false });
    await url.waitForPosts(1);
    expect(shown(url)[2]!.text!.text).toMatch(/^\*2\* calls in the last 7 days .*, denied calls only, console calls only: \*2\* changes · \*2\* denied · \*2\* from the console$/);
  });

  it('says who was searched and where when nothing is found', async () => {
    const url = slack.responseUrl({ userId: ALLOWED });
    expect(await createTrailAnswerer(deps())(ctx(), job(url, 'nobody@nowhere'))).toMatchObject({ answered: 'empty', principals: 0, live: 'not-configured' });
    await url.waitForPosts(1);
    expect(url.latest!.text).toBe("No activity found for *nobody@nowhere* in the last 24 hours (searched trailbot's store: nobody by that name; CloudTrail was not asked live: no lookup source is configured).");
    const quiet = slack.responseUrl({ userId: ALLOWED });
    await createTrailAnswerer(deps())(ctx(), job(quiet, 'omar region:ap-south-1'));
    await quiet.waitForPosts(1);
    expect(quiet.latest!.text).toMatch(/^No activity found for \*omar\* in the last 24 hours \(in ap-south-1\) \(searched trailbot's store: 1 matching principal, no calls in that window;/);
  });

  it('refuses whoever the allow-list does not name, showing nothing', async () => {
    const url = slack.responseUrl({ userId: 'U0STRANGER' });
    expect(await createTrailAnswerer(deps())(ctx(), job(url, 'alana', { userId: 'U0STRANGER' }))).toEqual({ answered: 'refused' });
    await url.waitForPosts(1);
    expect(url.latest!.text).toMatch(/^Sorry, you can't use \/trail here/);
    expect(JSON.stringify(url.latest)).not.toContain('alana');
    // A worker that cannot read user groups (no SLACK_BOT_TOKEN) refuses whom only a user group could allow.
    const groupie = slack.responseUrl({ userId: 'U0GROUPIE' });
    const noClient = createTrailAnswerer(deps({ access: trailAccess({ allow: { users: [ALLOWED], usergroups: ['S0ANALYSTS'], channels: [] } }) }));
    expect(await noClient(ctx(), job(groupie, 'alana', { userId: 'U0GROUPIE' }))).toEqual({ answered: 'refused' });
    await groupie.waitForPosts(1);
    expect(groupie.latest!.text).toMatch(/^Sorry, I couldn't check just now whether you may use \/trail/);
  });

  it('tells the person once, on the try that will not be retried, what went wrong; never a stack', async () => {
    const broken = createTrailAnswerer(
      deps({
        live: async () => {
          throw new TrailbotError('E_STORE_UNAVAILABLE', 'the store went away');
        },
      }),
    );
    const url = slack.responseUrl({ userId: ALLOWED });
    // Nothing stored for this person: the job asks CloudTrail, which fails.
    await expect(broken(ctx(1, 3), job(url, 'maria'))).rejects.toThrow('the store went away');
    await expect(broken(ctx(2, 3), job(url, 'maria'))).rejects.toThrow('the store went away');
    expect(url.posts).toHaveLength(0);
    await expect(broken(ctx(3, 3), job(url, 'maria'))).rejects.toThrow('the store went away');
    await url.waitForPosts(1);
    expect(url.posts).toHaveLength(1);
    expect(url.latest!.text).toBe(
      "Sorry, I could not finish looking up *maria*: trailbot's event store did not answer. Please try again in a minute; if it keeps happening, tell whoever runs trailbot (error E_STORE_UNAVAILABLE).",
    );
    // An error retrying cannot fix is told at once.
    const bad = slack.responseUrl({ userId: ALLOWED });
    const permanent = createTrailAnswerer(deps({ live: async () => Promise.reject(new TrailbotError('E_INPUT_SHAPE', 'nope')) }));
    await expect(permanent(ctx(1, 3), job(bad, 'maria'))).rejects.toThrow('nope');
    await bad.waitForPosts(1);
    expect(bad.latest!.text).toContain('(error E_INPUT_SHAPE)');
  });

  it('leaves a Slack that does not take the answer to the queue: retried, then answered', async () => {
    const url = slack.responseUrl({ userId: ALLOWED });
    slack.faults.serverError({ method: 'response_url', status: 503 });
    const answer = createTrailAnswerer(deps());
    await expect(answer(ctx(1, 3), job(url, 'omar 7d'))).rejects.toMatchObject({ code: 'E_SLACK_UNAVAILABLE' });
    expect(url.posts.filter((p) => p.status === 200)).toHaveLength(0);
    expect(await answer(ctx(2, 3), job(url, 'omar 7d'))).toMatchObject({ answered: 'page', calls: 4 });
    expect(url.posts.filter((p) => p.status === 200)).toHaveLength(1);
  });
});
