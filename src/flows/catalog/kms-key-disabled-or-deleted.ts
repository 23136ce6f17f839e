import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['DisableKey', 'ScheduleKeyDeletion']);

/** CIS AWS Foundations 4.7; panther: AWS.KMS.CustomerManagedKeyLoss. */
export const kmsKeyDisabledOrDeleted = defineFlow({
  id: 'kms-key-disabled-or-deleted',
  kind: 'single',
  severity: 'high',
  description: 'A customer managed KMS key was disabled or scheduled for deletion.',
  runbook: 'Find what the key encrypts before its deletion date; cancel the deletion (CancelKeyDeletion) or re-enable the key if anything still needs it.',
  falsePositives: ['Planned clean-up of keys that encrypt nothing any more.'],
  references: ['CIS AWS Foundations 4.7', 'panther: AWS.KMS.CustomerManagedKeyLoss'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac'],
  actions: [...ACTIONS],
  match: (e) => succeeded(e) && isCall(e, 'kms', ACTIONS),
  key: byActor,
});
