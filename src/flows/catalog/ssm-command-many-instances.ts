import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['SendCommand']);

interface Reach {
  /** Instances named one by one (in `instanceIds` or an `InstanceIds` target). */
  instances: number;
  /** Targets chosen by tag or resource group (`tag:Env`, `tag-key`, `resource-groups:Name`), or every instance (`*`). */
  byTag: string | null;
}

function reachOf(e: TrailEvent, env: FlowEnv): Reach {
  const req = env.request(e);
  const ids = new Set(req.strings('instanceIds'));
  let byTag: string | null = null;
  for (const t of req.list('targets')) {
    const key = (t as { key?: unknown; Key?: unknown } | null)?.key ?? (t as { Key?: unknown } | null)?.Key;
    const values = (t as { values?: unknown; Values?: unknown } | null)?.values ?? (t as { Values?: unknown } | null)?.Values;
    if (typeof key !== 'string') continue;
    if (key === 'InstanceIds') {
      for (const v of Array.isArray(values) ? values : []) if (typeof v === 'string') ids.add(v);
    } else if (key.startsWith('tag:') || key === 'tag-key' || key.startsWith('resource-groups:')) {
      const vs = Array.isArray(values) ? values.filter((v): v is string => typeof v === 'string') : [];
      byTag = vs.length ? `${key}=${vs.join(',')}` : key;
    }
  }
  if (ids.has('*')) byTag = byTag ?? '*';
  return { instances: ids.size, byTag };
}

/**
 * Stratus `aws.execution.ssm-send-command`. SendCommand runs a script as root (or SYSTEM) on every
 * instance it names: aimed at several instances, or at all those with a tag, it is remote code
 * execution across the fleet.
 */
export const ssmCommandManyInstances = defineFlow({
  id: 'ssm-command-many-instances',
  kind: 'single',
  severity: 'high',
  description: 'A command was sent through Systems Manager to several instances at once (params.minInstances or more), or to instances chosen by tag.',
  runbook: 'Read the command and its output (GetCommandInvocation); if nobody planned it, isolate the instances and look for what it left behind.',
  falsePositives: ['Patching and configuration runs (allow-list the automation role), or an administrator running a known document across a group.'],
  references: ['stratus: aws.execution.ssm-send-command', 'MITRE ATT&CK T1651 (cloud administration command)'],
  params: { minInstances: 3 },
  dedupPeriod: '24h',
  allow: ['automation', 'iac'],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, p, env) => {
    if (!succeeded(e) || !isCall(e, 'ssm', ACTIONS)) return false;
    const r = reachOf(e, env);
    return r.byTag !== null || r.instances >= p.minInstances;
  },
  key: byActor,
  context: (e, _p, env) => {
    const r = reachOf(e, env);
    return { instances: r.instances, byTag: r.byTag, document: env.request(e).str('documentName') };
  },
});
