import { defineFlow } from '../define.ts';
import { byActor, isCall, succeeded } from '../match.ts';

/** Lifecycle configurations themselves: scripts that run as root on a notebook or Studio app, with its role. */
const CONFIGS = new Set(['CreateNotebookInstanceLifecycleConfig', 'UpdateNotebookInstanceLifecycleConfig', 'CreateStudioLifecycleConfig']);
/** Notebook calls that count only when they attach a lifecycle configuration (`lifecycleConfigName`). */
const ATTACH = new Set(['CreateNotebookInstance', 'UpdateNotebookInstance']);
const ACTIONS = new Set([...CONFIGS, ...ATTACH]);

/** Stratus `aws.execution.sagemaker-update-lifecycle-config` (and `aws.privilege-escalation.sagemaker-update-lifecycle-config`). */
export const sagemakerLifecycleConfig = defineFlow({
  id: 'sagemaker-lifecycle-config',
  kind: 'single',
  severity: 'high',
  description: 'A SageMaker lifecycle configuration (a script run on notebook or Studio start) was created or changed, or attached to a notebook instance.',
  runbook: "Read the script: it runs as root on the notebook with the notebook's role at the next start. Remove it if nobody expects it, and check what the notebook's role can reach.",
  falsePositives: ['Data science platform teams installing packages or idle shutdown scripts on notebooks.'],
  references: ['stratus: aws.execution.sagemaker-update-lifecycle-config', 'Rhino Security Labs: AWS IAM privilege escalation (sagemaker lifecycle configurations)'],
  params: {},
  dedupPeriod: '24h',
  allow: ['iac'],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, _p, env) => {
    if (!succeeded(e) || !isCall(e, 'sagemaker', ACTIONS)) return false;
    if (CONFIGS.has(e.action!)) return true;
    return (env.request(e).str('lifecycleConfigName') ?? '') !== '';
  },
  key: byActor,
  context: (e, _p, env) => {
    const req = env.request(e);
    return {
      config: req.str('lifecycleConfigName') ?? req.str('notebookInstanceLifecycleConfigName') ?? req.str('studioLifecycleConfigName'),
      notebook: req.str('notebookInstanceName'),
      attached: e.action !== null && ATTACH.has(e.action),
    };
  },
});
