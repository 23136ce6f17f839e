import type { Resource } from './model.ts';

type Obj = Record<string, unknown>;

/**
 * Request parameters that name a resource, per service (`*` = any service).
 * Key: `<service prefix>:<parameter>`; value: the CloudFormation-style type.
 * The service prefix is the part of eventSource before `.amazonaws.com`.
 */
const PARAMS: Record<string, string> = {
  's3:bucketName': 'AWS::S3::Bucket',
  'rds:dBInstanceIdentifier': 'AWS::RDS::DBInstance',
  'rds:dBClusterIdentifier': 'AWS::RDS::DBCluster',
  'rds:dBSnapshotIdentifier': 'AWS::RDS::DBSnapshot',
  'rds:dBClusterSnapshotIdentifier': 'AWS::RDS::DBClusterSnapshot',
  'rds:dBSecurityGroupName': 'AWS::RDS::DBSecurityGroup',
  'ec2:groupId': 'AWS::EC2::SecurityGroup',
  'ec2:groupName': 'AWS::EC2::SecurityGroup',
  'ec2:keyName': 'AWS::EC2::KeyPair',
  'ec2:keyPairId': 'AWS::EC2::KeyPair',
  'ec2:instanceId': 'AWS::EC2::Instance',
  'ec2:volumeId': 'AWS::EC2::Volume',
  'ec2:snapshotId': 'AWS::EC2::Snapshot',
  'ec2:vpcId': 'AWS::EC2::VPC',
  'ec2:subnetId': 'AWS::EC2::Subnet',
  'ec2:routeTableId': 'AWS::EC2::RouteTable',
  'ec2:networkAclId': 'AWS::EC2::NetworkAcl',
  'ec2:internetGatewayId': 'AWS::EC2::InternetGateway',
  'ec2:natGatewayId': 'AWS::EC2::NatGateway',
  'ec2:customerGatewayId': 'AWS::EC2::CustomerGateway',
  'ec2:vpnGatewayId': 'AWS::EC2::VPNGateway',
  'ec2:transitGatewayId': 'AWS::EC2::TransitGateway',
  'ec2:vpcPeeringConnectionId': 'AWS::EC2::VPCPeeringConnection',
  'ec2:networkInterfaceId': 'AWS::EC2::NetworkInterface',
  'ec2:allocationId': 'AWS::EC2::EIP',
  'ec2:launchTemplateId': 'AWS::EC2::LaunchTemplate',
  'ec2:imageId': 'AWS::EC2::Image',
  'sts:roleArn': 'AWS::IAM::Role',
  // AssumeRoot: the member account whose root is taken.
  'sts:targetPrincipal': 'AWS::Organizations::Account',
  'iam:userName': 'AWS::IAM::User',
  'iam:roleName': 'AWS::IAM::Role',
  'iam:groupName': 'AWS::IAM::Group',
  'iam:policyArn': 'AWS::IAM::Policy',
  'iam:instanceProfileName': 'AWS::IAM::InstanceProfile',
  'iam:accessKeyId': 'AWS::IAM::AccessKey',
  'iam:serialNumber': 'AWS::IAM::MFADevice',
  'iam:sAMLProviderArn': 'AWS::IAM::SAMLProvider',
  'iam:openIDConnectProviderArn': 'AWS::IAM::OIDCProvider',
  'ec2-instance-connect:instanceId': 'AWS::EC2::Instance',
  'lambda:functionName': 'AWS::Lambda::Function',
  'lambda:layerName': 'AWS::Lambda::LayerVersion',
  'cloudtrail:name': 'AWS::CloudTrail::Trail',
  'cloudtrail:trailName': 'AWS::CloudTrail::Trail',
  'kms:keyId': 'AWS::KMS::Key',
  'kms:aliasName': 'AWS::KMS::Alias',
  'dynamodb:tableName': 'AWS::DynamoDB::Table',
  'logs:logGroupName': 'AWS::Logs::LogGroup',
  'autoscaling:autoScalingGroupName': 'AWS::AutoScaling::AutoScalingGroup',
  'guardduty:detectorId': 'AWS::GuardDuty::Detector',
  'config:configurationRecorderName': 'AWS::Config::ConfigurationRecorder',
  'config:deliveryChannelName': 'AWS::Config::DeliveryChannel',
  'config:configRuleName': 'AWS::Config::ConfigRule',
  'cloudformation:stackName': 'AWS::CloudFormation::Stack',
  'sns:topicArn': 'AWS::SNS::Topic',
  'sqs:queueUrl': 'AWS::SQS::Queue',
  'secretsmanager:secretId': 'AWS::SecretsManager::Secret',
  'ssm:name': 'AWS::SSM::Parameter',
  'ssm:documentName': 'AWS::SSM::Document',
  'eks:name': 'AWS::EKS::Cluster',
  'eks:clusterName': 'AWS::EKS::Cluster',
  'ecs:cluster': 'AWS::ECS::Cluster',
  'ecr:repositoryName': 'AWS::ECR::Repository',
  'route53:hostedZoneId': 'AWS::Route53::HostedZone',
  'route53resolver:resolverQueryLogConfigId': 'AWS::Route53Resolver::ResolverQueryLoggingConfig',
  'elasticloadbalancing:loadBalancerArn': 'AWS::ElasticLoadBalancingV2::LoadBalancer',
  'elasticloadbalancing:loadBalancerName': 'AWS::ElasticLoadBalancing::LoadBalancer',
  'elasticache:cacheClusterId': 'AWS::ElastiCache::CacheCluster',
  'redshift:clusterIdentifier': 'AWS::Redshift::Cluster',
  'organizations:accountId': 'AWS::Organizations::Account',
  'organizations:policyId': 'AWS::Organizations::Policy',
  'organizations:organizationalUnitId': 'AWS::Organizations::OrganizationalUnit',
  'sso:permissionSetArn': 'AWS::SSO::PermissionSet',
  'rolesanywhere:trustAnchorId': 'AWS::RolesAnywhere::TrustAnchor',
  'bedrock:modelId': 'AWS::Bedrock::FoundationModel',
  'securityhub:hubArn': 'AWS::SecurityHub::Hub',
  'efs:fileSystemId': 'AWS::EFS::FileSystem',
  'elasticfilesystem:fileSystemId': 'AWS::EFS::FileSystem',
};

