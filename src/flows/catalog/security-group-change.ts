import { defineFlow } from '../define.ts';
import type { Fields } from '../fields.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set([
  'AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress', 'RevokeSecurityGroupIngress', 'RevokeSecurityGroupEgress',
  'CreateSecurityGroup', 'DeleteSecurityGroup', 'ModifySecurityGroupRules',
]);

const RANGE_KEYS: ReadonlySet<string> = new Set(['cidrIp', 'cidrIpv6', 'CidrIpv4', 'CidrIpv6']);

/** Address ranges a rule opens to the whole internet (`0.0.0.0/0`, `::/0`, or any `/0`). */
function openRanges(req: Fields): string[] {
  return req.deep(RANGE_KEYS).filter((x): x is string => typeof x === 'string' && x.endsWith('/0'));
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
    const from = req.num('fromPort');
    const to = req.num('toPort');
    const port = from !== null ? (to !== null && to !== from ? `${from}-${to}` : String(from)) : null;
    return { openToInternet: open.length > 0 && e.action?.startsWith('Authorize') === true, openRanges: open, port };
  },
});
