/**
 * npm run bench:flows — how much evaluating every flow costs next to normalizing (issue 5).
 *
 * 1. Generates realistic records (bench/lib/generate/: real CloudTrail shapes, fresh ids, times,
 *    ~300 identities across an organization, several regions) in memory; not timed.
 * 2. Normalize: normalize() of every record, best of 3 runs.
 * 3. Flows: every enabled flow (the whole catalog, with allow-lists, expected regions and production
 *    patterns configured so those paths run too) over the normalized events in batches of 2,000, as
 *    `trailbot detect` does, best of 3 runs, each with a fresh Detector. Rendering the findings'
 *    words is timed on its own (it happens once per finding, not per event).
 *
 * Target: evaluation costs less than a third of normalization.
 * Options: --events N (default 200000) --batch N (default 2000)
 */
import type { Ingestible, RawRecord } from '../src/events/model.ts';
import { normalize } from '../src/events/normalize.ts';
import { parseFlowsConfig } from '../src/flows/config.ts';
import { Detector } from '../src/flows/detector.ts';
import { generateRecords } from './lib/generate/index.ts';
import { arg } from './lib/options.ts';
import { fmt } from './lib/report.ts';

const EVENTS = arg('events', 200_000);
const BATCH = arg('batch', 2000);
const RUNS = 3;

const config = parseFlowsConfig({
  allow: {
    breakGlassRoles: ['BreakGlass*'],
    automationRoles: ['arn:aws:iam::*:role/ci-*', '*-deployer'],
    iacIdentities: ['terraform*'],
  },
  expected: { regions: ['us-east-1', 'eu-west-1'] },
  production: { arnPatterns: ['arn:aws:rds:*:*:db:prod-*', 'arn:aws:s3:::prod-*'] },
});

function best(label: string, fn: () => void): number {
  let bestMs = Infinity;
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    fn();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  process.stderr.write(`  ${label}: best of ${RUNS} ${bestMs.toFixed(0)} ms\n`);
  return bestMs;
}

process.stderr.write(`generating ${fmt(EVENTS)} records...\n`);
const raws: RawRecord[] = [];
for (const r of generateRecords({ count: EVENTS, seed: 20261122, days: 7 })) raws.push(r as RawRecord);

let items: Ingestible[] = [];
const normalizeMs = best('normalize', () => {
  items = raws.map((raw) => ({ event: normalize(raw), raw }));
});

let detector = new Detector(config);
const flowsMs = best('flows', () => {
  detector = new Detector(config);
  for (let i = 0; i < items.length; i += BATCH) detector.push(items.slice(i, i + BATCH));
});

const t0 = performance.now();
const found = detector.findings();
const renderMs = performance.now() - t0;

const byFlow = new Map<string, number>();
for (const f of found) byFlow.set(f.flow, (byFlow.get(f.flow) ?? 0) + 1);
const ratio = flowsMs / normalizeMs;

const out = [
  '',
  `events                 ${fmt(EVENTS)}`,
  `normalize only         ${fmt((EVENTS / normalizeMs) * 1000)} events/s  (${normalizeMs.toFixed(0)} ms)`,
  `all ${detector.compiled.enabled.length} flows           ${fmt((EVENTS / flowsMs) * 1000)} events/s  (${flowsMs.toFixed(0)} ms)`,
  `flows / normalize      ${(ratio * 100).toFixed(1)}% of the normalization cost (target < 33.3%): ${ratio < 1 / 3 ? 'met' : 'NOT met'}`,
  `rendering findings     ${fmt(found.length)} findings in ${renderMs.toFixed(0)} ms (${(renderMs / Math.max(found.length, 1)).toFixed(2)} ms each)`,
  `findings by flow       ${[...byFlow.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`,
  '',
];
process.stdout.write(out.join('\n'));
if (ratio >= 1 / 3) process.exitCode = 1;
