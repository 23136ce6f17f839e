/**
 * Shapes compiled into string templates: each real record becomes literal JSON parts and slots, in
 * CloudTrail's field order, so a record is built by concatenation. Compiled once, on first use.
 */
import { readFileSync } from 'node:fs';
import { SHAPES, type ShapeSpec } from './shapes.ts';

const GLOBAL_SOURCES = new Set([
  'iam.amazonaws.com',
  'signin.amazonaws.com',
  'organizations.amazonaws.com',
  'cloudfront.amazonaws.com',
  'route53.amazonaws.com',
]);

const T_ENC_PREFIX = 'Encoded authorization failure message: ';

const FIELD_ORDER = [
  'eventVersion', 'userIdentity', 'eventTime', 'eventSource', 'eventName', 'awsRegion', 'sourceIPAddress',
  'userAgent', 'errorCode', 'errorMessage', 'requestParameters', 'responseElements', 'additionalEventData',
  'requestID', 'eventID', 'readOnly', 'resources', 'eventType', 'apiVersion', 'managementEvent',
  'recipientAccountId', 'sharedEventID', 'serviceEventDetails', 'eventCategory', 'tlsDetails',
];

export interface SlotDef {
  key: string;
  kind: string;
  n: number;
  arg: number;
}

export interface Tpl {
  idx: number;
  id: string;
  w: number;
  actors: string;
  global: boolean;
  ident: 'api' | 'signin' | 'signinNoArn';
  eventSource: string;
  eventName: string;
  eventType: string;
  s3: boolean;
  /** Original user agent kept for console clients when it is a console-internal one. */
  consoleUa: string;
  signin: boolean;
  encLen: number;
  parts: string[];
  refs: number[];
  slots: SlotDef[];
}

interface ShapeFile {
  id: string;
  source: string;
  license: string;
  record: Record<string, unknown>;
}

const M = '\u0001';
const mark = (slot: string): string => M + slot + M;

function loadShapes(): Map<string, Record<string, unknown>> {
  const url = new URL('../../shapes/records.json', import.meta.url);
  const list = JSON.parse(readFileSync(url, 'utf8')) as ShapeFile[];
  return new Map(list.map((x) => [x.id, x.record]));
}

let compiled: Tpl[] | null = null;

export function templates(): Tpl[] {
  if (!compiled) {
    const shapes = loadShapes();
    compiled = SHAPES.map((spec, idx) => {
      const rec = shapes.get(spec.id);
      if (!rec) throw new Error(`generate: shape ${spec.id} missing from bench/shapes/records.json`);
      return compileShape(spec, rec, idx);
    });
  }
  return compiled;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let o = obj;
  for (let i = 0; i < keys.length - 1; i++) {
    let next = o[keys[i]];
    if (next === null || typeof next !== 'object') {
      next = {};
      o[keys[i]] = next;
    }
    o = next as Record<string, unknown>;
  }
  o[keys[keys.length - 1]] = value;
}

