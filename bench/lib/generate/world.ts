/**
 * The organization the trail comes from: accounts, the people, programs and services acting in them
 * (a Zipf-weighted pool of ~300 identities), their weights, and the templates each kind may produce.
 * Built once per run from the settings' seed; sessions.ts derives sessions from it.
 */
import type { GeneratorSettings } from './settings.ts';
import { B32, charsFromHash, fmix, hash, hexFromHash, makePicker, type Picker, pickFrom, Rng, B64, charsFrom, strHash } from './random.ts';
import { type Tpl, templates } from './templates.ts';

// Client codes.
export const C_CONSOLE = 0;
export const C_CLI = 1;
export const C_BOTO = 2;
export const C_TF = 3;
export const C_JS = 4;
export const C_JAVA = 5;
export const C_GO = 6;
export const C_SVC = 7;
const C_INTERNAL = 8;
// Source-IP modes.
export const IP_PERSON = 0;
export const IP_NAT = 1;
export const IP_AWS = 2;
export const IP_GH = 3;
export const IP_SVC = 4;
export const IP_INTERNAL = 5;
const IP_FIXED = 6;

export const FIRST = [
  'alice', 'bruno', 'carla', 'deepak', 'elena', 'farid', 'grace', 'hugo', 'ines', 'jamal', 'kenji', 'lena', 'marco',
  'nadia', 'oscar', 'priya', 'quentin', 'rosa', 'samir', 'tanya', 'umar', 'vera', 'wei', 'ximena', 'yusuf', 'zoe',
  'amara', 'ben', 'chloe', 'dmitri', 'emma', 'felix', 'gabriel', 'hana', 'ivan', 'julia', 'kofi', 'laura', 'mateo',
  'nora', 'olivia', 'pablo', 'rahul', 'sofia', 'tomas', 'uma', 'viktor', 'yara', 'arjun', 'astrid', 'liam', 'mia',
  'noah', 'sven', 'tunde', 'yuki', 'leila', 'omar', 'ada', 'finn',
];
export const LAST = [
  'smith', 'garcia', 'miller', 'davis', 'martinez', 'lopez', 'wilson', 'anderson', 'taylor', 'moore', 'jackson',
  'martin', 'lee', 'perez', 'thompson', 'white', 'harris', 'clark', 'lewis', 'robinson', 'walker', 'young', 'allen',
  'king', 'wright', 'scott', 'nguyen', 'hill', 'flores', 'green', 'adams', 'nelson', 'baker', 'rivera', 'campbell',
  'mitchell', 'carter', 'roberts', 'kim', 'patel', 'shah', 'singh', 'chen', 'wang', 'muller', 'schmidt', 'rossi',
  'dubois', 'silva', 'kowalski', 'novak', 'jensen', 'berg', 'tanaka', 'sato', 'okafor', 'mensah', 'ivanova', 'costa',
  'haddad',
];
/** [permission set, how often it is assigned, how busy its sessions are]. */
const PERMISSION_SETS: Array<[string, number, number]> = [
  ['ReadOnlyAccess', 5, 0.8], ['DeveloperAccess', 5, 1.3], ['PowerUserAccess', 3, 1.2], ['AdministratorAccess', 2, 0.8],
  ['DataEngineer', 2, 1], ['SecurityAudit', 1.5, 0.6], ['NetworkAdmin', 0.7, 0.5], ['BillingAdmin', 0.5, 0.15],
];
export const APPS = [
  'orders', 'payments', 'checkout', 'catalog', 'search', 'auth', 'notifications', 'billing', 'reporting', 'inventory',
  'shipping', 'analytics', 'ml-pipeline', 'web', 'ingest', 'etl', 'crm', 'media', 'recommendations', 'ledger',
];
const ENV_CYCLE = ['prod', 'staging', 'dev', 'sandbox', 'prod', 'data', 'dev', 'qa'];
export const BUCKET_PURPOSES = [
  'app-assets', 'data-lake-raw', 'data-lake-curated', 'backups', 'terraform-state', 'athena-results', 'exports',
  'uploads', 'ml-artifacts', 'static-site', 'access-logs', 'reports',
];
const SERVICE_USERS = [
  'ci-deploy', 'terraform', 's3-uploader', 'legacy-backup', 'grafana-cloudwatch', 'sftp-transfer', 'svc-jenkins',
  'datadog-integration', 'splunk-forwarder', 'smtp-ses', 'snowflake-loader', 'velero-backup',
];
const CI_ROLES: Array<{ name: string; sess: string; clients: number[]; ip: number }> = [
  { name: 'terraform-apply', sess: 'tf', clients: [C_TF], ip: IP_GH },
  { name: 'github-actions-deploy', sess: 'GitHubActions', clients: [C_CLI, C_CLI, C_JS], ip: IP_GH },
  { name: 'jenkins-ci', sess: 'jenkins', clients: [C_BOTO, C_CLI], ip: IP_NAT },
  { name: 'terraform-plan-readonly', sess: 'tf', clients: [C_TF], ip: IP_GH },
  { name: 'argo-workflows', sess: 'task', clients: [C_GO], ip: IP_NAT },
];
const SLR_ROLES: Array<{ role: string; host: string; sess: string }> = [
  { role: 'AWSServiceRoleForConfig', host: 'config.amazonaws.com', sess: 'AWSConfig-Describe' },
  { role: 'AWSServiceRoleForSecurityHub', host: 'securityhub.amazonaws.com', sess: 'securityhub' },
  { role: 'AWSServiceRoleForAmazonInspector2', host: 'inspector2.amazonaws.com', sess: 'inspector2' },
];
export const BROWSERS = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36 Edg/121.0.0.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.3; rv:123.0) Gecko/20100101 Firefox/123.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3.1 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:123.0) Gecko/20100101 Firefox/123.0',
];
/** First octets of public address space used for source IPs (no private or reserved ranges). */
const PUBLIC_A = [3, 13, 18, 24, 34, 35, 44, 50, 52, 54, 63, 64, 66, 68, 71, 73, 76, 81, 82, 86, 90, 91, 98, 104, 108, 136, 142, 151, 185, 193, 195, 203, 212, 213, 217];
export const AWS_A = [3, 13, 18, 34, 35, 44, 52, 54];
export const GH_A = [4, 13, 20, 40, 52];

