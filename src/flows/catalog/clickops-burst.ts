import { defineFlow } from '../define.ts';
import { isConsoleChange } from '../housekeeping.ts';
import { byActor } from '../match.ts';

export const clickopsBurst = defineFlow({
  id: 'clickops-burst',
  kind: 'threshold',
  severity: 'medium',
  description: 'One person made many changes by hand in the console in a short time.',
  runbook: 'Talk to the person: a burst of console changes is usually a missing module or pipeline; capture the result in infrastructure as code.',
  falsePositives: ['Incident response; building a proof of concept in a sandbox account.'],
  references: ['src/flows/housekeeping.ts (the calls left out)'],
  params: { moreThan: 20, window: '24h' },
  dedupPeriod: '24h',
  allow: ['breakGlass'],
  match: (e) => isConsoleChange(e),
  key: byActor,
});
