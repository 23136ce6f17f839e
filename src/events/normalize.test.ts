import { describe, expect, it } from 'vitest';
import { records } from '../../test/helpers/fixtures.ts';
import type { RawRecord } from './model.ts';
import { derivedEventId, normalize } from './normalize.ts';
import { summarize } from './summary.ts';

/** Real published records (test/fixtures/records/INDEX.md names each case). */
const at = (file: string, i: number): RawRecord => {
  const r = records(file)[i];
  if (!r) throw new Error(`${file}[${i}] missing`);
  return r;
};

describe('normalize: who acted', () => {
  it.each([
    ['root sign-in without MFA', 'aws-docs-examples.json', 5, { type: 'Root', name: 'root', mfa: false }],
    ['root sign-in with MFA ("YES")', 'aws-docs-examples.json', 6, { type: 'Root', name: 'root', mfa: true }],
    ['IAM user sign-in without MFA', 'aws-docs-examples.json', 0, { type: 'IAMUser', name: 'anaya', userName: 'anaya', mfa: false }],
    ['IAM user sign-in with MFA', 'aws-docs-examples.json', 1, { type: 'IAMUser', mfa: true }],
    ['SSO session named after an e-mail', 'actors.json', 7, { type: 'AssumedRole', name: 'firstname.lastname@example.com', email: 'firstname.lastname@example.com', roleName: 'AWSReservedSSO_SecurityAudit_8df5ccd37b', sessionName: 'firstname.lastname@example.com' }],
    ['SSO session with sessionCredentialFromConsole', 'denied.json', 0, { type: 'AssumedRole', email: 'james@jsherz.com', name: 'james@jsherz.com' }],
    ['ordinary role session', 'writes-data.json', 4, { type: 'AssumedRole', name: 'AssumeNothing/devdsk', roleName: 'AssumeNothing', sessionName: 'devdsk', email: null }],
    ['AWS service', 'actors.json', 6, { type: 'AWSService', name: 'ec2.amazonaws.com', invokedBy: 'ec2.amazonaws.com' }],
    ['cross-account (AWSAccount)', 'actors.json', 0, { type: 'AWSAccount', name: 'account/777788889999', accountId: '777788889999' }],
    ['SAML user', 'actors.json', 3, { type: 'SAMLUser', name: 'SamlExample' }],
    ['web identity user', 'actors.json', 4, { type: 'WebIdentityUser' }],
    ['federated user', 'built-federated-user.json', 0, { type: 'FederatedUser' }],
    ['Identity Center user', 'signin.json', 7, { type: 'IdentityCenterUser', email: 'redacted@example.com', name: 'redacted@example.com' }],
    ['old Identity Center sign-in (Unknown)', 'actors.json', 13, { type: 'Unknown', email: 'bobsmith@example.com', name: 'bobsmith@example.com' }],
    ['hidden user name of a failed sign-in', 'signin.json', 2, { type: 'IAMUser', name: null, userName: 'HIDDEN_DUE_TO_SECURITY_REASONS' }],
  ])('%s', (_case, file, i, expected) => {
    const e = normalize(at(file, i));
    expect(e.actor).toMatchObject(expected);
  });

  it('names role sessions role/session (the ordinary case in the brief)', () => {
    const e = normalize(at('writes-data.json', 4));
    expect(e.actorKey).toBe(e.actor.arn);
    expect(e.actorKey).toMatch(/:assumed-role\/AssumeNothing\/devdsk$/);
  });
});

describe('normalize: outcome', () => {
  it.each([
    ['success', 'aws-docs-examples.json', 0, 'success', null],
    ['failed ConsoleLogin (no errorCode, ConsoleLogin: Failure)', 'signin.json', 1, 'failed', null],
    ['SCP denial', 'denied.json', 0, 'denied', 'AccessDenied'],
    ['permissions boundary denial', 'derived.json', 1, 'denied', 'AccessDenied'],
    ['AccessDenied', 'denied.json', 3, 'denied', 'AccessDenied'],
    ['Client.UnauthorizedOperation', 'stratus-aws.credential-access.ec2-get-password-data.json', 0, 'denied', 'Client.UnauthorizedOperation'],
    ['NoSuchEntity is a failure, not a denial', 'denied.json', 4, 'failed', 'NoSuchEntity'],
    ['TrailNotFoundException', 'denied.json', 5, 'failed', 'TrailNotFoundException'],
    ['errorCode "200" on a success', 'actors.json', 9, 'success', '200'],
  ])('%s', (_case, file, i, outcome, code) => {
    const e = normalize(at(file, i));
    expect(e.outcome).toBe(outcome);
    expect(e.errorCode).toBe(code);
  });

  it('reads denials as attempts and says what denied them', () => {
    expect(summarize(normalize(at('denied.json', 0)))).toMatch(/^james@jsherz\.com tried to .*, but was denied by a service control policy$/);
    expect(summarize(normalize(at('derived.json', 1)))).toMatch(/tried to assume .*, but was denied by a permissions boundary$/);
    expect(summarize(normalize(at('signin.json', 1)))).toMatch(/^JaneDoe failed to sign in to the AWS console/);
  });
});

