// Comments: add (the body must be an ADF document), list (paged, `orderBy=-created` newest first) and
// read one.
import { invalidDocument, NOT_A_DOCUMENT } from '../adf.ts';
import { intParam, JiraApiError, readObject } from '../http.ts';
import { commentJson } from '../issue-json.ts';
import type { JiraRoute, StoredComment } from '../state.ts';

export const COMMENT_ROUTES: readonly JiraRoute[] = [
  {
    method: 'POST',
    path: '/rest/api/3/issue/:key/comment',
    async handle(c, s) {
      const i = s.mustIssue(c.req.param('key')!);
      const body = await readObject(c);
      if (body.body === undefined || body.body === null) throw new JiraApiError(400, [], { comment: 'Comment body can not be empty!' });
      if (typeof body.body !== 'object' || Array.isArray(body.body)) throw new JiraApiError(400, [], { comment: NOT_A_DOCUMENT });
      const refusal = invalidDocument(body.body);
      if (refusal) throw new JiraApiError(400, [], { comment: refusal });
      const now = s.clock();
      const comment: StoredComment = { id: s.nextId('comment'), authorId: c.get('user').accountId, body: structuredClone(body.body), created: now, updated: now };
      i.comments.push(comment);
      s.touch(i);
      return c.json(commentJson(s, i, comment), 201);
    },
  },
  {
    method: 'GET',
    path: '/rest/api/3/issue/:key/comment',
    handle(c, s) {
      const i = s.mustIssue(c.req.param('key')!);
      const startAt = Math.max(0, intParam(c.req.query('startAt'), 'startAt', 0));
      const maxResults = Math.max(0, intParam(c.req.query('maxResults'), 'maxResults', 5000));
      const order = c.req.query('orderBy');
      const all = order === '-created' ? [...i.comments].reverse() : i.comments;
      return c.json({ comments: all.slice(startAt, startAt + maxResults).map((x) => commentJson(s, i, x)), maxResults, total: all.length, startAt });
    },
  },
  {
    method: 'GET',
    path: '/rest/api/3/issue/:key/comment/:id',
    handle(c, s) {
      const i = s.mustIssue(c.req.param('key')!);
      const comment = i.comments.find((x) => x.id === c.req.param('id'));
      if (!comment) throw new JiraApiError(404, [`Can not find a comment for the id: ${c.req.param('id')}.`]);
      return c.json(commentJson(s, i, comment));
    },
  },
];