/** Parameters holding lists of resource ids. */
const LIST_PARAMS: Record<string, string> = {
  'ec2:instancesSet': 'AWS::EC2::Instance',
  'ec2:flowLogIds': 'AWS::EC2::FlowLog',
  'ec2:FlowLogId': 'AWS::EC2::FlowLog',
  'ec2:FlowLogIds': 'AWS::EC2::FlowLog',
  'ssm:names': 'AWS::SSM::Parameter',
  'ssm:instanceIds': 'AWS::EC2::Instance',
  'secretsmanager:secretIdList': 'AWS::SecretsManager::Secret',
};

/** PARAMS and LIST_PARAMS regrouped by service: service → parameter → [type, isList]. */
const BY_SERVICE = new Map<string, Map<string, [string, boolean]>>();
for (const [table, isList] of [[PARAMS, false], [LIST_PARAMS, true]] as const) {
  for (const [k, type] of Object.entries(table)) {
    const colon = k.indexOf(':');
    const svc = k.slice(0, colon);
    let m = BY_SERVICE.get(svc);
    if (!m) BY_SERVICE.set(svc, (m = new Map()));
    m.set(k.slice(colon + 1), [type, isList]);
  }
}

/** Wrapper objects some services put around their parameters (e.g. `DeleteFlowLogsRequest`). */
function unwrapParams(params: Obj): Obj {
  let only: string | undefined;
  for (const k in params) {
    if (only !== undefined) return params; // more than one key (no keys array built: this runs per event)
    only = k;
  }
  if (only?.endsWith('Request')) {
    const inner = params[only];
    if (inner && typeof inner === 'object' && !Array.isArray(inner)) return inner as Obj;
  }
  return params;
}

/** The id part of an ARN (`arn:aws:iam::1:user/bob` → `bob`, `arn:aws:s3:::b1` → `b1`). */
export function lastSegment(arn: string): string {
  const slash = arn.lastIndexOf('/');
  if (slash >= 0 && slash < arn.length - 1) return arn.slice(slash + 1);
  const colon = arn.lastIndexOf(':');
  return colon >= 0 ? arn.slice(colon + 1) : arn;
}

