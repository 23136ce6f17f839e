/**
 * npm run bench:generate [-- records fileEvents gzipLevel] — how fast the trail generator the other
 * benchmarks use (bench/lib/generate/) makes records: as JSON text, as objects, and as gzipped log files
 * with digests in a temporary folder (defaults 1,000,000 records, 200,000 events in files, gzip level 4).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRecordJson, generateRecords, generateTrail } from './lib/generate/index.ts';
import { fmt } from './lib/report.ts';

const records = Number(process.argv[2] ?? 1_000_000);
const fileEvents = Number(process.argv[3] ?? 200_000);
const gzipLevel = Number(process.argv[4] ?? 4);
const rate = (n: number, ms: number): string => `${fmt((n / ms) * 1000)} events/s`;

let t = performance.now();
let n = 0;
let chars = 0;
for (const line of generateRecordJson({ count: records, seed: 1 })) {
  n++;
  chars += line.length;
}
let ms = performance.now() - t;
console.log(`generateRecordJson: ${n} records in ${(ms / 1000).toFixed(2)} s (${rate(n, ms)}), avg ${Math.round(chars / n)} chars`);

t = performance.now();
n = 0;
for (const r of generateRecords({ count: records, seed: 1 })) if (r.eventID) n++;
ms = performance.now() - t;
console.log(`generateRecords:    ${n} records in ${(ms / 1000).toFixed(2)} s (${rate(n, ms)})`);

const dir = await mkdtemp(join(tmpdir(), 'trailbot-gen-'));
try {
  t = performance.now();
  const res = await generateTrail({ dir, events: fileEvents, seed: 1, digests: true, gzipLevel });
  ms = performance.now() - t;
  console.log(
    `generateTrail:      ${res.events} events, ${res.files} files + ${res.digests} digests, ` +
      `${(res.bytes / 1e6).toFixed(1)} MB gz (level ${gzipLevel}) in ${(ms / 1000).toFixed(2)} s (${rate(res.events, ms)})`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
