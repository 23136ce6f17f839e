import { describe, expect, it } from 'vitest';
import { JqlError, parseJql } from './jql.ts';

describe('the JQL parser', () => {
  it('binds AND tighter than OR, honours parentheses and NOT, and reads ORDER BY', () => {
    expect(parseJql('a = 1 OR b = 2 AND c = 3 order by created desc, key')).toEqual({
      where: {
        kind: 'or',
        children: [
          { kind: 'clause', field: { kind: 'field', name: 'a' }, op: '=', operand: { kind: 'value', value: '1' } },
          {
            kind: 'and',
            children: [
              { kind: 'clause', field: { kind: 'field', name: 'b' }, op: '=', operand: { kind: 'value', value: '2' } },
              { kind: 'clause', field: { kind: 'field', name: 'c' }, op: '=', operand: { kind: 'value', value: '3' } },
            ],
          },
        ],
      },
      orderBy: [
        { field: 'created', direction: 'DESC' },
        { field: 'key', direction: 'ASC' },
      ],
    });
    expect(parseJql('NOT (labels in ("a b", c) AND labels is not EMPTY)').where).toMatchObject({
      kind: 'not',
      child: { kind: 'and', children: [{ op: 'in', operand: { kind: 'list', values: ['a b', 'c'] } }, { op: 'is not', operand: { kind: 'empty' } }] },
    });
  });

  it('reads entity property paths and escaped strings', () => {
    expect(parseJql(`issue.property[trailbot].finding.id = "say \\"hi\\""`).where).toEqual({
      kind: 'clause',
      field: { kind: 'property', key: 'trailbot', path: ['finding', 'id'] },
      op: '=',
      operand: { kind: 'value', value: 'say "hi"' },
    });
  });

  it('says where a query goes wrong', () => {
    expect(() => parseJql('project = SEC labels = x')).toThrow(/Expecting 'AND', 'OR' or 'ORDER BY' but got 'labels'. \(line 1, character 15\)/);
    expect(() => parseJql('summary ~ "open')).toThrow(JqlError);
    expect(() => parseJql('labels = a & b')).toThrow(/reserved JQL character/);
  });
});
