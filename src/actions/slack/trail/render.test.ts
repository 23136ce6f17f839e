import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { record } from '../../../../test/helpers/fixtures.ts';
import type { RawRecord, TrailEvent } from '../../../events/model.ts';
import { normalize } from '../../../events/normalize.ts';
import { blocksProblem } from '../../../integrations/slack/standin/blocks.ts';
import type { SlackMessage } from '../../../integrations/slack/port.ts';
import type { Principal } from '../../../store/index.ts';
import { decodeCursor, encodeCursor } from './cursor.ts';
import { parseTrail, type TrailRequest } from './grammar.ts';
import { blockProblems, blocksText, BLOCKS_TEXT_MAX, countsOf, MORE_ACTION, PAGE_SIZE, renderAnswer, renderEmpty, renderFailure, renderHelp, renderLooking, renderRefusal, renderUsage, type TrailAnswer } from './render.ts';

const TEMPLATE = record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04');
const NOW = Date.parse('2024-08-02T00:00:00Z');

function call(i: number, over: { user?: string; bucket?: string } = {}): TrailEvent {
  const raw = structuredClone(TEMPLATE) as RawRecord & Record<string, unknown>;
  raw.eventID = `7e5d0000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  raw.eventTime = new Date(Date.parse('2024-08-01T13:00:00Z') - i * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  Object.assign(raw.userIdentity as Record<string, unknown>, { userName: over.user ?? 'alana', arn: `arn:aws:iam::229654561268:user/${over.user ?? 'alana'}` });
  if (over.bucket) (raw.requestParameters as Record<string, unknown>).userName = over.bucket;
  return normalize(raw);
}

const q = (text: string): TrailRequest => {
  const r = parseTrail(text, { now: NOW });
  if (r.kind !== 'query') throw new Error(JSON.stringify(r));
  return r.query;
};

function principal(i: number, name = `user-${i}`): Principal {
  return {
    actorKey: `arn:aws:iam::229654561268:user/${name}`,
    type: 'IAMUser',
    name,
    arn: `arn:aws:iam::229654561268:user/${name}`,
    account: '229654561268',
    email: null,
    userName: name,
    roleName: null,
    sessionName: null,
    firstSeen: '2024-07-01T00:00:00Z',
    lastSeen: '2024-08-01T13:00:00Z',
    events: 1000 + i,
  };
}

function answer(o: Partial<TrailAnswer> = {}): TrailAnswer {
  const events = o.events ?? Array.from({ length: PAGE_SIZE }, (_, i) => call(i));
  return {
    query: q('alana@corp 7d writes'),
    principals: [principal(0, 'alana')],
    counts: { ...countsOf(events), total: 1234 },
    events,
    more: true,
    page: 1,
    offset: 0,
    source: 'store',
    tickets: [{ key: 'SEC-12', url: 'https://corp.atlassian.net/browse/SEC-12', title: 'Access key created by alana', status: 'In Progress' }],
    dashboardUrl: 'https://trailbot.example.com/?person=alana%40corp&writes=1&since=2024-07-26T00%3A00%3A00.000Z',
    ...o,
  };
}

type Block = { type: string; block_id?: string; text?: { text: string }; fields?: { text: string }[]; elements?: { type?: string; text?: unknown; value?: string; action_id?: string }[] };
const blocks = (m: SlackMessage) => (m.blocks ?? []) as Block[];
const allText = (m: SlackMessage) => JSON.stringify(m.blocks);
/** Within Block Kit's limits, by this module's own check and by the Slack stand-in's. */
const withinLimits = (m: SlackMessage) => {
  expect(blockProblems(m)).toEqual([]);
  expect(blocksProblem(m.blocks)).toBeUndefined();
};

describe('/trail answer', () => {
  it('names the person and what they matched, counts, tops, calls newest first, links and a More button', () => {
    const a = answer();
    const r = renderAnswer(a);
    withinLimits(r.message);
    const b = blocks(r.message);
    expect(b[0]).toMatchObject({ type: 'header', text: { text: 'Trail of alana@corp' } });
    expect(b[1]!.text!.text).toMatch(/^\*Matched one principal:\*\n• `alana` · IAMUser · account 229654561268 · arn:aws:iam::229654561268:user\/alana · 1,000 events stored, last 2024-08-01 13:00$/);
    expect(b[2]!.text!.text).toBe('*1,234* calls in the last 7 days (2024-07-26 00:00 – 2024-08-02 00:00 UTC), changes only: *20* changes · *0* denied · *0* from the console');
    expect(b[3]!.fields![0]!.text).toBe('*Most frequent actions*\n• CreateAccessKey (iam) ×20');
    const calls = b.filter((x) => x.type === 'section' && x.text?.text.includes('newest first'));
    expect(calls).toHaveLength(1);
    const lines = calls[0]!.text!.text.split('\n');
    expect(lines[0]).toBe('*Calls 1–20 of 1,234*, newest first:');
    expect(lines.slice(1)).toHaveLength(20);
    expect(lines[1]).toMatch(/^• alana created an access key .* on 2024-08-01 at 13:00:00 UTC$/);
    expect(lines[2]).toMatch(/at 12:59:59 UTC$/);
    expect(allText(r.message)).toContain('<https://corp.atlassian.net/browse/SEC-12|SEC-12> Access key created by alana (In Progress)');
    expect(allText(r.message)).toContain('<https://trailbot.example.com/?person=alana%40corp&amp;writes=1&amp;since=2024-07-26T00%3A00%3A00.000Z|Open in trailbot\'s dashboard>');
    const button = b.at(-1)!;
    expect(button.type).toBe('actions');
    expect(button.elements![0]).toMatchObject({ type: 'button', action_id: MORE_ACTION, text: { type: 'plain_text', text: 'More (21–40 of 1,234)' } });
    expect(r.shown).toBe(20);
    expect(decodeCursor(button.elements![0]!.value)).toEqual({ query: a.query, page: 2, offset: 20, after: { time: a.events[19]!.time, eventId: a.events[19]!.eventId } });
    expect(r.message.text).toBe('Trail of alana@corp: 1,234 calls in the last 7 days');
  });

  it('has no More button on the last page, and new block ids on every page', () => {
    const one = renderAnswer(answer());
    const last = renderAnswer(answer({ more: false, page: 2, offset: 20 }));
    expect(blocks(last.message).some((x) => x.type === 'actions')).toBe(false);
    expect(last.next).toBeUndefined();
    expect(blocks(last.message).find((x) => x.text?.text.includes('newest first'))!.text!.text).toMatch(/^\*Calls 21–40 of 1,234\*/);
    const ids = new Set(blocks(one.message).map((x) => x.block_id));
    for (const x of blocks(last.message)) expect(ids.has(x.block_id)).toBe(false);
  });

  it('escapes what trailbot did not write: names, resources and titles cannot mention or link', () => {
    const evil = '<!channel> <https://evil.example|click> & co';
    const events = [call(1, { user: evil, bucket: evil })];
    const r = renderAnswer(answer({ query: q(`${'<@U123>'} 24h`), events, principals: [principal(1, evil)], tickets: [{ key: 'SEC-1', url: 'https://x.example/a|b>c', title: evil, status: null }] }));
    withinLimits(r.message);
    const text = allText(r.message);
    expect(text).not.toContain('<!channel>');
    expect(text).not.toContain('<https://evil.example');
    expect(text).toContain('&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; co');
    expect(text).toContain('<https://x.example/a%7Cb%3Ec|SEC-1>');
  });

  it('stays within Block Kit limits however huge the answer: 500 principals, enormous names, long lines', () => {
    const huge = 'x'.repeat(5000);
    const principals = Array.from({ length: 500 }, (_, i) => principal(i, `${huge}-${i}`));
    const events = Array.from({ length: PAGE_SIZE }, (_, i) => call(i, { user: `${huge}${i}`, bucket: `${'b'.repeat(3000)}${i}` }));
    const counts = { total: 9_999_999, writes: 9_999_999, denied: 9_999_999, console: 9_999_999, topActions: Array.from({ length: 5 }, () => ({ action: huge, service: huge, count: 9_999_999 })), topResources: Array.from({ length: 5 }, () => ({ type: huge, id: huge, count: 1 })) };
    const r = renderAnswer(answer({ principals, events, counts, query: q(`${'w'.repeat(256)} 30d writes denied console region:eu-west-1 service:s3 account:111122223333`), live: { note: huge, stored: 5 }, tickets: Array.from({ length: 5 }, (_, i) => ({ key: `SEC-${i}`, url: `https://x.example/${huge}`, title: huge, status: huge })) }));
    withinLimits(r.message);
    expect(blocksText(r.message.blocks!)).toBeLessThanOrEqual(BLOCKS_TEXT_MAX);
    expect(r.message.text.length).toBeLessThanOrEqual(3000);
    // At least one call is shown, and what did not fit is on the next page, not lost.
    expect(r.shown).toBeGreaterThan(0);
    expect(r.shown).toBeLessThan(PAGE_SIZE);
    expect(r.next).toMatchObject({ page: 2, offset: r.shown, after: { eventId: events[r.shown - 1]!.eventId } });
    expect(JSON.stringify(r.message.blocks)).toMatch(/… and 4\d\d more/);
    const value = blocks(r.message).at(-1)!.elements![0]!.value!;
    expect(value.length).toBeLessThanOrEqual(2000);
    expect(decodeCursor(value)?.query.who).toBe('w'.repeat(256));
  });

  it('says where the calls came from when CloudTrail answered live and the store had none', () => {
    const r = renderAnswer(answer({ principals: [], source: 'live', more: false, live: { note: 'Partial: 1 of 2 account-regions did not answer in full (access denied: 999999999999/eu-west-1); events from there may be missing.', stored: 3 } }));
    withinLimits(r.message);
    const text = allText(r.message);
    expect(text).toContain('Asked CloudTrail live: Partial: 1 of 2 account-regions did not answer in full (access denied: 999999999999/eu-west-1); events from there may be missing. 3 events were new');
    expect(text).toContain("(from CloudTrail live: not in trailbot's store yet)");
    expect(text).not.toContain('Matched');
  });
});

