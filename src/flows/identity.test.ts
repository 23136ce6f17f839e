import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findings, records } from '../../test/fixtures/flows/load.ts';

/**
 * The identity and workload flows against every recorded fixture the project holds: each raises
 * only on the records that really are what it detects (the Stratus detonations and the OTRF
 * exfiltration), never on the benign ones (console work, Terraform, sign-ins, the AWS docs' examples).
 */
const D2 = new Set([
  'console-credentials-changed', 'federation-token-issued', 'external-identity-trust-added', 'role-assumed-first-time',
  'ec2-user-data-modified', 'ec2-instance-secrets-read', 'ec2-unusual-instance-type', 'ec2-serial-console',
  'ec2-instance-connect-many', 'ssm-session-many-instances', 'ssm-command-many-instances',
  'instance-credentials-used-outside', 'workload-discovery-burst', 'iam-change-from-workload',
]);

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures');

/** Fixture files of CloudTrail records (the digest and the redacted sign-ins are not replayable through detect). */
function files(): string[] {
  const out: string[] = [];
  for (const dir of ['records', 'flows']) {
    for (const f of readdirSync(join(FIXTURES, dir)).sort()) {
      if (/\.(json|ndjson)$/.test(f) && f !== 'cloudtrail-digest.json' && f !== 'signin.json') out.push(`${dir}/${f}`);
    }
  }
  return out;
}

function raised(config: Parameters<typeof findings>[2]): string[] {
  const out: string[] = [];
  for (const f of files()) for (const x of findings(records(f), undefined, config)) if (D2.has(x.flow)) out.push(`${f}: ${x.flow}`);
  return out;
}

describe('identity and workload flows on every fixture', () => {
  it('raise only on the attacks recorded there', () => {
    expect(raised({})).toEqual([
      'records/stratus-aws.credential-access.ec2-get-password-data.json: ec2-instance-secrets-read',
      'records/stratus-aws.execution.ec2-launch-unusual-instances.json: ec2-unusual-instance-type',
      'records/stratus-aws.execution.ssm-send-command.json: ssm-command-many-instances',
      'records/stratus-aws.lateral-movement.ec2-instance-connect.json: ec2-instance-connect-many',
      'records/stratus-aws.persistence.iam-create-user-login-profile.json: console-credentials-changed',
      'records/stratus-aws.persistence.rolesanywhere-create-trust-anchor.json: external-identity-trust-added',
      'records/stratus-aws.privilege-escalation.iam-update-user-login-profile.json: console-credentials-changed',
    ]);
  });

  it('with egress ranges set, add the instance sessions used from elsewhere (and nothing else)', () => {
    const extra = raised({ expected: { egressCidrs: ['10.0.0.0/8'] } }).filter((x) => x.endsWith('instance-credentials-used-outside'));
    expect(extra).toEqual([
      // ssm-agent on an instance reporting from 81.2.69.144: outside 10.0.0.0/8, as it would be on a real deployment with these ranges.
      'records/actors.json: instance-credentials-used-outside',
      'records/otrf-ec2-proxy-s3-exfiltration.ndjson: instance-credentials-used-outside',
    ]);
  });
});
