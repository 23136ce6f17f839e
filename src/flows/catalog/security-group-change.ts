import { defineFlow } from '../define.ts';
import { byActor, get, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set([
  'AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress', 'RevokeSecurityGroupIngress', 'RevokeSecurityGroupEgress',
  'CreateSecurityGroup', 'DeleteSecurityGroup', 'ModifySecurityGroupRules',
]);

/** Address ranges a rule opens to the whole internet (`0.0.0.0/0`, `::/0`, or any `/0`). */
function openRanges(req: Record<string, unknown> | null): string[] {
  if (!req) return [];
  const out: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(visit);
    else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if ((k === 'cidrIp' || k === 'cidrIpv6' || k === 'CidrIpv4' || k === 'CidrIpv6') && typeof x === 'string' && x.endsWith('/0')) out.push(x);
        else visit(x);
      }
    }
  };
  visit(req);
  return out;
}

/** CIS AWS Foundations 4.10; Sigma `aws_cloudtrail_security_group_change_ingress_egress`. */
export const securityGroupChange = defineFlow({
  id: 'security-group-change',
  kind: 'single',
  severity: 'medium',
  description: 'A security group or one of its rules was created, changed or deleted.',
  runbook: 'Check which ports the rule opens and to whom; close rules open to the internet (0.0.0.0/0) unless the service is meant to be public.',
  falsePositives: ['A port opened for a service that is being deployed; administrators closing unused ports.'],
  references: ['CIS AWS Foundations 4.10', 'sigma: aws_cloudtrail_security_group_change_ingress_egress.yml', 'stratus: aws.exfiltration.ec2-security-group-open-port-22-ingress'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e) => succeeded(e) && isCall(e, 'ec2', ACTIONS),
  key: byActor,
  context: (e, _p, env) => {
    const req = env.request(e);
    const open = openRanges(req);
    const from = get(req, 'fromPort');
    const to = get(req, 'toPort');
    const port = typeof from === 'number' ? (to !== undefined && to !== from ? `${from}-${String(to)}` : String(from)) : null;
    return { openToInternet: open.length > 0 && e.action?.startsWith('Authorize') === true, openRanges: open, port };
  },
});
