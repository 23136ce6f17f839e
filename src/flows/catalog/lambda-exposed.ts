import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { functionName, lambdaCall, lambdaEventNames } from '../lambda.ts';
import { byActor, succeeded } from '../match.ts';
import { type Exposure, exposed, exposureOfPrincipal, NOT_EXPOSED } from '../policy.ts';

const CALLS = ['AddPermission', 'AddLayerVersionPermission', 'CreateFunctionUrlConfig', 'UpdateFunctionUrlConfig'];

export interface LambdaExposure extends Exposure {
  /** A function URL anyone can call without signing (`authType: NONE`). */
  openUrl: boolean;
  layer: boolean;
}

const NONE: LambdaExposure = { ...NOT_EXPOSED, openUrl: false, layer: false };

/**
 * Who the call lets invoke the function (or use the layer) that is not us: a permission for `*` or
 * another account (not limited to our organization by `principalOrgID` / `organizationId`), or a
 * function URL with `authType: NONE`.
 */
export function lambdaExposure(e: TrailEvent, env: FlowEnv): LambdaExposure {
  const call = lambdaCall(e);
  const req = env.request(e);
  if (call === 'CreateFunctionUrlConfig' || call === 'UpdateFunctionUrlConfig') {
    return req.str('authType') === 'NONE' ? { public: true, accounts: [], openUrl: true, layer: false } : NONE;
  }
  if (call === 'AddPermission') {
    if (req.has('principalOrgID')) return NONE;
    const x = exposureOfPrincipal(req.str('principal'), e, env);
    return exposed(x) ? { ...x, openUrl: req.str('functionUrlAuthType') === 'NONE', layer: false } : NONE;
  }
  if (call === 'AddLayerVersionPermission') {
    if (req.has('organizationId')) return NONE;
    const x = exposureOfPrincipal(req.str('principal'), e, env);
    return exposed(x) ? { ...x, openUrl: false, layer: true } : NONE;
  }
  return NONE;
}

function target(e: TrailEvent, env: FlowEnv): string | null {
  const req = env.request(e);
  return functionName(req.str('functionName')) ?? req.str('layerName');
}

/** Stratus `aws.persistence.lambda-backdoor-function`; Sigma `aws_lambda_function_url`. */
export const lambdaExposed = defineFlow({
  id: 'lambda-exposed',
  kind: 'single',
  severity: 'high',
  description: "A Lambda function (or layer) may now be invoked by everyone or an AWS account that is not ours: a resource-based permission for '*' or another account, or a function URL without authentication.",
  runbook: "Remove the permission (aws lambda remove-permission --statement-id ...) or set the function URL's auth type to AWS_IAM unless it is a public endpoint on purpose; check the function's invocations since.",
  falsePositives: ['Public webhooks served by a function URL; partners invoking a function (list their accounts under flows.trustedAccounts).'],
  references: ['stratus: aws.persistence.lambda-backdoor-function', 'sigma: aws_lambda_function_url.yml'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: lambdaEventNames(CALLS),
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && exposed(lambdaExposure(e, env)),
  key: (e, _p, env) => `${byActor(e)}|${target(e, env) ?? ''}`,
  context: (e, _p, env) => {
    const x = lambdaExposure(e, env);
    return { function: target(e, env), public: x.public, accounts: x.accounts, openUrl: x.openUrl, layer: x.layer };
  },
});
