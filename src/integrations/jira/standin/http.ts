// How the Jira stand-in reads a request and answers one it refuses, in one place: the error every
// route throws (JiraApiError) and the one answer it leaves through, in Jira's shape
// `{"errorMessages":[…],"errors":{field: message}}`; the body and query readers; Basic auth; and what a
// route is (one entry in a table, routes/).
import type { Context } from 'hono';
import { JqlError } from './jql.ts';
import type { JiraUser } from './site.ts';

/** One request as the stand-in saw it. */
export interface JiraRequestRecord {
  seq: number;
  at: string;
  method: string;
  path: string;
  query: Record<string, string>;
  /** the body parsed as JSON when it is JSON, else the text; undefined when empty */
  body?: unknown;
  status: number;
  /** '429' or '5xx' when an injected fault answered */
  fault?: string;
  durationMs: number;
}

/** What the middleware hands a route: the authenticated user and the request's log entry. */
export type JiraEnv = { Variables: { user: JiraUser; record: JiraRequestRecord } };
export type JiraContext = Context<JiraEnv>;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One endpoint: a method (or several), a Hono path and its handler, given the stand-in's state `S`. */
export interface Route<S> {
  method: Method | readonly Method[] | 'ALL';
  path: string;
  handle(c: JiraContext, s: S): Response | Promise<Response>;
}

export class JiraApiError extends Error {
  readonly code = 'E_JIRA_STANDIN';
  readonly status: number;
  readonly errorMessages: string[];
  readonly errors: Record<string, string>;
  readonly headers: Record<string, string>;
  constructor(status: number, errorMessages: string[], errors: Record<string, string> = {}, headers: Record<string, string> = {}) {
    super(errorMessages[0] ?? Object.values(errors)[0] ?? `HTTP ${status}`);
    this.status = status;
    this.errorMessages = errorMessages;
    this.errors = errors;
    this.headers = headers;
  }
}

export const NO_ISSUE = 'Issue does not exist or you do not have permission to see it.';
export const NOT_ON_SCREEN = (f: string): string => `Field '${f}' cannot be set. It is not on the appropriate screen, or unknown.`;

/** The answer to anything a route threw (the app's onError). */
export function errorAnswer(err: Error, c: Context): Response {
  if (err instanceof JiraApiError) return c.json({ errorMessages: err.errorMessages, errors: err.errors }, err.status as 400, err.headers);
  if (err instanceof JqlError) return c.json({ errorMessages: [err.message], errors: {} }, 400);
  return c.json({ errorMessages: [`Internal server error in the stand-in: ${err.message}`], errors: {} }, 500);
}

/** The answer to a path no route serves (the app's notFound). */
export const notFoundAnswer = (c: Context): Response => c.json({ errorMessages: [`No resource for ${c.req.method} ${c.req.path} in the stand-in.`], errors: {} }, 404);

/** The body as JSON, refused in Jira's words when empty or not JSON. */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === '') throw new JiraApiError(400, ['No content to map due to end-of-input']);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new JiraApiError(400, [`Unexpected character in JSON: ${(e as Error).message}`]);
  }
}

/** The body as a JSON object. */
export async function readObject(c: Context): Promise<Record<string, unknown>> {
  const body = await readJson(c);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new JiraApiError(400, ['Request body must be a JSON object.']);
  return body as Record<string, unknown>;
}

/** Every value of a repeatable query parameter (`fields=a&fields=b`). */
export const queryList = (c: Context, name: string): string[] | undefined => c.req.queries(name);

/** An integer parameter (query or body), `dflt` when absent. */
export function intParam(raw: unknown, name: string, dflt: number): number {
  if (raw === undefined || raw === null || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n)) throw new JiraApiError(400, [`The value '${String(raw)}' is not a valid number for the parameter '${name}'.`]);
  return n;
}

/** `Authorization: Basic base64(email:apiToken)` against the configured pair (e-mail case-insensitively). */
export function basicAuth(req: Request, credentials: { email: string; apiToken: string }): 'valid' | 'anonymous' | 'invalid' {
  const h = req.headers.get('authorization');
  if (!h) return 'anonymous';
  const m = /^Basic\s+(\S+)$/i.exec(h);
  if (!m) return 'invalid';
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return 'invalid';
  const email = decoded.slice(0, colon);
  const token = decoded.slice(colon + 1);
  return email.toLowerCase() === credentials.email.toLowerCase() && token === credentials.apiToken ? 'valid' : 'invalid';
}
