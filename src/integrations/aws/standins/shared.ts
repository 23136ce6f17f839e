// Pieces shared by the AWS stand-ins: the request log, ids, XML escaping and the HTTP listener.
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

export type ServiceName = 'cloudtrail' | 's3' | 'sqs' | 'sts' | 'iam';

/** One request as a stand-in saw it. `timeMs` is monotonic (performance.now()) and is the instant the throttle judged. */
export interface RequestRecord {
  seq: number;
  service: ServiceName;
  operation: string;
  timeMs: number;
  at: string;
  accountId?: string;
  region?: string;
  accessKeyId?: string;
  /** The SDK's `amz-sdk-request` header ("attempt=2; max=3" on a retry) and `amz-sdk-invocation-id` (the same on every attempt of one call). */
  attempt?: string;
  invocationId?: string;
  params?: unknown;
  status: number;
  errorType?: string;
  durationMs: number;
}

let seqCounter = 0;
export const nextSeq = (): number => ++seqCounter;

/** A request handler as every stand-in exposes it: a WHATWG fetch function. */
export type FetchHandler = (req: Request) => Promise<Response>;

export interface Listener {
  url: string;
  port: number;
  close(): Promise<void>;
}

export interface ListenOptions {
  port?: number;
  host?: string;
}

/** Serves a fetch handler through Hono on @hono/node-server. Port 0 picks a free port. */
export function listen(handler: FetchHandler, { port = 0, host = '127.0.0.1' }: ListenOptions = {}): Promise<Listener> {
  const app = new Hono();
  app.all('*', (c) => handler(c.req.raw));
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: host, port }, (info: AddressInfo) => {
      const urlHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${urlHost}:${info.port}`,
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            const s = server as unknown as { closeAllConnections?: () => void; close(cb: () => void): void };
            s.close(() => done());
            s.closeAllConnections?.();
          }),
      });
    });
    server.once('error', reject);
  });
}

export const requestId = (): string => randomUUID();

/** S3-style host id: opaque base64. */
export const hostId = (): string => randomBytes(24).toString('base64');

export function xmlEscape(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '&') out += '&amp;';
    else if (ch === '<') out += '&lt;';
    else if (ch === '>') out += '&gt;';
    else if (ch === '"') out += '&quot;';
    else if (ch === "'") out += '&apos;';
    else if (code < 0x20) out += `&#${code};`;
    else out += ch;
  }
  return out;
}

/**
 * Stamps a response with the stand-ins' clock in `Date`, as AWS does: the SDK reads it to correct a
 * client whose clock is off (after a RequestTimeTooSkewed / "Signature expired" refusal, and on every
 * success). Served over HTTP, Node would add the real time; this makes it the stand-in's own clock,
 * also for a handler mounted in-process.
 */
export function stampDate(res: Response, nowMs: number): Response {
  res.headers.set('date', new Date(nowMs).toUTCString());
  return res;
}

export async function readBody(req: Request): Promise<Buffer> {
  if (req.method === 'GET' || req.method === 'HEAD') return Buffer.alloc(0);
  return Buffer.from(await req.arrayBuffer());
}

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}, contentType = 'application/x-amz-json-1.1'): Response {
  const text = JSON.stringify(body);
  return new Response(text, {
    status,
    headers: { 'content-type': contentType, 'x-amzn-requestid': requestId(), ...headers },
  });
}

export function xmlResponse(status: number, xml: string, headers: Record<string, string> = {}): Response {
  return new Response(xml, { status, headers: { 'content-type': 'text/xml', ...headers } });
}

/**
 * The largest number of requests per key accepted inside any window of `windowMs` (half-open, as the
 * throttle judges it). The default key is "service:account/region"; throttled and unauthenticated
 * requests are not counted. Use it to check that a poller never exceeded CloudTrail's 2 requests/second.
 */
export function peakRequestsPerWindow(
  records: readonly RequestRecord[],
  {
    windowMs = 1000,
    keyOf = (r: RequestRecord) => `${r.service}:${r.accountId ?? '?'}/${r.region ?? '?'}`,
    include = (r: RequestRecord) => r.errorType !== 'ThrottlingException' && r.accountId !== undefined,
  }: { windowMs?: number; keyOf?: (r: RequestRecord) => string; include?: (r: RequestRecord) => boolean } = {},
): Map<string, number> {
  const byKey = new Map<string, number[]>();
  for (const r of records) {
    if (!include(r)) continue;
    const k = keyOf(r);
    let list = byKey.get(k);
    if (!list) byKey.set(k, (list = []));
    list.push(r.timeMs);
  }
  const peak = new Map<string, number>();
  for (const [k, times] of byKey) {
    times.sort((a, b) => a - b);
    let best = 0;
    let lo = 0;
    for (let hi = 0; hi < times.length; hi++) {
      while (times[hi] - times[lo] >= windowMs) lo++;
      best = Math.max(best, hi - lo + 1);
    }
    peak.set(k, best);
  }
  return peak;
}
