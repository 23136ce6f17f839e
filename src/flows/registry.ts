import { accessKeyCreated } from './catalog/access-key-created.ts';
import { adminPolicyAttached } from './catalog/admin-policy-attached.ts';
import { clickopsBurst } from './catalog/clickops-burst.ts';
import { clickopsProduction } from './catalog/clickops-production.ts';
import { clickops } from './catalog/clickops.ts';
import { cloudtrailConfigChange } from './catalog/cloudtrail-config-change.ts';
import { configServiceChange } from './catalog/config-service-change.ts';
import { consoleCredentialsChanged } from './catalog/console-credentials-changed.ts';
import { ec2InstanceConnectMany } from './catalog/ec2-instance-connect-many.ts';
import { ec2InstanceSecretsRead } from './catalog/ec2-instance-secrets-read.ts';
import { ec2SerialConsole } from './catalog/ec2-serial-console.ts';
import { ec2UnusualInstanceType } from './catalog/ec2-unusual-instance-type.ts';
import { ec2UserDataModified } from './catalog/ec2-user-data-modified.ts';
import { externalIdentityTrustAdded } from './catalog/external-identity-trust-added.ts';
import { federationTokenIssued } from './catalog/federation-token-issued.ts';
import { iamChangeFromWorkload } from './catalog/iam-change-from-workload.ts';
import { instanceCredentialsUsedOutside } from './catalog/instance-credentials-used-outside.ts';
import { roleAssumedFirstTime } from './catalog/role-assumed-first-time.ts';
import { ssmCommandManyInstances } from './catalog/ssm-command-many-instances.ts';
import { ssmSessionManyInstances } from './catalog/ssm-session-many-instances.ts';
import { workloadDiscoveryBurst } from './catalog/workload-discovery-burst.ts';
import { consoleLoginFailures } from './catalog/console-login-failures.ts';
import { consoleLoginWithoutMfa } from './catalog/console-login-without-mfa.ts';
import { iamPolicyChange } from './catalog/iam-policy-change.ts';
import { iamUserCreatedOrDeleted } from './catalog/iam-user-created-or-deleted.ts';
import { keyPairChange } from './catalog/key-pair-change.ts';
import { kmsKeyDisabledOrDeleted } from './catalog/kms-key-disabled-or-deleted.ts';
import { loggingDisabled } from './catalog/logging-disabled.ts';
import { networkAclChange } from './catalog/network-acl-change.ts';
import { networkGatewayChange } from './catalog/network-gateway-change.ts';
import { newService } from './catalog/new-service.ts';
import { organizationsChange } from './catalog/organizations-change.ts';
import { rootActivity } from './catalog/root-activity.ts';
import { routeTableChange } from './catalog/route-table-change.ts';
import { s3BucketPolicyChange } from './catalog/s3-bucket-policy-change.ts';
import { scpDenied } from './catalog/scp-denied.ts';
import { securityGroupChange } from './catalog/security-group-change.ts';
import { sensitiveDelete } from './catalog/sensitive-delete.ts';
import { unauthorizedApiCalls } from './catalog/unauthorized-api-calls.ts';
import { unexpectedRegion } from './catalog/unexpected-region.ts';
import { vpcChange } from './catalog/vpc-change.ts';
import { accessKeyQuarantined } from './catalog/access-key-quarantined.ts';
import { backupOrImageDeleted } from './catalog/backup-or-image-deleted.ts';
import { bedrockModelAccessEnabled } from './catalog/bedrock-model-access-enabled.ts';
import { criticalActionDenied } from './catalog/critical-action-denied.ts';
import { detectionTampered } from './catalog/detection-tampered.ts';
import { organizationLeaveAttempt } from './catalog/organization-leave-attempt.ts';
import { route53DomainTransfer } from './catalog/route53-domain-transfer.ts';
import { s3ObjectsMassDeleted } from './catalog/s3-objects-mass-deleted.ts';
import { s3RansomNote } from './catalog/s3-ransom-note.ts';
import { s3SseCEncryption } from './catalog/s3-sse-c-encryption.ts';
import { sagemakerLifecycleConfig } from './catalog/sagemaker-lifecycle-config.ts';
import { secretsBatchRead } from './catalog/secrets-batch-read.ts';
import { secretsBulkRead } from './catalog/secrets-bulk-read.ts';
import { sesEnumeration } from './catalog/ses-enumeration.ts';
import { ssmParametersBulkDecrypt } from './catalog/ssm-parameters-bulk-decrypt.ts';
import { amiShared } from './catalog/ami-shared.ts';
import { dataExported } from './catalog/data-exported.ts';
import { dataProtectionDisabled } from './catalog/data-protection-disabled.ts';
import { ebsSnapshotShared } from './catalog/ebs-snapshot-shared.ts';
import { lambdaCodeChanged } from './catalog/lambda-code-changed.ts';
import { lambdaExposed } from './catalog/lambda-exposed.ts';
import { rdsInstanceMadePublic } from './catalog/rds-instance-made-public.ts';
import { rdsSnapshotShared } from './catalog/rds-snapshot-shared.ts';
import { resourceMadePublic } from './catalog/resource-made-public.ts';
import { roleTrustExternal } from './catalog/role-trust-external.ts';
import { s3BucketSharedExternally } from './catalog/s3-bucket-shared-externally.ts';
import { trailBucketShortLifecycle } from './catalog/trail-bucket-short-lifecycle.ts';
import type { AnyFlow } from './define.ts';

