import { describe, expect, it } from 'vitest';
import { TrailbotError } from '../errors.ts';
import { compileFlows } from './compile.ts';
import { defaultFlowsConfig, flowsConfigSchema, parseFlowsConfig } from './config.ts';
import { FLOWS } from './registry.ts';

function problem(raw: unknown): TrailbotError {
  try {
    parseFlowsConfig(raw);
  } catch (e) {
    return e as TrailbotError;
  }
  throw new Error('expected an error');
}

describe('flows configuration', () => {
  it('registers every issue id exactly once', () => {
    const ids = FLOWS.map((f) => f.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.sort()).toEqual(
      [
        'root-activity', 'console-login-without-mfa', 'console-login-failures', 'unauthorized-api-calls', 'iam-policy-change',
        'cloudtrail-config-change', 'kms-key-disabled-or-deleted', 's3-bucket-policy-change', 'config-service-change',
        'security-group-change', 'network-acl-change', 'network-gateway-change', 'route-table-change', 'vpc-change',
        'organizations-change', 'clickops', 'clickops-burst', 'clickops-production', 'key-pair-change', 'access-key-created',
        'iam-user-created-or-deleted', 'admin-policy-attached', 'scp-denied', 'unexpected-region', 'new-service',
        'sensitive-delete', 'logging-disabled',
        // Detection II (issue 12)
        'ebs-snapshot-shared', 'ami-shared', 'rds-snapshot-shared', 's3-bucket-shared-externally', 'resource-made-public',
        'rds-instance-made-public', 'lambda-exposed', 'lambda-code-changed', 'role-trust-external', 'console-credentials-changed',
        'federation-token-issued', 'external-identity-trust-added', 'ec2-user-data-modified', 'ec2-instance-secrets-read',
        'ec2-unusual-instance-type', 'ec2-serial-console', 'ec2-instance-connect-many', 'ssm-session-many-instances',
        'ssm-command-many-instances', 'instance-credentials-used-outside', 'workload-discovery-burst', 'iam-change-from-workload',
        'secrets-bulk-read', 'secrets-batch-read', 'ssm-parameters-bulk-decrypt', 'ses-enumeration', 'bedrock-model-access-enabled',
        'sagemaker-lifecycle-config', 'organization-leave-attempt', 'critical-action-denied', 'trail-bucket-short-lifecycle',
        'data-protection-disabled', 'backup-or-image-deleted', 'data-exported', 's3-objects-mass-deleted', 's3-sse-c-encryption',
        's3-ransom-note', 'detection-tampered', 'access-key-quarantined', 'route53-domain-transfer', 'role-assumed-first-time',
      ].sort(),
    );
  });

  it('accepts nothing at all: every flow on with its defaults', () => {
    const c = compileFlows(defaultFlowsConfig());
    expect(c.enabled).toHaveLength(FLOWS.length);
    expect(c.byId.get('clickops-burst')!.moreThan).toBe(20);
  });

  it('disables flows, changes severity, parameters, dedup period and allow-lists', () => {
    const c = compileFlows(
      parseFlowsConfig({
        'new-service': { enabled: false },
        'clickops-burst': { severity: 'high', params: { moreThan: 30, window: '12h' }, dedupPeriod: '2d', allow: [] },
      }),
    );
    expect(c.byId.get('new-service')!.enabled).toBe(false);
    expect(c.enabled.map((f) => f.id)).not.toContain('new-service');
    const b = c.byId.get('clickops-burst')!;
    expect([b.severity, b.moreThan, b.windowMs, b.dedupMs, b.allow.size]).toEqual(['high', 30, 12 * 3600_000, 2 * 86_400_000, 0]);
  });

  it('rejects bad settings with E_CONFIG_INVALID naming every key, with suggestions', () => {
    const e = problem({
      'clickops-brust': {},
      'clickops-burst': { params: { morethan: 3, window: 'soon' }, severity: 'huge' },
      expected: { accounts: { '12345': ['eu-west-1'] } },
      allow: { automationRoles: 'ci-*' },
    });
    expect(e).toBeInstanceOf(TrailbotError);
    expect(e.code).toBe('E_CONFIG_INVALID');
    expect(e.message).toContain('flows.clickops-brust: unknown key — did you mean clickops-burst?');
    expect(e.message).toContain('flows.clickops-burst.params.morethan: unknown key — did you mean moreThan?');
    expect(e.message).toContain('flows.clickops-burst.params.window: expected a duration: a whole number and a unit: 90s, 5m, 1h30m, 7d, 2w');
    expect(e.message).toMatch(/flows\.clickops-burst\.severity: .*"critical"/);
    expect(e.message).toContain('flows.expected.accounts.12345');
    expect(e.message).toContain('flows.allow.automationRoles');
    expect(e.hint).toContain('trailbot.config.yaml');
  });

  it('reads durations in the one time grammar of CLI, API and config (src/time.ts)', () => {
    // `1h30m` is a duration everywhere else (CLI, API, sources); flows took only one unit before.
    expect(flowsConfigSchema.safeParse({ 'clickops-burst': { params: { window: '1h30m' } } }).success).toBe(true);
    expect(flowsConfigSchema.safeParse({ 'clickops-burst': { params: { window: '99999999999d' } } }).success).toBe(false);
    expect(flowsConfigSchema.safeParse({ 'clickops-burst': { params: { window: '10m junk' } } }).success).toBe(false);
  });

  it('exports a zod schema the runtime config loader can embed', () => {
    expect(flowsConfigSchema.safeParse({ clickops: { enabled: false } }).success).toBe(true);
    expect(flowsConfigSchema.safeParse({ clickops: { enabled: 'no' } }).success).toBe(false);
  });
});