describe('normalize: how', () => {
  it.each([
    ['sessionCredentialFromConsole', 'denied.json', 0, 'console', 'console'],
    ['console.ec2.amazonaws.com agent', 'otrf-ec2-proxy-s3-exfiltration.ndjson', 0, 'console', 'console'],
    ['browser on a sign-in', 'signin.json', 0, 'console', 'console'],
    ['Terraform', 'user-agents.json', 0, 'iac', 'terraform'],
    ['boto3', 'user-agents.json', 2, 'sdk', 'boto3'],
    ['aws-cli v1', 'actors.json', 0, 'cli', 'aws-cli'],
    ['aws-sdk-go', 'actors.json', 10, 'sdk', 'aws-sdk-go'],
    ['AWS service', 'actors.json', 6, 'service', 'ec2.amazonaws.com'],
    ['AWS Internal', 'aws-docs-examples.json', 18, 'service', 'AWS Internal'],
  ])('%s', (_case, file, i, via, tool) => {
    const e = normalize(at(file, i));
    expect([e.via, e.tool]).toEqual([via, tool]);
  });

  it('keeps only IP addresses in sourceIp and the raw value in sourceAddress', () => {
    const svc = normalize(at('actors.json', 6));
    expect(svc.sourceIp).toBeNull();
    expect(svc.sourceAddress).toBe('ec2.amazonaws.com');
    const proxied = normalize(at('actors.json', 9));
    expect(proxied.sourceIp).toBe('81.2.69.142');
    expect(proxied.sourceAddress).toBe('81.2.69.142, 192.168.10.10');
  });
});

describe('normalize: what and where', () => {
  it('takes the account from recipientAccountId, else the actor', () => {
    const e = normalize(at('otrf-ec2-proxy-s3-exfiltration.ndjson', 0));
    expect(e.account).toBe('123456789123');
    const noRecipient = { ...at('otrf-ec2-proxy-s3-exfiltration.ndjson', 0) };
    delete noRecipient.recipientAccountId;
    expect(normalize(noRecipient).account).toBe('123456789123');
  });

  it.each([
    ['DeleteDBInstance', 'writes-data.json', 0, 'AWS::RDS::DBInstance', 'test-cloudtrail-event-instance-31611-restored'],
    ['DeleteBucket', 'writes-data.json', 4, 'AWS::S3::Bucket', 'my-test-bucket-cross-account'],
    ['AuthorizeSecurityGroupIngress', 'stratus-aws.exfiltration.ec2-security-group-open-port-22-ingress.json', 0, 'AWS::EC2::SecurityGroup', null],
    ['CreateKeyPair', 'aws-docs-examples.json', 12, 'AWS::EC2::KeyPair', 'mykeypair'],
    ['AttachUserPolicy names the user, not the policy', 'stratus-aws.persistence.iam-create-admin-user.json', 0, 'AWS::IAM::User', null],
    ['PutEventSelectors', 'stratus-aws.defense-evasion.cloudtrail-event-selectors.json', 0, 'AWS::CloudTrail::Trail', null],
    ['DeleteFlowLogs', 'stratus-aws.defense-evasion.vpc-remove-flow-logs.json', 0, 'AWS::EC2::FlowLog', 'fl-0e17aa62a21d4bbfe'],
    ['TerminateInstances', 'user-agents.json', 0, 'AWS::EC2::Instance', 'i-00000000000000000'],
    ['RunInstances (from the response)', 'writes-network.json', 5, 'AWS::EC2::Instance', 'i-0f2f135de18b555e3'],
    ['DeleteDetector', 'writes-logging.json', 4, 'AWS::GuardDuty::Detector', '82c919daa523bc69d203c24868c06849'],
    ['DeleteLogGroup', 'writes-logging.json', 5, 'AWS::Logs::LogGroup', 'cloudtrail-log-group-test'],
    ['DisableKey', 'writes-data.json', 5, 'AWS::KMS::Key', '65479477-67d5-4b84-b71c-d540f7a8f31f'],
  ])('primary resource of %s', (_case, file, i, type, id) => {
    const e = normalize(at(file, i));
    expect(e.primaryResource?.type).toBe(type);
    if (id) expect(e.primaryResource?.id).toBe(id);
    expect(e.resources).toContainEqual(e.primaryResource);
  });

  it('reads readOnly as written and infers it only when absent', () => {
    const r = at('otrf-ec2-proxy-s3-exfiltration.ndjson', 0);
    expect(normalize(r).readOnly).toBe(true);
    expect(normalize({ ...r, readOnly: 'false' }).readOnly).toBe(false);
    const { readOnly: _drop, ...without } = { ...at('writes-data.json', 0), readOnly: undefined };
    expect(normalize({ ...without, eventName: 'DeleteDBInstance' }).readOnly).toBe(false);
    expect(normalize({ ...without, eventName: 'DescribeDBInstances' }).readOnly).toBe(true);
    expect(normalize({ ...without, eventName: 'Frobnicate' }).readOnly).toBeNull();
  });
});

