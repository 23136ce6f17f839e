// The part of JQL trailbot uses, parsed properly: a tokenizer, a recursive-descent parser that builds
// a tree, and an evaluator over an issue's indexed fields. Anything outside the subset is refused with
// a 400 in Jira's words, never silently matched.
//
//   query   := expr? ("ORDER BY" sort ("," sort)*)?
//   expr    := and ("OR" and)*
//   and     := unary ("AND" unary)*
//   unary   := "NOT" unary | "(" expr ")" | clause
//   clause  := field op operand
//   field   := name | "issue.property" "[" key "]" path?
//   op      := = | != | ~ | !~ | > | >= | < | <= | IN | NOT IN | IS | IS NOT
//   operand := value | "(" value ("," value)* ")" | EMPTY | NULL
//   value   := "quoted" | 'quoted' | word | currentUser()

export class JqlError extends Error {
  readonly code = 'E_JQL';
}

type Token =
  | { kind: 'word'; text: string; pos: number }
  | { kind: 'string'; text: string; pos: number }
  | { kind: 'op'; text: string; pos: number }
  | { kind: 'punct'; text: '(' | ')' | ',' | '[' | ']'; pos: number }
  | { kind: 'end'; text: ''; pos: number };

const WORD = /[A-Za-z0-9_.\-:@*/+]/;

export function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const ch = src[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const pos = i;
    if (ch === '"' || ch === "'") {
      let text = '';
      i++;
      while (i < src.length && src[i] !== ch) {
        if (src[i] === '\\' && i + 1 < src.length) i++;
        text += src[i];
        i++;
      }
      if (i >= src.length) throw new JqlError(`Error in the JQL Query: The quoted string '${text}' has not been completed. (line 1, character ${pos + 1})`);
      i++;
      out.push({ kind: 'string', text, pos });
      continue;
    }
    if (ch === '(' || ch === ')' || ch === ',' || ch === '[' || ch === ']') {
      out.push({ kind: 'punct', text: ch, pos });
      i++;
      continue;
    }
    const two = src.slice(i, i + 2);
    if (two === '!=' || two === '!~' || two === '>=' || two === '<=') {
      out.push({ kind: 'op', text: two, pos });
      i += 2;
      continue;
    }
    if (ch === '=' || ch === '~' || ch === '>' || ch === '<') {
      out.push({ kind: 'op', text: ch, pos });
      i++;
      continue;
    }
    if (WORD.test(ch)) {
      let text = '';
      while (i < src.length && WORD.test(src[i]!)) text += src[i++];
      out.push({ kind: 'word', text, pos });
      continue;
    }
    throw new JqlError(`Error in the JQL Query: The character '${ch}' is a reserved JQL character. You must enclose it in a string or use the escape '\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}' instead. (line 1, character ${pos + 1})`);
  }
  out.push({ kind: 'end', text: '', pos: src.length });
  return out;
}

export type Operator = '=' | '!=' | '~' | '!~' | '>' | '>=' | '<' | '<=' | 'in' | 'not in' | 'is' | 'is not';

export type Operand = { kind: 'value'; value: string } | { kind: 'list'; values: string[] } | { kind: 'empty' } | { kind: 'currentUser' };

export type Field = { kind: 'field'; name: string } | { kind: 'property'; key: string; path: string[] };

export type JqlNode =
  | { kind: 'and'; children: JqlNode[] }
  | { kind: 'or'; children: JqlNode[] }
  | { kind: 'not'; child: JqlNode }
  | { kind: 'clause'; field: Field; op: Operator; operand: Operand };

export interface SortKey {
  field: string;
  direction: 'ASC' | 'DESC';
}

export interface JqlQuery {
  where?: JqlNode;
  orderBy: SortKey[];
}

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'empty', 'null', 'order', 'by', 'asc', 'desc']);

