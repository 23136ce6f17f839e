/**
 * Sessions and identities: the session a principal is in at a time (stable for its length, so an
 * access key, source IP and client repeat as they do in real trails), the userIdentity blocks, and
 * user agents that match the client, its version and the service called.
 */
import { hexFrom, LOWER_ALNUM, charsFrom, Rng, hash, strHash } from './random.ts';
import type { Tpl } from './templates.ts';
import { isoTime } from './time.ts';
import {
  AWS_A, BROWSERS, C_BOTO, C_CLI, C_CONSOLE, C_GO, C_JAVA, C_JS, C_SVC, C_TF, GH_A, IP_AWS, IP_GH, IP_INTERNAL, IP_NAT,
  IP_PERSON, IP_SVC, keyId, publicIp, type Principal, type Session, type World,
} from './world.ts';

export function sessionAt(W: World, p: Principal, t: number): Session {
  const sIdx = Math.floor((t + p.sessOff) / p.sessLen);
  const key = p.idx * 4194304 + (sIdx & 4194303);
  const cached = W.sessions.get(key);
  if (cached && cached.p === p && cached.sIdx === sIdx) return cached;
  if (W.sessions.size > 50000) W.sessions.clear();
  const s = makeSession(W, p, sIdx);
  W.sessions.set(key, s);
  return s;
}

function makeSession(W: World, p: Principal, sIdx: number): Session {
  const r = new Rng(hash(W.seed, p.idx, sIdx), 3);
  const a = p.acct;
  const created = sIdx * p.sessLen - p.sessOff;
  const client = p.clients[r.int(p.clients.length)];
  let ip = '';
  switch (p.ipMode) {
    case IP_PERSON: ip = p.ips[r.int(p.ips.length)]; break;
    case IP_NAT: ip = a.nat[r.int(a.nat.length)]; break;
    case IP_AWS: ip = publicIp(r.u32(), AWS_A); break;
    case IP_GH: ip = publicIp(r.u32(), GH_A); break;
    case IP_SVC: ip = p.invokedBy; break;
    case IP_INTERNAL: ip = 'AWS Internal'; break;
    default: ip = p.ips[0];
  }
  let name = p.name;
  if (p.sessMode === 'tf') name = `terraform-run-${charsFrom(r, LOWER_ALNUM, 16)}`;
  else if (p.sessMode === 'jenkins') name = `jenkins-build-${1000 + (sIdx % 9000)}`;
  else if (p.sessMode === 'task') name = hexFrom(r, 32);
  const consoleSession = client === C_CONSOLE;
  const asia = keyId('ASIA', r.u32());
  const created8601 = isoTime(created);
  const acct = a.id;
  let arn = '';
  let akid = '';
  let ui = '';
  let uiSignin = '';
  let uiNoArn = '';
  const roleArn = `arn:aws:iam::${acct}:role${p.rolePath}${p.roleName}`;
  const issuer = { type: 'Role', principalId: p.roleId, arn: roleArn, accountId: acct, userName: p.roleName };
  const emptyIssuer = { sessionIssuer: {}, webIdFederationData: {} };
  switch (p.L) {
    case 'h':
    case 'u': {
      arn = `arn:aws:iam::${acct}:user/${p.name}`;
      akid = consoleSession ? asia : p.akia;
      const base = { type: 'IAMUser', principalId: p.userId, arn, accountId: acct, accessKeyId: akid, userName: p.name };
      ui = JSON.stringify(
        consoleSession ? { ...base, sessionContext: { ...emptyIssuer, attributes: { creationDate: created8601, mfaAuthenticated: 'true' } } } : base,
      );
      uiSignin = JSON.stringify({ type: 'IAMUser', principalId: p.userId, arn, accountId: acct, userName: p.name });
      uiNoArn = JSON.stringify({ type: 'IAMUser', principalId: p.userId, accountId: acct, accessKeyId: '', userName: p.name });
      break;
    }
    case 'r': {
      arn = `arn:aws:iam::${acct}:root`;
      akid = asia;
      ui = JSON.stringify({
        type: 'Root', principalId: acct, arn, accountId: acct, accessKeyId: akid,
        sessionContext: { ...emptyIssuer, attributes: { creationDate: created8601, mfaAuthenticated: 'true' } },
      });
      uiSignin = JSON.stringify({ type: 'Root', principalId: acct, arn, accountId: acct, accessKeyId: '' });
      uiNoArn = uiSignin;
      break;
    }
    case 'v': {
      arn = '';
      ui = JSON.stringify({ type: 'AWSService', invokedBy: p.invokedBy });
      uiSignin = uiNoArn = ui;
      break;
    }
    case 'i': {
      ui = JSON.stringify({ accountId: acct, invokedBy: 'AWS Internal' });
      uiSignin = uiNoArn = ui;
      break;
    }
    default: {
      // AssumedRole: SSO, CI, workloads, service-linked roles.
      arn = `arn:aws:sts::${acct}:assumed-role/${p.roleName}/${name}`;
      akid = asia;
      const ctx: Record<string, unknown> = {
        sessionIssuer: issuer,
        webIdFederationData: {},
        attributes: { creationDate: created8601, mfaAuthenticated: 'false' },
      };
      if (p.L === 'e') ctx.ec2RoleDelivery = '2.0';
      const o: Record<string, unknown> = {
        type: 'AssumedRole', principalId: `${p.roleId}:${name}`, arn, accountId: acct, accessKeyId: akid, sessionContext: ctx,
      };
      if (p.L === 'g') o.invokedBy = p.invokedBy;
      ui = JSON.stringify(o);
      uiSignin = uiNoArn = ui;
    }
  }
  const tokenOff = r.int(W.pool.length - 1000);
  const token = `IQoJb3JpZ2luX2Vj${W.pool.slice(tokenOff, tokenOff + 600 + r.int(300))}`;
  return { p, sIdx, created, name, arn, akid, ip, client, console: consoleSession, ui, uiSignin, uiNoArn, token };
}

