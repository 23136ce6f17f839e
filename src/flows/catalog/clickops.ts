import { defineFlow } from '../define.ts';
import { isConsoleChange } from '../housekeeping.ts';
import { byActor } from '../match.ts';

/** ClickOps practice: infrastructure changed by hand in the console instead of through code. */
export const clickops = defineFlow({
  id: 'clickops',
  kind: 'single',
  severity: 'low',
  description: 'A change was made by hand in the AWS console (sign-in and console housekeeping calls left out).',
  runbook: 'Ask the person to capture the change in infrastructure as code (or import the resource) so the next apply does not undo it.',
  falsePositives: ['Incident response; one-off experiments in sandbox accounts.'],
  references: ['src/flows/housekeeping.ts (the calls left out)'],
  params: {},
  dedupPeriod: '24h',
  allow: ['breakGlass'],
  // When a more specific flow reports the event, this one leaves it alone (clickops-burst still counts it):
  // every other single flow of the catalog (clickops.test.ts checks the list stays complete).
  yieldsTo: [
    'clickops-production', 'root-activity', 'iam-policy-change', 'admin-policy-attached', 'cloudtrail-config-change',
    'kms-key-disabled-or-deleted', 's3-bucket-policy-change', 'config-service-change', 'security-group-change',
    'network-acl-change', 'network-gateway-change', 'route-table-change', 'vpc-change', 'organizations-change',
    'key-pair-change', 'access-key-created', 'iam-user-created-or-deleted', 'sensitive-delete', 'logging-disabled',
    'ebs-snapshot-shared', 'ami-shared', 'rds-snapshot-shared', 's3-bucket-shared-externally', 'resource-made-public',
    'rds-instance-made-public', 'lambda-exposed', 'lambda-code-changed', 'role-trust-external', 'data-exported',
    'trail-bucket-short-lifecycle', 'data-protection-disabled',
    'console-login-without-mfa', 'scp-denied', 'console-credentials-changed', 'federation-token-issued',
    'external-identity-trust-added', 'ec2-user-data-modified', 'ec2-unusual-instance-type', 'ec2-serial-console',
    'ssm-command-many-instances', 'instance-credentials-used-outside', 'iam-change-from-workload',
    'bedrock-model-access-enabled', 'sagemaker-lifecycle-config', 'organization-leave-attempt', 'backup-or-image-deleted',
    's3-ransom-note', 'detection-tampered', 'access-key-quarantined', 'route53-domain-transfer', 'critical-action-denied',
  ],
  match: (e) => isConsoleChange(e),
  key: byActor,
});
