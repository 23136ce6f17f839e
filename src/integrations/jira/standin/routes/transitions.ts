// Transitions: the ones available from the issue's status, and running one (with comments added in
// the same request through `update.comment`).
import { invalidDocument } from '../adf.ts';
import { JiraApiError, readObject } from '../http.ts';
import { statusById, statusJson, TRANSITIONS } from '../site.ts';
import type { JiraRoute } from '../state.ts';
import { transition } from '../workflow.ts';

export const TRANSITION_ROUTES: readonly JiraRoute[] = [
  {
    method: 'GET',
    path: '/rest/api/3/issue/:key/transitions',
    handle(c, s) {
      const i = s.mustIssue(c.req.param('key')!);
      const only = c.req.query('transitionId');
      const list = TRANSITIONS.filter((t) => t.from.includes(i.statusId) && (only === undefined || t.id === only));
      return c.json({
        expand: 'transitions',
        transitions: list.map((t) => ({
          id: t.id,
          name: t.name,
          to: statusJson(s.base(), statusById(t.to)),
          hasScreen: false,
          isGlobal: false,
          isInitial: false,
          isAvailable: true,
          isConditional: false,
          looped: false,
        })),
      });
    },
  },
  {
    method: 'POST',
    path: '/rest/api/3/issue/:key/transitions',
    async handle(c, s) {
      const i = s.mustIssue(c.req.param('key')!);
      const body = await readObject(c);
      const id = (body.transition as { id?: unknown } | undefined)?.id;
      if (id === undefined || id === null) throw new JiraApiError(400, ["Missing 'transition' identifier"]);
      const update = body.update as { comment?: { add?: { body?: unknown } }[] } | undefined;
      const commentBodies = (update?.comment ?? []).map((x) => x.add?.body);
      for (const b of commentBodies) {
        const refusal = invalidDocument(b);
        if (refusal) throw new JiraApiError(400, [], { comment: refusal });
      }
      const actor = c.get('user');
      transition(s, i, String(id), actor);
      for (const b of commentBodies) {
        const now = s.clock();
        i.comments.push({ id: s.nextId('comment'), authorId: actor.accountId, body: structuredClone(b), created: now, updated: now });
      }
      return c.body(null, 204);
    },
  },
];
