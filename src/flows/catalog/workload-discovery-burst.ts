import { defineFlow } from '../define.ts';
import { byActor } from '../match.ts';
import { workloadOf } from '../workload.ts';

/**
 * Calls that map an account: who am I, what is there, who is watching. An application calls one or
 * two of them; an attacker holding its credentials calls them one after the other. Left out on
 * purpose: the EC2 describes workloads make all day (DescribeInstances, DescribeVolumes,
 * DescribeSecurityGroups, DescribeVpcs, DescribeRegions: cluster agents, autoscalers, exporters).
 */
const DISCOVERY = new Set([
  'GetCallerIdentity', 'GetAccountSummary', 'GetAccountAuthorizationDetails', 'ListAccountAliases',
  'ListUsers', 'ListRoles', 'ListGroups', 'ListPolicies', 'ListAccessKeys', 'ListAttachedRolePolicies', 'ListRolePolicies',
  'ListAttachedUserPolicies', 'ListUserPolicies', 'GetAccountPasswordPolicy', 'ListInstanceProfiles', 'ListSAMLProviders', 'ListOpenIDConnectProviders',
  'ListBuckets', 'DescribeSnapshots',
  'DescribeTrails', 'GetTrailStatus', 'ListTrails', 'GetEventSelectors', 'ListDetectors', 'DescribeConfigurationRecorders',
  'ListSecrets', 'DescribeParameters', 'ListKeys', 'ListFunctions20150331', 'ListFunctions', 'DescribeDBInstances', 'DescribeDBSnapshots',
  'ListClusters', 'ListTopics', 'ListQueues', 'ListTables', 'ListStacks', 'DescribeStacks', 'ListAccounts', 'DescribeOrganization',
  'ListIdentities', 'ListHostedZones',
]);

/**
 * Stratus `aws.discovery.ec2-enumerate-from-instance`; GuardDuty Discovery:IAMUser/AnomalousBehavior
 * for workloads. Counts distinct calls, whatever their outcome: an attacker learns as much from
 * AccessDenied as from an answer.
 */
export const workloadDiscoveryBurst = defineFlow({
  id: 'workload-discovery-burst',
  kind: 'threshold',
  severity: 'high',
  description: 'An EC2 instance or Lambda function session made many different account-discovery calls (who am I, users, roles, buckets, snapshots, trails, detectors) in a short time, allowed or not.',
  runbook: "Find out whether the workload's code makes these calls; if not, treat its credentials as stolen or the workload as compromised: revoke the role's sessions and look at the instance or function.",
  falsePositives: ['Inventory, security or backup agents running on instances or in Lambda (allow-list their role).'],
  references: ['stratus: aws.discovery.ec2-enumerate-from-instance', 'guardduty: Discovery:IAMUser/AnomalousBehavior'],
  params: { moreThan: 4, window: '15m' },
  dedupPeriod: '24h',
  allow: ['automation'],
  actions: [...DISCOVERY],
  match: (e) => workloadOf(e) !== null,
  key: byActor,
  distinctBy: (e) => e.action,
});