function compileShape(spec: ShapeSpec, original: Record<string, unknown>, idx: number): Tpl {
  const rec = structuredClone(original);
  const eventSource = String(rec.eventSource);
  const eventName = String(rec.eventName);
  const eventType = String(rec.eventType ?? 'AwsApiCall');
  const region0 = String(rec.awsRegion);
  const ui = (rec.userIdentity ?? {}) as Record<string, unknown>;
  const origArn = typeof ui.arn === 'string' ? ui.arn : '';
  const origUa = String(rec.userAgent ?? '');
  const origRequestId = typeof rec.requestID === 'string' ? rec.requestID : '';
  const global = spec.global === true || GLOBAL_SOURCES.has(eventSource);
  const signin = eventType === 'AwsConsoleSignIn';
  const s3 = eventSource === 's3.amazonaws.com';

  for (const [p, v] of Object.entries(spec.set ?? {})) setPath(rec, p, typeof v === 'string' ? mark(v) : v);

  // Literal substitutions: explicit first (longest literal first), then generic rules.
  const subs = [...(spec.sub ?? [])].sort((a, b) => b[0].length - a[0].length);
  const peers = new Set(spec.peer ?? []);
  let encLen = 0;
  const rewrite = (s: string): string => {
    if (s.includes(M)) return s; // already a slot
    for (const [lit, slot] of subs) {
      if (lit.startsWith('=')) {
        if (s === lit.slice(1)) return mark(slot);
        continue;
      }
      if (s.includes(lit)) s = s.split(lit).join(slot.includes('{') ? slot.replace(/\{([^}]+)\}/g, (_m, x: string) => mark(x)) : mark(slot));
    }
    if (origArn && s.includes(origArn)) s = s.split(origArn).join(mark('actorArn'));
    if (origRequestId && s === origRequestId) return mark('rid');
    const enc = s.indexOf(T_ENC_PREFIX);
    if (enc >= 0) {
      encLen = s.length - enc - T_ENC_PREFIX.length;
      s = s.slice(0, enc + T_ENC_PREFIX.length) + mark('enc');
    }
    s = s.replace(/(?<![0-9])[0-9]{12}(?![0-9])/g, (d) => mark(peers.has(d) ? 'peer' : 'acct'));
    if (region0) s = s.split(region0).join(mark('region'));
    return s;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return rewrite(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = walk(x);
      return o;
    }
    return v;
  };

  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rec)) {
    if (['userIdentity', 'eventTime', 'eventID', 'requestID', 'sourceIPAddress', 'userAgent', 'recipientAccountId', 'awsRegion', 'sharedEventID', 'sessionCredentialFromConsole'].includes(k)) continue;
    body[k] = k === 'tlsDetails' ? v : walk(v);
  }

  // Fields every current CloudTrail record carries.
  const version = String(rec.eventVersion ?? '1.08');
  body.eventVersion = Number.parseFloat(version) < 1.05 ? '1.08' : version;
  body.eventType = eventType;
  if (body.readOnly === undefined) body.readOnly = signin ? false : /^(Describe|Get|List|Head|Lookup|Check|BatchGet|Search|AssumeRole)/.test(eventName);
  if (body.managementEvent === undefined) body.managementEvent = true;
  if (body.eventCategory === undefined) body.eventCategory = body.managementEvent === false ? 'Data' : 'Management';
  const actorIsService = /^[vi]+$/.test(spec.actors);
  if (body.tlsDetails === undefined && eventType === 'AwsApiCall' && !actorIsService && !s3) {
    const prefix = eventSource.replace(/\.amazonaws\.com$/, '');
    body.tlsDetails = {
      tlsVersion: 'TLSv1.3',
      cipherSuite: 'TLS_AES_128_GCM_SHA256',
      clientProvidedHostHeader: global ? `${prefix}.amazonaws.com` : `${prefix}.${mark('region')}.amazonaws.com`,
    };
  } else if (body.tlsDetails && typeof body.tlsDetails === 'object') {
    const tls = { ...(body.tlsDetails as Record<string, unknown>) };
    if (typeof tls.clientProvidedHostHeader === 'string') tls.clientProvidedHostHeader = tls.clientProvidedHostHeader.split(region0).join(mark('region'));
    body.tlsDetails = tls;
  }

  const fixed: Record<string, unknown> = {
    userIdentity: mark('@ui'),
    eventTime: mark('time'),
    awsRegion: mark('region'),
    sourceIPAddress: mark('ip'),
    userAgent: mark('ua'),
    eventID: mark('eid'),
    recipientAccountId: mark('acct'),
  };
  if (!signin && !(eventType === 'AwsServiceEvent' && !origRequestId)) fixed.requestID = mark('rid');
  if (rec.sharedEventID !== undefined) fixed.sharedEventID = mark('uuid:9');

  const ordered: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) {
    if (k in fixed) ordered[k] = fixed[k];
    else if (body[k] !== undefined) ordered[k] = body[k];
  }
  for (const [k, v] of Object.entries(body)) if (!(k in ordered)) ordered[k] = v;

  let text = JSON.stringify(ordered);
  if (!text.endsWith('}')) throw new Error('unreachable');
  text = text.slice(0, -1); // the tail (sessionCredentialFromConsole) and `}` are appended per record
  text = text.replace(/"\\u0001@([A-Za-z0-9:+_-]+)\\u0001"/g, '\\u0001@$1\\u0001');
  const pieces = text.split(/\\u0001([@A-Za-z0-9:+_-]+)\\u0001/);
  const parts: string[] = [];
  const refs: number[] = [];
  const slots: SlotDef[] = [];
  const index = new Map<string, number>();
  for (let i = 0; i < pieces.length; i++) {
    if (i % 2 === 0) {
      parts.push(pieces[i]);
      continue;
    }
    const key = pieces[i];
    let at = index.get(key);
    if (at === undefined) {
      const m = /^(@?[A-Za-z0-9_-]+?)(?::(\d+))?(?:\+(\d+))?$/.exec(key);
      if (!m) throw new Error(`generate: bad slot ${key} in ${spec.id}`);
      at = slots.length;
      slots.push({ key, kind: m[1], n: Number(m[2] ?? 0), arg: Number(m[3] ?? 0) });
      index.set(key, at);
    }
    refs.push(at);
  }
  const consoleUa = /^(console\.|AWSConsole|signin\.)|Console(Frontend|Backend)/.test(origUa) ? origUa : '';
  return {
    idx,
    id: spec.id,
    w: spec.w,
    actors: spec.actors,
    global,
    ident: spec.ident ?? 'api',
    eventSource,
    eventName,
    eventType,
    s3,
    consoleUa,
    signin,
    encLen: encLen || 900,
    parts,
    refs,
    slots,
  };
}
