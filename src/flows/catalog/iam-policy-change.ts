import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set([
  'DeleteGroupPolicy', 'DeleteRolePolicy', 'DeleteUserPolicy', 'PutGroupPolicy', 'PutRolePolicy', 'PutUserPolicy',
  'CreatePolicy', 'DeletePolicy', 'CreatePolicyVersion', 'DeletePolicyVersion', 'SetDefaultPolicyVersion',
  'AttachRolePolicy', 'DetachRolePolicy', 'AttachUserPolicy', 'DetachUserPolicy', 'AttachGroupPolicy', 'DetachGroupPolicy',
  // Beyond CIS: who may assume a role, and the boundaries that cap permissions.
  'UpdateAssumeRolePolicy', 'PutRolePermissionsBoundary', 'PutUserPermissionsBoundary',
  'DeleteRolePermissionsBoundary', 'DeleteUserPermissionsBoundary',
]);

/** CIS AWS Foundations 4.4; panther: AWS.IAM.PolicyModified, AWS.IAM.BackdoorRole. */
export const iamPolicyChange = defineFlow({
  id: 'iam-policy-change',
  kind: 'single',
  severity: 'medium',
  description: 'An IAM policy changed: created, deleted, attached, detached, an inline policy set, or a role trust policy updated.',
  runbook: 'Read the policy change and confirm it was reviewed; look for wildcards, new trusted principals and permissions a role did not need.',
  falsePositives: ['Deployments managing their own roles outside the infrastructure-as-code allow-list.'],
  references: ['CIS AWS Foundations 4.4', 'panther: AWS.IAM.PolicyModified', 'panther: AWS.IAM.BackdoorRole'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...ACTIONS],
  // Full administrator access is reported by admin-policy-attached, with more urgency; AWS's
  // quarantine of an exposed key by access-key-quarantined.
  yieldsTo: ['admin-policy-attached', 'access-key-quarantined', 'iam-change-from-workload', 'role-trust-external'],
  match: (e) => succeeded(e) && isCall(e, 'iam', ACTIONS),
  key: byActor,
  context: (e) => ({ trustPolicy: e.action === 'UpdateAssumeRolePolicy' }),
});
