import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['CreateAccessKey']);

/** Panther AWS.IAM.AccessKeyCreated and AWS.IAM.BackdoorUserKeys; Sigma `aws_iam_backdoor_users_keys`. */
export const accessKeyCreated = defineFlow({
  id: 'access-key-created',
  kind: 'single',
  severity: 'medium',
  description: 'A long-lived access key was created for an IAM user.',
  runbook: 'Confirm who will hold the key and why a role cannot be used instead; a key made for someone else is a classic backdoor.',
  falsePositives: ['Key rotation by the key owner; service users for systems that cannot assume roles.'],
  references: ['sigma: aws_iam_backdoor_users_keys.yml', 'panther: AWS.IAM.BackdoorUserKeys', 'stratus: aws.persistence.iam-create-admin-user'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac', 'automation'],
  // A key made by an instance's or a function's session is reported by iam-change-from-workload.
  yieldsTo: ['iam-change-from-workload'],
  actions: [...ACTIONS],
  match: (e) => succeeded(e) && isCall(e, 'iam', ACTIONS),
  key: byActor,
  context: (e) => {
    const user = e.resources.find((r) => r.type === 'AWS::IAM::User')?.id ?? e.actor.userName;
    return { forUser: user, forAnotherUser: user !== null && user !== e.actor.userName };
  },
});
