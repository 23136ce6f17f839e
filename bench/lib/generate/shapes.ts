/**
 * Which real records the generator builds on (bench/shapes/records.json, origins and licences in
 * bench/shapes/SOURCES.md), how often each appears, who may perform it, and which of its values are
 * replaced by fresh ones (slots, see slotValue in records.ts).
 */

/**
 * Actor letters (who may perform a shape):
 *   h human IAM user (console or CLI)     u IAM user used by a program (long-term AKIA key)
 *   s SSO session (AWSReservedSSO_...)    c CI/automation role (Terraform, GitHub Actions, Jenkins)
 *   e EC2 instance-profile session        l Lambda execution-role session
 *   k ECS task-role session               g service-linked role session (AWS Config, Security Hub)
 *   r root                                 v AWS service (AWSService, invokedBy)
 *   i AWS Internal (service events)
 */
export interface ShapeSpec {
  id: string;
  w: number;
  actors: string;
  /** identity variant: API call (default), console sign-in, sign-in record without `arn`. */
  ident?: 'signin' | 'signinNoArn';
  /**
   * [literal, replacement]: replace the literal in every string of the record. The replacement is a
   * slot name, or text with `{slot}` marks; a literal starting with `=` must match the whole string.
   */
  sub?: Array<[string, string]>;
  /** 12-digit ids that are another account, not the recipient. */
  peer?: string[];
  /** Force global (logged in us-east-1) even if the event source is regional. */
  global?: boolean;
  /** Set values at dotted paths before substitution (`@slot` strings become raw JSON). */
  set?: Record<string, unknown>;
}

