/**
 * Records: a file's records rendered from the templates, each slot filled with a value that fits the
 * account, region, principal, session and time (resources stable per account and region).
 */
import type { FilePlan } from './plan.ts';
import { B32, charsFrom, charsFromHash, HEX, hash, hexFrom, hexFromHash, type Picker, pickFrom, Rng, strHash, uuid } from './random.ts';
import { sessionAt, userAgent } from './sessions.ts';
import type { SlotDef, Tpl } from './templates.ts';
import { compactTime, isoTime, javaDate } from './time.ts';
import { type Account, APPS, BUCKET_PURPOSES, FIRST, LAST, type Principal, type Session, type World } from './world.ts';

const MODELS = [
  'anthropic.claude-3-5-sonnet-20240620-v1:0', 'anthropic.claude-3-haiku-20240307-v1:0',
  'anthropic.claude-3-sonnet-20240229-v1:0', 'amazon.titan-embed-text-v2:0', 'meta.llama3-1-70b-instruct-v1:0',
  'cohere.embed-english-v3',
];
const INSTANCE_TYPES = ['t3.micro', 't3.large', 'm6i.xlarge', 'c6g.2xlarge', 'r6i.4xlarge', 'p3.8xlarge', 'g5.12xlarge', 'p4d.24xlarge'];
const POLICIES = ['ReadOnlyAccess', 'AmazonS3ReadOnlyAccess', 'PowerUserAccess', 'AdministratorAccess', 'AmazonSSMManagedInstanceCore', 'CloudWatchAgentServerPolicy', 'IAMUserChangePassword'];
const GROUPS = ['admins', 'developers', 'readonly', 'billing', 'ops', 'data-eng'];
const TAG_KEYS = ['app', 'team', 'Environment', 'service', 'cost-center'];
const TEAMS = ['platform', 'payments', 'data', 'security', 'growth', 'sre'];
const CIDRS = ['10.0.0.0/16', '10.20.0.0/16', '0.0.0.0/0', '172.16.0.0/12', '192.168.10.0/24'];
const LOGIN_TO = [
  'https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true',
  'https://console.aws.amazon.com/ec2/home',
  'https://console.aws.amazon.com/s3/home',
  'https://console.aws.amazon.com/iam/home',
  'https://console.aws.amazon.com/cloudwatch/home',
];

const INV_SIZE: Record<string, number> = {
  inst: 30, vol: 50, snap: 20, sg: 15, subnet: 6, ami: 6, fl: 4, rqlc: 2, bucket: 10, fn: 12, param: 25, kmsKey: 8,
  keyName: 5, trail: 2, layer: 3,
};

interface Ctx {
  W: World;
  a: Account;
  ri: number;
  region: string;
  t: number;
  r: Rng;
  p: Principal;
  s: Session;
  tpl: Tpl;
  k0: Record<string, number>;
  tgt: Principal | null;
  ts: Session | null;
  past: number;
}

function inventory(c: Ctx, kind: string, n: number): string {
  const size = INV_SIZE[kind] ?? 10;
  let k0 = c.k0[kind];
  if (k0 === undefined) {
    k0 = Math.floor(size * c.r.f() ** 2.2);
    c.k0[kind] = k0;
  }
  const k = (k0 + n) % size;
  const a = c.a;
  const h = hash(a.h, c.ri + 1, strHash(kind), k);
  const app = APPS[(k + a.i) % APPS.length];
  switch (kind) {
    case 'inst': return `i-0${hexFromHash(h, 16)}`;
    case 'vol': return `vol-0${hexFromHash(h, 16)}`;
    case 'snap': return `snap-0${hexFromHash(h, 16)}`;
    case 'sg': return `sg-0${hexFromHash(h, 16)}`;
    case 'subnet': return `subnet-0${hexFromHash(h, 16)}`;
    case 'ami': return `ami-0${hexFromHash(h, 16)}`;
    case 'fl': return `fl-0${hexFromHash(h, 16)}`;
    case 'rqlc': return `rqlc-${hexFromHash(h, 15)}`;
    case 'bucket': {
      const purpose = BUCKET_PURPOSES[(k + a.i) % BUCKET_PURPOSES.length];
      return `corp-${a.env}-${purpose}-${a.id.slice(-6)}-${c.region}`;
    }
    case 'fn': return `${app}-${['handler', 'worker', 'sync', 'api', 'cron'][k % 5]}-${a.env}`;
    case 'param': return `/${a.env}/${app}/${['db-password', 'api-key', 'db-host', 'feature-flags', 'jwt-secret'][k % 5]}`;
    case 'kmsKey': return `${hexFromHash(h, 8)}-${hexFromHash(h + 1, 4)}-4${hexFromHash(h + 2, 3)}-a${hexFromHash(h + 3, 3)}-${hexFromHash(h + 4, 12)}`;
    case 'keyName': return `${a.env}-${app}-${['key', 'bastion', 'deploy'][k % 3]}`;
    case 'trail': return k === 0 ? 'org-trail' : `${a.env}-management-events`;
    case 'layer': return ['otel-collector-extension', 'datadog-extension', 'secrets-cache-layer'][k % 3];
    default: return `${kind}-${k}`;
  }
}

