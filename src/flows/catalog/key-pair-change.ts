import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['CreateKeyPair', 'ImportKeyPair', 'DeleteKeyPair']);

/** sigma: aws_ec2_import_key_pair_activity.yml. */
export const keyPairChange = defineFlow({
  id: 'key-pair-change',
  kind: 'single',
  severity: 'low',
  description: 'An EC2 key pair was created, imported or deleted.',
  runbook: 'Check who holds the private key and which instances will accept it; delete key pairs nobody owns.',
  falsePositives: ['Engineers preparing a new instance.'],
  references: ['sigma: aws_ec2_import_key_pair_activity.yml'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  actions: [...ACTIONS],
  match: (e) => succeeded(e) && isCall(e, 'ec2', ACTIONS),
  key: byActor,
});
