import { defineFlow } from '../define.ts';
import { byActor, isCall, isHumanOrProgram } from '../match.ts';
import { secretName } from './secrets-bulk-read.ts';

const ACTIONS = new Set(['BatchGetSecretValue']);

/**
 * BatchGetSecretValue reads up to 20 secrets per call, named (`secretIdList`) or chosen by filters.
 * CloudTrail does not say which secrets a filter chose (Secrets Manager also writes a GetSecretValue
 * record per secret, which secrets-bulk-read counts), so this flow counts pages: each call's
 * selection, the same named list read again counting once, and each page of a filtered read (they
 * all look alike) counting on its own.
 */

/** Stratus `aws.credential-access.secretsmanager-batch-retrieve-secrets`; Panther AWS.SecretsManager.BatchRetrieveSecrets (5 calls). */
export const secretsBatchRead = defineFlow({
  id: 'secrets-batch-read',
  kind: 'threshold',
  severity: 'high',
  description: 'One principal read secrets in bulk through BatchGetSecretValue (up to 20 secrets a call), many pages in a short time (any outcome).',
  runbook: 'Find which secrets the calls returned (the GetSecretValue records next to them list each one) and whether this principal needed them; if not, rotate them all and treat the principal as compromised.',
  falsePositives: ['Applications that load their configuration in batches at start-up: put their roles on the automation allow-list.'],
  references: ['stratus: aws.credential-access.secretsmanager-batch-retrieve-secrets', 'panther: AWS.SecretsManager.BatchRetrieveSecrets'],
  params: { moreThan: 4, window: '1h' },
  dedupPeriod: '24h',
  allow: ['automation'],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e) => isCall(e, 'secretsmanager', ACTIONS) && isHumanOrProgram(e),
  key: byActor,
  distinctBy: (e, _p, env) => {
    const names = env.request(e).strings('secretIdList');
    if (names.length > 0) return `names:${[...new Set(names.map(secretName))].sort().join(',')}`;
    return `page:${e.eventId}`;
  },
  context: (e, _p, env) => ({ byFilter: env.request(e).strings('secretIdList').length === 0 }),
});