function target(c: Ctx): Principal {
  if (c.tgt) return c.tgt;
  let pk: Picker<Principal> | null | undefined = null;
  if (c.p.L === 'v') pk = c.a.bySub.get(c.p.sub);
  if (!pk) pk = c.a.ciRoles ?? c.a.autos;
  c.tgt = pk ? pickFrom(pk, c.r.f()) : c.p;
  return c.tgt;
}

function targetSession(c: Ctx): Session {
  if (!c.ts) c.ts = sessionAt(c.W, target(c), c.t);
  return c.ts;
}

function poolSlice(c: Ctx, n: number): string {
  const off = c.r.int(c.W.pool.length - n);
  return c.W.pool.slice(off, off + n);
}

function objectKey(c: Ctx): string {
  const r = c.r;
  const d = isoTime(c.t - r.int(30) * 86400);
  const app = APPS[r.int(APPS.length)];
  switch (r.int(6)) {
    case 0: return `${app}/${d.slice(0, 4)}/${d.slice(5, 7)}/${d.slice(8, 10)}/${uuid(r)}.json.gz`;
    case 1: return `exports/${app}/part-${String(r.int(2000)).padStart(5, '0')}.snappy.parquet`;
    case 2: return `artifacts/${app}/${hexFrom(r, 40)}.zip`;
    case 3: return `reports/${app}/daily-${d.slice(0, 10)}.csv`;
    case 4: return `uploads/${uuid(r)}.jpg`;
    default: return `models/${app}/v${1 + r.int(40)}/model.tar.gz`;
  }
}