function idsOf(v: unknown): string[] {
  if (typeof v === 'string') return v === '' ? [] : [v];
  if (Array.isArray(v)) {
    const out: string[] = [];
    for (const x of v) {
      if (typeof x === 'string') out.push(x);
      else if (x && typeof x === 'object') {
        const o = x as Obj;
        const id = o.instanceId ?? o.FlowLogId ?? o.content ?? o.secretId ?? o.name;
        if (typeof id === 'string') out.push(id);
      }
    }
    return out;
  }
  if (v && typeof v === 'object') {
    const o = v as Obj;
    if (Array.isArray(o.items)) return idsOf(o.items);
    if (Array.isArray(o.item)) return idsOf(o.item);
    if (typeof o.content === 'string') return [o.content];
  }
  return [];
}

function arnFor(type: string, id: string, region: string | null, account: string | null): string | null {
  if (id.startsWith('arn:')) return id;
  switch (type) {
    case 'AWS::S3::Bucket':
      return `arn:aws:s3:::${id}`;
    case 'AWS::IAM::User':
      return account ? `arn:aws:iam::${account}:user/${id}` : null;
    case 'AWS::IAM::Role':
      return account ? `arn:aws:iam::${account}:role/${id}` : null;
    case 'AWS::IAM::Group':
      return account ? `arn:aws:iam::${account}:group/${id}` : null;
    case 'AWS::RDS::DBInstance':
      return account && region ? `arn:aws:rds:${region}:${account}:db:${id}` : null;
    case 'AWS::EC2::Instance':
      return account && region ? `arn:aws:ec2:${region}:${account}:instance/${id}` : null;
    case 'AWS::EC2::SecurityGroup':
      return account && region && id.startsWith('sg-') ? `arn:aws:ec2:${region}:${account}:security-group/${id}` : null;
    case 'AWS::Lambda::Function':
      return account && region ? `arn:aws:lambda:${region}:${account}:function:${id}` : null;
    case 'AWS::DynamoDB::Table':
      return account && region ? `arn:aws:dynamodb:${region}:${account}:table/${id}` : null;
    default:
      return null;
  }
}

/** A readable id for a resource named by ARN or URL (a queue URL ends with its name). */
function displayId(id: string): string {
  return id.startsWith('arn:') || id.startsWith('https://') ? lastSegment(id) : id;
}

/**
 * Resources the call touched: the record's own `resources` plus those named by request parameters
 * (and, for calls that create them, by the response). Deduplicated by type and id.
 */
export function extractResources(record: Obj, servicePrefix: string | null, region: string | null, account: string | null): Resource[] {
  // Hot path (every event): no closure, no Set; a call names a handful of resources at most, so a
  // linear check for duplicates is cheaper than hashing keys.
  const out: Resource[] = [];
  const params = record.requestParameters;
  const known = servicePrefix ? BY_SERVICE.get(servicePrefix) : undefined;
  if (known && params && typeof params === 'object' && !Array.isArray(params)) {
    const p = unwrapParams(params as Obj);
    for (const key in p) {
      const hit = known.get(key);
      if (!hit) continue;
      const v = p[key];
      if (!hit[1] && typeof v === 'string') {
        if (v !== '') addResource(out, hit[0], v, null, region, account);
      } else {
        for (const id of idsOf(v)) addResource(out, hit[0], id, null, region, account);
      }
    }
  }

  // Calls that create a resource name it only in the response (RunInstances, CreateVpc, ...).
  const resp = record.responseElements;
  if (servicePrefix === 'ec2' && resp && typeof resp === 'object') {
    const r = resp as Obj;
    if (r.instancesSet) for (const id of idsOf(r.instancesSet)) addResource(out, 'AWS::EC2::Instance', id, null, region, account);
    const created = (r.vpc ?? r.subnet ?? r.routeTable ?? r.internetGateway ?? r.networkAcl ?? r.natGateway) as Obj | undefined;
    if (created && typeof created === 'object') {
      const id = created.vpcId ?? created.subnetId ?? created.routeTableId ?? created.internetGatewayId ?? created.networkAclId ?? created.natGatewayId;
      const type = r.vpc ? 'AWS::EC2::VPC' : r.subnet ? 'AWS::EC2::Subnet' : r.routeTable ? 'AWS::EC2::RouteTable' : r.internetGateway ? 'AWS::EC2::InternetGateway' : r.networkAcl ? 'AWS::EC2::NetworkAcl' : 'AWS::EC2::NatGateway';
      if (typeof id === 'string') addResource(out, type, id, null, region, account);
    }
    if (typeof r.groupId === 'string') addResource(out, 'AWS::EC2::SecurityGroup', r.groupId, null, region, account);
  }

  const listed = record.resources;
  if (Array.isArray(listed)) {
    for (const item of listed) {
      if (!item || typeof item !== 'object') continue;
      const o = item as Obj;
      const arn = typeof o.ARN === 'string' ? o.ARN : typeof o.arn === 'string' ? o.arn : null;
      const type = typeof o.type === 'string' ? o.type : typeof o.ResourceType === 'string' ? o.ResourceType : 'Unknown';
      const name = typeof o.ResourceName === 'string' ? o.ResourceName : arn;
      if (type === 'AWS::Account' || (!arn && !name)) continue;
      addResource(out, type, name ?? arn!, arn, region, account);
    }
  }
  return out;
}

