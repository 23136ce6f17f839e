import { defineFlow } from '../define.ts';
import { byActor, isCall, isHumanOrProgram } from '../match.ts';

const ACTIONS = new Set(['GetParameter', 'GetParameters', 'GetParametersByPath']);

/** Stratus `aws.credential-access.ssm-retrieve-securestring-parameters`; Panther AWS.SSM.DecryptSSMParams (more than 10 names an hour). */
export const ssmParametersBulkDecrypt = defineFlow({
  id: 'ssm-parameters-bulk-decrypt',
  kind: 'threshold',
  severity: 'high',
  description: 'One principal decrypted many different SSM parameters (withDecryption) in a short time (any outcome).',
  runbook: 'Check which SecureString parameters were read and whether this principal needs them; if not, rotate what they hold and treat the principal as compromised.',
  falsePositives: [
    'Applications reading their whole configuration by name at start-up: put their roles on the automation allow-list (reads by path count once per path).',
    'Terraform refreshing the SecureString parameters it manages (it reads each with decryption on every plan), CloudFormation resolving ssm-secure references: the iac allow-list.',
  ],
  references: ['stratus: aws.credential-access.ssm-retrieve-securestring-parameters', 'panther: AWS.SSM.DecryptSSMParams'],
  params: { moreThan: 10, window: '1h' },
  dedupPeriod: '24h',
  allow: ['automation', 'iac'],
  actions: [...ACTIONS],
  needsRequest: true,
  // Any outcome, as Panther: a run of denied decryptions is someone trying every parameter.
  match: (e, _p, env) => isCall(e, 'ssm', ACTIONS) && isHumanOrProgram(e) && env.request(e).bool('withDecryption') === true,
  key: byActor,
  distinctBy: (e, _p, env) => {
    const req = env.request(e);
    if (e.action === 'GetParametersByPath') {
      const path = req.str('path');
      return path === null ? null : `${path}${req.bool('recursive') === true ? '/**' : '/*'}`;
    }
    if (e.action === 'GetParameter') return req.str('name');
    return req.strings('names');
  },
});
