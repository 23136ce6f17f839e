import { createHmac, timingSafeEqual } from 'node:crypto';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { z } from 'zod';
import type { JiraIssueEvent, JiraIssueEventOutcome } from '../actions/jira/issue-events.ts';
import { TrailbotError } from '../errors.ts';
import type { Logger } from '../runtime/logger.ts';

/**
 * POST /jira/webhook: Jira's issue events (a ticket closed, reopened or assigned in Jira), so the
 * finding follows its ticket. Jira cannot send a bearer token, so this route sits outside /api and
 * is authenticated by the webhook's secret instead: Jira signs each delivery
 * `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, checked here in constant time over
 * the bytes as received, before anything is parsed. No secret configured: the route refuses all.
 */

/** One verified issue event, as the handler gets it. */
export interface WebhookIssueEvent extends JiraIssueEvent {
  /** Jira's `webhookEvent`, e.g. jira:issue_updated. */
  event: string;
}

export interface JiraWebhookOptions {
  /** JIRA_WEBHOOK_SECRET; undefined: every delivery is refused (503). */
  secret: string | undefined;
  /** 'unknown': not a ticket trailbot filed; 'stale': older than an event already applied (both answered 200 `{ignored: true}`). */
  onIssueEvent: (e: WebhookIssueEvent) => Promise<JiraIssueEventOutcome>;
  log: Pick<Logger, 'warn' | 'info' | 'debug'>;
  /** Largest body accepted (Jira's issue payloads are a few KiB to a few hundred). Default 1 MiB. */
  maxBytes?: number;
}

export const WEBHOOK_MAX_BYTES = 1024 * 1024;

/** The events that carry an issue's state; anything else (deleted, comments, …) is ignored. */
const ISSUE_EVENTS = new Set(['jira:issue_created', 'jira:issue_updated']);

const issueEvent = z.object({
  webhookEvent: z.string(),
  // When Jira made the event (ms) and the change's id: they order deliveries that arrive out of order.
  timestamp: z.number().int().nonnegative().optional(),
  changelog: z.object({ id: z.union([z.string().regex(/^\d{1,18}$/), z.number().int().nonnegative()]) }).optional(),
  issue: z.object({
    key: z.string().regex(/^[A-Z][A-Z0-9_]*-\d+$/, 'expected an issue key such as SEC-1'),
    fields: z
      .object({
        status: z.object({ name: z.string(), statusCategory: z.object({ key: z.enum(['new', 'indeterminate', 'done']) }) }).optional(),
        assignee: z.object({ accountId: z.string(), displayName: z.string().optional(), emailAddress: z.string().optional() }).nullable().optional(),
      })
      .optional(),
  }),
});

/** The signature's hex digest, or undefined when the header is missing or not `sha256=<64 hex>`. */
function digestOf(header: string | undefined): Buffer | undefined {
  const m = /^sha256=([0-9a-f]{64})$/i.exec(header?.trim() ?? '');
  return m ? Buffer.from(m[1]!.toLowerCase(), 'hex') : undefined;
}

/** Constant-time check of `X-Hub-Signature` against the HMAC of the raw body. */
export function signatureMatches(secret: string, body: Uint8Array, header: string | undefined): boolean {
  const got = digestOf(header);
  if (!got) return false;
  const want = createHmac('sha256', secret).update(body).digest();
  return got.length === want.length && timingSafeEqual(got, want);
}

const UNSIGNED_HINT = 'register the webhook in Jira with the same secret as JIRA_WEBHOOK_SECRET (Jira signs each delivery with X-Hub-Signature: sha256=…)';

export function jiraWebhook({ secret, onIssueEvent, log, maxBytes = WEBHOOK_MAX_BYTES }: JiraWebhookOptions): Hono {
  const app = new Hono();
  app.post(
    '/webhook',
    bodyLimit({
      maxSize: maxBytes,
      // Answered here (in the app's error shape): onError has no code of its own for 413.
      onError: (c) =>
        c.json({ error: { code: 'E_INPUT_SHAPE', message: `the webhook body is larger than ${maxBytes} bytes`, hint: 'Jira issue events are far smaller; is another tool posting here?' } }, 413),
    }),
    async function jiraWebhookRoute(c) {
      if (!secret) {
        // Refused by default: unsigned deliveries would let anyone close findings.
        throw new TrailbotError('E_NOT_FOUND', 'the Jira webhook is off: no secret is configured', {
          hint: 'set JIRA_WEBHOOK_SECRET (16+ random characters) on the web role, and the same secret on the webhook in Jira',
        });
      }
      // The bytes as sent: the HMAC is over them, not over a re-serialized parse.
      const raw = new Uint8Array(await c.req.arrayBuffer());
      const header = c.req.header('x-hub-signature');
      if (!signatureMatches(secret, raw, header)) {
        const why = header === undefined ? 'no X-Hub-Signature header' : digestOf(header) ? 'the signature does not match the body' : 'X-Hub-Signature is not sha256=<hex>';
        log.warn({ bytes: raw.length, why }, 'refused a Jira webhook delivery');
        throw new TrailbotError('E_UNAUTHORIZED', `Jira webhook refused: ${why}`, { hint: UNSIGNED_HINT });
      }
      let json: unknown;
      try {
        json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
      } catch {
        throw new TrailbotError('E_INPUT_NOT_JSON', 'the webhook body is not JSON', { hint: 'Jira sends application/json; is another tool posting here?' });
      }
      const p = issueEvent.safeParse(json);
      if (!p.success) {
        const first = p.error.issues[0];
        throw new TrailbotError('E_INPUT_SHAPE', `not a Jira issue event: ${first ? `${first.path.join('.') || 'body'}: ${first.message}` : 'unexpected shape'}`, {
          hint: 'register the webhook for issue events (created, updated) only',
        });
      }
      const { webhookEvent, issue, timestamp, changelog } = p.data;
      if (!ISSUE_EVENTS.has(webhookEvent)) return c.json({ ignored: true, reason: `${webhookEvent} is not an issue created/updated event` });
      const f = issue.fields ?? {};
      const e: WebhookIssueEvent = {
        event: webhookEvent,
        key: issue.key,
        status: f.status?.name,
        statusCategory: f.status?.statusCategory.key,
        // Absent: the event says nothing about it; null: unassigned.
        assignee: f.assignee === undefined ? undefined : f.assignee === null ? null : { accountId: f.assignee.accountId, displayName: f.assignee.displayName, email: f.assignee.emailAddress },
        position: timestamp === undefined ? undefined : { at: timestamp, seq: changelog ? Number(changelog.id) : 0 },
      };
      const outcome = await onIssueEvent(e);
      log.info({ key: e.key, event: e.event, statusCategory: e.statusCategory, outcome }, 'Jira issue event');
      if (outcome === 'unknown') return c.json({ ignored: true, key: e.key });
      if (outcome === 'stale') return c.json({ ignored: true, key: e.key, reason: 'older than an event already applied to this ticket' });
      return c.json({ ok: true, key: e.key });
    },
  );
  return app;
}
