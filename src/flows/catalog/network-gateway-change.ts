import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['CreateCustomerGateway', 'DeleteCustomerGateway', 'AttachInternetGateway', 'CreateInternetGateway', 'DeleteInternetGateway', 'DetachInternetGateway']);

/** CIS AWS Foundations 4.12; panther: AWS.EC2.GatewayModified. */
export const networkGatewayChange = defineFlow({
  id: 'network-gateway-change',
  kind: 'single',
  severity: 'medium',
  description: 'An internet or customer gateway was created, attached, detached or deleted.',
  runbook: 'Confirm the gateway change was planned: a new internet gateway can expose private subnets, a removed one can cut a service off.',
  falsePositives: ['New VPCs being set up.'],
  references: ['CIS AWS Foundations 4.12', 'panther: AWS.EC2.GatewayModified'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...ACTIONS],
  match: (e) => succeeded(e) && isCall(e, 'ec2', ACTIONS),
  key: byActor,
});
