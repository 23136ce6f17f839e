import { defineFlow } from '../define.ts';
import { workloadOf } from '../workload.ts';

/**
 * Stratus `aws.credential-access.ec2-steal-instance-credentials`; GuardDuty
 * UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS. An instance's role
 * credentials are only ever used from the instance, so from the addresses its traffic leaves by:
 * the ranges under `flows.expected.egressCidrs` (NAT gateways' elastic IPs, the VPCs' own ranges
 * for calls through VPC endpoints). Off until those ranges are set.
 */
export const instanceCredentialsUsedOutside = defineFlow({
  id: 'instance-credentials-used-outside',
  kind: 'single',
  severity: 'high',
  description: "An EC2 instance role's session was used from an address outside the expected egress ranges (flows.expected.egressCidrs): its credentials have left the instance.",
  runbook: "Revoke the role's active sessions (a Deny on aws:TokenIssueTime), find how the credentials left the instance (SSRF to the metadata service, a compromised process) and require IMDSv2.",
  falsePositives: ['An egress range missing from flows.expected.egressCidrs (a new NAT gateway, a VPC reached through an endpoint).'],
  references: ['stratus: aws.credential-access.ec2-steal-instance-credentials', 'guardduty: InstanceCredentialExfiltration.OutsideAWS'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  // Every call can carry stolen credentials: no action list. `egressConfigured` keeps it free until ranges are set.
  match: (e, _p, env) => env.egressConfigured && e.sourceIp !== null && workloadOf(e) === 'instance' && !env.insideEgress(e.sourceIp),
  key: (e) => `${e.account ?? 'unknown'}|${e.actorKey ?? 'unknown'}`,
  context: (e) => ({ instance: e.actor.sessionName, role: e.actor.roleName, address: e.sourceIp }),
});