/** The catalog's flows, in the order `trailbot flows list` shows them. Add a flow here and nowhere else. */
const CATALOG: readonly AnyFlow[] = [
  // CIS AWS Foundations monitoring controls
  rootActivity,
  consoleLoginWithoutMfa,
  consoleLoginFailures,
  unauthorizedApiCalls,
  iamPolicyChange,
  cloudtrailConfigChange,
  kmsKeyDisabledOrDeleted,
  s3BucketPolicyChange,
  configServiceChange,
  securityGroupChange,
  networkAclChange,
  networkGatewayChange,
  routeTableChange,
  vpcChange,
  organizationsChange,
  // ClickOps
  clickops,
  clickopsBurst,
  clickopsProduction,
  // Identity, guardrails and unusual activity
  keyPairChange,
  accessKeyCreated,
  iamUserCreatedOrDeleted,
  adminPolicyAttached,
  scpDenied,
  unexpectedRegion,
  newService,
  sensitiveDelete,
  loggingDisabled,
  // Identity and workloads (Detection II)
  consoleCredentialsChanged,
  federationTokenIssued,
  externalIdentityTrustAdded,
  roleAssumedFirstTime,
  ec2UserDataModified,
  ec2InstanceSecretsRead,
  ec2UnusualInstanceType,
  ec2SerialConsole,
  ec2InstanceConnectMany,
  ssmSessionManyInstances,
  ssmCommandManyInstances,
  instanceCredentialsUsedOutside,
  workloadDiscoveryBurst,
  iamChangeFromWorkload,
  // Data, secrets and tampering (Detection II)
  secretsBulkRead,
  secretsBatchRead,
  ssmParametersBulkDecrypt,
  sesEnumeration,
  bedrockModelAccessEnabled,
  sagemakerLifecycleConfig,
  organizationLeaveAttempt,
  backupOrImageDeleted,
  s3ObjectsMassDeleted,
  s3SseCEncryption,
  s3RansomNote,
  detectionTampered,
  accessKeyQuarantined,
  route53DomainTransfer,
  // Sharing and exposure (Detection II)
  ebsSnapshotShared,
  amiShared,
  rdsSnapshotShared,
  s3BucketSharedExternally,
  resourceMadePublic,
  rdsInstanceMadePublic,
  lambdaExposed,
  lambdaCodeChanged,
  roleTrustExternal,
  dataExported,
  trailBucketShortLifecycle,
  dataProtectionDisabled,
];

/**
 * Every built-in flow: the catalog, then critical-action-denied, which watches for denied attempts at
 * what the catalog's high and critical flows report and so is built from it.
 */
export const FLOWS: readonly AnyFlow[] = [...CATALOG, criticalActionDenied(CATALOG)];
