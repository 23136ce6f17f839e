/** The generator's options with their defaults filled in and checked, as every other part reads them. */
import { charsFromHash, clampInt, hash } from './random.ts';

export const DEFAULT_REGIONS: readonly string[] = [
  'us-east-1',
  'us-west-2',
  'eu-west-1',
  'eu-central-1',
  'ap-southeast-2',
  'ap-northeast-1',
];
export const DEFAULT_START = new Date('2025-03-03T00:00:00Z');

/** What the generator makes: the options of generateTrail or generateRecords, every default applied. */
export interface GeneratorSettings {
  seed: number;
  count: number;
  accounts: number;
  regions: string[];
  orgId: string;
  startSec: number;
  endSec: number; // exclusive
  recordsPerFile: number;
  digests: boolean;
}

/** The options with their defaults; throws on a start date that is not one or a period that is not positive. */
export function resolveSettings(o: {
  count: number;
  seed?: number;
  accounts?: number;
  regions?: string[];
  orgId?: string;
  start?: Date;
  days?: number;
  recordsPerFile?: number;
  digests?: boolean;
}): GeneratorSettings {
  const seed = (o.seed ?? 1) >>> 0;
  const count = Math.max(0, Math.floor(o.count));
  const accounts = clampInt(o.accounts ?? 20, 1, 10000);
  const regions = [...new Set(o.regions && o.regions.length > 0 ? o.regions : DEFAULT_REGIONS)];
  const startMs = (o.start ?? DEFAULT_START).getTime();
  const days = o.days ?? 7;
  if (!Number.isFinite(startMs)) throw new Error('generate: invalid start date');
  if (!(days > 0)) throw new Error('generate: days must be > 0');
  const startSec = Math.ceil(startMs / 1000);
  const endSec = Math.max(startSec + 1, Math.ceil((startMs + days * 86400000) / 1000));
  let orgId = o.orgId ?? `o-${charsFromHash(hash(seed, 77), 'abcdefghijklmnopqrstuvwxyz0123456789', 10)}`;
  if (!orgId.startsWith('o-')) orgId = `o-${orgId}`;
  return {
    seed,
    count,
    accounts,
    regions,
    orgId,
    startSec,
    endSec,
    recordsPerFile: Math.max(1, o.recordsPerFile ?? 80),
    digests: o.digests ?? false,
  };
}