export const SHAPES: ShapeSpec[] = [
  // Console-driven EC2 and friends (OTRF CloudGoat capture).
  { id: 'otrf-ec2-describe-instances', w: 40, actors: 'hsucekgr', sub: [['i-044b1baf4c96e1b62', 'inst']] },
  { id: 'otrf-ec2-describe-instance-types', w: 5, actors: 'hsc' },
  { id: 'otrf-ec2-describe-addresses', w: 6, actors: 'hscg', sub: [['i-044b1baf4c96e1b62', 'inst']] },
  { id: 'otrf-ec2-describe-volumes', w: 12, actors: 'hscgek' },
  { id: 'otrf-ec2-describe-snapshots', w: 6, actors: 'hscg' },
  { id: 'otrf-ec2-describe-tags', w: 10, actors: 'hsucek' },
  { id: 'otrf-ec2-describe-availability-zones', w: 8, actors: 'hsuckel' },
  { id: 'otrf-ec2-describe-instance-status', w: 10, actors: 'hscek', sub: [['i-044b1baf4c96e1b62', 'inst']] },
  { id: 'otrf-ec2-describe-volume-status', w: 4, actors: 'hsc', sub: [['vol-0fec73ea9cce65247', 'vol']] },
  { id: 'otrf-ec2-describe-security-groups', w: 12, actors: 'hscg' },
  { id: 'otrf-elb-describe-load-balancers', w: 8, actors: 'hsckg' },
  { id: 'otrf-cloudwatch-describe-alarms', w: 8, actors: 'hscg' },
  { id: 'otrf-compute-optimizer-get-enrollment-status', w: 2, actors: 'hs' },
  {
    id: 'otrf-sts-assume-role-by-ec2',
    w: 15,
    actors: 'v',
    sub: [
      ['i-044b1baf4c96e1b62', 'tgtSess'],
      ['arn:aws:iam::123456789123:role/MordorLogCollectorStack-LogCollectorRole-1JJTG88NNY4KN', 'tgtRoleArn'],
      ['Sep 14, 2020, 7:01:26 AM', 'dB+21600'],
      ['ASIA5FLZVX4OLY6BJN4L', 'tgtAsia'],
    ],
    set: { 'responseElements.credentials.sessionToken': 'tgtToken' },
  },
  // S3 data events and ListBuckets.
  {
    id: 'otrf-s3-list-objects',
    w: 25,
    actors: 'hsucekl',
    sub: [
      ['mordors3stack-s3bucket-llp2yingx64a', 'bucket'],
      ['CwG1p2GevuppO1cfaaU0oSCg6Bd6Hwc3Rf/ySaU2HejdK532VxwbHA6PUvtvWIkQmJkoyA3LCJg=', 'amzId'],
    ],
    set: { 'additionalEventData.bytesTransferredOut': '@bytesList' },
  },
  {
    id: 'otrf-s3-get-object',
    w: 45,
    actors: 'hsucekl',
    sub: [
      ['mordors3stack-s3bucket-llp2yingx64a', 'bucket'],
      ['=ring.txt', 'objKey'],
      ['/ring.txt', '/{objKey}'],
      ['gyAgfHKWBQDUmPzc6Za14YfKLUew1NZi81kJ1w95x6ibnEsBn7rpYrjnoTeUrjEGGMfXo7BgS70=', 'amzId'],
    ],
    set: { 'additionalEventData.bytesTransferredOut': '@bytesObj' },
  },
  {
    id: 'otrf-s3-list-buckets',
    w: 6,
    actors: 'hsucg',
    global: true,
    sub: [['kYiD7zKnS/MdFmNlhWneMJr7EOTZev+JvUOTM34Ho5YVRcTX4gg/C8hhd9hjHV65aB1Zw6GNB9U=', 'amzId']],
  },
  // Stratus Red Team detonations (anonymised real captures).
  {
    id: 'srt-ec2-get-password-data-denied',
    w: 1.5,
    actors: 'sce',
    sub: [
      ['arn:aws:sts::751353041310:assumed-role/stratus-red-team-ec2-get-password-data-role/aws-go-sdk-1722375070115152000', 'actorArn'],
      ['i-i2jnm5swa59p4fxg', 'inst'],
    ],
  },
  {
    id: 'srt-sts-assume-role',
    w: 20,
    actors: 'hsuc',
    sub: [
      ['arn:aws:sts::457448411975:assumed-role/stratus-red-team-ec2-get-password-data-role/aws-go-sdk-1722375070115152000', 'tgtSessArn'],
      ['arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role', 'tgtRoleArn'],
      ['AROAMLQ9F6KHQ07JKA0WY:aws-go-sdk-1722375070115152000', 'tgtAroaSess'],
      ['aws-go-sdk-1722375070115152000', 'tgtSess'],
      ['ASIA7RQR64ZW9JXKWPUO', 'tgtAsia'],
      ['Jul 30, 2024, 9:46:15 PM', 'dB+3600'],
    ],
    set: { 'responseElements.credentials.sessionToken': 'tgtToken', 'requestParameters.durationSeconds': 3600 },
  },
  {
    id: 'srt-sts-assume-role-denied',
    w: 3,
    actors: 'hsu',
    sub: [['arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role', 'tgtRoleArn']],
  },
  { id: 'srt-secretsmanager-batch-get-secret-value', w: 6, actors: 'celk', sub: [['StratusRedTeam', 'tagKey']] },
  { id: 'srt-ssm-describe-parameters', w: 5, actors: 'hsc' },
  {
    id: 'srt-ssm-get-parameters',
    w: 18,
    actors: 'celks',
    sub: [
      ['/credentials/stratus-red-team/credentials-12', 'param'],
      ['/credentials/stratus-red-team/credentials-40', 'param:1'],
    ],
  },
  { id: 'srt-cloudtrail-put-event-selectors', w: 0.2, actors: 'sc', sub: [['stratus-red-team-ctes-trail-khlvciwdor', 'trail']] },
  {
    id: 'srt-route53resolver-delete-query-log-config',
    w: 0.2,
    actors: 'sc',
    sub: [
      ['rqlc-4473f20ca554c07', 'rqlc'],
      ['2024-07-31T14:23:44.841442289Z', 'pastNano'],
      ['tf-r53-resolver-query-log-config-20240731142344425800000001', 'pastTf'],
      ['stratus-red-team-dns-delete-bucket-bxxclslsdp', 'bucket'],
      ['stratus-red-team-dns-delete-config-bxxclslsdp', 'rqlcName'],
    ],
  },
  { id: 'srt-ec2-delete-flow-logs', w: 0.3, actors: 'sc', sub: [['fl-0e17aa62a21d4bbfe', 'fl']] },
  {
    id: 'srt-ec2-run-instances-denied',
    w: 1.5,
    actors: 'sc',
    sub: [
      ['arn:aws:sts::751353041310:assumed-role/stratus-red-team-ec2lui-role-idtzskbvtd/aws-go-sdk-1722511821294449000', 'actorArn'],
      ['5dd59182-3917-421c-9b2c-7c92954b66ee', 'uuid'],
      ['p2.xlarge', 'instType'],
      ['ami-aCBbfd13bdb1d1E4b', 'ami'],
      ['subnet-0e540f0c7ffb48ae9', 'subnet'],
    ],
  },
  {
    id: 'srt-ssm-describe-instance-information',
    w: 20,
    actors: 'hsce',
    sub: [
      ['i-00456A8D163f546Ff', 'inst'],
      ['i-cfE23b1a7ceba6f86', 'inst:1'],
      ['i-9D40CCFc0aE91CFa5', 'inst:2'],
    ],
  },
  {
    id: 'srt-ssm-get-command-invocation',
    w: 4,
    actors: 'hsc',
    sub: [
      ['4e973221-443e-4a56-a0b4-1cb3c7923fc3', 'uuid'],
      ['i-9D40CCFc0aE91CFa5', 'inst'],
    ],
  },
  {
    id: 'srt-ssm-send-command',
    w: 1.5,
    actors: 'hsc',
    sub: [
      ['i-00456A8D163f546Ff', 'inst'],
      ['i-cfE23b1a7ceba6f86', 'inst:1'],
      ['i-9D40CCFc0aE91CFa5', 'inst:2'],
      ['4e973221-443e-4a56-a0b4-1cb3c7923fc3', 'uuid'],
      ['Aug 2, 2024, 11:08:56 AM', 'dB+7200'],
      ['Aug 2, 2024, 9:08:56 AM', 'dB+0'],
    ],
  },
  {
    id: 'srt-ec2-authorize-security-group-ingress',
    w: 0.8,
    actors: 'hsc',
    sub: [
      ['208.236.235.254/0', 'cidr'],
      ['sg-003dc7f1f1c686164', 'sg'],
      ['sgr-09b3e3d2ca1edf2a2', 'sgr'],
    ],
  },
  {
    id: 'srt-ec2-modify-snapshot-attribute',
    w: 0.3,
    actors: 'sc',
    peer: ['098797384747'],
    sub: [['snap-041993b54a9b3af6f', 'snap']],
  },
  { id: 'srt-bedrock-invoke-model', w: 8, actors: 'slk', sub: [['anthropic.claude-3-sonnet-20240229-v1:0', 'model']] },
  { id: 'srt-bedrock-get-foundation-model-availability', w: 2, actors: 's', sub: [['anthropic.claude-3-sonnet-20240229-v1:0', 'model']] },
  {
    id: 'srt-ec2-instance-connect-send-ssh-public-key',
    w: 1.5,
    actors: 'hs',
    sub: [
      ['i-fDb357cB7e99ad973', 'inst'],
      ['AAAAC3NzaC1lZDI1NTE5AAAAIOtAlK45MAEWZ7MUY2QEmi3M6W+peGL3VCrc0qH54xRu', 'sshKey'],
    ],
  },
  { id: 'srt-iam-update-assume-role-policy', w: 0.3, actors: 'sc', sub: [['stratus-red-team-backdoor-r-role', 'role']] },
  {
    id: 'srt-iam-attach-user-policy',
    w: 0.3,
    actors: 'hsc',
    sub: [
      ['malicious-iam-user', 'iamUser'],
      ['policy/AdministratorAccess', 'policy/{policy}'],
    ],
  },
  {
    id: 'srt-iam-create-access-key',
    w: 0.3,
    actors: 'hsc',
    sub: [
      ['malicious-iam-user', 'iamUser'],
      ['AKIAXAFZN8JEPF6L682H', 'akiaNew'],
      ['Aug 1, 2024 1:33:28 PM', 'dA'],
    ],
  },
  {
    id: 'srt-iam-create-user',
    w: 0.3,
    actors: 'hsc',
    sub: [
      ['malicious-iam-user', 'newUser'],
      ['=StratusRedTeam', 'teamKey'],
      ['=true', 'teamName'],
      ['AIDAL1XMLVWIUOK8KAF0', 'aidaNew'],
      ['Aug 1, 2024 1:33:28 PM', 'dA'],
    ],
  },
  { id: 'srt-sts-get-caller-identity', w: 15, actors: 'hsucekl' },
  {
    id: 'srt-iam-delete-login-profile-error',
    w: 0.1,
    actors: 'hs',
    sub: [['stratus-red-team-login-profile-user', 'iamUser']],
  },
  {
    id: 'srt-iam-create-login-profile',
    w: 0.2,
    actors: 'hs',
    sub: [
      ['stratus-red-team-login-profile-user', 'iamUser'],
      ['Aug 1, 2024 1:42:21 PM', 'dA'],
    ],
  },
  {
    id: 'srt-lambda-update-function-configuration',
    w: 1,
    actors: 'sc',
    sub: [
      ['stratus-red-team-lambda-layer-lambda-role', 'fnRole'],
      ['stratus-red-team-lambda-layer-my-lambda-extension', 'layer'],
      ['stratus-red-team-lambda-layer-simpleLambda', 'fn'],
      ['yoqgXJ3G1ROsFXLUfkxIKHbCiKf2eKCiIkxoktNUoNE=', 'shaB64'],
      ['2024-07-30T21:57:15.000+0000', 'lm'],
      ['7e710d48-c7d2-419c-b0bb-2f014bb742d8', 'uuid'],
      ['fa339b789ded6e524b73b2ce2d1529eb06258c05ffa71ea5c8283c8dc106fbe3', 'hex64'],
    ],
  },
  {
    id: 'srt-rolesanywhere-create-profile',
    w: 0.1,
    actors: 'sc',
    sub: [
      ['malicious-rolesanywhere-profile', 'raProfile'],
      ['stratus-red-team-trust-anchor-role', 'role'],
      ['2024-08-01T13:56:39.832628281Z', 'nano'],
      ['910042eb-8463-427d-8095-6fd60ac303d9', 'uuid'],
    ],
  },
  {
    id: 'srt-iam-update-login-profile',
    w: 0.1,
    actors: 'hsr',
    sub: [['stratus-red-team-update-login-profile-user', 'iamUser']],
  },
  // AWS CloudTrail user guide examples (MIT-0 sample code).
  { id: 'docs-signin-console-login-iam-user', w: 6, actors: 'h', ident: 'signin', sub: [['https://console.aws.amazon.com/sns', 'loginTo']] },
  {
    id: 'docs-signin-console-login-iam-user-mfa',
    w: 8,
    actors: 'h',
    ident: 'signin',
    sub: [
      ['/anaya/', '/{actorName}/'],
      ['AAAAAAAABBBBBBBBCCCCCCCCDD', 'u2f'],
    ],
  },
  { id: 'docs-signin-console-login-iam-user-failure', w: 1, actors: 'h', ident: 'signinNoArn' },
  { id: 'docs-signin-check-mfa', w: 2, actors: 'h', ident: 'signinNoArn' },
  { id: 'docs-signin-console-login-root', w: 0.5, actors: 'r', ident: 'signin' },
  { id: 'docs-signin-console-login-root-mfa', w: 1, actors: 'r', ident: 'signin' },
  { id: 'docs-signin-console-login-root-failure', w: 0.3, actors: 'r', ident: 'signin' },
  { id: 'docs-iam-enable-mfa-device-root', w: 0.1, actors: 'r' },
  { id: 'docs-signin-password-updated-root', w: 0.1, actors: 'r', ident: 'signin' },
  { id: 'docs-ec2-start-instances', w: 2, actors: 'hsc', sub: [['i-ebeaf9e2', 'inst']] },
  { id: 'docs-ec2-stop-instances', w: 2, actors: 'hsc', sub: [['i-ebeaf9e2', 'inst']] },
  {
    id: 'docs-ec2-create-key-pair',
    w: 0.4,
    actors: 'hsc',
    sub: [
      ['mykeypair', 'keyName'],
      ['30:1d:46:d0:5b:ad:7e:1b:b6:70:62:8b:ff:38:b5:e9:ab:5d:b8:21', 'fp'],
    ],
  },
  {
    id: 'docs-iam-add-user-to-group',
    w: 0.3,
    actors: 'hsc',
    sub: [
      ['=Bob', 'iamUser'],
      ['=admin', 'group'],
    ],
  },
  {
    id: 'docs-iam-create-role',
    w: 0.5,
    actors: 'sc',
    sub: [
      ['TestRole', 'newRole'],
      ['AROAIUU2EOWSWPGX2UJUO', 'aroaNew'],
      ['Mar 25, 2014 8:17:37 PM', 'dA'],
    ],
  },
  { id: 'docs-cloudtrail-update-trail-error', w: 0.2, actors: 'sc', sub: [['myTrail2', 'badTrail']] },
  { id: 'docs-kms-rotate-key-service-event', w: 1, actors: 'i', sub: [['7944f0ec-EXAMPLE', 'kmsKey']] },
  { id: 'docs-cloudtrail-create-service-linked-channel', w: 0.1, actors: 'i', sub: [['7944f0ec-EXAMPLE', 'uuid']] },
];
