import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { functionName, lambdaCall, lambdaEventNames } from '../lambda.ts';
import { byActor, succeeded } from '../match.ts';
import { accountOf } from '../policy.ts';

const CALLS = ['UpdateFunctionCode', 'UpdateFunctionConfiguration', 'CreateFunction'];

/** The layers the call gives the function (ARNs), when it names any. */
function layersOf(e: TrailEvent, env: FlowEnv): string[] {
  return env.request(e).strings('layers');
}

/** Layers that belong to an account that is not ours: another account's code now runs in the function. */
export function foreignLayers(e: TrailEvent, env: FlowEnv): string[] {
  return layersOf(e, env).filter((l) => {
    const a = accountOf(l);
    return a !== null && !env.knownAccount(e, a);
  });
}

/**
 * The call replaced what runs in the function: new code (UpdateFunctionCode), or layers set by
 * UpdateFunctionConfiguration (a layer can carry an extension that sees every invocation). A new
 * function counts only when it takes a layer from an account that is not ours.
 */
function changesCode(e: TrailEvent, env: FlowEnv): boolean {
  const call = lambdaCall(e);
  if (call === 'UpdateFunctionCode') return true;
  if (call === 'UpdateFunctionConfiguration') return layersOf(e, env).length > 0;
  if (call === 'CreateFunction') return foreignLayers(e, env).length > 0;
  return false;
}

/** Stratus `aws.persistence.lambda-overwrite-code`, `aws.persistence.lambda-layer-extension`; Sigma `aws_new_lambda_layer_attached`. */
export const lambdaCodeChanged = defineFlow({
  id: 'lambda-code-changed',
  kind: 'single',
  severity: 'medium',
  description: "A Lambda function's code or layers were replaced outside infrastructure as code; high when a layer comes from an account that is not ours.",
  runbook: "Compare the function's code and layers with what the pipeline deployed (aws lambda get-function); redeploy from source if they differ and find out whose credentials made the change.",
  falsePositives: ['Deploying by hand or from a pipeline not listed under automationRoles or iacIdentities.'],
  references: ['stratus: aws.persistence.lambda-overwrite-code', 'stratus: aws.persistence.lambda-layer-extension', 'sigma: aws_new_lambda_layer_attached.yml'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: lambdaEventNames(CALLS),
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && changesCode(e, env),
  severityOf: (e, _p, env) => (foreignLayers(e, env).length > 0 ? 'high' : null),
  // One finding per person and day (its events list the functions); a foreign layer opens its own, high one.
  key: (e, _p, env) => (foreignLayers(e, env).length > 0 ? `${byActor(e)}|foreign` : byActor(e)),
  context: (e, _p, env) => ({
    function: functionName(env.request(e).str('functionName')),
    code: lambdaCall(e) === 'UpdateFunctionCode',
    layers: layersOf(e, env),
    foreignLayers: foreignLayers(e, env),
  }),
});