export function parseJql(src: string): JqlQuery {
  const tokens = tokenize(src);
  let i = 0;
  const peek = (): Token => tokens[i]!;
  const isWord = (t: Token, w: string): boolean => t.kind === 'word' && t.text.toLowerCase() === w;
  const fail = (expected: string, t: Token = peek()): never => {
    const got = t.kind === 'end' ? 'end of query' : `'${t.text}'`;
    throw new JqlError(`Error in the JQL Query: Expecting ${expected} but got ${got}. (line 1, character ${t.pos + 1})`);
  };
  const expectPunct = (p: string): void => {
    const t = peek();
    if (t.kind !== 'punct' || t.text !== p) fail(`'${p}'`);
    i++;
  };

  const value = (): string | 'currentUser()' => {
    const t = peek();
    if (t.kind === 'string') {
      i++;
      return t.text;
    }
    if (t.kind === 'word' && !KEYWORDS.has(t.text.toLowerCase())) {
      i++;
      const next = peek();
      if (next.kind === 'punct' && next.text === '(') {
        if (t.text.toLowerCase() !== 'currentuser') throw new JqlError(`Error in the JQL Query: Unable to find JQL function '${t.text}()'. The stand-in knows only currentUser().`);
        i++;
        expectPunct(')');
        return 'currentUser()';
      }
      return t.text;
    }
    return fail('either a value, \'EMPTY\' or a list of values');
  };

  const field = (): Field => {
    const t = peek();
    if (t.kind === 'string') {
      i++;
      return { kind: 'field', name: t.text.toLowerCase() };
    }
    if (t.kind !== 'word' || KEYWORDS.has(t.text.toLowerCase())) return fail('a field name');
    i++;
    if (t.text.toLowerCase() !== 'issue.property') return { kind: 'field', name: t.text.toLowerCase() };
    expectPunct('[');
    const k = peek();
    if (k.kind !== 'word' && k.kind !== 'string') return fail('a property key');
    i++;
    expectPunct(']');
    const p = peek();
    let path: string[] = [];
    if (p.kind === 'word' && p.text.startsWith('.')) {
      i++;
      path = p.text.slice(1).split('.');
      if (path.some((s) => s === '')) throw new JqlError(`Error in the JQL Query: The property path '${p.text}' is not valid.`);
    }
    return { kind: 'property', key: k.text, path };
  };

  const operator = (): Operator => {
    const t = peek();
    if (t.kind === 'op') {
      i++;
      return t.text as Operator;
    }
    if (isWord(t, 'in')) {
      i++;
      return 'in';
    }
    if (isWord(t, 'not') && isWord(tokens[i + 1]!, 'in')) {
      i += 2;
      return 'not in';
    }
    if (isWord(t, 'is')) {
      i++;
      if (isWord(peek(), 'not')) {
        i++;
        return 'is not';
      }
      return 'is';
    }
    return fail("operator such as '=', '!=', '~', 'in', 'not in' or 'is'");
  };

  const operand = (op: Operator): Operand => {
    const t = peek();
    if (op === 'is' || op === 'is not') {
      if (isWord(t, 'empty') || isWord(t, 'null')) {
        i++;
        return { kind: 'empty' };
      }
      return fail("'EMPTY' or 'NULL'");
    }
    if (op === 'in' || op === 'not in') {
      const next = tokens[i + 1]!;
      if (t.kind === 'word' && next.kind === 'punct' && next.text === '(') {
        // a list function such as membersOf("x"); only currentUser() is known, and it is one value
        value();
        return { kind: 'currentUser' };
      }
      expectPunct('(');
      const values: string[] = [value()];
      while (peek().kind === 'punct' && peek().text === ',') {
        i++;
        values.push(value());
      }
      expectPunct(')');
      return { kind: 'list', values };
    }
    if (isWord(t, 'empty') || isWord(t, 'null')) {
      i++;
      return { kind: 'empty' };
    }
    const v = value();
    return v === 'currentUser()' ? { kind: 'currentUser' } : { kind: 'value', value: v };
  };

  const clause = (): JqlNode => {
    const f = field();
    const op = operator();
    return { kind: 'clause', field: f, op, operand: operand(op) };
  };

  const unary = (): JqlNode => {
    const t = peek();
    if (isWord(t, 'not')) {
      i++;
      return { kind: 'not', child: unary() };
    }
    if (t.kind === 'punct' && t.text === '(') {
      i++;
      const e = expr();
      expectPunct(')');
      return e;
    }
    return clause();
  };

  const and = (): JqlNode => {
    const children = [unary()];
    while (isWord(peek(), 'and')) {
      i++;
      children.push(unary());
    }
    return children.length === 1 ? children[0]! : { kind: 'and' as const, children };
  };

  const expr = (): JqlNode => {
    const children = [and()];
    while (isWord(peek(), 'or')) {
      i++;
      children.push(and());
    }
    return children.length === 1 ? children[0]! : { kind: 'or', children };
  };

  const query: JqlQuery = { orderBy: [] };
  if (peek().kind !== 'end' && !isWord(peek(), 'order')) query.where = expr();
  if (isWord(peek(), 'order')) {
    i++;
    if (!isWord(peek(), 'by')) fail("'by'");
    i++;
    do {
      if (query.orderBy.length > 0) i++;
      const f = peek();
      if (f.kind !== 'word' && f.kind !== 'string') fail('a field name');
      i++;
      let direction: 'ASC' | 'DESC' = 'ASC';
      if (isWord(peek(), 'asc') || isWord(peek(), 'desc')) {
        direction = peek().text.toUpperCase() as 'ASC' | 'DESC';
        i++;
      }
      query.orderBy.push({ field: f.text.toLowerCase(), direction });
    } while (peek().kind === 'punct' && peek().text === ',');
  }
  if (peek().kind !== 'end') fail("'AND', 'OR' or 'ORDER BY'");
  return query;
}

