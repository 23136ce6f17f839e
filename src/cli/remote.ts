import { hostname as osHostname } from 'node:os';
import type { TicketListing } from '../actions/jira/tickets.ts';
import type { AuditQuery, AuditRecord } from '../actions/approvals/store.ts';
import type { SummarizedEvent, TrailEvent } from '../events/model.ts';
import { type ErrorCode, TrailbotError } from '../errors.ts';
import type { JobInfo, JobQueue, JobState, ScheduleInfo } from '../runtime/queue.ts';
import type { UploadResult } from '../runtime/upload.ts';
import { heldStoreLock, type LockInfo, lockPath, readStoreLock, type SearchQuery, staleReason, type TrailQuery, type TrailResult } from '../store/index.ts';
import type { Cli } from './common.ts';

/**
 * The embedded store serves one process. When that process is a running `trailbot serve` (its lock
 * holds the URL it answers on, and /healthz says it is trailbot with the API), `ingest`, `trail`,
 * `search` and `jobs` ask it over its local HTTP API instead of opening the store, but only at a
 * loopback URL in a lock written on this machine (trustedServeUrl). Everything else that needs the
 * store gets E_STORE_LOCKED naming the holder (src/store/lock.ts).
 */
export interface Remote {
  readonly url: string;
  trail(q: TrailQuery): Promise<TrailResult>;
  search(q: SearchQuery): Promise<{ events: TrailEvent[] }>;
  /** One file's bytes, as CloudTrail wrote them (gzipped or not); `name` labels it in rejections. */
  ingest(name: string, bytes: Uint8Array): Promise<UploadResult>;
  /** The queue, as far as the `jobs` commands use it. */
  queue(): Promise<RemoteQueue>;
  addJob(kind: string, data: unknown, key: string | undefined): Promise<{ id: string; duplicate: boolean; backend: string }>;
  /** The Jira tickets of findings (GET /api/tickets). */
  tickets(q: { state?: string | undefined; limit?: number | undefined }): Promise<TicketListing[]>;
  /** The approvals' audit log, newest first (GET /api/audit). */
  audit(q: AuditQuery): Promise<AuditRecord[]>;
}

export type RemoteQueue = Pick<JobQueue, 'backend' | 'name' | 'list' | 'counts' | 'schedules' | 'get' | 'retry'>;

type Params = Record<string, string | number | boolean | undefined>;

/** The first API token the configuration holds (TRAILBOT_API_TOKENS), if any. */
function apiToken(config: unknown): string | undefined {
  const tokens = (config as { api?: { tokens?: unknown } }).api?.tokens;
  return Array.isArray(tokens) && typeof tokens[0] === 'string' ? tokens[0] : undefined;
}

