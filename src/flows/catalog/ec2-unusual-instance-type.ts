import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { asList } from '../fields.ts';
import { byActor, globToRegExp, serviceOf } from '../match.ts';

const ACTIONS = new Set(['RunInstances', 'RequestSpotInstances']);

/**
 * GPU, machine-learning and FPGA families: what crypto-miners and stolen-compute jobs launch.
 * Globs (`*` matches anything); change the list with `params.instanceTypes`.
 */
const ACCELERATED = [
  'p2.*', 'p3.*', 'p3dn.*', 'p4d.*', 'p4de.*', 'p5.*', 'p5e.*', 'p5en.*', 'p6*.*',
  'g2.*', 'g3.*', 'g3s.*', 'g4dn.*', 'g4ad.*', 'g5.*', 'g5g.*', 'g6.*', 'g6e.*', 'gr6.*',
  'inf1.*', 'inf2.*', 'trn1.*', 'trn1n.*', 'trn2.*', 'dl1.*', 'dl2q.*', 'f1.*', 'f2.*', 'vt1.*',
];

const compiled = new WeakMap<readonly string[], RegExp[]>();
function patterns(list: readonly string[]): RegExp[] {
  let p = compiled.get(list);
  if (!p) compiled.set(list, (p = list.map(globToRegExp)));
  return p;
}

/** The instance types the call asked for (RunInstances, a spot request's launch specification) or got. */
function typesOf(e: TrailEvent, env: FlowEnv): string[] {
  const req = env.request(e);
  const out = new Set<string>();
  for (const t of [req.str('instanceType'), req.str('launchSpecification', 'instanceType')]) if (t) out.add(t);
  // Launched from a template: the type is only in the response.
  for (const i of env.response(e).list('instancesSet')) {
    for (const x of asList((i as Record<string, unknown>)?.items ?? i)) {
      const t = (x as Record<string, unknown> | null)?.instanceType;
      if (typeof t === 'string') out.add(t);
    }
  }
  return [...out];
}

function unusual(e: TrailEvent, list: readonly string[], env: FlowEnv): string[] {
  const p = patterns(list);
  return typesOf(e, env).filter((t) => p.some((r) => r.test(t)));
}

/**
 * Stratus `aws.execution.ec2-launch-unusual-instances`; GuardDuty's CryptoCurrency findings start
 * here. Attempts count: a refused launch of GPU instances is as telling as one that went through.
 */
export const ec2UnusualInstanceType = defineFlow({
  id: 'ec2-unusual-instance-type',
  kind: 'single',
  severity: 'high',
  description: 'Someone launched, or tried to launch, GPU or other accelerated EC2 instances (the types in params.instanceTypes).',
  runbook: 'Confirm a team needs these instances; if not, terminate them, look for other regions with the same launches, and find where the credentials came from.',
  falsePositives: ['Machine-learning or rendering teams (allow-list their IaC identity, or narrow params.instanceTypes).'],
  references: ['stratus: aws.execution.ec2-launch-unusual-instances', 'guardduty: CryptoCurrency:EC2/BitcoinTool.B'],
  params: { instanceTypes: ACCELERATED },
  dedupPeriod: '24h',
  allow: ['iac'],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, p, env) => serviceOf(e) === 'ec2' && unusual(e, p.instanceTypes, env).length > 0,
  key: byActor,
  context: (e, p, env) => ({ attempted: e.outcome !== 'success', types: unusual(e, p.instanceTypes, env).join(', '), count: env.request(e).num('instancesSet', 'items', '0', 'maxCount') }),
});
