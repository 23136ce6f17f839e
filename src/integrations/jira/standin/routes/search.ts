// JQL search (GET and POST /rest/api/3/search/jql): the query is parsed and checked by jql.ts and
// matched against the search index as it is now (reconcileIssues: as the issue is), paged by a
// `nextPageToken` bound to its JQL.
import { createHash } from 'node:crypto';
import { intParam, type JiraContext, JiraApiError, queryList, readObject } from '../http.ts';
import { issueJson, parseFieldList, parsePropertyList } from '../issue-json.ts';
import { compileJql, parseJql, sortIssues } from '../jql.ts';
import type { IndexedIssue } from '../jql.ts';
import type { JiraRoute, JiraState } from '../state.ts';

interface SearchParams {
  jql?: unknown;
  nextPageToken?: unknown;
  maxResults?: unknown;
  fields?: string[] | undefined;
  properties?: string[] | undefined;
  reconcileIssues?: unknown[] | undefined;
}

function search(c: JiraContext, s: JiraState, p: SearchParams): Response {
  const jql = typeof p.jql === 'string' ? p.jql : '';
  const query = parseJql(jql);
  if (!query.where) throw new JiraApiError(400, ['Unbounded JQL queries are not allowed here. Please add a search restriction to your query.']);
  const now = s.clock();
  const match = compileJql(query, s.jqlSite(), { currentUser: c.get('user').accountId, now });
  const reconcile = new Set((p.reconcileIssues ?? []).map(String));
  const docs: IndexedIssue[] = [];
  for (const i of s.issues) {
    const doc = reconcile.has(i.id) ? s.indexDoc(i) : s.searchable(i, now);
    if (doc && match(doc)) docs.push(doc);
  }
  const sorted = sortIssues(docs, query.orderBy, (id) => s.site.priorities.findIndex((x) => x.id === id));
  const fieldSet = parseFieldList(p.fields);
  const idOnly = !fieldSet || (fieldSet.size === 1 && fieldSet.has('id'));
  const cap = idOnly ? 5000 : 100;
  const requested = intParam(p.maxResults, 'maxResults', 50);
  if (requested < 0) throw new JiraApiError(400, ["The value of 'maxResults' must be 0 or greater."]);
  const pageSize = Math.min(requested === 0 ? 50 : requested, cap);
  const fingerprint = createHash('sha256').update(jql).digest('base64url').slice(0, 16);
  let offset = 0;
  if (p.nextPageToken !== undefined && p.nextPageToken !== null && p.nextPageToken !== '') {
    try {
      const t = JSON.parse(Buffer.from(String(p.nextPageToken), 'base64url').toString('utf8')) as { o: number; q: string };
      if (t.q !== fingerprint || !Number.isInteger(t.o) || t.o < 0) throw new Error('mismatch');
      offset = t.o;
    } catch {
      throw new JiraApiError(400, ['The provided next page token is invalid or expired.']);
    }
  }
  const page = sorted.slice(offset, offset + pageSize);
  const isLast = offset + pageSize >= sorted.length;
  const out: Record<string, unknown> = {
    issues: page.map((d) => {
      const i = s.findIssue(d.id)!;
      if (idOnly && !p.properties?.length) return { id: i.id };
      return issueJson(s, i, idOnly ? new Set() : fieldSet, parsePropertyList(p.properties, i));
    }),
    isLast,
  };
  if (!isLast) out.nextPageToken = Buffer.from(JSON.stringify({ o: offset + pageSize, q: fingerprint })).toString('base64url');
  return c.json(out);
}

/** A body field that must be an array of strings when given. */
function strings(v: unknown, name: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new JiraApiError(400, [`'${name}' must be an array of strings.`]);
  return v as string[];
}

export const SEARCH_ROUTES: readonly JiraRoute[] = [
  {
    method: 'GET',
    path: '/rest/api/3/search/jql',
    handle: (c, s) =>
      search(c, s, {
        jql: c.req.query('jql'),
        nextPageToken: c.req.query('nextPageToken'),
        maxResults: c.req.query('maxResults'),
        fields: queryList(c, 'fields'),
        properties: queryList(c, 'properties'),
        reconcileIssues: queryList(c, 'reconcileIssues')?.flatMap((x) => x.split(',')),
      }),
  },
  {
    method: 'POST',
    path: '/rest/api/3/search/jql',
    async handle(c, s) {
      const b = await readObject(c);
      return search(c, s, {
        jql: b.jql,
        nextPageToken: b.nextPageToken,
        maxResults: b.maxResults,
        fields: strings(b.fields, 'fields'),
        properties: strings(b.properties, 'properties'),
        reconcileIssues: Array.isArray(b.reconcileIssues) ? b.reconcileIssues : undefined,
      });
    },
  },
];