describe('normalize: ids and bad records', () => {
  it('derives a stable id for a record without eventID', () => {
    const r = at('aws-docs-examples.json', 10);
    expect(r.eventID).toBeUndefined();
    const e = normalize(r);
    expect(e.derivedId).toBe(true);
    expect(e.eventId).toBe(derivedEventId(JSON.parse(JSON.stringify(r))));
    expect(e.eventId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it.each([
    [null, /got null/],
    [[1], /got an array/],
    [{ eventName: 'X' }, /missing eventSource, eventTime/],
    [{ eventName: 'X', eventSource: 's3.amazonaws.com', eventTime: 'redacted' }, /eventTime "redacted" is not a date/],
    [{ eventName: 'X', eventSource: 's3.amazonaws.com', eventTime: '2024-01-01T00:00:00Z', userIdentity: 'me' }, /userIdentity is not an object/],
    // Dates JavaScript reads but PostgreSQL cannot hold as written: one of them failed its whole batch.
    [{ eventName: 'X', eventSource: 's3.amazonaws.com', eventTime: '+010000-01-01T00:00:00Z' }, /eventTime "\+010000-01-01T00:00:00Z" is outside the years 0001 to 9999/],
    [{ eventName: 'X', eventSource: 's3.amazonaws.com', eventTime: '0000-06-01T00:00:00Z' }, /eventTime "0000-06-01T00:00:00Z" is outside the years 0001 to 9999/],
    [{ eventName: 'X', eventSource: 's3.amazonaws.com', eventTime: '-000001-01-01T00:00:00Z' }, /is outside the years 0001 to 9999/],
    [{ eventName: 'X', eventSource: 's3.amazonaws.com', eventTime: 8.64e15 }, /eventTime 8640000000000000 is outside the years 0001 to 9999/],
  ])('rejects %j with a reason', (value, reason) => {
    expect(() => normalize(value as RawRecord)).toThrow(reason);
  });

  it('refuses a record nested more than 64 levels (objects or arrays), and takes one nested exactly 64', () => {
    const nest = (levels: number, arrays: boolean): unknown => {
      let v: unknown = 'leaf';
      for (let i = 0; i < levels; i++) v = arrays && i % 2 ? [v] : { x: v };
      return v;
    };
    // The record itself is a level: requestParameters nested n deep makes the record n + 1.
    for (const arrays of [false, true]) {
      expect(() => normalize({ ...at('aws-docs-examples.json', 0), requestParameters: nest(63, arrays) } as RawRecord)).not.toThrow();
      expect(() => normalize({ ...at('aws-docs-examples.json', 0), requestParameters: nest(64, arrays) } as RawRecord)).toThrow(/nested more than 64 levels deep/);
    }
  });

  it('finds a too-deep branch wherever it sits: among wide arrays, after and before shallower siblings', () => {
    const nest = (levels: number): unknown => {
      let v: unknown = 'leaf';
      for (let i = 0; i < levels; i++) v = i % 3 ? { x: v } : [v];
      return v;
    };
    const wide = Array.from({ length: 50_000 }, (_, i) => ({ i, tags: [{ k: 'a' }] }));
    // The record is level 1 and requestParameters level 2: first and second may nest 62 more, what
    // sits in list or wide 61 more.
    const ok = { wide, first: nest(62), second: nest(61), list: [nest(10), nest(61)] };
    expect(() => normalize({ ...at('aws-docs-examples.json', 0), requestParameters: ok } as RawRecord)).not.toThrow();
    for (const deep of [
      { ...ok, second: nest(63) },
      { ...ok, first: nest(63) },
      { ...ok, list: [nest(10), nest(61), nest(62)] },
      { ...ok, wide: [...wide.slice(0, 100), nest(62), ...wide.slice(100)] },
    ]) {
      expect(() => normalize({ ...at('aws-docs-examples.json', 0), requestParameters: deep } as RawRecord)).toThrow(/nested more than 64 levels deep/);
    }
  });

  it('judges depth by the record’s own values: a polluted Object.prototype does not make every record look deep', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.pollutedDeep = JSON.parse(`${'{"x":'.repeat(100)}1${'}'.repeat(100)}`);
    try {
      expect(normalize(at('aws-docs-examples.json', 0)).action).toBe(at('aws-docs-examples.json', 0).eventName);
    } finally {
      delete proto.pollutedDeep;
    }
  });

  it('normalizes CloudTrail Insights events by the call they are about', () => {
    const e = normalize(at('insights.json', 0));
    expect([e.action, e.service, e.eventCategory]).toEqual(['CompleteLifecycleAction', 'autoscaling.amazonaws.com', 'Insight']);
    expect(summarize(e)).toBe('CloudTrail Insights saw unusual activity in calls to CompleteLifecycleAction (autoscaling.amazonaws.com) in us-east-1 of account 838185438692 on 2020-07-21 at 20:56:00 UTC');
  });
});

describe('summaries', () => {
  it.each([
    ['writes-data.json', 0, 'test@elastic.co deleted the RDS database instance test-cloudtrail-event-instance-31611-restored in us-east-1 with the AWS CLI (IP 216.160.83.56) on 2024-10-10 at 15:59:37 UTC'],
    ['signin.json', 2, 'someone (AWS hides the user name of failed sign-ins) failed to sign in to the AWS console in us-east-2 (IP 192.0.2.101) on 2015-03-31 at 22:20:42 UTC'],
    ['user-agents.json', 0, 'example terminated the EC2 instance i-00000000000000000 in us-east-2 through Terraform (IP 127.0.0.1) on 2025-03-07 at 00:37:45 UTC'],
    ['actors.json', 6, 'the AWS service ec2.amazonaws.com assumed the IAM role ec2-instance-role in us-east-1 on 2024-10-08 at 10:15:32 UTC'],
    ['actors.json', 14, 'the root user of account 123456789012 set the versioning of the S3 bucket bucket in us-west-2 (IP 111.111.111.111) on 2019-01-01 at 00:00:00 UTC'],
    ['stratus-aws.persistence.iam-create-admin-user.json', 0, /^christophe attached a policy to the IAM user \S+ in \S+ with Stratus Red Team on 2024-08-01 at 13:33:28 UTC$/],
    ['writes-logging.json', 1, /^Tester stopped logging on the CloudTrail trail example-trail in us-west-2 from the AWS console/],
  ])('%s[%i]', (file, i, expected) => {
    const s = summarize(normalize(at(file, i)));
    if (typeof expected === 'string') expect(s).toBe(expected);
    else expect(s).toMatch(expected);
  });

  it('reads an event name without the API version CloudTrail appends to it (Lambda, CloudFront)', () => {
    const call = (eventName: string, eventSource: string) =>
      summarize(normalize({ eventName, eventSource, eventTime: '2024-01-01T00:00:00Z', awsRegion: 'eu-west-1', userIdentity: { type: 'IAMUser', userName: 'ann', accountId: '1' }, requestParameters: { functionName: 'orders-api' } }));
    expect(call('UpdateFunctionConfiguration20150331v2', 'lambda.amazonaws.com')).toBe('ann updated the configuration of the Lambda function orders-api in eu-west-1 on 2024-01-01 at 00:00:00 UTC');
    expect(call('UpdateFunctionCode20150331v2', 'lambda.amazonaws.com')).toBe(call('UpdateFunctionCode', 'lambda.amazonaws.com'));
    expect(call('UpdateDistribution2020_05_31', 'cloudfront.amazonaws.com')).toMatch(/^ann updated a distribution in /);
  });

  it('has a readable fallback for any call', () => {
    const e = normalize({ eventName: 'FrobnicateWidget', eventSource: 'example.amazonaws.com', eventTime: '2024-01-01T00:00:00Z', awsRegion: 'eu-west-1', userIdentity: { type: 'IAMUser', userName: 'ann', accountId: '1' } });
    expect(summarize(e)).toBe('ann called FrobnicateWidget in eu-west-1 on 2024-01-01 at 00:00:00 UTC');
  });
});
