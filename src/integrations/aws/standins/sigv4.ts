// Server-side AWS Signature Version 4 checking, written against the SigV4 spec and the behaviour of
// @smithy/signature-v4 (which the SDK clients use to sign): canonical request, string to sign, HMAC chain.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';

export interface SigV4Auth {
  /** 'header' for an Authorization header, 'query' for a presigned URL. */
  via: 'header' | 'query';
  accessKeyId: string;
  /** yyyymmdd from the credential scope */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  /** x-amz-date (yyyymmddThhmmssZ) */
  amzDate: string;
  /** presigned URLs only: X-Amz-Expires as sent (null when absent); checkPresignExpiry judges it */
  expires?: string | null;
  sessionToken?: string;
}

const AUTH_RE = /^AWS4-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-f]+)\s*$/i;

/** Reads SigV4 parameters from the Authorization header or the X-Amz-* query parameters; undefined if the request is unsigned or malformed. */
export function parseSigV4(req: Request): SigV4Auth | undefined {
  const header = req.headers.get('authorization');
  if (header) {
    const m = AUTH_RE.exec(header.trim());
    if (!m) return undefined;
    const scope = m[1].split('/');
    if (scope.length !== 5 || scope[4] !== 'aws4_request') return undefined;
    return {
      via: 'header',
      accessKeyId: scope[0],
      date: scope[1],
      region: scope[2],
      service: scope[3],
      signedHeaders: m[2].toLowerCase().split(';'),
      signature: m[3].toLowerCase(),
      amzDate: req.headers.get('x-amz-date') ?? '',
      sessionToken: req.headers.get('x-amz-security-token') ?? undefined,
    };
  }
  const q = new URL(req.url).searchParams;
  if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return undefined;
  const scope = (q.get('X-Amz-Credential') ?? '').split('/');
  const signature = q.get('X-Amz-Signature');
  if (scope.length !== 5 || !signature) return undefined;
  return {
    via: 'query',
    accessKeyId: scope[0],
    date: scope[1],
    region: scope[2],
    service: scope[3],
    signedHeaders: (q.get('X-Amz-SignedHeaders') ?? 'host').toLowerCase().split(';'),
    signature: signature.toLowerCase(),
    amzDate: q.get('X-Amz-Date') ?? '',
    expires: q.get('X-Amz-Expires'),
    sessionToken: q.get('X-Amz-Security-Token') ?? undefined,
  };
}

/** RFC 3986 escaping as SigV4 wants it (encodeURIComponent plus !'()*). */
export function uriEscape(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Canonical URI. S3 signs the path as sent; every other service normalises it and escapes it once more. */
export function canonicalPath(rawPath: string, service: string): string {
  if (service === 's3') return rawPath || '/';
  const segments: string[] = [];
  for (const seg of rawPath.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') segments.pop();
    else segments.push(seg);
  }
  const normalized = `${rawPath.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && rawPath.endsWith('/') ? '/' : ''}`;
  return uriEscape(normalized).replace(/%2F/g, '/') || '/';
}

export function canonicalQuery(rawQuery: string): string {
  if (!rawQuery) return '';
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = safeDecode(eq < 0 ? part : part.slice(0, eq));
    const v = safeDecode(eq < 0 ? '' : part.slice(eq + 1));
    if (k.toLowerCase() === 'x-amz-signature') continue;
    pairs.push([uriEscape(k), uriEscape(v)]);
  }
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

export const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
}

export interface SignatureInput {
  method: string;
  rawPath: string;
  rawQuery: string;
  headers: Headers;
  auth: SigV4Auth;
  payloadHash: string;
  secretAccessKey: string;
}

export function canonicalRequest({ method, rawPath, rawQuery, headers, auth, payloadHash }: Omit<SignatureInput, 'secretAccessKey'>): string {
  const names = [...auth.signedHeaders].sort();
  const canonicalHeaders = names.map((n) => `${n}:${(headers.get(n) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  return [method.toUpperCase(), canonicalPath(rawPath, auth.service), canonicalQuery(rawQuery), canonicalHeaders, names.join(';'), payloadHash].join('\n');
}

export function computeSignature(input: SignatureInput): string {
  const { auth, secretAccessKey } = input;
  const scope = `${auth.date}/${auth.region}/${auth.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', auth.amzDate, scope, sha256Hex(canonicalRequest(input))].join('\n');
  return createHmac('sha256', signingKey(secretAccessKey, auth.date, auth.region, auth.service)).update(stringToSign, 'utf8').digest('hex');
}

export function signaturesEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/** yyyymmddThhmmssZ → epoch ms (NaN if malformed). */
export function parseAmzDate(s: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return Number.NaN;
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
}

/** How far a request's X-Amz-Date may be from the server's clock, either way (AWS: 15 minutes). */
export const MAX_CLOCK_SKEW_MS = 15 * 60_000;
/** The longest a presigned URL may be valid (AWS: 7 days). */
export const MAX_PRESIGN_SECONDS = 604_800;

const compactIso = (ms: number): string => new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');

/**
 * Why a header-signed request's time is refused, or undefined: more than 15 minutes from `now`
 * either way. The message is AWS's ("Signature expired: … is now earlier than …"), which the SDK
 * recognises as a clock-skew error and retries once it has read the server's Date header.
 */
export function requestTimeProblem(amzDate: string, now: number): string | undefined {
  const at = parseAmzDate(amzDate);
  if (Number.isNaN(at)) return undefined; // judged (and refused) by the signature check
  if (at < now - MAX_CLOCK_SKEW_MS) return `Signature expired: ${amzDate} is now earlier than ${compactIso(now - MAX_CLOCK_SKEW_MS)} (${compactIso(now)} - 15 min.)`;
  if (at > now + MAX_CLOCK_SKEW_MS) return `Signature not yet current: ${amzDate} is still later than ${compactIso(now + MAX_CLOCK_SKEW_MS)} (${compactIso(now)} + 15 min.)`;
  return undefined;
}

/** X-Amz-Expires of a presigned URL: an integer number of seconds, 1 to 604800, or why not. */
export function presignExpires(raw: string | null | undefined): { seconds: number } | { problem: string } {
  if (raw === null || raw === undefined || raw === '') return { problem: 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.' };
  if (!/^\d+$/.test(raw)) return { problem: 'X-Amz-Expires should be a number' };
  const seconds = Number(raw);
  if (seconds < 1) return { problem: `X-Amz-Expires must be between 1 and ${MAX_PRESIGN_SECONDS} seconds` };
  if (seconds > MAX_PRESIGN_SECONDS) return { problem: `X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGN_SECONDS}` };
  return { seconds };
}

/**
 * Whether a declared x-amz-content-sha256 disagrees with the body: undefined when it matches, is
 * absent, or is one of the values that sign no hash (UNSIGNED-PAYLOAD, STREAMING-…, whose chunks
 * are checked elsewhere); otherwise the hash the server computed.
 */
export function payloadHashMismatch(declared: string | null, body: Uint8Array): { computed: string } | undefined {
  if (declared === null || declared === UNSIGNED_PAYLOAD || declared.startsWith('STREAMING-')) return undefined;
  const computed = sha256Hex(body);
  return declared.toLowerCase() === computed ? undefined : { computed };
}
