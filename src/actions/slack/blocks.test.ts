import { describe, expect, it } from 'vitest';
import { record } from '../../../test/helpers/fixtures.ts';
import type { RawRecord } from '../../events/model.ts';
import { normalize } from '../../events/normalize.ts';
import { defaultFlowsConfig, detect } from '../../flows/index.ts';
import { checkBlocks, findingMessage, fitSection, LIMITS, replyMessage, TRAIL_ACTION_ID, whoOf } from './blocks.ts';

const TEMPLATE = record('stratus-aws.persistence.iam-create-admin-user.json', '94faedcc-0fa4-46e6-9322-022e8e934f04');

function keyCall(i: number, user = 'alana', over: Record<string, unknown> = {}): RawRecord {
  const raw = structuredClone(TEMPLATE) as RawRecord & Record<string, unknown>;
  raw.eventID = `b10c0000-0000-4000-8000-${String(i).padStart(12, '0')}`;
  raw.eventTime = new Date(Date.parse('2024-08-01T13:00:00Z') + i * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  Object.assign(raw.userIdentity as Record<string, unknown>, { userName: user, arn: `arn:aws:iam::229654561268:user/${user}` }, over);
  return raw;
}

const events = (n: number, user?: string) => Array.from({ length: n }, (_, i) => normalize(keyCall(i + 1, user)));
const finding = (n = 1, user?: string) => {
  const [f] = detect(events(n, user).map((event) => ({ event })), defaultFlowsConfig());
  return f!;
};
const input = (o: Partial<Parameters<typeof findingMessage>[0]> = {}) => ({
  finding: finding(),
  account: '229654561268',
  actor: whoOf(normalize(keyCall(1)).actor),
  ticket: null,
  resolved: false,
  publicUrl: 'https://trailbot.example.com',
  ...o,
});
type Block = { type: string; block_id?: string; text?: { type: string; text: string }; elements?: Record<string, unknown>[] };
const blocksOf = (m: { blocks?: unknown[] | undefined }) => (m.blocks ?? []) as Block[];

describe('finding message', () => {
  it('a header, a context line, the finding in words, and its buttons', () => {
    const f = finding(3);
    const m = findingMessage(input({ finding: f }));
    const [header, context, section, actions] = blocksOf(m);
    expect(header).toMatchObject({ type: 'header', text: { type: 'plain_text', text: f.title } });
    expect(context!.elements![0]!.text).toBe('*Medium* · access-key-created · account 229654561268 · 3 events since 2024-08-01 13:00:01 UTC');
    expect(section!.type).toBe('section');
    // The title and severity line are not repeated in the section.
    expect(section!.text!.text.startsWith('*')).toBe(false);
    expect(section!.text!.text).toContain(f.slack.split('\n\n')[1]!);
    expect(actions!.type).toBe('actions');
    expect(actions!.elements).toEqual([
      { type: 'button', action_id: TRAIL_ACTION_ID, text: { type: 'plain_text', text: 'Trail of alana', emoji: true }, value: 'arn:aws:iam::229654561268:user/alana' },
      { type: 'button', action_id: 'open-trailbot', text: { type: 'plain_text', text: 'In trailbot', emoji: true }, url: `https://trailbot.example.com/?finding=${f.id}` },
    ]);
    expect(m.text).toBe(`medium: ${f.title}`);
  });

  it('an "Open ticket" button once the ticket exists; "Resolved" once resolved', () => {
    const m = findingMessage(input({ ticket: { key: 'SEC-12', url: 'https://jira.example.com/browse/SEC-12' }, resolved: true }));
    const b = blocksOf(m);
    expect(b[0]!.text!.text).toMatch(/^Resolved: /);
    expect(b.find((x) => x.block_id === 'resolved')!.elements![0]!.text).toContain('SEC-12 was closed');
    expect(b.at(-1)!.elements![0]).toEqual({ type: 'button', action_id: 'open-ticket', text: { type: 'plain_text', text: 'Open ticket SEC-12', emoji: true }, url: 'https://jira.example.com/browse/SEC-12' });
  });

  it('the trail button names a person by e-mail, a role session by its ARN; none for AWS services', () => {
    const sso = normalize(
      keyCall(1, 'x', {
        type: 'AssumedRole',
        arn: 'arn:aws:sts::229654561268:assumed-role/AWSReservedSSO_Admin_0123abcd/alana@corp.example',
        principalId: 'AROAEXAMPLE:alana@corp.example',
        userName: undefined,
      }),
    ).actor;
    expect(whoOf(sso)).toEqual({ who: 'alana@corp.example', label: 'alana@corp.example' });
    expect(whoOf({ ...sso, email: null, name: 'Deployer/ci', arn: 'arn:aws:sts::1:assumed-role/Deployer/ci' })).toEqual({ who: 'arn:aws:sts::1:assumed-role/Deployer/ci', label: 'Deployer/ci' });
    expect(whoOf({ ...sso, type: 'AWSService', email: null, name: 'ec2.amazonaws.com' })).toBeNull();
    expect(whoOf(undefined)).toBeNull();
  });

  it('stays within Block Kit limits however long the words are: sections cut at 3,000 with a note, header at 150, button text at 75', () => {
    const long = 'x'.repeat(400);
    const f = { ...finding(), title: `T${long}`, slack: `*T*\n_sev_\n\n${`line with &amp; and <https://e.x|a link> ${'y'.repeat(80)}\n`.repeat(200)}` };
    const m = findingMessage(input({ finding: f, actor: { who: 'a'.repeat(100), label: `L${long}` } }));
    const b = blocksOf(m);
    expect([...b[0]!.text!.text].length).toBeLessThanOrEqual(LIMITS.headerText);
    const section = b.find((x) => x.type === 'section')!.text!.text;
    expect([...section].length).toBeLessThanOrEqual(LIMITS.sectionText);
    expect(section).toMatch(/cut: the whole finding is in trailbot\)$/);
    expect(section).not.toMatch(/&[a-z]{0,5}\n/); // no half escape at the cut
    const trail = b.at(-1)!.elements!.find((x) => x.action_id === TRAIL_ACTION_ID) as { text: { text: string } };
    expect([...trail.text.text].length).toBeLessThanOrEqual(LIMITS.buttonText);
    expect(() => checkBlocks(m)).not.toThrow();
  });

  it('checkBlocks refuses what Slack would refuse', () => {
    const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });
    expect(() => checkBlocks({ text: 'x', blocks: Array.from({ length: 51 }, () => section('a')) })).toThrow(/51 blocks/);
    expect(() => checkBlocks({ text: 'x', blocks: [section('a'.repeat(3001))] })).toThrow(/3001 characters/);
    expect(() => checkBlocks({ text: '', blocks: [] })).toThrow(/fallback/);
    expect(fitSection('short')).toBe('short');
  });
});