export interface Account {
  i: number;
  id: string;
  env: string;
  h: number;
  nat: string[];
  principals: Principal[];
  activity: number;
  /** principals that can act in [us-east-1, other regions]. */
  pick: Array<Picker<Principal> | null>;
  ciRoles: Picker<Principal> | null;
  autos: Picker<Principal> | null;
  bySub: Map<string, Picker<Principal>>;
  iamUsers: string[];
}

export interface Principal {
  idx: number;
  L: string;
  acct: Account;
  w: number;
  /** user name (h, u), session name (fixed sessions), service host (g, v). */
  name: string;
  roleName: string;
  rolePath: string;
  roleId: string;
  userId: string;
  akia: string;
  email: string;
  sessMode: string;
  sub: string;
  clients: number[];
  ipMode: number;
  ips: string[];
  sessLen: number;
  sessOff: number;
  invokedBy: string;
  uaVar: number;
  browser: number;
  /** activity multiplier (SSO permission set). */
  busy: number;
}

export interface Session {
  p: Principal;
  sIdx: number;
  created: number;
  name: string;
  arn: string;
  akid: string;
  ip: string;
  client: number;
  console: boolean;
  ui: string;
  uiSignin: string;
  uiNoArn: string;
  token: string;
}

export interface World {
  settings: GeneratorSettings;
  seed: number;
  orgId: string;
  regions: string[];
  regionClass: number[];
  accounts: Account[];
  principals: Principal[];
  tpls: Tpl[];
  /** per actor letter, per region class (0: us-east-1, 1: other). */
  tplPick: Map<string, Array<Picker<Tpl> | null>>;
  pool: string;
  office: string[];
  sessions: Map<number, Session>;
  ua: Map<number, string>;
}

