import { defineFlow } from '../define.ts';
import { byActor, isCall, isHumanOrProgram } from '../match.ts';

const ACTIONS = new Set(['GetSecretValue']);

/**
 * A secret's name from its id as a caller writes it: the name, or the ARN, whose last part is the
 * name plus the 6-character suffix Secrets Manager adds (`…:secret:prod/db-AbCdEf`). So the same
 * secret read by name and by ARN counts once.
 */
export function secretName(id: string): string {
  const i = id.indexOf(':secret:');
  if (!id.startsWith('arn:') || i < 0) return id;
  return id.slice(i + ':secret:'.length).replace(/-[A-Za-z0-9]{6}$/, '');
}

/** Stratus `aws.credential-access.secretsmanager-retrieve-secrets`; Elastic hunting "Secrets Manager high frequency of GetSecretValue". */
export const secretsBulkRead = defineFlow({
  id: 'secrets-bulk-read',
  kind: 'threshold',
  severity: 'high',
  description: 'One principal read the values of many different Secrets Manager secrets in a short time (any outcome).',
  runbook: 'Check which secrets were read and whether this principal ever needed them; if not, rotate every one of them and treat the principal as compromised.',
  falsePositives: ['Tools that sync every secret (External Secrets, a config loader at start-up): put their roles on the automation allow-list.'],
  references: ['stratus: aws.credential-access.secretsmanager-retrieve-secrets', 'elastic hunting: secretsmanager_high_frequency_get_secret_value'],
  params: { moreThan: 10, window: '1h' },
  dedupPeriod: '24h',
  allow: ['automation'],
  actions: [...ACTIONS],
  needsRequest: true,
  // Any outcome: a run of denied reads is someone trying every secret there is.
  match: (e) => isCall(e, 'secretsmanager', ACTIONS) && isHumanOrProgram(e),
  key: byActor,
  distinctBy: (e, _p, env) => {
    const id = env.request(e).str('secretId');
    return id === null ? null : secretName(id);
  },
});
