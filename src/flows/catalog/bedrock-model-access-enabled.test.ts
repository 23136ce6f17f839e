import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { denied } from '../../../test/fixtures/flows/data-records.ts';
import { findings, record } from '../../../test/fixtures/flows/load.ts';

const ID = 'bedrock-model-access-enabled';
const STRATUS = 'records/stratus-aws.impact.bedrock-invoke-model.json';

describe(ID, () => {
  it('raises once on Stratus bedrock-invoke-model (entitlement, use case and agreement by one session)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.count).toBe(3);
    expect(f.title).toMatch(/^Bedrock model access enabled: test-role\/cli /);
  });

  it('raises on a denied attempt too, and says so', () => {
    const f = findings([denied('bedrock.amazonaws.com', 'PutFoundationModelEntitlement', { modelId: 'anthropic.claude-3-sonnet-20240229-v1:0' })], ID);
    expect(f).toHaveLength(1);
    expect(f[0]!.title).toBe('Bedrock model access attempted (anthropic.claude-3-sonnet-20240229-v1:0): mallory tried to set the entitlement of the Bedrock model anthropic.claude-3-sonnet-20240229-v1:0');
  });

  it('ignores using or reading about models (InvokeModel, GetFoundationModelAvailability)', () => {
    expect(findings([record(STRATUS, 'InvokeModel'), record(STRATUS, 'GetFoundationModelAvailability')], ID)).toEqual([]);
  });
});
