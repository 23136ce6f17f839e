// Jira's outgoing webhooks: a JSON POST to each registered URL, signed with the webhook's secret as
// `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>`. Delivery is in the background; tests
// wait with `settled()` and read `deliveries`.
import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

export type WebhookEvent = 'jira:issue_created' | 'jira:issue_updated';

export interface WebhookRegistration {
  url: string;
  /** signs each delivery (X-Hub-Signature); none → unsigned, as Jira does */
  secret?: string;
  /** default: both events */
  events?: WebhookEvent[];
}

export interface ChangelogItem {
  field: string;
  fieldtype: 'jira' | 'custom';
  fieldId: string;
  from: string | null;
  fromString: string | null;
  to: string | null;
  toString: string | null;
}

export interface WebhookPayload {
  timestamp: number;
  webhookEvent: WebhookEvent;
  issue_event_type_name: 'issue_created' | 'issue_generic' | 'issue_assigned' | 'issue_updated' | 'issue_resolved' | 'issue_reopened';
  user: Record<string, unknown>;
  issue: { id: string; self: string; key: string; fields: Record<string, unknown> };
  changelog?: { id: string; items: ChangelogItem[] };
}

export interface Delivery {
  url: string;
  event: WebhookEvent;
  issueKey: string;
  body: string;
  headers: Record<string, string>;
  /** HTTP status the receiver answered, or undefined when it could not be reached */
  status?: number;
  error?: string;
}

export interface Webhooks {
  register(w: WebhookRegistration): void;
  clear(): void;
  readonly registrations: readonly WebhookRegistration[];
  /** every delivery attempted, in order (a fresh array on each read) */
  readonly deliveries: Delivery[];
  /** resolves when every delivery started so far has finished */
  settled(): Promise<void>;
  emit(payload: WebhookPayload): void;
}

export const signBody = (secret: string, body: string): string => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** What a receiver does: recompute the HMAC over the raw body and compare in constant time. */
export function verifySignature(secret: string, body: string, header: string | null | undefined): boolean {
  if (!header) return false;
  const want = Buffer.from(signBody(secret, body));
  const got = Buffer.from(header);
  return want.length === got.length && timingSafeEqual(want, got);
}

export function createWebhooks(initial: readonly WebhookRegistration[] = []): Webhooks {
  let registrations = [...initial];
  const deliveries: Delivery[] = [];
  const inFlight = new Set<Promise<void>>();
  return {
    register(w) {
      registrations.push(w);
    },
    clear() {
      registrations = [];
    },
    get registrations() {
      return registrations;
    },
    get deliveries() {
      return [...deliveries];
    },
    async settled() {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
    emit(payload) {
      const body = JSON.stringify(payload);
      for (const w of registrations) {
        if (w.events && !w.events.includes(payload.webhookEvent)) continue;
        const headers: Record<string, string> = {
          'content-type': 'application/json; charset=utf-8',
          'user-agent': 'Atlassian Webhook HTTP Client',
          'x-atlassian-webhook-identifier': randomUUID(),
        };
        if (w.secret) headers['x-hub-signature'] = signBody(w.secret, body);
        const d: Delivery = { url: w.url, event: payload.webhookEvent, issueKey: payload.issue.key, body, headers };
        deliveries.push(d);
        const p = fetch(w.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) })
          .then(async (res) => {
            d.status = res.status;
            await res.arrayBuffer().catch(() => undefined);
          })
          .catch((e: unknown) => {
            d.error = e instanceof Error ? e.message : String(e);
          })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    },
  };
}