export function publicIp(h: number, firsts: readonly number[]): string {
  const a = firsts[h % firsts.length];
  const x = fmix(h + 0x1234567);
  return `${a}.${(x >>> 24) & 255}.${(x >>> 16) & 255}.${1 + ((x >>> 8) % 253)}`;
}

export function keyId(prefix: string, h: number): string {
  return prefix + charsFromHash(h, B32, 16);
}

function principalId(prefix: string, h: number): string {
  return prefix + charsFromHash(h, `${B32}0123456789`, 17);
}

export function buildWorld(settings: GeneratorSettings): World {
  const rng = new Rng(settings.seed, 1);
  const seed = settings.seed;
  const regions = settings.regions;
  const hasUsEast1 = regions.includes('us-east-1');
  const regionClass = regions.map((r) => (r === 'us-east-1' ? 0 : 1));

  // Accounts: unique 12-digit ids, an environment each, two NAT egress IPs.
  const ids = new Set<string>();
  const accounts: Account[] = [];
  const specialEnvs = ['mgmt', 'security', 'log-archive', 'shared-services', 'network'];
  for (let i = 0; i < settings.accounts; i++) {
    let id = '';
    do id = String(1 + rng.int(9)) + String(rng.int(1e11)).padStart(11, '0');
    while (ids.has(id));
    ids.add(id);
    const env = settings.accounts === 1 ? 'prod' : i < specialEnvs.length && settings.accounts > 6 ? specialEnvs[i] : ENV_CYCLE[i % ENV_CYCLE.length];
    const h = hash(seed, 101, i);
    accounts.push({
      i, id, env, h,
      nat: [publicIp(hash(h, 1), AWS_A), publicIp(hash(h, 2), AWS_A)],
      principals: [], activity: 0, pick: [null, null], ciRoles: null, autos: null, bySub: new Map(), iamUsers: [],
    });
  }
  // Busy accounts get more principals and more traffic (Zipf over a shuffled order).
  const order = accounts.map((a) => a.i).sort((x, y) => hash(seed, 5, x) - hash(seed, 5, y));
  const acctWeight = new Float64Array(accounts.length);
  for (const [rank, ai] of order.entries()) acctWeight[ai] = 1 / (rank + 1) ** 0.8;
  const acctPicker = makePicker(accounts, (a) => acctWeight[a.i]);
  const office = [publicIp(hash(seed, 11), PUBLIC_A), publicIp(hash(seed, 12), PUBLIC_A), publicIp(hash(seed, 13), PUBLIC_A)];

  const principals: Principal[] = [];
  const add = (a: Account, L: string, x: Partial<Principal>): Principal => {
    const idx = principals.length;
    const h = hash(seed, 202, idx);
    const p: Principal = {
      idx, L, acct: a, w: 0, name: '', roleName: '', rolePath: '/', roleId: principalId('AROA', hash(h, 3)),
      userId: principalId('AIDA', hash(h, 4)), akia: keyId('AKIA', hash(h, 5)), email: '', sessMode: 'fixed', sub: '',
      clients: [C_CLI], ipMode: IP_NAT, ips: [], sessLen: 3600, sessOff: h % 3600, invokedBy: '',
      uaVar: hash(h, 6) % 4, browser: hash(h, 7) % BROWSERS.length, busy: 1, ...x,
    };
    p.sessOff = h % p.sessLen;
    principals.push(p);
    a.principals.push(p);
    return p;
  };

  // People: SSO sessions in 1-3 accounts each, some still have IAM users for the console.
  const humans = Math.round(60 + 1.5 * settings.accounts);
  const usedEmails = new Set<string>();
  const setPicker = makePicker(PERMISSION_SETS, (x) => x[1]);
  for (let i = 0; i < humans; i++) {
    let first = '';
    let last = '';
    let email = '';
    for (let tries = 0; tries < 50; tries++) {
      first = rng.pick(FIRST);
      last = rng.pick(LAST);
      email = `${first}.${last}@corp.example`;
      if (!usedEmails.has(email)) break;
      email = `${first}.${last}${2 + rng.int(90)}@corp.example`;
      if (!usedEmails.has(email)) break;
    }
    usedEmails.add(email);
    const home = publicIp(hash(seed, 303, i), PUBLIC_A);
    const ips = [office[i % office.length], office[(i + 1) % office.length], home];
    const nAccess = 1 + Math.floor(rng.f() * rng.f() * 3.2);
    const seen = new Set<string>();
    for (let k = 0; k < nAccess; k++) {
      const a = pickFrom(acctPicker, rng.f());
      const [set, , busy] = pickFrom(setPicker, rng.f());
      if (seen.has(a.id + set)) continue;
      seen.add(a.id + set);
      const roleName = `AWSReservedSSO_${set}_${hexFromHash(hash(seed, a.h, strHash(set)), 16)}`;
      add(a, 's', {
        name: email, email, roleName, rolePath: '/aws-reserved/sso.amazonaws.com/',
        roleId: principalId('AROA', hash(a.h, strHash(roleName))), clients: [C_CONSOLE, C_CONSOLE, C_CLI],
        ipMode: IP_PERSON, ips, sessLen: 3600 * [1, 4, 8, 12][k % 4], busy,
      });
    }
    if (rng.f() < 0.14) {
      const a = pickFrom(acctPicker, rng.f());
      const userName = rng.f() < 0.5 ? `${first}.${last}` : `${first[0]}${last}`;
      if (!a.principals.some((p) => p.name === userName)) {
        add(a, 'h', { name: userName, clients: [C_CONSOLE, C_CONSOLE, C_CLI], ipMode: IP_PERSON, ips, sessLen: 28800 });
      }
    }
  }
  // Programmatic IAM users.
  const nService = Math.round(10 + 0.5 * settings.accounts);
  for (let i = 0; i < nService; i++) {
    const a = pickFrom(acctPicker, rng.f());
    let name = SERVICE_USERS[i % SERVICE_USERS.length];
    if (a.principals.some((p) => p.name === name)) name = `${name}-${i}`;
    add(a, 'u', {
      name, clients: [[C_CLI, C_BOTO, C_TF, C_JAVA][i % 4]], ipMode: IP_FIXED,
      ips: [i % 3 === 0 ? publicIp(hash(seed, 404, i), PUBLIC_A) : a.nat[i % 2]], sessLen: 86400,
    });
  }
  // Per account: CI roles, workload roles, a service-linked role, root, AWS services, AWS Internal.
  for (const a of accounts) {
    const r = new Rng(seed, a.h);
    const nCi = 1 + (acctWeight[a.i] > 0.3 ? 2 : r.int(2));
    for (let k = 0; k < nCi; k++) {
      const ci = CI_ROLES[(k + a.i) % CI_ROLES.length];
      add(a, 'c', {
        roleName: ci.name, name: ci.sess === 'GitHubActions' ? 'GitHubActions' : '', sessMode: ci.sess === 'GitHubActions' ? 'fixed' : ci.sess,
        sub: 'ci', clients: ci.clients, ipMode: ci.ip, sessLen: 3600,
      });
    }
    const nWork = 1 + Math.round(acctWeight[a.i] * 3);
    for (let k = 0; k < nWork; k++) {
      const app = APPS[(a.i * 3 + k) % APPS.length];
      const inst = `i-0${hexFromHash(hash(a.h, 17, k), 16)}`;
      add(a, 'e', { roleName: `${app}-ec2-role`, name: inst, sub: 'ec2', clients: [[C_BOTO, C_JAVA, C_GO][k % 3]], ipMode: IP_NAT, sessLen: 21600 });
      const fn = `${app}-${['handler', 'worker', 'sync', 'api'][k % 4]}-${a.env}`;
      add(a, 'l', { roleName: `${fn}-role`, name: fn, sub: 'lambda', clients: [[C_JS, C_BOTO][k % 2]], ipMode: IP_AWS, sessLen: 14400 });
      if (k % 2 === 0) {
        add(a, 'k', { roleName: `${app}-task-role`, sessMode: 'task', sub: 'ecs', clients: [[C_JAVA, C_GO, C_JS][k % 3]], ipMode: IP_NAT, sessLen: 21600 });
      }
    }
    const slr = SLR_ROLES[a.i % SLR_ROLES.length];
    add(a, 'g', {
      roleName: slr.role, rolePath: `/aws-service-role/${slr.host}/`, name: slr.sess, sub: 'slr', invokedBy: slr.host,
      clients: [C_SVC], ipMode: IP_SVC, sessLen: 3600,
    });
    add(a, 'r', { name: 'root', clients: [C_CONSOLE], ipMode: IP_PERSON, ips: [office[0], publicIp(hash(a.h, 99), PUBLIC_A)], sessLen: 3600 });
    for (const [host, sub] of [['ec2.amazonaws.com', 'ec2'], ['lambda.amazonaws.com', 'lambda'], ['ecs-tasks.amazonaws.com', 'ecs']]) {
      add(a, 'v', { name: host, invokedBy: host, sub, clients: [C_SVC], ipMode: IP_SVC });
    }
    add(a, 'i', { name: 'AWS Internal', clients: [C_INTERNAL], ipMode: IP_INTERNAL });
  }

  // Activity: Zipf over a shuffled order of the acting principals, scaled by kind.
  const kindFactor: Record<string, number> = { h: 0.8, u: 1.5, s: 1, c: 3, e: 2, l: 2, k: 2, g: 1 };
  const actors = principals.filter((p) => p.L in kindFactor);
  actors.sort((x, y) => hash(seed, 9, x.idx) - hash(seed, 9, y.idx));
  for (const [rank, p] of actors.entries()) p.w = ((kindFactor[p.L] * p.busy) / (rank + 1) ** 1.05) * (0.5 + acctWeight[p.acct.i]);
  const mean = actors.reduce((s, p) => s + p.w, 0) / Math.max(1, actors.length);
  for (const p of principals) {
    if (p.L === 'r') p.w = mean * 0.01;
    else if (p.L === 'i') p.w = mean * 0.05;
    else if (p.L === 'v') {
      const targets = p.acct.principals.filter((q) => q.sub === p.sub && q.L !== 'v');
      p.w = targets.length === 0 ? 0 : 0.15 * targets.reduce((s, q) => s + q.w, 0);
    }
  }

  // Templates by actor letter and region class.
  const tpls = templates();
  const tplPick = new Map<string, Array<Picker<Tpl> | null>>();
  for (const L of 'husceklgrvi') {
    const byClass: Array<Picker<Tpl> | null> = [];
    for (const rc of [0, 1]) {
      const ok = tpls.filter((t) => t.actors.includes(L) && (!t.global || (rc === 0 && hasUsEast1)));
      byClass.push(ok.length > 0 ? makePicker(ok, (t) => t.w) : null);
    }
    tplPick.set(L, byClass);
  }
  for (const a of accounts) {
    for (const rc of [0, 1]) {
      const able = a.principals.filter((p) => p.w > 0 && tplPick.get(p.L)![rc] !== null);
      a.pick[rc] = able.length > 0 ? makePicker(able, (p) => p.w) : null;
    }
    const ci = a.principals.filter((p) => p.L === 'c');
    a.ciRoles = ci.length > 0 ? makePicker(ci, (p) => p.w) : null;
    const autos = a.principals.filter((p) => 'cekl'.includes(p.L));
    a.autos = autos.length > 0 ? makePicker(autos, (p) => p.w) : null;
    for (const sub of ['ec2', 'lambda', 'ecs']) {
      const xs = a.principals.filter((p) => p.sub === sub && p.L !== 'v');
      if (xs.length > 0) a.bySub.set(sub, makePicker(xs, (p) => p.w));
    }
    a.iamUsers = a.principals.filter((p) => p.L === 'h' || p.L === 'u').map((p) => p.name);
    a.activity = a.principals.reduce((s, p) => s + p.w, 0);
  }

  // A pool of random base64 used for session tokens, x-amz-id-2 and encoded messages.
  const pr = new Rng(seed, 0xb64);
  const pool = charsFrom(pr, B64, 65536);

  return {
    settings, seed, orgId: settings.orgId, regions, regionClass, accounts, principals, tpls, tplPick, pool, office,
    sessions: new Map(), ua: new Map(),
  };
}
