// Faults a test (or the CLI's admin route) can inject: Jira's 429 with its rate-limit headers, 5xx
// answers, added latency, and held answers (the request is carried out, its answer waits). Each
// queued fault hits the next N requests that match it (the queue and the holds: standin-kit/faults.ts).
import { createFaultQueue, createHeldAnswers } from '../../standin-kit/faults.ts';

export interface FaultMatch {
  /** HTTP method, case-insensitive */
  method?: string;
  /** a path prefix (`/rest/api/3/issue`) or a pattern tested against the path */
  path?: string | RegExp;
}

export interface RateLimitFault {
  count?: number;
  /** `Retry-After` in whole seconds (default 1); `X-RateLimit-Reset` is now + this */
  retryAfterSeconds?: number;
  /** `RateLimit-Reason` (default jira-burst-based) */
  reason?: string;
  match?: FaultMatch;
}

export interface ServerErrorFault {
  count?: number;
  /** 500, 502, 503 (default) or 504 */
  status?: number;
  match?: FaultMatch;
}

export interface HoldFault {
  count?: number;
  /** how long the answer is held after the request was carried out (default 30 s; clear() lets it go) */
  ms?: number;
  match?: FaultMatch;
}

interface Pending {
  kind: '429' | '5xx';
  status: number;
  retryAfterSeconds: number;
  reason: string;
  match?: FaultMatch;
}

export interface Faults {
  /** the next `count` matching requests answer 429 with Retry-After, X-RateLimit-Reset, … */
  rateLimit(f?: RateLimitFault): void;
  /** the next `count` matching requests answer `status` (default 503) */
  serverError(f?: ServerErrorFault): void;
  /**
   * The next `count` matching requests are carried out (an issue created, a comment added…) and then
   * their answers are held `ms`: Jira did the work and the client is still waiting (a test can kill it
   * meanwhile). Not for faulted requests.
   */
  hold(f?: HoldFault): void;
  /** answers held right now */
  readonly holding: number;
  /** waits as long as this carried-out request's answer is to be held (consumes one hold) */
  held(method: string, path: string): Promise<void>;
  /** milliseconds added before every answer (0 = none) */
  latency(ms: number): void;
  readonly latencyMs: number;
  /** faults still waiting for a request */
  readonly pending: ReadonlyArray<{ kind: '429' | '5xx'; remaining: number; status: number; match?: FaultMatch }>;
  /** drops pending faults and latency, and lets held answers go */
  clear(): void;
  /** the fault this request draws, if any (consumes one) */
  take(method: string, path: string): Response | undefined;
}

const matches = (m: FaultMatch | undefined, method: string, path: string): boolean => {
  if (!m) return true;
  if (m.method && m.method.toUpperCase() !== method.toUpperCase()) return false;
  if (m.path instanceof RegExp) return m.path.test(path);
  if (typeof m.path === 'string') return path.startsWith(m.path);
  return true;
};

export function createFaults(clock: () => number = Date.now): Faults {
  const queue = createFaultQueue<Pending>();
  const holds = createHeldAnswers<{ ms: number; match?: FaultMatch | undefined }>();
  let latencyMs = 0;
  return {
    hold({ count = 1, ms = 30_000, match } = {}) {
      holds.add({ ms, match }, count);
    },
    get holding() {
      return holds.holding;
    },
    held(method, path) {
      return holds.held((h) => matches(h.match, method, path));
    },
    rateLimit({ count = 1, retryAfterSeconds = 1, reason = 'jira-burst-based', match } = {}) {
      queue.add({ kind: '429', status: 429, retryAfterSeconds, reason, match }, count);
    },
    serverError({ count = 1, status = 503, match } = {}) {
      if (status < 500 || status > 599) throw new RangeError(`serverError: status must be 5xx, got ${status}`);
      queue.add({ kind: '5xx', status, retryAfterSeconds: 0, reason: '', match }, count);
    },
    latency(ms) {
      latencyMs = Math.max(0, ms);
    },
    get latencyMs() {
      return latencyMs;
    },
    get pending() {
      return queue.pending.map(({ fault: { kind, status, match }, remaining }) => ({ kind, remaining, status, match }));
    },
    clear() {
      queue.clear();
      holds.clear();
      latencyMs = 0;
    },
    take(method, path) {
      const f = queue.take((q) => matches(q.match, method, path));
      if (!f) return undefined;
      if (f.kind === '429') {
        return Response.json(
          { errorMessages: ['Rate limit exceeded.'], errors: {} },
          {
            status: 429,
            headers: {
              'retry-after': String(f.retryAfterSeconds),
              'x-ratelimit-limit': '100',
              'x-ratelimit-remaining': '0',
              'x-ratelimit-reset': new Date(clock() + f.retryAfterSeconds * 1000).toISOString(),
              'ratelimit-reason': f.reason,
            },
          },
        );
      }
      const text = f.status === 503 ? 'Service Unavailable' : f.status === 502 ? 'Bad Gateway' : f.status === 504 ? 'Gateway Timeout' : 'Internal Server Error';
      return Response.json({ errorMessages: [`${text} (injected by the stand-in)`], errors: {} }, { status: f.status });
    },
  };
}