/** Adds a resource unless one of the same type and id is already there. */
function addResource(out: Resource[], type: string, rawId: string, arn: string | null, region: string | null, account: string | null): void {
  const id = displayId(rawId);
  for (let i = 0; i < out.length; i++) {
    const r = out[i]!;
    if (r.id === id && r.type === type) return;
  }
  out.push({ type, id, arn: arn ?? arnFor(type, rawId, region, account) });
}

/** The type's noun, e.g. `AWS::RDS::DBInstance` → `dbinstance` (memoized: types are few). */
const nouns = new Map<string, string>();
function noun(type: string): string {
  let n = nouns.get(type);
  if (n === undefined) {
    const i = type.lastIndexOf('::');
    n = (i >= 0 ? type.slice(i + 2) : type).toLowerCase();
    if (nouns.size < 10_000 && type.length <= 256) nouns.set(type, n);
  }
  return n;
}

const LEADING_VERB = /^(?:BatchGet|[A-Z][a-z]+)/;

/** An action split at its verb: `DeleteDBInstance` → [`Delete`, `DBInstance`]; null without one. */
export function splitAction(action: string): [verb: string, rest: string] | null {
  const m = LEADING_VERB.exec(action);
  return m ? [m[0], action.slice(m[0].length)] : null;
}

/** An action lower-cased, whole and after its verb (memoized: actions repeat). */
const actionParts = new Map<string, [whole: string, rest: string]>();
function actionNouns(action: string): [whole: string, rest: string] {
  let parts = actionParts.get(action);
  if (parts === undefined) {
    const a = action.toLowerCase();
    const split = splitAction(action);
    parts = [a, split ? split[1].toLowerCase() : a];
    if (actionParts.size < 10_000 && action.length <= 256) actionParts.set(action, parts);
  }
  return parts;
}

/**
 * The resource a person would name: the one whose kind the action names right after its verb
 * (`DeleteDBInstance` → the DB instance, `AttachUserPolicy` → the user, not the policy), else the one
 * whose kind appears anywhere in the action, else the first one found. `matched: false` when the
 * action names none of them (the summary then names the action's own noun).
 */
export function choosePrimary(action: string | null, resources: Resource[]): { resource: Resource | null; matched: boolean } {
  if (resources.length === 0) return { resource: null, matched: false };
  if (!action) return { resource: resources[0]!, matched: false };
  const [a, rest] = actionNouns(action);
  let lead: Resource | null = null;
  let leadLen = 0;
  let any: Resource | null = null;
  let anyLen = 0;
  for (const r of resources) {
    const n = noun(r.type);
    if (n.length > leadLen && rest.startsWith(n)) {
      lead = r;
      leadLen = n.length;
    }
    if (n.length > anyLen && a.includes(n)) {
      any = r;
      anyLen = n.length;
    }
  }
  const best = lead ?? any;
  return best ? { resource: best, matched: true } : { resource: resources[0]!, matched: false };
}