describe('/trail short messages', () => {
  it('says no activity found, naming what was searched', () => {
    const none = renderEmpty({ query: q('nobody@corp'), principals: 0, liveAsked: false });
    expect(none.text).toBe("No activity found for *nobody@corp* in the last 24 hours (searched trailbot's store: nobody by that name; CloudTrail was not asked live: no lookup source is configured).");
    const quiet = renderEmpty({ query: q('alana 7d denied'), principals: 2, liveAsked: true, liveNote: 'Complete: 4 account-regions answered every question.' });
    expect(quiet.text).toBe("No activity found for *alana* in the last 7 days (denied calls only) (searched trailbot's store: 2 matching principals, no calls in that window; and CloudTrail live: Complete: 4 account-regions answered every question).");
    withinLimits(quiet);
  });

  it('acknowledges, explains usage and help, refuses politely, and fails with a code', () => {
    expect(renderLooking(q('alana@corp between 2024-07-01 and 2024-07-03 console live')).text).toBe('Looking up *alana@corp* between 2024-07-01 and 2024-07-03 (console calls only), asking CloudTrail live too…');
    expect(renderLooking(q('alana@corp since 2024-07-01')).text).toBe('Looking up *alana@corp* since 2024-07-01…');
    expect(renderEmpty({ query: q('alana since 2024-07-01 writes'), principals: 1, liveAsked: false }).text).toMatch(/^No activity found for \*alana\* since 2024-07-01 \(changes only\) \(searched/);
    const usage = renderUsage({ code: 'unknown-word', word: 'write', near: 'writes' });
    expect(usage.text).toMatch(/^I don't know “write”\. Did you mean `writes`\?\n\n\*Usage:\* `\/trail <who> \[24h\|7d\|30d/);
    expect(renderUsage({ code: 'bad-date', word: '<2024-02-30>' }).text).toContain('“&lt;2024-02-30&gt;” is not a date');
    expect(renderHelp().text).toContain('`/trail alana@corp 7d writes`');
    for (const why of ['no-allow-list', 'not-listed', 'lookup-failed'] as const) {
      const m = renderRefusal(why);
      expect(m.text).toMatch(/^Sorry, /);
      withinLimits(m);
    }
    expect(renderFailure({ who: 'alana' }, 'E_STORE_UNAVAILABLE').text).toBe(
      "Sorry, I could not finish looking up *alana*: trailbot's event store did not answer. Please try again in a minute; if it keeps happening, tell whoever runs trailbot (error E_STORE_UNAVAILABLE).",
    );
    expect(renderFailure({ who: 'alana' }, 'E_INTERNAL').text).toContain("something went wrong on trailbot's side");
  });

  it('words every usage problem the grammar can name', () => {
    const texts = [
      '', '7d', 'a'.repeat(300), 'a yesterday', 'a writes writes', 'a 7d 24h', 'a since', 'a between 2024-07-01', 'a since 2024-02-30', 'a since 2030-01-01',
      'a between 2024-07-03 and 2024-07-01', 'a since 2020-01-01', 'a since 2024-01-01 live', 'a region:x', 'a service:/', 'a account:1',
    ];
    const codes = new Set<string>();
    for (const text of texts) {
      const r = parseTrail(text, { now: NOW });
      expect(r.kind).toBe('usage');
      if (r.kind !== 'usage') continue;
      codes.add(r.problem.code);
      const m = renderUsage(r.problem);
      expect(m.text).not.toMatch(/undefined|\{\{/);
      expect(m.text.split('\n')[0]!.length).toBeGreaterThan(10);
    }
    expect(codes.size).toBe(16);
  });
});

describe('the More cursor', () => {
  const cursor = { query: q('alana@corp between 2024-07-01 and 2024-07-03 writes region:eu-west-1 service:iam account:229654561268 live'), page: 3, offset: 40, after: { time: '2024-07-02T10:00:00Z', eventId: 'abc-123' } };
  it('round-trips the question and the position, compactly', () => {
    const v = encodeCursor(cursor);
    expect(v.length).toBeLessThan(400);
    expect(decodeCursor(v)).toEqual(cursor);
  });
  it('refuses any value it did not write', () => {
    const v = encodeCursor(cursor);
    const [prefix, body, check] = v.split('.') as [string, string, string];
    const json = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
    const forged = (o: Record<string, unknown>) => {
      const b = Buffer.from(JSON.stringify({ ...json, ...o })).toString('base64url');
      return `${prefix}.${b}.${check}`;
    };
    for (const bad of [undefined, 42, '', 'more', v.slice(0, -1), `${v}0`, v.replace(/.$/, (c) => (c === '0' ? '1' : '0')), forged({ w: 'someone-else' }), `t2.${body}.${check}`, 'x'.repeat(2001)]) {
      expect(decodeCursor(bad)).toBeUndefined();
    }
  });
  it('refuses a value made by hand with a correct check whose window is not one /trail gives: longer than 366 days, or other than its own words say', () => {
    // The check is no secret: anyone can recompute it. The window must still be one the grammar would give.
    const made = (c: typeof cursor, o: Record<string, unknown>) => {
      const json = JSON.parse(Buffer.from(encodeCursor(c).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      const b = Buffer.from(JSON.stringify({ ...json, ...o })).toString('base64url');
      return `t1.${b}.${createHash('sha256').update(`t1.${b}`).digest('hex').slice(0, 12)}`;
    };
    const day = 86_400_000;
    const last = { ...cursor, query: q('alana@corp 7d') };
    const since = { ...cursor, query: q('alana@corp since 2024-07-01') };
    // Made by hand, but a window the grammar gives: taken (the clicker could type it).
    expect(decodeCursor(made(cursor, { w: 'someone-else' }))?.query.who).toBe('someone-else');
    expect(decodeCursor(made(last, {}))).toEqual(last);
    expect(decodeCursor(made(since, {}))).toEqual(since);
    for (const bad of [
      made(cursor, { s: 0 }), // "between 2024-07-01 and 2024-07-03" reading from 1970
      made(cursor, { u: Date.parse('2030-01-01T00:00:00Z') }),
      made(last, { s: Date.parse(last.query.since) - 400 * day }), // "the last 7 days" over 407 days
      made(last, { k: '30d' }),
      made(since, { s: Date.parse('2020-01-01T00:00:00Z'), k: 's:2020-01-01' }), // since 2020: over 366 days
      made(since, { s: Date.parse('2024-06-01T00:00:00Z') }), // the window says since 2024-07-01
    ]) {
      expect(decodeCursor(bad)).toBeUndefined();
    }
  });
});
