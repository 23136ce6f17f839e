import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy']);
/** AWSCompromisedKeyQuarantine, V2, V3 …: the policies AWS attaches when it finds a key exposed in public. */
const QUARANTINE = /^arn:aws[a-z-]*:iam::aws:policy\/AWSCompromisedKeyQuarantine(V\d+)?$/;

/** Panther AWS.CloudTrail.IAMCompromisedKeyQuarantine. */
export const accessKeyQuarantined = defineFlow({
  id: 'access-key-quarantined',
  kind: 'single',
  severity: 'critical',
  description: "AWS attached its compromised-key quarantine policy (AWSCompromisedKeyQuarantine*): one of the identity's access keys was found exposed in public.",
  runbook: "Treat the key as stolen: deactivate and delete it, read AWS's support case, and review everything the key did since it leaked (the quarantine policy only denies some actions). Do not detach the policy until that is done.",
  falsePositives: ['None known: AWS attaches it only when it finds the key exposed (or someone copies the step by hand).'],
  references: ['panther: AWS.CloudTrail.IAMCompromisedKeyQuarantine', 'AWS managed policy: AWSCompromisedKeyQuarantineV2'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && isCall(e, 'iam', ACTIONS) && QUARANTINE.test(env.request(e).str('policyArn') ?? ''),
  key: byActor,
  context: (e, _p, env) => {
    const req = env.request(e);
    const policy = req.str('policyArn') ?? '';
    return {
      identity: req.str('userName') ?? req.str('roleName') ?? req.str('groupName'),
      policy: policy.slice(policy.lastIndexOf('/') + 1),
    };
  },
});