function slotValue(c: Ctx, d: SlotDef): string {
  const r = c.r;
  switch (d.kind) {
    case 'acct': return c.a.id;
    case 'region': return c.region;
    case 'time': return isoTime(c.t);
    case 'eid': return uuid(r);
    case 'rid': return c.tpl.s3 ? hexFrom(r, 16).toUpperCase() : uuid(r);
    case 'ip': return c.s.ip;
    case 'ua': return userAgent(c.W, c.tpl, c.s);
    case '@ui': return c.tpl.ident === 'api' ? c.s.ui : c.tpl.ident === 'signin' ? c.s.uiSignin : c.s.uiNoArn;
    case 'actorArn': return c.s.arn;
    case 'actorName': return c.p.name;
    case 'uuid': return uuid(r);
    case 'peer': {
      const n = c.W.accounts.length;
      return n > 1 ? c.W.accounts[(c.a.i + 1 + r.int(n - 1)) % n].id : String(100000000000 + (hash(c.W.seed, 8) % 899999999999));
    }
    case 'inst': case 'vol': case 'snap': case 'sg': case 'subnet': case 'ami': case 'fl': case 'rqlc': case 'bucket':
    case 'fn': case 'param': case 'kmsKey': case 'keyName': case 'trail': case 'layer':
      return inventory(c, d.kind, d.n);
    case 'fnRole': return `${inventory(c, 'fn', 0)}-role`;
    case 'badTrail': return `${inventory(c, 'trail', 0)}-old`;
    case 'rqlcName': return `${c.a.env}-vpc-dns-query-logs`;
    case 'sgr': return `sgr-0${hexFrom(r, 16)}`;
    case 'objKey': return objectKey(c);
    case '@bytesObj': return String(Math.round(Math.exp(6 + r.f() * 10)));
    case '@bytesList': return String(300 + r.int(6000));
    case 'amzId': return `${poolSlice(c, 75)}=`;
    case 'enc': return poolSlice(c, c.tpl.encLen).replace(/\+/g, '-').replace(/\//g, '_');
    case 'tagKey': return r.pick(TAG_KEYS);
    case 'teamKey': return 'team';
    case 'teamName': return r.pick(TEAMS);
    case 'model': return MODELS[Math.floor(MODELS.length * r.f() ** 1.6)];
    case 'instType': return r.pick(INSTANCE_TYPES);
    case 'cidr': return r.f() < 0.3 ? `${c.W.office[r.int(c.W.office.length)]}/32` : r.pick(CIDRS);
    case 'policy': return r.pick(POLICIES);
    case 'group': return r.pick(GROUPS);
    case 'iamUser': return c.a.iamUsers.length > 0 && r.f() < 0.7 ? r.pick(c.a.iamUsers) : `${r.pick(FIRST)}.${r.pick(LAST)}`;
    case 'newUser': return r.f() < 0.6 ? `${r.pick(FIRST)}.${r.pick(LAST)}` : `svc-${r.pick(APPS)}-${1 + r.int(9)}`;
    case 'newRole': return `${r.pick(APPS)}-${r.pick(['reader', 'writer', 'deployer', 'ops', 'readonly'])}-role`;
    case 'role': {
      const pk = c.a.autos;
      return pk ? pickFrom(pk, r.f()).roleName : `${r.pick(APPS)}-role`;
    }
    case 'raProfile': return `${r.pick(APPS)}-onprem-profile`;
    case 'akiaNew': return `AKIA${charsFrom(r, B32, 16)}`;
    case 'aidaNew': return `AIDA${charsFrom(r, `${B32}0123456789`, 17)}`;
    case 'aroaNew': return `AROA${charsFrom(r, `${B32}0123456789`, 17)}`;
    case 'fp': {
      let s = HEX[r.u32() & 255];
      for (let i = 1; i < 20; i++) s += `:${HEX[r.u32() & 255]}`;
      return s;
    }
    case 'sshKey': return `AAAAC3NzaC1lZDI1NTE5AAAAI${poolSlice(c, 43)}`;
    case 'shaB64': return `${poolSlice(c, 43)}=`;
    case 'hex64': return hexFrom(r, 64);
    case 'u2f': return charsFromHash(hash(c.W.seed, c.p.idx, 55), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 26);
    case 'loginTo': return LOGIN_TO[Math.floor(LOGIN_TO.length * r.f() ** 2)];
    case 'dA': return javaDate(c.t, false);
    case 'dB': return javaDate(c.t + d.arg, true);
    case 'lm': return `${isoTime(c.t - 3).slice(0, 19)}.000+0000`;
    case 'nano': return `${isoTime(c.t).slice(0, 19)}.${String(r.int(1e9)).padStart(9, '0')}Z`;
    case 'pastNano': return `${isoTime(c.past).slice(0, 19)}.${String(hash(c.past) % 1e9).padStart(9, '0')}Z`;
    case 'pastTf': return `tf-r53-resolver-query-log-config-${compactTime(c.past, true).replace(/[TZ]/g, '')}${String(hash(c.past) % 1e4).padStart(4, '0')}00000001`;
    case 'tgtRoleArn': {
      const q = target(c);
      return `arn:aws:iam::${q.acct.id}:role${q.rolePath}${q.roleName}`;
    }
    case 'tgtSess': return targetSession(c).name;
    case 'tgtSessArn': return targetSession(c).arn || `arn:aws:sts::${c.a.id}:assumed-role/${target(c).roleName}/${targetSession(c).name}`;
    case 'tgtAroaSess': return `${target(c).roleId}:${targetSession(c).name}`;
    case 'tgtAsia': return targetSession(c).akid || `ASIA${charsFrom(r, B32, 16)}`;
    case 'tgtToken': return targetSession(c).token;
    default:
      throw new Error(`generate: unknown slot ${d.key} in ${c.tpl.id}`);
  }
}

export function renderFile(W: World, fp: FilePlan, out: string[]): void {
  const r = new Rng(fp.seed, 4);
  const times = new Float64Array(fp.size);
  for (let i = 0; i < fp.size; i++) times[i] = fp.t0 + Math.floor(r.f() * fp.win);
  times.sort();
  fp.oldest = times[0];
  fp.newest = times[fp.size - 1];
  const a = W.accounts[fp.acct];
  const rc = W.regionClass[fp.region];
  const region = W.regions[fp.region];
  const picker = a.pick[rc]!;
  let prev: Principal | null = null;
  const c: Ctx = {
    W, a, ri: fp.region, region, t: 0, r, p: picker.items[0], s: null as unknown as Session, tpl: W.tpls[0],
    k0: {}, tgt: null, ts: null, past: 0,
  };
  for (let i = 0; i < fp.size; i++) {
    const t = times[i];
    const p: Principal = prev !== null && r.f() < 0.6 ? prev : pickFrom(picker, r.f());
    prev = p;
    const tpl = pickFrom(W.tplPick.get(p.L)![rc]!, r.f());
    const s = sessionAt(W, p, t);
    c.t = t;
    c.p = p;
    c.s = s;
    c.tpl = tpl;
    c.k0 = {};
    c.tgt = null;
    c.ts = null;
    c.past = t - 3600 - r.int(90 * 86400);
    const slots = tpl.slots;
    const vals: string[] = new Array(slots.length);
    for (let k = 0; k < slots.length; k++) vals[k] = slotValue(c, slots[k]);
    const parts = tpl.parts;
    const refs = tpl.refs;
    let json = parts[0];
    for (let k = 0; k < refs.length; k++) json += vals[refs[k]] + parts[k + 1];
    if (s.console && tpl.eventType === 'AwsApiCall') json += ',"sessionCredentialFromConsole":"true"';
    out.push(`${json}}`);
  }
}
