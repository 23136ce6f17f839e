import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import AjvDraft04 from 'ajv-draft-04';
import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { findings, record, replay, toEvent } from '../../../test/fixtures/flows/load.ts';
import type { TrailEvent } from '../../events/model.ts';
import type { AdfDoc, AdfNode, AdfText } from '../../flows/adf.ts';
import type { Finding } from '../../flows/finding.ts';
import { FLOWS } from '../../flows/registry.ts';
import { consoleEventUrl, EVENTS_SHOWN, SUMMARY_MAX, ticketComment, ticketDescription, ticketSummary } from './document.ts';

const require = createRequire(import.meta.url);
const schema = JSON.parse(readFileSync(require.resolve('@atlaskit/adf-schema/json-schema/v1/full.json'), 'utf8')) as object;
// ajv-draft-04 is CommonJS: under NodeNext its default import is the module, whose `default` is the class.
const Ajv = (AjvDraft04 as unknown as { default: typeof AjvDraft04.default }).default;
const validateAdf = new Ajv({ allErrors: true, strict: false }).compile(schema);

const URL = 'https://trailbot.example.com';

/** Valid ADF, no empty text node, and far below Jira's 32,767-character limit on a rich-text field. */
function expectValid(doc: AdfDoc): void {
  expect(validateAdf(doc), JSON.stringify(validateAdf.errors?.slice(0, 3))).toBe(true);
  for (const t of texts(doc)) expect(t.text.length).toBeGreaterThan(0);
  expect(JSON.stringify(doc).length).toBeLessThan(32_767);
}

function texts(n: AdfDoc | AdfNode | AdfText): AdfText[] {
  if (n.type === 'text') return [n as AdfText];
  return ((n as AdfNode).content ?? []).flatMap((c) => texts(c as AdfNode));
}
const plain = (doc: AdfDoc): string => texts(doc).map((t) => t.text).join(' ');
const hrefs = (doc: AdfDoc): string[] => texts(doc).flatMap((t) => (t.marks ?? []).flatMap((m) => (m.type === 'link' ? [m.attrs.href] : [])));
function find(doc: AdfDoc | AdfNode, type: string): AdfNode[] {
  const out: AdfNode[] = [];
  for (const c of (doc.content ?? []) as AdfNode[]) {
    if (c.type === type) out.push(c);
    out.push(...find(c, type));
  }
  return out;
}
const dataRows = (doc: AdfDoc): AdfNode[] => find(doc, 'tableRow').filter((r) => r.content?.[0]?.type === 'tableCell');

const newestFirst = (records: Record<string, unknown>[]): TrailEvent[] => records.map((r) => toEvent(r).event).reverse();

describe('every flow in the catalog, from its recorded events', () => {
  for (const flow of FLOWS) {
    it(`${flow.id}: a valid summary, description and comment`, () => {
      const { records, config } = POSITIVE[flow.id]!();
      const found = findings(records, flow.id, config);
      expect(found.length).toBeGreaterThan(0);
      for (const f of found) {
        const events = newestFirst(records.filter((r) => f.eventIds.includes(String(r.eventID)))).slice(0, EVENTS_SHOWN);
        const summary = ticketSummary(f);
        const title = f.title.replace(/\s+/g, ' ').trim();
        if (title.length <= SUMMARY_MAX) expect(summary).toBe(title);
        expect(summary.length).toBeGreaterThan(0);
        expect(summary.length).toBeLessThanOrEqual(SUMMARY_MAX);
        expect(summary).not.toMatch(/[\n\t]/);

        const d = ticketDescription({ finding: f, events, totalEvents: f.count, publicUrl: URL });
        expectValid(d);
        const words = plain(d);
        expect(words).toContain(f.summary.slice(0, 40));
        expect(words).toContain(flow.runbook);
        for (const label of ['Who:', 'What:', 'Where:', 'How:', 'When:', 'How often:']) expect(words).toContain(label);
        expect(dataRows(d)).toHaveLength(Math.min(events.length, EVENTS_SHOWN));
        expect(hrefs(d)).toContain(`${URL}/?finding=${f.id}`);
        // Real region names get a console link; the anonymised ones of some recordings (apiso-northsouth-3r) do not.
        const consoleLinks = hrefs(d).filter((h) => h.includes('cloudtrailv2'));
        expect(consoleLinks).toEqual(events.map(consoleEventUrl).filter((u) => u !== null));

        const c = ticketComment({ finding: f, events, totalEvents: events.length, publicUrl: URL });
        expectValid(c);
        expect(dataRows(c)).toHaveLength(events.length);
      }
    });
  }
});

