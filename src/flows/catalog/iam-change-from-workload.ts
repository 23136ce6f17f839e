import { defineFlow } from '../define.ts';
import { isCall, succeeded } from '../match.ts';
import { workloadOf } from '../workload.ts';

/** IAM writes to users, keys, passwords, groups, policies and roles. */
const ACTIONS = new Set([
  'CreateUser', 'DeleteUser', 'UpdateUser', 'CreateAccessKey', 'UpdateAccessKey', 'DeleteAccessKey', 'CreateLoginProfile', 'UpdateLoginProfile',
  'DeleteLoginProfile', 'UploadSSHPublicKey', 'UploadSigningCertificate', 'CreateServiceSpecificCredential', 'DeactivateMFADevice',
  'AddUserToGroup', 'RemoveUserFromGroup', 'CreateGroup', 'DeleteGroup',
  'AttachUserPolicy', 'DetachUserPolicy', 'PutUserPolicy', 'DeleteUserPolicy', 'AttachGroupPolicy', 'DetachGroupPolicy', 'PutGroupPolicy',
  'DeleteGroupPolicy', 'AttachRolePolicy', 'DetachRolePolicy', 'PutRolePolicy', 'DeleteRolePolicy',
  'CreatePolicy', 'DeletePolicy', 'CreatePolicyVersion', 'DeletePolicyVersion', 'SetDefaultPolicyVersion',
  'CreateRole', 'DeleteRole', 'UpdateRole', 'UpdateAssumeRolePolicy', 'PutRolePermissionsBoundary', 'DeleteRolePermissionsBoundary',
  'PutUserPermissionsBoundary', 'DeleteUserPermissionsBoundary', 'CreateInstanceProfile', 'AddRoleToInstanceProfile', 'RemoveRoleFromInstanceProfile',
]);

/**
 * Stratus techniques run from a compromised workload (`aws.persistence.iam-*` with instance
 * credentials); GuardDuty PrivilegeEscalation and Persistence findings for instance roles.
 * Applications read IAM at most; a workload's session writing it is someone using the workload's
 * role to make themselves a way back in.
 */
export const iamChangeFromWorkload = defineFlow({
  id: 'iam-change-from-workload',
  kind: 'single',
  severity: 'high',
  description: "An EC2 instance's or Lambda function's session changed IAM: users, access keys, passwords, groups, policies or roles.",
  runbook: "Undo the change unless the workload is known to manage IAM, revoke the role's sessions, and find how its credentials were used (the instance, the function's code, SSRF to the metadata service).",
  falsePositives: ['Deployment tools running on an instance or in Lambda that manage IAM (allow-list their role as iac or automation).'],
  references: ['stratus: aws.persistence.iam-create-admin-user (from an instance)', 'guardduty: PrivilegeEscalation:IAMUser/AnomalousBehavior'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...ACTIONS],
  // Full administrator access is reported by admin-policy-attached, with more urgency.
  yieldsTo: ['admin-policy-attached'],
  match: (e) => succeeded(e) && isCall(e, 'iam', ACTIONS) && workloadOf(e) !== null,
  key: (e) => `${e.account ?? 'unknown'}|${e.actorKey ?? 'unknown'}`,
  context: (e) => ({ workload: workloadOf(e), lambda: workloadOf(e) === 'lambda', session: e.actor.sessionName }),
});
