/**
 * Jira's Atlassian Document Format, built as data (never by string concatenation). The words come
 * from the rendered templates; this file only decides the structure. Tests validate every flow's
 * document against `@atlaskit/adf-schema`'s JSON schema.
 */

export type AdfMark = { type: 'strong' | 'em' | 'code' } | { type: 'link'; attrs: { href: string } };
export interface AdfText {
  type: 'text';
  text: string;
  marks?: AdfMark[];
}
export interface AdfNode {
  type: string;
  attrs?: Record<string, unknown>;
  content?: (AdfNode | AdfText)[];
}
export interface AdfDoc {
  type: 'doc';
  version: 1;
  content: AdfNode[];
}

/** ADF rejects empty text nodes. */
export function text(s: string, marks?: AdfMark[]): AdfText[] {
  if (s === '') return [];
  return [marks ? { type: 'text', text: s, marks } : { type: 'text', text: s }];
}

export function paragraph(...parts: AdfText[][]): AdfNode {
  const content = parts.flat();
  return content.length ? { type: 'paragraph', content } : { type: 'paragraph' };
}

export function heading(level: number, s: string): AdfNode {
  return { type: 'heading', attrs: { level }, content: text(s) };
}

export interface FindingAdfInput {
  title: string;
  summary: string;
  facts: { label: string; value: string }[];
  whyLabel: string;
  why: string;
  nextLabel: string;
  next: string;
  eventsLabel: string;
  eventIds: readonly string[];
  /** Already worded ("and 12 more"), empty when nothing was left out. */
  moreText: string;
}

export function findingAdf(i: FindingAdfInput): AdfDoc {
  const ids: AdfText[][] = [];
  i.eventIds.forEach((id, n) => {
    if (n > 0) ids.push(text(', '));
    ids.push(text(id, [{ type: 'code' }]));
  });
  if (i.moreText) ids.push(text(` ${i.moreText}`));
  return {
    type: 'doc',
    version: 1,
    content: [
      paragraph(text(i.summary)),
      {
        type: 'bulletList',
        content: i.facts.map((f) => ({ type: 'listItem', content: [paragraph(text(`${f.label}: `, [{ type: 'strong' }]), text(f.value))] })),
      },
      heading(3, i.whyLabel),
      paragraph(text(i.why)),
      heading(3, i.nextLabel),
      paragraph(text(i.next)),
      heading(3, i.eventsLabel),
      paragraph(...ids),
    ],
  };
}

/** Text that links to `href`: only http(s) addresses get a link, anything else stays plain text. */
export function linked(s: string, href: string | null | undefined, marks: AdfMark[] = []): AdfText[] {
  const ok = href !== null && href !== undefined && /^https?:\/\/[^\s]+$/i.test(href);
  const all: AdfMark[] = ok ? [...marks, { type: 'link', attrs: { href } }] : marks;
  return text(s, all.length ? all : undefined);
}

/** A bullet list, one paragraph per item (an item with no text is left out; no items, no list). */
export function bulletList(items: AdfText[][][]): AdfNode[] {
  const content = items.map((parts) => parts.flat()).filter((p) => p.length > 0);
  return content.length ? [{ type: 'bulletList', content: content.map((p) => ({ type: 'listItem', content: [paragraph(p)] })) }] : [];
}

/** A table with a header row; each cell is one paragraph (an empty cell an empty paragraph). */
export function table(headers: readonly string[], rows: readonly AdfText[][][]): AdfNode {
  const cell = (type: 'tableHeader' | 'tableCell', parts: AdfText[][]): AdfNode => ({ type, content: [paragraph(...parts)] });
  return {
    type: 'table',
    attrs: { isNumberColumnEnabled: false, layout: 'default' },
    content: [
      { type: 'tableRow', content: headers.map((h) => cell('tableHeader', [text(h, [{ type: 'strong' }])])) },
      ...rows.map((r) => ({ type: 'tableRow', content: r.map((c) => cell('tableCell', [c])) })),
    ],
  };
}

/** The plain text of a node and everything under it. */
export function plainText(n: AdfNode | AdfText | undefined): string {
  if (!n) return '';
  if (n.type === 'text') return (n as AdfText).text;
  return ((n as AdfNode).content ?? []).map(plainText).join('');
}

/**
 * The parts of a finding's document (as `findingAdf` lays them out) read back, so the Jira ticket
 * reuses the words the finding was rendered with. Parts it cannot find are empty.
 */
export function findingSections(doc: AdfDoc | undefined): { summary: string; facts: { label: string; value: string }[]; why: string; next: string } {
  const c = Array.isArray(doc?.content) ? doc.content : [];
  const list = c.find((n) => n?.type === 'bulletList');
  const facts = (list?.content ?? []).map((item) => {
    const parts = ((item as AdfNode).content?.[0] as AdfNode | undefined)?.content ?? [];
    const strong = parts[0] as AdfText | undefined;
    const label = strong?.type === 'text' && strong.marks?.some((m) => m.type === 'strong') ? strong.text.replace(/:\s*$/, '') : '';
    return { label, value: parts.slice(label ? 1 : 0).map(plainText).join('') };
  });
  // findingAdf: summary, facts, then heading + paragraph for why, next and the events.
  const afterHeading = (i: number): string => {
    const headings = c.flatMap((n, at) => (n?.type === 'heading' ? [at] : []));
    const h = headings[i];
    return h === undefined ? '' : plainText(c[h + 1]);
  };
  return { summary: c[0]?.type === 'paragraph' ? plainText(c[0]) : '', facts, why: afterHeading(0), next: afterHeading(1) };
}