/** What the search index holds for one issue at one moment. */
export interface IndexedIssue {
  id: string;
  key: string;
  project: { id: string; key: string; name: string };
  issueType: { id: string; name: string };
  status: { id: string; name: string };
  statusCategory: { id: number; key: string; name: string };
  priority?: { id: string; name: string };
  labels: string[];
  assignee?: string;
  reporter?: string;
  summary: string;
  created: number;
  updated: number;
  properties: Record<string, unknown>;
}

/** The site facts the evaluator checks values against (Jira refuses a project or status it does not know). */
export interface JqlSite {
  projects: { id: string; key: string; name: string }[];
  statuses: { id: string; name: string }[];
  statusCategories: { id: number; key: string; name: string }[];
  issueTypes: { id: string; name: string }[];
  priorities: { id: string; name: string }[];
  /** whether issue.property[key].path is indexed (Jira indexes only properties an app declared) */
  propertyIndexed(key: string, path: string[]): boolean;
}

export interface EvalContext {
  currentUser: string;
  now: number;
}

const SORTABLE = new Set(['created', 'updated', 'key', 'issuekey', 'id', 'priority', 'status']);

const eq = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

function unknownValue(field: string, v: string): never {
  throw new JqlError(`The value '${v}' does not exist for the field '${field}'.`);
}

/** Relative (`-5m`, `-2d`, `1w`) or absolute (`2026-01-31`, `2026/01/31 10:00`) date, as ms. */
function jqlDate(v: string, now: number, field: string): number {
  const rel = /^([-+]?)(\d+)([mhdw])$/.exec(v);
  if (rel) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[rel[3] as 'm' | 'h' | 'd' | 'w'];
    return now + (rel[1] === '-' ? -1 : 1) * Number(rel[2]) * unit;
  }
  const abs = /^(\d{4})[-/](\d{2})[-/](\d{2})(?:[ T](\d{2}):(\d{2}))?$/.exec(v);
  if (abs) return Date.UTC(Number(abs[1]), Number(abs[2]) - 1, Number(abs[3]), Number(abs[4] ?? 0), Number(abs[5] ?? 0));
  throw new JqlError(`Date value '${v}' for field '${field}' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.`);
}

function propertyValues(props: Record<string, unknown>, key: string, path: string[]): unknown[] {
  let at: unknown[] = [props[key]];
  for (const seg of path) {
    at = at.flatMap((v) => (Array.isArray(v) ? v : [v])).map((v) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[seg] : undefined));
  }
  return at.flatMap((v) => (Array.isArray(v) ? v : [v])).filter((v) => v !== undefined && v !== null);
}

const OPS_BY_FIELD: Record<string, readonly Operator[]> = {
  project: ['=', '!=', 'in', 'not in', 'is', 'is not'],
  key: ['=', '!=', 'in', 'not in', '>', '>=', '<', '<='],
  labels: ['=', '!=', 'in', 'not in', 'is', 'is not'],
  status: ['=', '!=', 'in', 'not in'],
  statuscategory: ['=', '!=', 'in', 'not in'],
  issuetype: ['=', '!=', 'in', 'not in'],
  priority: ['=', '!=', 'in', 'not in', 'is', 'is not'],
  assignee: ['=', '!=', 'in', 'not in', 'is', 'is not'],
  reporter: ['=', '!=', 'in', 'not in', 'is', 'is not'],
  summary: ['~', '!~', 'is', 'is not'],
  text: ['~', '!~'],
  created: ['=', '!=', '>', '>=', '<', '<='],
  updated: ['=', '!=', '>', '>=', '<', '<='],
  property: ['=', '!=', 'in', 'not in', 'is', 'is not', '~', '>', '>=', '<', '<='],
};

