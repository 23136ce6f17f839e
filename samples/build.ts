/**
 * Rebuilds samples/trail from the public CloudTrail records in the shared corpus, laid out the way
 * CloudTrail writes to S3: AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<id>.json.gz.
 * A development tool only: trailbot reads samples/trail at run time and never the corpus.
 *
 *   node samples/build.ts [path/to/corpus]   (default ../shared/corpus)
 *
 * Records keep their own times and ids (nothing is shifted). The output is deterministic: gzip
 * without a timestamp, file ids derived from the content.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

type Rec = Record<string, unknown>;
const here = import.meta.dirname;
const corpus = resolve(process.argv[2] ?? join(here, '../../shared/corpus'));
const out = join(here, 'trail');

const records: { rec: Rec; origin: string }[] = [];
for (const f of readdirSync(join(corpus, 'stratus-red-team')).filter((f) => f.endsWith('.json')).sort()) {
  for (const r of JSON.parse(readFileSync(join(corpus, 'stratus-red-team', f), 'utf8')) as Rec[]) records.push({ rec: r, origin: `stratus-red-team/${f}` });
}
for (const f of readdirSync(join(corpus, 'otrf-security-datasets')).filter((f) => f.endsWith('.json')).sort()) {
  for (const line of readFileSync(join(corpus, 'otrf-security-datasets', f), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as Rec;
    // Logstash moved eventTime into @timestamp and added @version: put the record back as CloudTrail wrote it.
    if (r.eventTime === undefined && typeof r['@timestamp'] === 'string') r.eventTime = `${(r['@timestamp'] as string).slice(0, 19)}Z`;
    delete r['@version'];
    delete r['@timestamp'];
    records.push({ rec: r, origin: `otrf-security-datasets/${f}` });
  }
}
for (const line of readFileSync(join(corpus, 'aws-docs-examples/extracted_events.jsonl'), 'utf8').split('\n')) {
  if (!line.trim()) continue;
  const doc = JSON.parse(line) as { event: Rec };
  records.push({ rec: doc.event, origin: 'aws-docs-examples/extracted_events.jsonl' });
}

const account = (r: Rec): string => String(r.recipientAccountId ?? (r.userIdentity as Rec | undefined)?.accountId ?? '000000000000');
const region = (r: Rec): string => String(r.awsRegion ?? 'us-east-1');
const groups = new Map<string, Rec[]>();
for (const { rec } of records) {
  const t = String(rec.eventTime);
  // One file per account, region and 5 minutes, as CloudTrail delivers.
  const slot = `${t.slice(0, 14)}${String(Math.floor(Number(t.slice(14, 16)) / 5) * 5).padStart(2, '0')}`;
  const key = `${account(rec)}|${region(rec)}|${slot}`;
  groups.set(key, [...(groups.get(key) ?? []), rec]);
}

rmSync(out, { recursive: true, force: true });
let files = 0;
for (const [key, recs] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
  const [acct, reg, slot] = key.split('|') as [string, string, string];
  recs.sort((a, b) => String(a.eventTime).localeCompare(String(b.eventTime)));
  const body = JSON.stringify({ Records: recs });
  const [date, hm] = slot.split('T') as [string, string];
  const [y, m, d] = date.split('-');
  const stamp = `${date.replaceAll('-', '')}T${hm.replace(':', '')}Z`;
  const id = createHash('sha256').update(body).digest('hex').slice(0, 16);
  const dir = join(out, 'AWSLogs', acct, 'CloudTrail', reg, y!, m!, d!);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${acct}_CloudTrail_${reg}_${stamp}_${id}.json.gz`), gzipSync(body, { level: 9 }));
  files++;
}

const licences = join(here, 'licenses');
mkdirSync(licences, { recursive: true });
copyFileSync(join(corpus, 'stratus-red-team/LICENSE'), join(licences, 'LICENSE-stratus-red-team-Apache-2.0'));
copyFileSync(join(corpus, 'otrf-security-datasets/LICENSE'), join(licences, 'LICENSE-otrf-security-datasets-MIT'));
copyFileSync(join(corpus, 'aws-docs-examples/LICENSE'), join(licences, 'LICENSE-awsdocs-CC-BY-SA-4.0'));
copyFileSync(join(corpus, 'aws-docs-examples/LICENSE-SAMPLECODE'), join(licences, 'LICENSE-awsdocs-SAMPLECODE-MIT-0'));
copyFileSync(join(corpus, 'aws-docs-examples/LICENSE-SUMMARY'), join(licences, 'LICENSE-awsdocs-SUMMARY'));
console.log(`wrote ${records.length} records in ${files} files under ${out}`);