/** A finding of the recorded root sign-in, with whatever changed. */
function rootFinding(over: Partial<Finding> = {}): Finding {
  const { records } = POSITIVE['root-activity']!();
  return { ...findings(records, 'root-activity')[0]!, ...over };
}
const baseEvent = (): TrailEvent => toEvent(record('records/writes-data.json', 'DeleteDBInstance')).event;

describe('the event table', () => {
  it('lists at most 20 events, newest first as given, and counts the rest', () => {
    const raws = replay(record('records/writes-iam.json', 'UploadSSHPublicKey'), 5000, 1);
    const events = newestFirst(raws);
    const f = rootFinding({ count: 5000 });
    // Given 5,000 events (callers cap them, this does too): 20 rows and "and 4980 more".
    const d = ticketDescription({ finding: f, events, totalEvents: 5000, publicUrl: URL });
    expectValid(d);
    expect(dataRows(d)).toHaveLength(EVENTS_SHOWN);
    expect(plain(d)).toContain('and 4980 more events not listed here.');
    expect(texts(dataRows(d)[0]!)[0]!.text).toBe(events[0]!.time!.replace('T', ' ').replace('Z', ''));
    // Already capped by the caller: 20 events of 500.
    const d2 = ticketDescription({ finding: f, events: events.slice(0, 20), totalEvents: 500, publicUrl: URL });
    expect(plain(d2)).toContain('and 480 more events not listed here.');
    const one = ticketDescription({ finding: f, events: events.slice(0, 20), totalEvents: 21, publicUrl: URL });
    expect(plain(one)).toContain('and 1 more event not listed here.');
    const all = ticketDescription({ finding: f, events: events.slice(0, 3), totalEvents: 3, publicUrl: URL });
    expect(plain(all)).not.toContain('more event');
    expect(dataRows(all)).toHaveLength(3);
  });

  it('says time, action, resource, region, IP and via, with a placeholder for what the event does not say', () => {
    const e = baseEvent();
    const d = ticketDescription({ finding: rootFinding(), events: [e], totalEvents: 1, publicUrl: URL });
    const headers = find(d, 'tableHeader').map((h) => texts(h as unknown as AdfDoc)[0]!.text);
    expect(headers).toEqual(['Time (UTC)', 'Action', 'Resource', 'Region', 'IP', 'Via']);
    const cells = dataRows(d)[0]!.content!.map((c) => plain(c as unknown as AdfDoc));
    expect(cells[1]).toBe('DeleteDBInstance');
    expect(cells[2]).toContain(e.primaryResource!.id);
    expect(cells[3]).toBe(e.region);

    const bare: TrailEvent = { ...e, time: null, action: null, region: null, primaryResource: null, sourceIp: null, sourceAddress: null, via: 'unknown', tool: null, outcome: 'denied' };
    const d2 = ticketDescription({ finding: rootFinding(), events: [bare], totalEvents: 1, publicUrl: URL });
    expectValid(d2);
    expect(dataRows(d2)[0]!.content!.map((c) => plain(c as unknown as AdfDoc))).toEqual(['—', '— (denied)', '—', '—', '—', 'unknown']);
  });

  it('links each listed event to the CloudTrail console, with the id URL-encoded, and skips the link without a region', () => {
    const e = { ...baseEvent(), eventId: 'a/b c#d?e', region: 'eu-west-1' };
    expect(consoleEventUrl(e)).toBe('https://eu-west-1.console.aws.amazon.com/cloudtrailv2/home?region=eu-west-1#/events/a%2Fb%20c%23d%3Fe');
    expect(consoleEventUrl({ ...e, eventId: 'x', region: 'cn-north-1' })).toBe('https://cn-north-1.console.amazonaws.cn/cloudtrailv2/home?region=cn-north-1#/events/x');
    expect(consoleEventUrl({ ...e, eventId: 'x', region: 'us-gov-west-1' })).toBe('https://us-gov-west-1.console.amazonaws-us-gov.com/cloudtrailv2/home?region=us-gov-west-1#/events/x');
    expect(consoleEventUrl({ ...e, region: null })).toBeNull();
    expect(consoleEventUrl({ ...e, region: '' })).toBeNull();
    // A region name from a record is not trusted into a host name.
    expect(consoleEventUrl({ ...e, region: 'evil.example.com/x' })).toBeNull();
    expect(consoleEventUrl({ ...e, derivedId: true })).toBeNull();
    expect(consoleEventUrl({ ...e, region: 'us-isob-east-1' })).toBeNull();
    expect(consoleEventUrl({ ...e, region: 'apiso-northsouth-3r' })).toBeNull();
    expect(consoleEventUrl({ ...e, region: 'ap-southeast-2' })).toContain('https://ap-southeast-2.console.aws.amazon.com/');

    const d = ticketDescription({ finding: rootFinding(), events: [e, { ...e, eventId: 'no-region', region: null }], totalEvents: 2, publicUrl: URL });
    expectValid(d);
    const links = hrefs(d).filter((h) => h.includes('cloudtrailv2'));
    expect(links).toEqual([consoleEventUrl(e)]);
  });
});

