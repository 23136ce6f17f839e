/**
 * Output: log files gzipped on the libuv thread pool while the main thread builds the next file, in
 * CloudTrail's S3 layout, and (on request) the hourly digest files that point at them.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzip } from 'node:zlib';
import type { FilePlan } from './plan.ts';
import { renderFile } from './records.ts';
import { hash, hexFrom, Rng } from './random.ts';
import { compactTime, isoTime } from './time.ts';
import type { World } from './world.ts';

/** What writeTrail wrote. */
export interface Written {
  /** Log files written (digest files not included). */
  files: number;
  /** Records written. */
  events: number;
  /** Compressed bytes of the log files (digest files not included). */
  bytes: number;
  /** Digest files written (0 unless the settings ask for them). */
  digests: number;
}

/** Every file of the plan as `<dir>/AWSLogs/<o-orgid>/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/….json.gz`. */
export async function writeTrail(world: World, plan: FilePlan[], dir: string, level: number): Promise<Written> {
  const root = join(dir, 'AWSLogs', world.orgId);
  const dirs = new Map<string, Promise<unknown>>();
  const ensureDir = (d: string): Promise<unknown> => {
    let p = dirs.get(d);
    if (!p) {
      p = mkdir(d, { recursive: true });
      dirs.set(d, p);
    }
    return p;
  };
  const delivered: Delivered[] = [];
  const inflight = new Set<Promise<void>>();
  const maxInflight = 6;
  let bytes = 0;
  let events = 0;
  const recs: string[] = [];
  for (const fp of plan) {
    recs.length = 0;
    renderFile(world, fp, recs);
    events += recs.length;
    const body = `{"Records":[${recs.join(',')}]}`;
    const acct = world.accounts[fp.acct].id;
    const region = world.regions[fp.region];
    const ymd = isoTime(fp.delivered);
    const folder = `${acct}/CloudTrail/${region}/${ymd.slice(0, 4)}/${ymd.slice(5, 7)}/${ymd.slice(8, 10)}`;
    const name = `${acct}_CloudTrail_${region}_${compactTime(fp.delivered, false)}_${fp.suffix}.json.gz`;
    if (world.settings.digests) {
      delivered.push({
        acct: fp.acct,
        region: fp.region,
        at: fp.delivered,
        key: `AWSLogs/${world.orgId}/${folder}/${name}`,
        sha256: createHash('sha256').update(body).digest('hex'),
        oldest: fp.oldest,
        newest: fp.newest,
      });
    }
    const dirPath = join(root, folder);
    const job = gzipAsync(body, level)
      .then(async (buf) => {
        await ensureDir(dirPath);
        await writeFile(join(dirPath, name), buf);
        bytes += buf.length;
      })
      .finally(() => inflight.delete(job));
    inflight.add(job);
    if (inflight.size >= maxInflight) await Promise.race(inflight);
  }
  await Promise.all(inflight);
  let digests = 0;
  if (world.settings.digests) digests = await writeDigests(world, root, delivered, level, ensureDir);
  return { files: plan.length, events, bytes, digests };
}

function gzipAsync(body: string, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    gzip(body, { level }, (err, buf) => (err ? reject(err) : resolve(buf)));
  });
}

interface Delivered {
  acct: number;
  region: number;
  at: number;
  key: string;
  sha256: string;
  oldest: number;
  newest: number;
}

/**
 * Hourly digest files per account and region, in the documented shape (no `Records` key):
 * https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html
 * Hashes are real SHA-256 of the uncompressed log files; signatures are random hex.
 */
async function writeDigests(
  W: World,
  root: string,
  delivered: Delivered[],
  level: number,
  ensureDir: (d: string) => Promise<unknown>,
): Promise<number> {
  const r = new Rng(W.seed, 0xd16e57);
  const bucket = `corp-org-cloudtrail-${W.accounts[0].id}`;
  const trail = 'org-trail';
  const home = W.regions.includes('us-east-1') ? 'us-east-1' : W.regions[0];
  const groups = new Map<string, Delivered[]>();
  for (const d of delivered) {
    const k = `${d.acct}/${d.region}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = []));
    g.push(d);
  }
  let count = 0;
  const jobs: Array<Promise<void>> = [];
  for (const g of groups.values()) {
    g.sort((x, y) => x.at - y.at);
    const acct = W.accounts[g[0].acct].id;
    const region = W.regions[g[0].region];
    const offset = 60 + (hash(W.seed, g[0].acct, g[0].region) % 3000);
    let prev: { key: string; sha: string; sig: string } | null = null;
    let i = 0;
    while (i < g.length) {
      const end = Math.ceil((g[i].at - offset + 1) / 3600) * 3600 + offset;
      const files: Delivered[] = [];
      while (i < g.length && g[i].at < end) files.push(g[i++]);
      const endIso = isoTime(end);
      const folder = `${acct}/CloudTrail-Digest/${region}/${endIso.slice(0, 4)}/${endIso.slice(5, 7)}/${endIso.slice(8, 10)}`;
      const name = `${acct}_CloudTrail-Digest_${region}_${trail}_${home}_${compactTime(end, true)}.json.gz`;
      const key = `AWSLogs/${W.orgId}/${folder}/${name}`;
      const digest: Record<string, unknown> = {
        awsAccountId: acct,
        digestStartTime: isoTime(end - 3600),
        digestEndTime: endIso,
        digestS3Bucket: bucket,
        digestS3Object: key,
        digestPublicKeyFingerprint: hexFrom(r, 32),
        digestSignatureAlgorithm: 'SHA256withRSA',
        newestEventTime: isoTime(Math.max(...files.map((f) => f.newest))),
        oldestEventTime: isoTime(Math.min(...files.map((f) => f.oldest))),
        previousDigestS3Bucket: prev ? bucket : null,
        previousDigestS3Object: prev ? prev.key : null,
        previousDigestHashValue: prev ? prev.sha : null,
        previousDigestHashAlgorithm: prev ? 'SHA-256' : null,
        previousDigestSignature: prev ? prev.sig : null,
        logFiles: files.map((f) => ({
          s3Bucket: bucket,
          s3Object: f.key,
          hashValue: f.sha256,
          hashAlgorithm: 'SHA-256',
          newestEventTime: isoTime(f.newest),
          oldestEventTime: isoTime(f.oldest),
        })),
      };
      const text: string = JSON.stringify(digest);
      prev = { key, sha: createHash('sha256').update(text).digest('hex'), sig: hexFrom(r, 512) };
      const dirPath = join(root, folder);
      jobs.push(
        gzipAsync(text, level).then(async (buf) => {
          await ensureDir(dirPath);
          await writeFile(join(dirPath, name), buf);
        }),
      );
      count++;
      if (jobs.length >= 64) await Promise.all(jobs.splice(0));
    }
  }
  await Promise.all(jobs);
  return count;
}
