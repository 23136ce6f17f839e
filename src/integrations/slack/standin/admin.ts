// The stand-in's control routes under /__standin/ (no auth): what a person trying it by hand needs
// (the CLI adds /command and /click, cli.ts); tests use the object API instead.
import type { Hono } from 'hono';
import type { SlackFaults } from './faults.ts';
import { messageJson } from './messages.ts';
import type { ResponseUrls } from './response-urls.ts';
import type { SlackState } from './state.ts';

export function mountAdmin(app: Hono, s: SlackState, responseUrls: ResponseUrls): void {
  app.get('/__standin/channels', (c) =>
    c.json(s.channels.all().map((ch) => ({ id: ch.id, name: ch.name, isPrivate: ch.isPrivate, botMember: ch.botMember, messages: ch.messages.map((m) => ({ ...messageJson(m, true), replies: m.replies.map((r) => messageJson(r, true)) })) }))),
  );
  app.get('/__standin/requests', (c) => c.json(s.requests));
  app.get('/__standin/response-urls', (c) => c.json(responseUrls.all().map((r) => ({ id: r.id, channelId: r.channelId, userId: r.userId, posts: r.posts, messages: r.messages }))));
  app.post('/__standin/faults', async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { rateLimit?: Parameters<SlackFaults['rateLimit']>[0]; serverError?: Parameters<SlackFaults['serverError']>[0]; latencyMs?: number };
    if (body.rateLimit) s.faults.rateLimit(body.rateLimit);
    if (body.serverError) s.faults.serverError(body.serverError);
    if (typeof body.latencyMs === 'number') s.faults.latency(body.latencyMs);
    return c.json({ pending: s.faults.pending, latencyMs: s.faults.latencyMs });
  });
  app.delete('/__standin/faults', (c) => {
    s.faults.clear();
    return c.json({ pending: [], latencyMs: 0 });
  });
  app.put('/__standin/usergroups/:id', async (c) => {
    const users = (await c.req.json().catch(() => undefined)) as unknown;
    if (!Array.isArray(users) || !users.every((u) => typeof u === 'string')) return c.json({ error: 'send a JSON array of user ids' }, 400);
    s.groups.set(c.req.param('id'), users);
    return c.json({ id: c.req.param('id'), users });
  });
}