const CLI_V = [
  ['2.15.30', 'macos#23.4.0', 'arm64', '3.11.8'],
  ['2.17.18', 'linux#6.5.0-1022-aws', 'x86_64', '3.11.9'],
  ['2.13.25', 'windows#10', 'AMD64', '3.11.5'],
  ['2.22.4', 'macos#24.1.0', 'arm64', '3.12.6'],
];
const BOTO_V = [['1.34.69', '3.12.2'], ['1.28.57', '3.11.5'], ['1.35.24', '3.12.6'], ['1.33.13', '3.9.18']];
const TF_V = [['1.7.5', '5.43.0', '1.26.0'], ['1.9.2', '5.62.0', '1.30.3'], ['1.6.6', '5.31.0', '1.24.0'], ['1.8.4', '5.54.1', '1.27.2']];
const JS_V = [['3.540.0', '20.11.1'], ['3.614.0', '20.15.1'], ['3.496.0', '18.19.0'], ['3.675.0', '22.9.0']];
const JAVA_V = [['2.25.40', '17.0.11+9-LTS', '17.0.11'], ['2.20.162', '11.0.21+9-LTS', '11.0.21'], ['2.26.31', '21.0.4+7-LTS', '21.0.4'], ['1.12.661', '1.8.0_402-b08', '1.8.0_402']];
const GO_V = [['1.30.3', '1.22.5'], ['1.26.0', '1.22.1'], ['1.32.2', '1.23.2'], ['1.24.1', '1.21.6']];
const KERNELS = ['5.10.213-201.855.amzn2.x86_64', '6.1.79-99.167.amzn2023.x86_64', '5.10.223-212.873.amzn2.x86_64', '6.1.102-111.182.amzn2023.x86_64'];

