/**
 * Synthetic-but-realistic CloudTrail generator for benchmarks.
 *
 * Every record is one of ~60 real CloudTrail records (bench/shapes/records.json, origins and
 * licences in bench/shapes/SOURCES.md) with fresh values substituted consistently: ids, times,
 * accounts, regions, principals (a Zipf-weighted pool of ~300 identities across the org),
 * access keys (AKIA for users, ASIA stable per session), source IPs, user agents and resource
 * names. Output is deterministic for a seed (own PRNG, no dependency).
 *
 * The parts, in the order a run uses them:
 *   settings.ts   the options with their defaults (GeneratorSettings)
 *   random.ts     the seeded random source and hashes; time.ts, CloudTrail's time formats
 *   shapes.ts     which real records, how often, by whom; templates.ts compiles them into templates
 *   world.ts      the organization (accounts, principals); sessions.ts, their sessions and user agents
 *   plan.ts       which log files (account, region, time window, size)
 *   records.ts    a file's records, every slot filled
 *   writer.ts     gzipped log files in the S3 layout and digest files
 *
 * How it is fast: each shape is compiled once into a string template (literal parts + slots), so
 * a record is built by concatenation; `generateRecords` parses that JSON, `generateRecordJson`
 * hands out the text as is. Files are gzipped on the libuv thread pool while the main thread
 * builds the next file. `npm run bench:generate` measures it.
 *
 * gzip level: 4 by default (`gzipLevel`). Measured on 200,000 events (330 MB of JSON): level 1
 * gives 47 MB, level 4 42 MB, level 6 (zlib's default) 39 MB but takes ~30% longer than 4. Level 4
 * keeps the compressed size close to level 6 while staying well inside the 30 s budget on 2 cores.
 */
import { makePlan } from './plan.ts';
import { clampInt } from './random.ts';
import { renderFile } from './records.ts';
import { resolveSettings } from './settings.ts';
import { buildWorld } from './world.ts';
import { writeTrail } from './writer.ts';

export { DEFAULT_REGIONS, DEFAULT_START } from './settings.ts';

export interface GenerateTrailOptions {
  /** Output folder; files go under `<dir>/AWSLogs/<o-orgid>/<account>/CloudTrail/...`. */
  dir: string;
  /** Number of records (events) to write. */
  events: number;
  /** Number of member accounts in the organization (default 20). */
  accounts?: number;
  /** Regions of the trail (default DEFAULT_REGIONS). Global services are logged in us-east-1. */
  regions?: string[];
  /** Organization id, with or without the `o-` prefix (default derived from the seed). */
  orgId?: string;
  /** Length of the period in days (default 7, fractions allowed). */
  days?: number;
  /** Start of the period (default DEFAULT_START). */
  start?: Date;
  /** Seed of the PRNG (default 1). */
  seed?: number;
  /** Mean number of records per log file (default 80; actual sizes vary, log-normal). */
  recordsPerFile?: number;
  /** Also write CloudTrail-Digest files (no `Records` key) that an ingester must skip. */
  digests?: boolean;
  /** zlib gzip level 1-9 (default 4). */
  gzipLevel?: number;
}

export interface GenerateTrailResult {
  /** Log files written (digest files not included). */
  files: number;
  /** Records written. */
  events: number;
  /** Compressed bytes of the log files (digest files not included). */
  bytes: number;
  /** The output folder. */
  dir: string;
  /** Digest files written (0 unless `digests`). */
  digests: number;
}

export interface GenerateRecordsOptions {
  count: number;
  seed?: number;
  accounts?: number;
  regions?: string[];
  start?: Date;
  days?: number;
  /** Must match the generateTrail option for both to yield the same records (default 80). */
  recordsPerFile?: number;
}

/**
 * Write a synthetic organization trail as gzipped CloudTrail log files in the real S3 layout.
 * The records are exactly those `generateRecords` yields for the same options, in the same order.
 */
export async function generateTrail(opts: GenerateTrailOptions): Promise<GenerateTrailResult> {
  const world = buildWorld(resolveSettings({ ...opts, count: opts.events }));
  const written = await writeTrail(world, makePlan(world), opts.dir, clampInt(opts.gzipLevel ?? 4, 1, 9));
  return { files: written.files, events: written.events, bytes: written.bytes, dir: opts.dir, digests: written.digests };
}

/** The trail's records as objects (parsed from the same JSON text the files would hold). */
export function* generateRecords(opts: GenerateRecordsOptions): Generator<Record<string, unknown>> {
  for (const line of generateRecordJson(opts)) yield JSON.parse(line) as Record<string, unknown>;
}

/** The trail's records as compact JSON text, one string per record (fastest path for bulk loads). */
export function* generateRecordJson(opts: GenerateRecordsOptions): Generator<string> {
  const world = buildWorld(resolveSettings(opts));
  const plan = makePlan(world);
  const recs: string[] = [];
  for (const fp of plan) {
    recs.length = 0;
    renderFile(world, fp, recs);
    yield* recs;
  }
}
