// Faults a test (or the CLI's admin route) can inject into the Slack stand-in's Web API: Slack's 429
// (`Retry-After` in seconds, body `{ok:false,error:"ratelimited"}`), 5xx answers, and added latency.
// Each queued fault hits the next `count` calls of the matching method (the queue: standin-kit/faults.ts).
import { createFaultQueue } from '../../standin-kit/faults.ts';

export interface SlackRateLimitFault {
  count?: number;
  /** `Retry-After` in whole seconds (default 1) */
  retryAfterSeconds?: number;
  /** only calls of this Web API method (e.g. chat.postMessage); default any */
  method?: string;
}

export interface SlackServerErrorFault {
  count?: number;
  /** 500, 502, 503 (default) or 504 */
  status?: number;
  method?: string;
}

interface Pending {
  kind: '429' | '5xx';
  status: number;
  retryAfterSeconds: number;
  method?: string | undefined;
}

export interface SlackFaults {
  /** the next `count` matching calls answer HTTP 429 with Retry-After */
  rateLimit(f?: SlackRateLimitFault): void;
  /** the next `count` matching calls answer `status` (default 503) */
  serverError(f?: SlackServerErrorFault): void;
  /** milliseconds added before every Web API answer (0 = none) */
  latency(ms: number): void;
  readonly latencyMs: number;
  readonly pending: ReadonlyArray<{ kind: '429' | '5xx'; remaining: number; status: number; method?: string | undefined }>;
  /** drops pending faults and latency */
  clear(): void;
  /** the fault this call draws, if any (consumes one) */
  take(method: string): Response | undefined;
}

export function createSlackFaults(): SlackFaults {
  const queue = createFaultQueue<Pending>();
  let latencyMs = 0;
  return {
    rateLimit({ count = 1, retryAfterSeconds = 1, method } = {}) {
      queue.add({ kind: '429', status: 429, retryAfterSeconds, method }, count);
    },
    serverError({ count = 1, status = 503, method } = {}) {
      if (status < 500 || status > 599) throw new RangeError(`serverError: status must be 5xx, got ${status}`);
      queue.add({ kind: '5xx', status, retryAfterSeconds: 0, method }, count);
    },
    latency(ms) {
      latencyMs = Math.max(0, ms);
    },
    get latencyMs() {
      return latencyMs;
    },
    get pending() {
      return queue.pending.map(({ fault: { kind, status, method }, remaining }) => ({ kind, remaining, status, method }));
    },
    clear() {
      queue.clear();
      latencyMs = 0;
    },
    take(method) {
      const f = queue.take((q) => !q.method || q.method === method);
      if (!f) return undefined;
      if (f.kind === '429') {
        return Response.json({ ok: false, error: 'ratelimited' }, { status: 429, headers: { 'retry-after': String(f.retryAfterSeconds) } });
      }
      return new Response(`<html><body>${f.status} (injected by the stand-in)</body></html>`, { status: f.status, headers: { 'content-type': 'text/html' } });
    },
  };
}
