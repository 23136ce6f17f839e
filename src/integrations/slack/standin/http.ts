// How the Slack stand-in reads a call and answers one it refuses, in one place: the error every method
// throws (SlackApiError, Slack's `error` string and any extra fields), the answer it becomes
// (`{ok:false,error,…}`), the request log's entry, and how a call's arguments are read (query string,
// then a form, JSON or multipart body, as WebClient sends them).

/** One Web API call (or response_url post, method `response_url`) as the stand-in saw it; the token is never kept. */
export interface SlackRequestRecord {
  seq: number;
  at: string;
  method: string;
  params: Record<string, unknown>;
  status: number;
  ok: boolean;
  error?: string;
  /** '429' or '5xx' when an injected fault answered */
  fault?: string;
  durationMs: number;
}

export class SlackApiError extends Error {
  readonly error: string;
  readonly extra: Record<string, unknown>;
  constructor(error: string, extra: Record<string, unknown> = {}) {
    super(error);
    this.error = error;
    this.extra = extra;
  }
}

/** The body Slack answers a refused call with. */
export const errorBody = (e: SlackApiError): Record<string, unknown> => ({ ok: false, error: e.error, ...e.extra });

/** A Web API call's arguments. */
export type Args = Record<string, unknown>;

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A JSON-encoded argument (`blocks`, `metadata`, `files`), refused as `invalid_<what>_format`. */
export const json = (v: string, what: string): unknown => {
  try {
    return JSON.parse(v);
  } catch {
    throw new SlackApiError(`invalid_${what}_format`);
  }
};

/** A string argument (a number is read as its digits); undefined when absent or empty. */
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
/** A boolean argument as forms send it (`true`, `1`). */
export const bool = (v: unknown): boolean => v === true || v === 'true' || v === '1' || v === 1;

/** The arguments of a Web API call: query string, then the body (form, JSON or multipart). */
export async function argsOf(req: Request): Promise<Args> {
  const url = new URL(req.url);
  const args: Args = Object.fromEntries(url.searchParams);
  if (req.method !== 'POST') return args;
  const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') {
    const body = (await req.json().catch(() => undefined)) as unknown;
    if (!isObject(body)) throw new SlackApiError('invalid_json');
    return { ...args, ...body };
  }
  if (type === 'multipart/form-data') {
    const form = await req.formData();
    for (const [k, v] of form) args[k] = typeof v === 'string' ? v : new Uint8Array(await v.arrayBuffer());
    return args;
  }
  const text = await req.text();
  return { ...args, ...Object.fromEntries(new URLSearchParams(text)) };
}

/** The token a call carries: `Authorization: Bearer …`, else a `token` argument. */
export const tokenOf = (req: Request, args: Args): string | undefined =>
  /^Bearer\s+(\S+)$/i.exec(req.headers.get('authorization') ?? '')?.[1] ?? (typeof args.token === 'string' ? args.token : undefined);

/** Waits `ms` (the latency a test injected, before an answer). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
