import type { MiddlewareHandler } from 'hono';
import type { Logger } from '../runtime/logger.ts';

/** One log line per request: method, path (no query string), status, milliseconds. Probes log at debug. */
export function requestLog({ log, quiet = ['/healthz', '/readyz', '/metrics'] }: { log: Logger; quiet?: string[] }): MiddlewareHandler {
  return async function requestLog(c, next) {
    const started = performance.now();
    await next();
    const line = { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) };
    if (quiet.includes(c.req.path)) log.debug(line, 'request');
    else log.info(line, 'request');
  };
}
