/**
 * Jira's Atlassian Document Format, built as data (never by string concatenation). The words come
 * from the rendered templates; this file only decides the structure. Tests validate every flow's
 * document against `@atlaskit/adf-schema`'s JSON schema.
 */

export interface AdfMark {
  type: 'strong' | 'em' | 'code';
}
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
function text(s: string, marks?: AdfMark[]): AdfText[] {
  if (s === '') return [];
  return [marks ? { type: 'text', text: s, marks } : { type: 'text', text: s }];
}

function paragraph(...parts: AdfText[][]): AdfNode {
  const content = parts.flat();
  return content.length ? { type: 'paragraph', content } : { type: 'paragraph' };
}

function heading(level: number, s: string): AdfNode {
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