describe('the description', () => {
  it('opens with what happened and why it matters, then who/what/where/how/when, the table, what to do, the links', () => {
    const f = rootFinding();
    const d = ticketDescription({ finding: f, events: [baseEvent()], totalEvents: 1, publicUrl: `${URL}/`, links: [{ text: 'Approve the fix', url: `${URL}/approve/1` }, { text: 'bad', url: 'javascript:alert(1)' }] });
    expectValid(d);
    const first = plain({ type: 'doc', version: 1, content: [d.content[0]!] });
    expect(first.startsWith(f.summary)).toBe(true);
    expect(first).toContain('The root user can do anything in the account');
    expect(d.content.map((n) => n.type)).toEqual(['paragraph', 'paragraph', 'bulletList', 'heading', 'table', 'heading', 'paragraph', 'heading', 'bulletList']);
    expect(plain(d)).toContain(FLOWS.find((x) => x.id === 'root-activity')!.runbook);
    expect(hrefs(d)).toEqual(expect.arrayContaining([`${URL}/?finding=${f.id}`, `${URL}/approve/1`]));
    expect(hrefs(d).some((h) => h.startsWith('javascript'))).toBe(false);
    expect(plain(d)).toContain('bad');
  });

  it('stays valid with odd inputs: empty strings, no finding document, a 10 KB title, unicode, control characters', () => {
    const huge = `${'word '.repeat(2000)}`;
    const odd: TrailEvent = {
      ...baseEvent(),
      eventId: '',
      action: '',
      region: '',
      sourceIp: '',
      sourceAddress: '',
      tool: '',
      primaryResource: { type: 'AWS::S3::Bucket', id: 'x'.repeat(10_000), arn: null },
      time: '',
    };
    const cases: Partial<Finding>[] = [
      { title: '', summary: '', jira: { type: 'doc', version: 1, content: [] } },
      { title: huge, summary: huge, jira: undefined as unknown as AdfDoc },
      { title: 'x'.repeat(10_000), summary: 'y'.repeat(10_000) },
      { title: 'Root \u{1F512} déjà vu \u202Eevil\u202C 根用户 \uD800 tab\there\nnew\u0000line', summary: '\u0007\u0000' },
      { title: ' \n\t ', flow: 'root-activity', id: 'f1' },
    ];
    // The largest document: 20 rows of long values, every one linked.
    const long = { ...odd, eventId: 'e'.repeat(10_000), action: 'A'.repeat(10_000), region: 'eu-west-1', sourceIp: '1'.repeat(10_000), tool: 't'.repeat(10_000), time: 'T'.repeat(10_000) };
    const linkedLong = { ...long, eventId: `${'e'.repeat(120)}` };
    const worst = ticketDescription({ finding: rootFinding({ title: huge, summary: huge }), events: [...Array(10).fill(long), ...Array(10).fill(linkedLong)], totalEvents: 1e9, publicUrl: URL, links: [{ text: huge, url: `${URL}/${'p'.repeat(100)}` }] });
    expectValid(worst);
    expect(consoleEventUrl(long)).toBeNull();
    expect(hrefs(worst).filter((h) => h.includes('cloudtrailv2'))).toHaveLength(10);
    for (const over of cases) {
      const f = rootFinding(over);
      for (const events of [[], [odd], [odd, baseEvent()]]) {
        expectValid(ticketDescription({ finding: f, events, totalEvents: events.length, publicUrl: '', links: [{ text: '', url: '' }] }));
        expectValid(ticketComment({ finding: f, events, totalEvents: events.length, publicUrl: URL }));
      }
    }
  });
});