async function isTrailbotApi(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3000) });
    if (!res.ok) return false;
    const body = (await res.json()) as { status?: unknown; role?: unknown };
    return body.status === 'ok' && (body.role === 'all' || body.role === 'web');
  } catch {
    return false;
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * The lock file's URL when the CLI may send it requests (and the API token): the lock was written on
 * this machine and the URL is plain http on loopback, which is what `trailbot serve` writes
 * (store/lock.ts localUrl). Anything else (a lock from another host on a shared volume, an address off
 * this machine, a file anyone could have edited to point elsewhere) is not gone through: the command
 * then treats the store as locked.
 */
export function trustedServeUrl(holder: LockInfo): string | undefined {
  if (!holder.url || holder.hostname !== osHostname()) return undefined;
  let u: URL;
  try {
    u = new URL(holder.url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'http:' || !LOOPBACK.has(u.hostname) || u.username !== '' || u.password !== '') return undefined;
  return holder.url;
}

const found = new WeakMap<Cli, Promise<Remote | undefined>>();

/**
 * The running `trailbot serve` holding this configuration's embedded store, when its API answers;
 * undefined otherwise (PostgreSQL, no lock, a stale lock, or a holder that does not serve). Says so
 * once on stderr when it is used.
 */
export function throughServer(cli: Cli): Promise<Remote | undefined> {
  let p = found.get(cli);
  if (!p) {
    p = find(cli);
    found.set(cli, p);
  }
  return p;
}

async function find(cli: Cli): Promise<Remote | undefined> {
  const config = cli.config();
  if (config.databaseUrl || heldStoreLock(config.dataDir)) return undefined;
  const holder = readStoreLock(config.dataDir);
  const url = holder ? trustedServeUrl(holder) : undefined;
  if (!holder || !url || staleReason(holder, lockPath(config.dataDir))) return undefined;
  if (!(await isTrailbotApi(url))) return undefined;
  cli.io.err(`(through the running trailbot serve at ${url})\n`);
  return remoteApi(url, apiToken(config));
}

/** A client of trailbot's HTTP API at `url`; errors come back as the server's TrailbotError. */
export function remoteApi(url: string, token?: string): Remote {
  const call = async <T>(method: 'GET' | 'POST', path: string, params: Params = {}, body?: Uint8Array | object): Promise<T> => {
    const u = new URL(`/api${path}`, url);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, String(v));
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    let payload: RequestInit['body'];
    if (body instanceof Uint8Array) {
      headers['content-type'] = 'application/octet-stream';
      payload = body as Uint8Array<ArrayBuffer>;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let res: Response;
    try {
      res = await fetch(u, { method, headers, body: payload });
    } catch (e) {
      throw new TrailbotError('E_STORE_UNAVAILABLE', `the running trailbot serve at ${url} did not answer: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`, {
        hint: 'check that it is still running; once it is stopped, commands open the embedded store themselves',
        cause: e,
      });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = (json as { error?: { code?: unknown; message?: unknown; hint?: unknown } } | undefined)?.error;
      const code = typeof err?.code === 'string' && /^E_[A-Z_]+$/.test(err.code) ? (err.code as ErrorCode) : res.status < 500 ? 'E_USAGE' : 'E_INTERNAL';
      const message = typeof err?.message === 'string' ? err.message : `${method} ${u.pathname} answered ${res.status}`;
      throw new TrailbotError(code, message, { hint: typeof err?.hint === 'string' ? err.hint : undefined });
    }
    return json as T;
  };
  const plain = (events: SummarizedEvent[]): TrailEvent[] => events.map(({ summary: _s, ...e }) => e as TrailEvent);

  return {
    url,
    async trail(q) {
      const r = await call<{ principals: TrailResult['principals']; events: SummarizedEvent[] }>('GET', '/trail', {
        who: q.who,
        since: q.since,
        until: q.until,
        limit: q.limit,
        writes_only: q.writesOnly,
      });
      return { principals: r.principals, events: plain(r.events) };
    },
    async search(q) {
      const r = await call<{ events: SummarizedEvent[] }>('GET', '/events', {
        event_id: q.eventId,
        event_name: q.eventName,
        user: q.user,
        resource_type: q.resourceType,
        resource_name: q.resourceName,
        event_source: q.eventSource,
        access_key: q.accessKey,
        read_only: q.readOnly,
        account: q.account,
        region: q.region,
        outcome: q.outcome,
        via: q.via,
        since: q.since,
        until: q.until,
        limit: q.limit,
      });
      return { events: plain(r.events) };
    },
    ingest: (name, bytes) => call<UploadResult>('POST', '/ingest', { name }, bytes),
    async queue() {
      const q = await call<{ backend: JobQueue['backend']; name: string }>('GET', '/queue');
      return {
        backend: q.backend,
        name: q.name,
        list: async (state: JobState, limit: number) => (await call<{ jobs: JobInfo[] }>('GET', '/jobs', { state, limit })).jobs,
        counts: async () => (await call<{ counts: Record<JobState, number> }>('GET', '/queue')).counts,
        schedules: async () => (await call<{ schedules: ScheduleInfo[] }>('GET', '/queue')).schedules,
        async get(id: string) {
          try {
            return (await call<{ job: JobInfo }>('GET', `/jobs/${encodeURIComponent(id)}`)).job;
          } catch (e) {
            if (e instanceof TrailbotError && /^no job /.test(e.message)) return undefined;
            throw e;
          }
        },
        async retry(id: string) {
          await call('POST', `/jobs/${encodeURIComponent(id)}/retry`);
        },
      };
    },
    addJob: (kind, data, key) => call('POST', '/jobs', {}, { kind, data, key }),
    tickets: async (q) => (await call<{ tickets: TicketListing[] }>('GET', '/tickets', { state: q.state, limit: q.limit })).tickets,
    audit: async (q) => (await call<{ entries: AuditRecord[] }>('GET', '/audit', { approval: q.approvalId, finding: q.findingId, action: q.action, before: q.before, limit: q.limit })).entries,
  };
}
