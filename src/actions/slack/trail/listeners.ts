import type { App } from '@slack/bolt';
import type { Logger } from '../../../runtime/logger.ts';
import { enqueue } from '../../../runtime/enqueue.ts';
import type { JobInput } from '../../../runtime/jobs.ts';
import type { JobQueue } from '../../../runtime/queue.ts';
import type { ResponsePort } from '../../../integrations/slack/port.ts';
import type { TrailAccess } from './access.ts';
import { decodeCursor } from './cursor.ts';
import { parseTrail, type Span, WHO_MAX } from './grammar.ts';
import { MORE_ACTION, renderHelp, renderLooking, renderNotice, renderRefusal, renderUsage, RUN_ACTION } from './render.ts';

/**
 * `/trail` on the Bolt App behind POST /slack/events (src/http/slack-events.ts, which has checked
 * Slack's signature before anything here runs). Each listener answers within Slack's 3 seconds
 * and leaves the work to a queued `slack-trail` job (answer.ts), which answers through the
 * response_url:
 *
 * - `/trail …`: who may ask is checked first (a refusal shows nothing else); `help` and wrong input
 *   are answered in the acknowledgement itself; otherwise the acknowledgement says "Looking up
 *   <who> in <window>…" and the job is queued right after it leaves (the queue's round trips are
 *   not in Slack's 3 seconds; should the queue refuse, the person is told so through the
 *   response_url). Only the asker sees any of it.
 * - "More" (`trail-more`): the next page, replacing the message the button was on. The button's
 *   value (cursor.ts) must be one trailbot wrote; a damaged one gets a short notice and nothing else.
 * - "Trail of <actor>" (`trail-run`, on finding messages): `/trail <actor> 7d` for the clicker,
 *   ephemeral; 7 days rather than the command's 24 hours, since an alert is often read later and
 *   its actor's week around it is what an analyst wants.
 *
 * Refusals are logged with the user and channel ids, never the text.
 */

export interface TrailListenerDeps {
  queue: JobQueue;
  access: TrailAccess;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Tells the person when their answer could not be queued (the queue is down). */
  respond?: ResponsePort | undefined;
  /** The window of a "Trail of <actor>" click (default 7d). */
  runWindow?: Span;
  now?: () => number;
}

type Message = { text: string; blocks?: Record<string, unknown>[] | undefined };
const ephemeral = (m: Message) => ({ response_type: 'ephemeral' as const, text: m.text, blocks: m.blocks as never });

export function registerTrail(bolt: App, { queue, access, log, respond, runWindow = '7d', now = Date.now }: TrailListenerDeps): void {
  const queueAnswer = async (input: JobInput<'slack-trail'>): Promise<boolean> => {
    try {
      await enqueue(queue, 'slack-trail', input);
      return true;
    } catch (e) {
      log.error({ err: e, userId: input.userId }, 'could not queue a /trail answer');
      // The one answer not made by a job: the queue is what failed. Best effort.
      await respond
        ?.respond(input.responseUrl, { ...renderNotice('unavailable'), responseType: 'ephemeral', replaceOriginal: false })
        .catch((e2: unknown) => log.error({ err: e2, userId: input.userId }, 'could not tell the person that /trail is unavailable'));
      return false;
    }
  };

  bolt.command('/trail', async ({ command, ack }) => {
    const userId = command.user_id;
    const channelId = command.channel_id;
    // `unknown`: only a user group could allow them and this process cannot read user groups; the
    // worker checks again before anything is shown, and refuses there if need be.
    const verdict = await access.check({ userId, channelId });
    if (verdict.allowed === false) {
      log.warn({ userId, channelId, why: verdict.why, detail: verdict.detail }, '/trail refused');
      await ack(ephemeral(renderRefusal(verdict.why)));
      return;
    }
    const parsed = parseTrail(command.text ?? '', { now: now() });
    if (parsed.kind === 'help') return ack(ephemeral(renderHelp()));
    if (parsed.kind === 'usage') return ack(ephemeral(renderUsage(parsed.problem)));
    await ack(ephemeral(renderLooking(parsed.query)));
    await queueAnswer({
      responseUrl: command.response_url,
      userId,
      channelId: /^[CGD][A-Z0-9]{2,}$/.test(channelId) ? channelId : undefined,
      answer: { kind: 'page', query: parsed.query, page: 1 },
    });
  });

  /** A click: who, where, the response_url, and the button's value. */
  const clickOf = (body: unknown, action: unknown) => {
    const b = body as { user?: { id?: string }; channel?: { id?: string }; container?: { channel_id?: string }; response_url?: string };
    const channelId = b.channel?.id ?? b.container?.channel_id;
    return {
      userId: b.user?.id ?? '',
      channelId: channelId && /^[CGD][A-Z0-9]{2,}$/.test(channelId) ? channelId : undefined,
      responseUrl: b.response_url,
      value: (action as { value?: unknown }).value,
    };
  };

  const onClick = (kind: 'more' | 'run') =>
    async ({ ack, body, action }: { ack: () => Promise<void>; body: unknown; action: unknown }): Promise<void> => {
      await ack();
      const click = clickOf(body, action);
      if (!click.responseUrl || !click.userId) {
        log.warn({ userId: click.userId || undefined, channelId: click.channelId, action: kind }, 'a /trail button click without a response_url or user: nothing to answer');
        return;
      }
      const base = { responseUrl: click.responseUrl, userId: click.userId, channelId: click.channelId };
      const verdict = await access.check(click);
      if (verdict.allowed === false) {
        log.warn({ userId: click.userId, channelId: click.channelId, why: verdict.why, detail: verdict.detail, action: kind }, '/trail refused');
        await queueAnswer({ ...base, answer: { kind: 'notice', notice: 'refused' } });
        return;
      }
      if (kind === 'more') {
        const cursor = decodeCursor(click.value);
        if (!cursor) {
          log.warn({ userId: click.userId, channelId: click.channelId, bytes: typeof click.value === 'string' ? click.value.length : undefined }, 'a damaged "More" value: not one trailbot wrote');
          await queueAnswer({ ...base, answer: { kind: 'notice', notice: 'damaged' } });
          return;
        }
        await queueAnswer({ ...base, replaceOriginal: true, answer: { kind: 'page', query: cursor.query, page: cursor.page, offset: cursor.offset, after: cursor.after } });
        return;
      }
      // "Trail of <actor>": the value is who, one word as /trail takes it.
      const who = typeof click.value === 'string' ? click.value.trim() : '';
      const parsed = who && who.length <= WHO_MAX && !/\s/.test(who) ? parseTrail(`${who} ${runWindow}`, { now: now() }) : undefined;
      if (parsed?.kind !== 'query') {
        log.warn({ userId: click.userId, channelId: click.channelId }, 'a damaged "Trail of" value');
        await queueAnswer({ ...base, answer: { kind: 'notice', notice: 'damaged' } });
        return;
      }
      await queueAnswer({ ...base, answer: { kind: 'page', query: parsed.query, page: 1 } });
    };

  bolt.action(MORE_ACTION, onClick('more') as never);
  bolt.action(RUN_ACTION, onClick('run') as never);
}