describe('the summary', () => {
  it('is the title on one line, at most 255 characters cut on a word, never empty', () => {
    expect(ticketSummary(rootFinding({ title: 'Root user used:\n\tsigned in  to the console' }))).toBe('Root user used: signed in to the console');
    const long = ticketSummary(rootFinding({ title: `${'abcdefghi '.repeat(40)}end` }));
    expect(long.length).toBeLessThanOrEqual(255);
    expect(long).toMatch(/abcdefghi…$/);
    const oneWord = ticketSummary(rootFinding({ title: 'x'.repeat(10_000) }));
    expect(oneWord).toBe(`${'x'.repeat(254)}…`);
    expect(ticketSummary(rootFinding({ title: '\u{1F512}'.repeat(200) })).length).toBeLessThanOrEqual(255);
    expect(ticketSummary(rootFinding({ title: '\u{1F512}'.repeat(200) }))).not.toMatch(/[\uD800-\uDBFF]…$/);
    expect(ticketSummary({ title: ' \n ', flow: 'root-activity', id: 'abc123' })).toBe('root-activity finding abc123');
    expect(ticketSummary({ title: 'a\u2028b\u00A0c', flow: 'x', id: 'y' })).toBe('a b c');
  });
});

describe('the comment', () => {
  it('says how many more events since when, lists them in the same table and links back', () => {
    const f = rootFinding({ count: 530 });
    const events = newestFirst(replay(record('records/writes-iam.json', 'UploadSSHPublicKey'), 30, 1, '2024-05-01T10:00:00Z'));
    const c = ticketComment({ finding: f, events: events.slice(0, 20), totalEvents: 500, publicUrl: URL, since: '2024-05-01T09:59:00Z' });
    expectValid(c);
    expect(plain(c)).toContain('500 more events since 2024-05-01 09:59:00 UTC; the finding now counts 530 in all.');
    expect(plain(c)).toContain('and 480 more events not listed here.');
    expect(dataRows(c)).toHaveLength(20);
    expect(hrefs(c)).toContain(`${URL}/?finding=${f.id}`);
    const one = ticketComment({ finding: rootFinding({ count: 1 }), events: events.slice(0, 1), totalEvents: 1, publicUrl: URL });
    expect(plain(one)).toContain('1 more event, the latest at 2024-05-01 10:00:29 UTC.');
  });
});
