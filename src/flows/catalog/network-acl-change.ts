import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['CreateNetworkAcl', 'CreateNetworkAclEntry', 'DeleteNetworkAcl', 'DeleteNetworkAclEntry', 'ReplaceNetworkAclEntry', 'ReplaceNetworkAclAssociation']);

/** CIS AWS Foundations 4.11; sigma: aws_cloudtrail_new_acl_entries.yml; panther: AWS.EC2.NetworkACLModified. */
export const networkAclChange = defineFlow({
  id: 'network-acl-change',
  kind: 'single',
  severity: 'medium',
  description: 'A network ACL or one of its rules was created, changed or deleted.',
  runbook: "Check the rule against the subnet's intended exposure; revert it and find out why if it was not planned.",
  falsePositives: ['Planned network changes made by hand before being written into infrastructure as code.'],
  references: ['CIS AWS Foundations 4.11', 'sigma: aws_cloudtrail_new_acl_entries.yml', 'panther: AWS.EC2.NetworkACLModified'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...ACTIONS],
  match: (e) => succeeded(e) && isCall(e, 'ec2', ACTIONS),
  key: byActor,
});
