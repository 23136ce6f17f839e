import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['CreateRoute', 'CreateRouteTable', 'ReplaceRoute', 'ReplaceRouteTableAssociation', 'DeleteRouteTable', 'DeleteRoute', 'DisassociateRouteTable', 'AssociateRouteTable']);

/** CIS AWS Foundations 4.13; sigma: aws_cloudtrail_new_route_added.yml; panther: AWS.EC2.RouteTableModified. */
export const routeTableChange = defineFlow({
  id: 'route-table-change',
  kind: 'single',
  severity: 'medium',
  description: 'A route table or one of its routes was created, changed or deleted.',
  runbook: 'Check where the new route sends traffic; revert routes that were not planned.',
  falsePositives: ['New subnets or VPCs being set up.'],
  references: ['CIS AWS Foundations 4.13', 'sigma: aws_cloudtrail_new_route_added.yml', 'panther: AWS.EC2.RouteTableModified'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...ACTIONS],
  match: (e) => succeeded(e) && isCall(e, 'ec2', ACTIONS),
  key: byActor,
});
