import { defineFlow } from '../define.ts';
import { isConsoleChange } from '../housekeeping.ts';
import { byActor } from '../match.ts';

export const clickopsProduction = defineFlow({
  id: 'clickops-production',
  kind: 'single',
  severity: 'high',
  description: 'A resource marked production was changed by hand in the console.',
  runbook: 'Check the change with its owner now; production should change through reviewed code, so capture it there or revert it.',
  falsePositives: ['Incident response by the on-call engineer (add the break-glass role to the allow-list).'],
  references: ['flows.production in trailbot.config.yaml (what counts as production)'],
  params: {},
  dedupPeriod: '24h',
  allow: ['breakGlass'],
  match: (e, _p, env) => isConsoleChange(e) && env.touchesProduction(e),
  key: byActor,
  context: (e, _p, env) => ({ productionResources: env.productionResources(e) }),
});
