/**
 * Typed, read-only access to one part of a CloudTrail record (`requestParameters`,
 * `responseElements`, `additionalEventData`): what a flow reads through `env.request(e)`,
 * `env.response(e)` and `env.additional(e)`, never the raw record. Every read is total: a missing
 * record, part or path answers empty (`null`, `[]`, `false`) instead of throwing, as Panther's
 * `deep_get` does, so a flow written against the API reference survives the shapes CloudTrail
 * really writes (values left out, `{ items: [...] }` wrappers, policies as JSON strings).
 *
 * ```ts
 * const req = env.request(e);
 * req.str('snapshotId');                                  // 'snap-0123' or null
 * req.strings('createVolumePermission', 'add', 'items');  // [] when absent
 * req.doc('policy');                                      // a policy written as a JSON string, parsed
 * ```
 */

export type Path = readonly string[];

export interface Fields {
  /** Whether the part is there at all (a record not at hand, or a call without parameters: false). */
  readonly present: boolean;
  /** The part itself (null when absent). Prefer the typed reads below. */
  readonly value: Readonly<Record<string, unknown>> | null;
  /** The value at the path, whatever it is (undefined when missing). */
  get(...path: Path): unknown;
  /** Whether the path holds a value (null counts as missing). */
  has(...path: Path): boolean;
  /** A string at the path (numbers and booleans are not strings: null). */
  str(...path: Path): string | null;
  /** A number at the path; a string of digits (`"8080"`) counts. */
  num(...path: Path): number | null;
  /** A boolean at the path; the strings `"true"`/`"false"` count (some services write them so). */
  bool(...path: Path): boolean | null;
  /**
   * A list at the path: an array as it is, an EC2-style `{ items: [...] }` wrapper unwrapped, one
   * value as a list of one, nothing as [].
   */
  list(...path: Path): unknown[];
  /** The strings of `list(path)` (other values dropped). */
  strings(...path: Path): string[];
  /**
   * A JSON document at the path: an object as it is, a string parsed (URL-decoded first when it is
   * URL-encoded, as IAM writes policies); null when it does not parse.
   */
  doc(...path: Path): unknown;
  /**
   * Every value, at any depth, under a key named one of `keys` (e.g. every `cidrIp` of a security
   * group request), in document order.
   */
  deep(keys: ReadonlySet<string>): unknown[];
}

/** Reads a nested value (`at(obj, ['ipPermissions', 'items'])`). */
function at(obj: unknown, path: Path): unknown {
  let cur = obj;
  for (let i = 0; i < path.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[path[i]!];
  }
  return cur;
}

/** `list`'s rule, usable on any value (e.g. a policy statement's `Action`). */
export function asList(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v;
  if (typeof v === 'object') {
    const items = (v as Record<string, unknown>).items;
    if (Array.isArray(items) && Object.keys(v).length === 1) return items;
  }
  return [v];
}

/** `doc`'s rule, usable on any value: a JSON document as an object, or null. */
export function asDoc(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') return v;
  let text = v.trim();
  if (text.startsWith('%7B') || text.startsWith('%7b') || text.startsWith('%5B') || text.startsWith('%5b')) {
    try {
      text = decodeURIComponent(text);
    } catch {
      return null;
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

class PartFields implements Fields {
  readonly present: boolean;
  readonly value: Readonly<Record<string, unknown>> | null;

  constructor(value: Record<string, unknown> | null) {
    this.value = value;
    this.present = value !== null;
  }

  get(...path: Path): unknown {
    return at(this.value, path);
  }

  has(...path: Path): boolean {
    const v = at(this.value, path);
    return v !== undefined && v !== null;
  }

  str(...path: Path): string | null {
    const v = at(this.value, path);
    return typeof v === 'string' ? v : null;
  }

  num(...path: Path): number | null {
    const v = at(this.value, path);
    if (typeof v === 'number') return Number.isFinite(v) ? v : null;
    if (typeof v === 'string' && /^-?\d+(\.\d+)?$/.test(v)) return Number(v);
    return null;
  }

  bool(...path: Path): boolean | null {
    const v = at(this.value, path);
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === 'True') return true;
    if (v === 'false' || v === 'False') return false;
    return null;
  }

  list(...path: Path): unknown[] {
    return asList(at(this.value, path));
  }

  strings(...path: Path): string[] {
    return this.list(...path).filter((x): x is string => typeof x === 'string');
  }

  doc(...path: Path): unknown {
    return asDoc(at(this.value, path));
  }

  deep(keys: ReadonlySet<string>): unknown[] {
    const out: unknown[] = [];
    const visit = (v: unknown, depth: number): void => {
      if (depth > 32 || v === null || typeof v !== 'object') return;
      if (Array.isArray(v)) {
        for (const x of v) visit(x, depth + 1);
        return;
      }
      for (const [k, x] of Object.entries(v)) {
        if (keys.has(k)) out.push(x);
        else visit(x, depth + 1);
      }
    };
    visit(this.value, 0);
    return out;
  }
}

/** Fields over nothing: every read answers empty. */
export const NO_FIELDS: Fields = new PartFields(null);

/** Fields over a record's part (anything but a plain object reads as absent). */
export function fieldsOf(part: unknown): Fields {
  return part !== null && typeof part === 'object' && !Array.isArray(part) ? new PartFields(part as Record<string, unknown>) : NO_FIELDS;
}
