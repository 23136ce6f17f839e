// Issue properties: list, read, set (201 when created, 200 when replaced) and delete. A property
// change reaches the search index (issue.property[…] in JQL) but is not an edit: `updated` stays.
import { checkProperty } from '../fields.ts';
import { JiraApiError, readJson } from '../http.ts';
import type { JiraRoute } from '../state.ts';

const noProperty = (k: string) => new JiraApiError(404, [`The property with key '${k}' does not exist.`]);

export const PROPERTY_ROUTES: readonly JiraRoute[] = [
  {
    method: 'GET',
    path: '/rest/api/3/issue/:key/properties',
    handle(c, s) {
      const i = s.mustIssue(c.req.param('key')!);
      return c.json({ keys: [...i.properties.keys()].map((k) => ({ self: `${s.base()}/rest/api/3/issue/${i.id}/properties/${encodeURIComponent(k)}`, key: k })) });
    },
  },
  {
    method: 'GET',
    path: '/rest/api/3/issue/:key/properties/:prop',
    handle(c, s) {
      const i = s.mustIssue(c.req.param('key')!);
      const k = c.req.param('prop')!;
      if (!i.properties.has(k)) throw noProperty(k);
      return c.json({ key: k, value: i.properties.get(k) });
    },
  },
  {
    method: 'PUT',
    path: '/rest/api/3/issue/:key/properties/:prop',
    async handle(c, s) {
      const i = s.mustIssue(c.req.param('key')!);
      const k = c.req.param('prop')!;
      const value = await readJson(c);
      checkProperty(k, value);
      const existed = i.properties.has(k);
      i.properties.set(k, value);
      s.touch(i, { updated: false });
      return c.body(null, existed ? 200 : 201);
    },
  },
  {
    method: 'DELETE',
    path: '/rest/api/3/issue/:key/properties/:prop',
    handle(c, s) {
      const i = s.mustIssue(c.req.param('key')!);
      const k = c.req.param('prop')!;
      if (!i.properties.delete(k)) throw noProperty(k);
      s.touch(i, { updated: false });
      return c.body(null, 204);
    },
  },
];
