// Every rich-text value the stand-in accepts is checked against the published ADF schema
// (@atlaskit/adf-schema json-schema/v1/full.json, draft-04), and a refusal names the first real problem
// rather than the schema's wall of anyOf branches.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import AjvDraft04 from 'ajv-draft-04';
import type { ErrorObject, ValidateFunction } from 'ajv-draft-04';

type Ajv = InstanceType<typeof AjvDraft04.default>;

interface Compiled {
  ajv: Ajv;
  full: ValidateFunction;
  /** The same schema compiled to stop at the first error: the check of every document (allErrors makes the schema's anyOf branches all run, ~10x the time); `full` only explains a refusal. */
  quick: ValidateFunction;
  /** node or mark type → the definitions that describe it (`codeBlock` → codeBlock_node, codeBlock_root_only_node) */
  defsByType: Map<string, string[]>;
}

let compiled: Compiled | undefined;

function load(): Compiled {
  if (compiled) return compiled;
  const require = createRequire(import.meta.url);
  const schema = JSON.parse(readFileSync(require.resolve('@atlaskit/adf-schema/json-schema/v1/full.json'), 'utf8')) as {
    definitions: Record<string, { properties?: { type?: { enum?: string[] } } }>;
  };
  // ajv-draft-04 is CommonJS: under NodeNext its default import is the module, whose `default` is the class.
  const AjvClass = (AjvDraft04 as unknown as { default: typeof AjvDraft04.default }).default;
  const ajv = new AjvClass({ allErrors: true, strict: false });
  ajv.addSchema(schema, 'adf');
  const defsByType = new Map<string, string[]>();
  for (const [name, def] of Object.entries(schema.definitions)) {
    for (const t of def.properties?.type?.enum ?? []) defsByType.set(t, [...(defsByType.get(t) ?? []), name]);
  }
  const quick = new AjvClass({ allErrors: false, strict: false });
  quick.addSchema(schema, 'adf');
  compiled = { ajv, full: ajv.getSchema('adf')!, quick: quick.getSchema('adf')!, defsByType };
  return compiled;
}

const GENERIC_KEYWORDS = new Set(['anyOf', 'oneOf', 'allOf', '$ref', 'if']);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const CHILD_POSITION = /^\/content\/(\d+)(\/type)?$/;

function describe(where: string, e: ErrorObject): string {
  const at = `${where}${e.instancePath}` || '/';
  if (e.keyword === 'additionalProperties') return `${at}: unexpected property ${JSON.stringify((e.params as { additionalProperty: string }).additionalProperty)}`;
  if (e.keyword === 'enum') return `${at}: ${e.message ?? 'not an allowed value'} ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`;
  return `${at}: ${e.message ?? e.keyword}`;
}

/**
 * The first node, deepest first, that its own definition refuses: children are judged before their
 * parent, so a bad paragraph inside a good list is named as the paragraph, not as "the list matched no
 * branch".
 */
function nodeProblem(c: Compiled, node: unknown, where: string): string | undefined {
  if (!isObject(node)) return `${where || '/'}: expected a node object, got ${Array.isArray(node) ? 'an array' : node === null ? 'null' : typeof node}`;
  const defs = typeof node.type === 'string' ? c.defsByType.get(node.type) : undefined;
  if (!defs) return `${where || '/'}: unknown node type ${JSON.stringify(node.type)}`;
  if (Array.isArray(node.marks)) {
    for (let i = 0; i < node.marks.length; i++) {
      const m = node.marks[i] as { type?: unknown } | null;
      if (!isObject(m) || typeof m.type !== 'string' || !c.defsByType.get(m.type)?.some((d) => d.endsWith('_mark'))) {
        return `${where}/marks/${i}: unknown mark type ${JSON.stringify(isObject(m) ? m.type : m)}`;
      }
    }
  }
  if (Array.isArray(node.content)) {
    for (let i = 0; i < node.content.length; i++) {
      const p = nodeProblem(c, node.content[i], `${where}/content/${i}`);
      if (p) return p;
    }
  }
  let best: ErrorObject[] | undefined;
  for (const name of defs) {
    const validate = c.ajv.getSchema(`adf#/definitions/${name}`)!;
    if (validate(node)) return undefined;
    const errs = (validate.errors ?? []).filter((e) => !GENERIC_KEYWORDS.has(e.keyword));
    if (!best || errs.length < best.length) best = errs;
  }
  const own = best!.find((e) => !e.instancePath.startsWith('/content/'));
  if (own) return describe(where, own);
  const misplaced = best!.map((e) => CHILD_POSITION.exec(e.instancePath)).find((m) => m !== null);
  if (misplaced) {
    const child = (node.content as unknown[])[Number(misplaced[1])] as { type: string };
    const marks = Array.isArray((child as { marks?: unknown }).marks) ? ` with marks ${JSON.stringify((child as unknown as { marks: { type: string }[] }).marks.map((m) => m.type))}` : '';
    return `${where}/content/${misplaced[1]}: a ${JSON.stringify(child.type)} node${marks} is not allowed inside ${JSON.stringify(node.type)}`;
  }
  return best![0] ? describe(where, best![0]) : `${where || '/'}: not a valid ${JSON.stringify(node.type)} node`;
}

/** `undefined` when `doc` is a valid ADF document; otherwise one line naming the problem. */
export function adfProblem(doc: unknown): string | undefined {
  if (!isObject(doc)) return `expected an ADF document object, got ${Array.isArray(doc) ? 'an array' : doc === null ? 'null' : typeof doc}`;
  const c = load();
  const quick: (d: unknown) => boolean = c.quick;
  if (quick(doc)) return undefined;
  const valid: (d: unknown) => boolean = c.full;
  if (valid(doc)) return undefined;
  if (doc.type !== 'doc') return `/: the root node must be {"type":"doc","version":1,…}, got type ${JSON.stringify(doc.type)}`;
  const found = nodeProblem(c, doc, '');
  if (found) return found;
  const e = (c.full.errors ?? []).find((x) => !GENERIC_KEYWORDS.has(x.keyword)) ?? c.full.errors![0]!;
  return describe('', e);
}

/** Jira's own words for a rich-text field that is not a document. */
export const NOT_A_DOCUMENT = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';

/** Jira's refusal of a rich-text value that is not a valid ADF document (description, comment bodies), or undefined when it is one. */
export function invalidDocument(doc: unknown): string | undefined {
  const problem = adfProblem(doc);
  return problem ? `${NOT_A_DOCUMENT}. The document is not valid ADF: ${problem}` : undefined;
}