const CLI_SERVICE: Record<string, string> = {
  s3: 's3api', monitoring: 'cloudwatch', elasticloadbalancing: 'elb', 'compute-optimizer': 'compute-optimizer',
};
const API_SERVICE: Record<string, string> = {
  monitoring: 'cloudwatch', elasticloadbalancing: 'elasticloadbalancing', 'compute-optimizer': 'computeoptimizer',
  'ec2-instance-connect': 'ec2instanceconnect', secretsmanager: 'secretsmanager', route53resolver: 'route53resolver',
};

function kebab(s: string): string {
  return s.replace(/\d{8}v?\d*$/, '').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

export function userAgent(W: World, t: Tpl, s: Session): string {
  const p = s.p;
  const client = t.signin ? C_CONSOLE : s.client;
  const key = t.idx * 1024 + client * 64 + p.uaVar * 8 + p.browser;
  const hit = W.ua.get(key);
  if (hit !== undefined) return hit;
  const prefix = t.eventSource.replace(/\.amazonaws\.com$/, '');
  let svc = prefix === 'bedrock' && t.eventName === 'InvokeModel' ? 'bedrock-runtime' : prefix;
  const api = (API_SERVICE[svc] ?? svc).replace(/-/g, '');
  const lambda = p.L === 'l';
  const v = p.uaVar;
  let ua = '';
  switch (client) {
    case C_CONSOLE:
      ua = t.consoleUa && !t.signin ? t.consoleUa : BROWSERS[p.browser];
      break;
    case C_CLI: {
      const [cv, os, arch, py] = CLI_V[v];
      svc = CLI_SERVICE[svc] ?? svc;
      ua = `aws-cli/${cv} md/awscrt#0.19.19 ua/2.0 os/${os} md/arch#${arch} lang/python#${py} md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#${svc}.${kebab(t.eventName)}`;
      break;
    }
    case C_BOTO: {
      const [bv, py] = BOTO_V[v];
      ua = `Boto3/${bv} md/Botocore#${bv} ua/2.0 os/linux#${KERNELS[v]} md/arch#x86_64 lang/python#${py} md/pyimpl#CPython${lambda ? ` exec-env/AWS_Lambda_python${py.slice(0, 4)}` : ''} cfg/retry-mode#legacy Botocore/${bv}`;
      break;
    }
    case C_TF: {
      const [tf, prov, sdk] = TF_V[v];
      ua = `APN/1.0 HashiCorp/1.0 Terraform/${tf} (+https://www.terraform.io) terraform-provider-aws/${prov} (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/${sdk} ua/2.0 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/${api}#1.${40 + (strHash(api) % 120)}.${strHash(api) % 9}`;
      break;
    }
    case C_JS: {
      const [jv, node] = JS_V[v];
      ua = `aws-sdk-js/${jv} ua/2.1 os/linux#${KERNELS[v]} lang/js md/nodejs#${node}${lambda ? ` exec-env/AWS_Lambda_nodejs${node.split('.')[0]}.x` : ''} api/${api}#${jv}`;
      break;
    }
    case C_JAVA: {
      const [jv, vm, java] = JAVA_V[v];
      ua = `aws-sdk-java/${jv} Linux/${KERNELS[v]} OpenJDK_64-Bit_Server_VM/${vm} Java/${java} vendor/Amazon.com_Inc. md/internal io/sync http/Apache cfg/retry-mode/standard`;
      break;
    }
    case C_GO: {
      const [gv, go] = GO_V[v];
      ua = `aws-sdk-go-v2/${gv} ua/2.0 os/linux lang/go#${go} md/GOOS#linux md/GOARCH#amd64 api/${api}#1.${30 + (strHash(api) % 150)}.${strHash(api) % 7}`;
      break;
    }
    case C_SVC:
      ua = p.invokedBy;
      break;
    default:
      ua = 'AWS Internal';
  }
  W.ua.set(key, ua);
  return ua;
}
