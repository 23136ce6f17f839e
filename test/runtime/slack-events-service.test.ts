import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readConfig } from '../../src/config/index.ts';
import type { SlackContext } from '../../src/http/slack-events.ts';
import { createResponder } from '../../src/integrations/slack/client.ts';
import { type SlackStandin, startSlackStandin } from '../../src/integrations/slack/standin/index.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { type Service, startService } from '../../src/runtime/service.ts';
import { createTestDatabase } from '../helpers/db.ts';

/**
 * POST /slack/events on a real, listening trailbot service: the stand-in sends signed commands
 * over HTTP, listeners registered through ServiceOptions.slack.register answer through response_url.
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let slack: SlackStandin;
let svc: Service;
let ctx: SlackContext | undefined;
const ran: string[] = [];
const logs: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'trailbot-slack-events-'));

beforeAll(async () => {
  db = await createTestDatabase();
  slack = await startSlackStandin();
  const config = readConfig({ DATABASE_URL: db.url, TRAILBOT_QUEUE: 'inline', ...slack.env() }, { cwd: dir });
  const responder = createResponder({ apiUrl: config.slack!.apiUrl });
  svc = await startService({
    config,
    role: 'all',
    listen: 0,
    log: createLogger({
      level: 'info',
      destination: new Writable({
        write(chunk: Buffer, _e, done) {
          logs.push(chunk.toString());
          done();
        },
      }),
    }),
    slack: {
      register(bolt, c) {
        ctx = c;
        bolt.command('/trail', async ({ command, ack }) => {
          ran.push(command.text);
          await ack({ response_type: 'ephemeral', text: `Looking up ${command.text} …` });
          // The real /trail queues a job that answers; this stays in process.
          await responder.respond(command.response_url, { text: `nothing found for ${command.text}` });
        });
      },
    },
  });
});
afterAll(async () => {
  await svc?.close();
  await slack?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe('POST /slack/events on the service', () => {
  it('gives register() the Bolt App and the service parts', () => {
    expect(ctx?.queue).toBe(svc.queue);
    expect(ctx?.store).toBe(svc.store);
    expect(ctx?.config.slack?.signingSecret).toBe(slack.signingSecret);
  });

  it('a signed /trail is acked over HTTP within a fraction of Slack\'s 3 s, and the answer reaches the response_url', async () => {
    const r = await slack.sendCommand(`${svc.url}/slack/events`, { text: 'alana@corp 7d' });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ response_type: 'ephemeral', text: 'Looking up alana@corp 7d …' });
    expect(r.ms).toBeLessThan(500);
    const [post] = await r.responseUrl.waitForPosts(1);
    expect(post!.body).toEqual({ text: 'nothing found for alana@corp 7d' });
  });

  it('a request signed with another secret is 401 and runs nothing; nothing of it is logged but the refusal', async () => {
    ran.length = 0;
    const r = await slack.sendCommand(`${svc.url}/slack/events`, { text: 'bob@corp' }, { secret: 'another-apps-signing-secret-00' });
    expect(r.status).toBe(401);
    expect((r.json as { error: { code: string } }).error.code).toBe('E_UNAUTHORIZED');
    expect(ran).toEqual([]);
    expect(r.responseUrl.posts).toEqual([]);
    const logged = logs.join('');
    expect(logged).toMatch(/refused a Slack request/);
    expect(logged).not.toContain('bob@corp');
    expect(logged).not.toContain(r.responseUrl.url);
  });
});