const ALIASES: Record<string, string> = { issuekey: 'key', id: 'key', type: 'issuetype', issuetype: 'issuetype', statuscategory: 'statuscategory', category: 'statuscategory' };

/**
 * Checks a parsed query against the site (unknown fields, operators and values are 400s, as in Jira)
 * and returns a predicate over indexed issues.
 */
export function compileJql(q: JqlQuery, site: JqlSite, ctx: EvalContext): (issue: IndexedIssue) => boolean {
  for (const s of q.orderBy) if (!SORTABLE.has(s.field)) throw new JqlError(`Not able to sort using field '${s.field}'.`);
  if (!q.where) return () => true;
  const compile = (n: JqlNode): ((i: IndexedIssue) => boolean) => {
    if (n.kind === 'and' || n.kind === 'or') {
      const parts = n.children.map(compile);
      return n.kind === 'and' ? (i) => parts.every((p) => p(i)) : (i) => parts.some((p) => p(i));
    }
    if (n.kind === 'not') {
      const inner = compile(n.child);
      return (i) => !inner(i);
    }
    return compileClause(n, site, ctx);
  };
  return compile(q.where);
}

function compileClause(n: Extract<JqlNode, { kind: 'clause' }>, site: JqlSite, ctx: EvalContext): (i: IndexedIssue) => boolean {
  const name = n.field.kind === 'property' ? 'property' : (ALIASES[n.field.name] ?? n.field.name);
  const shown = n.field.kind === 'property' ? `issue.property[${n.field.key}]${n.field.path.map((p) => `.${p}`).join('')}` : n.field.name;
  const ops = OPS_BY_FIELD[name];
  if (!ops) throw new JqlError(`Field '${shown}' does not exist or you do not have permission to view it.`);
  if (!ops.includes(n.op)) throw new JqlError(`The operator '${n.op.toUpperCase()}' is not supported by the '${shown}' field.`);
  const { op, operand } = n;
  const negated = op === '!=' || op === 'not in' || op === 'is not' || op === '!~';
  const raw: string[] =
    operand.kind === 'list' ? operand.values : operand.kind === 'value' ? [operand.value] : operand.kind === 'currentUser' ? [ctx.currentUser] : [];

  // Multi-valued and optional fields: "is EMPTY" tests for no value; = / in match any value; != / not in
  // match issues that have a value and none of the listed ones (Jira leaves out empty fields there too).
  const byValues = (valuesOf: (i: IndexedIssue) => string[], wanted: (v: string) => boolean): ((i: IndexedIssue) => boolean) => {
    if (operand.kind === 'empty') return (i) => (valuesOf(i).length === 0) !== negated;
    return (i) => {
      const vals = valuesOf(i);
      if (negated) return vals.length > 0 && !vals.some(wanted);
      return vals.some(wanted);
    };
  };

  switch (name) {
    case 'project': {
      const ids = raw.map((v) => site.projects.find((p) => eq(p.key, v) || p.id === v || eq(p.name, v))?.id ?? unknownValue('project', v));
      return byValues((i) => [i.project.id], (v) => ids.includes(v));
    }
    case 'key': {
      if (op === '>' || op === '>=' || op === '<' || op === '<=') {
        const [v] = raw;
        const m = /^([A-Za-z][A-Za-z0-9_]*)-(\d+)$/.exec(v ?? '');
        if (!m) throw new JqlError(`The issue key '${v}' for field '${shown}' is invalid.`);
        const n2 = Number(m[2]);
        return (i) => {
          const [pk, num] = [i.key.slice(0, i.key.lastIndexOf('-')), Number(i.key.slice(i.key.lastIndexOf('-') + 1))];
          if (!eq(pk, m[1]!)) return false;
          return op === '>' ? num > n2 : op === '>=' ? num >= n2 : op === '<' ? num < n2 : num <= n2;
        };
      }
      return byValues((i) => [i.key, i.id], (v) => raw.some((r) => eq(r, v)));
    }
    case 'labels':
      return byValues((i) => i.labels, (v) => raw.some((r) => eq(r, v)));
    case 'status': {
      const ids = raw.map((v) => site.statuses.find((s) => eq(s.name, v) || s.id === v)?.id ?? unknownValue('status', v));
      return byValues((i) => [i.status.id], (v) => ids.includes(v));
    }
    case 'statuscategory': {
      const keys = raw.map((v) => site.statusCategories.find((c) => eq(c.name, v) || eq(c.key, v) || String(c.id) === v)?.key ?? unknownValue('statusCategory', v));
      return byValues((i) => [i.statusCategory.key], (v) => keys.includes(v));
    }
    case 'issuetype': {
      const ids = raw.map((v) => site.issueTypes.find((t) => eq(t.name, v) || t.id === v)?.id ?? unknownValue('issuetype', v));
      return byValues((i) => [i.issueType.id], (v) => ids.includes(v));
    }
    case 'priority': {
      const ids = raw.map((v) => site.priorities.find((p) => eq(p.name, v) || p.id === v)?.id ?? unknownValue('priority', v));
      return byValues((i) => (i.priority ? [i.priority.id] : []), (v) => ids.includes(v));
    }
    case 'assignee':
    case 'reporter':
      return byValues((i) => {
        const who = name === 'assignee' ? i.assignee : i.reporter;
        return who ? [who] : [];
      }, (v) => raw.includes(v));
    case 'summary':
    case 'text': {
      if (operand.kind === 'empty') return (i) => (i.summary === '') !== negated;
      const words = raw[0]!.toLowerCase().split(/\s+/).filter(Boolean);
      return (i) => words.every((w) => i.summary.toLowerCase().includes(w)) !== negated;
    }
    case 'created':
    case 'updated': {
      const t = jqlDate(raw[0]!, ctx.now, name);
      return (i) => {
        const at = name === 'created' ? i.created : i.updated;
        return op === '>' ? at > t : op === '>=' ? at >= t : op === '<' ? at < t : op === '<=' ? at <= t : op === '=' ? at === t : at !== t;
      };
    }
    case 'property': {
      const f = n.field as Extract<Field, { kind: 'property' }>;
      if (!site.propertyIndexed(f.key, f.path)) return () => false;
      if (op === '>' || op === '>=' || op === '<' || op === '<=') {
        const bound = Number(raw[0]);
        return (i) =>
          propertyValues(i.properties, f.key, f.path).some((v) => {
            const x = Number(v);
            return op === '>' ? x > bound : op === '>=' ? x >= bound : op === '<' ? x < bound : x <= bound;
          });
      }
      if (op === '~') {
        const needle = raw[0]!.toLowerCase();
        return (i) => propertyValues(i.properties, f.key, f.path).some((v) => String(v).toLowerCase().includes(needle));
      }
      return byValues((i) => propertyValues(i.properties, f.key, f.path).map(String), (v) => raw.includes(v));
    }
  }
  throw new JqlError(`Field '${shown}' does not exist or you do not have permission to view it.`);
}

export function sortIssues(issues: IndexedIssue[], orderBy: SortKey[], priorityRank: (id?: string) => number): IndexedIssue[] {
  const keys: SortKey[] = orderBy.length > 0 ? orderBy : [{ field: 'created', direction: 'DESC' }];
  const keyNum = (k: string): number => Number(k.slice(k.lastIndexOf('-') + 1));
  const cmp = (a: IndexedIssue, b: IndexedIssue, f: string): number => {
    switch (f) {
      case 'created':
        return a.created - b.created || Number(a.id) - Number(b.id);
      case 'updated':
        return a.updated - b.updated;
      case 'priority':
        return priorityRank(a.priority?.id) - priorityRank(b.priority?.id);
      case 'status':
        return a.status.name.localeCompare(b.status.name);
      default:
        return a.project.key.localeCompare(b.project.key) || keyNum(a.key) - keyNum(b.key);
    }
  };
  return [...issues].sort((a, b) => {
    for (const k of keys) {
      const c = cmp(a, b, k.field);
      if (c !== 0) return k.direction === 'DESC' ? -c : c;
    }
    return Number(b.id) - Number(a.id);
  });
}
