// The stand-in's control paths under /__standin/ (not part of Jira: no auth, never faulted): the
// request log and the issues, faults, closing an issue as a person would, webhooks, reindexing.
import type { HoldFault, RateLimitFault, ServerErrorFault } from '../faults.ts';
import { JiraApiError, readObject } from '../http.ts';
import { issueJson } from '../issue-json.ts';
import { statusById } from '../site.ts';
import type { JiraRoute } from '../state.ts';
import type { WebhookRegistration } from '../webhooks.ts';
import { actorOf, closeIssue } from '../workflow.ts';

type Matchable = { path?: string; method?: string };
const match = (f: Matchable) => (f.path || f.method ? { path: f.path, method: f.method } : undefined);

export const ADMIN_ROUTES: readonly JiraRoute[] = [
  { method: 'GET', path: '/__standin/requests', handle: (c, s) => c.json(s.requests) },
  {
    method: 'GET',
    path: '/__standin/issues',
    handle: (c, s) => c.json(s.issues.map((i) => ({ key: i.key, id: i.id, summary: i.summary, status: statusById(i.statusId).name, labels: i.labels, properties: Object.fromEntries(i.properties) }))),
  },
  {
    method: 'POST',
    path: '/__standin/faults',
    async handle(c, s) {
      const b = (await readObject(c)) as { rateLimit?: RateLimitFault & Matchable; serverError?: ServerErrorFault & Matchable; hold?: HoldFault & Matchable; latencyMs?: number };
      if (b.rateLimit) s.faults.rateLimit({ ...b.rateLimit, match: match(b.rateLimit) });
      if (b.serverError) s.faults.serverError({ ...b.serverError, match: match(b.serverError) });
      if (b.hold) s.faults.hold({ ...b.hold, match: match(b.hold) });
      if (b.latencyMs !== undefined) s.faults.latency(b.latencyMs);
      return c.json({ pending: s.faults.pending, latencyMs: s.faults.latencyMs });
    },
  },
  {
    method: 'DELETE',
    path: '/__standin/faults',
    handle(c, s) {
      s.faults.clear();
      return c.body(null, 204);
    },
  },
  {
    method: 'POST',
    path: '/__standin/issues/:key/close',
    async handle(c, s) {
      const b = (await c.req.text()) ? ((await readObject(c)) as { as?: string }) : {};
      const key = c.req.param('key')!;
      closeIssue(s, s.mustIssue(key), actorOf(s, { as: b.as }));
      return c.json(issueJson(s, s.mustIssue(key), undefined));
    },
  },
  {
    method: 'POST',
    path: '/__standin/webhooks',
    async handle(c, s) {
      const b = (await readObject(c)) as unknown as WebhookRegistration;
      if (typeof b.url !== 'string') throw new JiraApiError(400, ['url is required']);
      s.webhooks.register({ url: b.url, secret: b.secret, events: b.events });
      return c.body(null, 204);
    },
  },
  {
    method: 'POST',
    path: '/__standin/reindex',
    handle(c, s) {
      s.reindex();
      return c.body(null, 204);
    },
  },
];
