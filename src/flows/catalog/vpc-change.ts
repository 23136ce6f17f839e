import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['CreateVpc', 'DeleteVpc', 'ModifyVpcAttribute', 'AcceptVpcPeeringConnection', 'CreateVpcPeeringConnection', 'DeleteVpcPeeringConnection', 'RejectVpcPeeringConnection', 'AttachClassicLinkVpc', 'DetachClassicLinkVpc', 'DisableVpcClassicLink', 'EnableVpcClassicLink']);

/** CIS AWS Foundations 4.14; panther: AWS.EC2.VPCModified. */
export const vpcChange = defineFlow({
  id: 'vpc-change',
  kind: 'single',
  severity: 'medium',
  description: 'A VPC or a VPC peering connection was created, changed or deleted.',
  runbook: 'Confirm the VPC change was planned; peering connections in particular open paths between networks.',
  falsePositives: ['Planned network work.'],
  references: ['CIS AWS Foundations 4.14', 'panther: AWS.EC2.VPCModified'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...ACTIONS],
  match: (e) => succeeded(e) && isCall(e, 'ec2', ACTIONS),
  key: byActor,
});
