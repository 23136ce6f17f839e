import { defineFlow } from '../define.ts';
import { byActor, isCall } from '../match.ts';

/**
 * Calls that open a foundation model to the account: the model's entitlement, the use-case form
 * Anthropic models ask for, and the model's agreement (the offer accepted). Stratus' LLMjacking
 * detonation (`aws.impact.bedrock-invoke-model`) makes all three before the first InvokeModel.
 */
const ACTIONS = new Set(['PutFoundationModelEntitlement', 'PutUseCaseForModelAccess', 'CreateFoundationModelAgreement']);

/** Stratus `aws.impact.bedrock-invoke-model`; Sysdig / Permiso "LLMjacking" write-ups. */
export const bedrockModelAccessEnabled = defineFlow({
  id: 'bedrock-model-access-enabled',
  kind: 'single',
  severity: 'high',
  description: 'Access to a Bedrock foundation model was requested or granted (any outcome): its entitlement, use-case form or agreement.',
  runbook: 'Confirm someone in the account needs this model; if not, remove the access, rotate the credentials that asked for it, and check Bedrock invocations and the bill since.',
  falsePositives: ['A team starting to use Bedrock: model access is granted once per model and account.'],
  references: ['stratus: aws.impact.bedrock-invoke-model', 'Sysdig: LLMjacking (2024)'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac'],
  actions: [...ACTIONS],
  // Any outcome: stolen keys are used to try, and a denied try is the warning.
  match: (e) => isCall(e, 'bedrock', ACTIONS),
  key: byActor,
  context: (e) => ({ model: e.resources.find((r) => r.type === 'AWS::Bedrock::FoundationModel')?.id ?? null }),
});