describe('thread reply', () => {
  it('"N more events, newest …" with the newest in plain language, the rest counted', () => {
    const f = finding(12);
    const newest = events(12).reverse();
    const m = replyMessage({ finding: f, n: 9, events: newest.slice(0, 5) });
    const text = blocksOf(m)[0]!.text!.text;
    expect(text.split('\n')[0]).toBe('*9 more events*, newest 2024-08-01 13:00:12 UTC (12 in all):');
    expect(text.split('\n').filter((l) => l.startsWith('• '))).toHaveLength(5);
    expect(text).toContain('…and 4 more, in trailbot.');
    expect(m.text).toBe(`9 more events: ${f.title}`);
    const one = blocksOf(replyMessage({ finding: { ...f, count: 1 }, n: 1, events: newest.slice(0, 1) }))[0]!.text!.text;
    expect(one.split('\n')[0]).toBe('*1 more event*, newest 2024-08-01 13:00:12 UTC:');
    expect(one).not.toContain('more, in trailbot');
  });
});

describe('CloudTrail fields cannot ping or plant links', () => {
  it('a user name, an account and a user agent holding <!channel> and <https://…|…> stay text in every mrkdwn text and in the notification text', () => {
    const evil = '<!channel> <https://evil.example|click> <@U0BOSS>';
    const raw = keyCall(1, evil);
    Object.assign(raw as Record<string, unknown>, { recipientAccountId: evil, userAgent: evil });
    const e = normalize(raw);
    const [f] = detect([{ event: e }], defaultFlowsConfig());
    const first = findingMessage(input({ finding: f!, account: e.account, actor: whoOf(e.actor) }));
    const reply = replyMessage({ finding: f!, n: 1, events: [e] });
    // Slack parses the notification text and mrkdwn (never plain_text) for mentions and links.
    const parsed = (m: { text: string; blocks?: unknown[] | undefined }): string[] => {
      const out = [m.text];
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach(walk);
        else if (v && typeof v === 'object') {
          const o = v as Record<string, unknown>;
          if (o.type === 'mrkdwn' && typeof o.text === 'string') out.push(o.text);
          Object.values(o).forEach(walk);
        }
      };
      walk(m.blocks);
      return out;
    };
    const texts = [...parsed(first), ...parsed(reply)];
    expect(texts.join('\n')).toContain('&lt;!channel&gt;');
    for (const t of texts) {
      expect(t).not.toContain('<!channel>');
      expect(t).not.toContain('<https://evil');
      expect(t).not.toContain('<@U0BOSS>');
    }
    expect(blocksOf(first)[1]!.elements![0]!.text).toContain('account &lt;!channel&gt;');
  });
});
