// The checks create and edit share, as Jira makes them: every field of one request is checked and all
// problems are reported together in `errors` (field → message), in Jira's words. Also the labels
// `update` verbs and issue properties' limits.
import { invalidDocument, NOT_A_DOCUMENT } from './adf.ts';
import { JiraApiError, NOT_ON_SCREEN } from './http.ts';
import type { JiraProject } from './site.ts';
import type { JiraState } from './state.ts';

/** What a create or edit request sets, once checked. */
export type Changes = {
  summary?: string;
  description?: unknown;
  labels?: string[];
  priorityId?: string | null;
  assigneeId?: string | null;
  reporterId?: string;
  componentIds?: string[];
};

const EDITABLE = new Set(['summary', 'description', 'labels', 'priority', 'assignee', 'reporter', 'components']);
const MAX_PROPERTY_CHARS = 32768;

/** Checks `fields` of a create (`creating`) or an edit of an issue in `project`; problems go into `errors`. */
export function checkFields(s: JiraState, fields: Record<string, unknown>, project: JiraProject, errors: Record<string, string>, creating: boolean): Changes {
  const ch: Changes = {};
  for (const [k, v] of Object.entries(fields)) {
    if (k === 'project' || k === 'issuetype') {
      if (!creating) errors[k] = NOT_ON_SCREEN(k);
      continue;
    }
    if (!EDITABLE.has(k)) {
      errors[k] = NOT_ON_SCREEN(k);
      continue;
    }
    switch (k) {
      case 'summary':
        if (v === null || v === undefined || (typeof v === 'string' && v.trim() === '')) errors.summary = 'You must specify a summary of the issue.';
        else if (typeof v !== 'string') errors.summary = 'Operation value must be a string';
        else if (/[\r\n]/.test(v)) errors.summary = 'The summary is invalid because it contains newline characters.';
        else if (v.length > 255) errors.summary = 'Summary must be less than 255 characters.';
        else ch.summary = v;
        break;
      case 'description': {
        if (v === null) {
          ch.description = null;
          break;
        }
        if (typeof v !== 'object' || Array.isArray(v)) {
          errors.description = NOT_A_DOCUMENT;
          break;
        }
        const refusal = invalidDocument(v);
        if (refusal) errors.description = refusal;
        else ch.description = structuredClone(v);
        break;
      }
      case 'labels': {
        const labels = checkLabels(v, errors);
        if (labels) ch.labels = labels;
        break;
      }
      case 'priority': {
        if (!s.priorityOnScreen(project)) {
          errors.priority = NOT_ON_SCREEN('priority');
          break;
        }
        const ref = (v ?? {}) as { id?: unknown; name?: unknown };
        const pr = s.site.priorities.find((p) => (ref.id !== undefined && p.id === String(ref.id)) || (ref.id === undefined && p.name === ref.name));
        if (!pr) errors.priority = ref.id !== undefined ? `Specify a valid 'id' or 'name' for Priority` : `Priority name '${String(ref.name)}' is not valid`;
        else ch.priorityId = pr.id;
        break;
      }
      case 'assignee':
      case 'reporter': {
        if (v === null) {
          if (k === 'assignee') ch.assigneeId = null;
          else errors.reporter = 'Reporter is required.';
          break;
        }
        const id = (v as { accountId?: unknown }).accountId;
        if (typeof id !== 'string' || !s.userById(id)) errors[k] = `The user with account ID '${String(id)}' does not exist.`;
        else if (k === 'assignee') ch.assigneeId = id;
        else ch.reporterId = id;
        break;
      }
      case 'components': {
        if (!Array.isArray(v)) {
          errors.components = 'data was not an array';
          break;
        }
        const ids: string[] = [];
        for (const c of v as { id?: unknown; name?: unknown }[]) {
          const found = project.components.find((x) => (c?.id !== undefined ? x.id === String(c.id) : x.name === c?.name));
          if (!found) {
            errors.components = c?.id !== undefined ? `Component with id '${String(c.id)}' does not exist.` : `Component name '${String(c?.name)}' is not valid`;
            break;
          }
          ids.push(found.id);
        }
        if (!errors.components) ch.componentIds = ids;
        break;
      }
    }
  }
  return ch;
}

/** Labels as Jira takes them (strings without whitespace, ≤ 255), duplicates dropped; undefined after a problem. */
export function checkLabels(v: unknown, errors: Record<string, string>): string[] | undefined {
  if (!Array.isArray(v)) {
    errors.labels = 'data was not an array';
    return undefined;
  }
  for (const l of v) {
    if (typeof l !== 'string') errors.labels = 'Operation value must be a string';
    else if (l === '') errors.labels = 'The label must not be empty.';
    else if (/\s/.test(l)) errors.labels = `The label '${l}' contains spaces which is invalid.`;
    else if (l.length > 255) errors.labels = `The label '${l}' exceeds the maximum length for a single label of 255 characters.`;
    if (errors.labels) return undefined;
  }
  return [...new Set(v as string[])];
}

/** `update: { labels: [{add}|{remove}|{set}] }` — the only verb-style field trailbot needs. */
export function applyUpdate(update: unknown, current: string[], errors: Record<string, string>): string[] | undefined {
  if (update === undefined || update === null) return undefined;
  if (typeof update !== 'object') {
    errors.update = 'data was not an object';
    return undefined;
  }
  let labels: string[] | undefined;
  for (const [k, ops] of Object.entries(update)) {
    if (k !== 'labels') {
      errors[k] = NOT_ON_SCREEN(k);
      continue;
    }
    labels = [...current];
    for (const op of (Array.isArray(ops) ? ops : []) as Record<string, unknown>[]) {
      if ('set' in op) labels = checkLabels(op.set, errors) ?? labels;
      else if ('add' in op) labels = [...new Set([...labels, ...(checkLabels([op.add], errors) ?? [])])];
      else if ('remove' in op) labels = labels.filter((l) => l !== op.remove);
      else errors.labels = `Unsupported operation for labels: ${Object.keys(op).join(', ')}`;
    }
  }
  return labels;
}

/** An issue property's key (1–255 characters) and value (≤ 32768 characters of JSON). */
export function checkProperty(key: unknown, value: unknown): void {
  if (typeof key !== 'string' || key === '' || key.length > 255) throw new JiraApiError(400, ['The property key must be between 1 and 255 characters long.']);
  if (value === undefined) throw new JiraApiError(400, ['The property value must be a valid, non-empty JSON value.']);
  if (JSON.stringify(value).length > MAX_PROPERTY_CHARS) throw new JiraApiError(400, [`The property '${key}' has a value exceeding ${MAX_PROPERTY_CHARS} characters.`]);
}
