import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RawRecord } from '../events/model.ts';
import * as data from '../../test/fixtures/flows/data-records.ts';
import * as exposure from '../../test/fixtures/flows/exposure-records.ts';
import * as identity from '../../test/fixtures/flows/identity-records.ts';
import { findings, records } from '../../test/fixtures/flows/load.ts';
import type { FlowsConfigInput } from './config.ts';
import { SEVERITIES } from './define.ts';
import { FLOWS } from './registry.ts';

/**
 * src/flows/README.md is a claim: every Stratus Red Team AWS technique raises its flow at its
 * severity on a replay of its CloudTrail records. This replays each row: Stratus's own detonation
 * log (`stratus`, test/fixtures/records) or the records built for it (`built`, `aws-docs`:
 * `STRATUS_BUILT` of the fixture modules, with `STRATUS_CONFIG` when the flow needs settings, e.g.
 * egress ranges). Default settings otherwise.
 */

interface Row {
  technique: string;
  flow: string;
  severity: string;
  source: string;
}

function rows(): Row[] {
  const text = readFileSync(join(import.meta.dirname, 'README.md'), 'utf8');
  const out: Row[] = [];
  for (const line of text.split('\n')) {
    const m = /^\| (aws\.[a-z-]+\.[a-z0-9-]+) \| ([a-z0-9-]+) \| ([a-z?]+) \| ([a-z-]+) \|$/.exec(line.trim());
    if (m) out.push({ technique: m[1]!, flow: m[2]!, severity: m[3]!, source: m[4]! });
  }
  return out;
}

type Built = Readonly<Record<string, () => RawRecord[]>>;
type Settings = Readonly<Record<string, FlowsConfigInput>>;
const modules = [data, exposure, identity] as unknown as { STRATUS_BUILT?: Built; STRATUS_CONFIG?: Settings }[];
const BUILT: Record<string, () => RawRecord[]> = Object.assign({}, ...modules.map((m) => m.STRATUS_BUILT ?? {}));
const CONFIG: Record<string, FlowsConfigInput> = Object.assign({}, ...modules.map((m) => m.STRATUS_CONFIG ?? {}));

function replayOf(r: Row): RawRecord[] {
  if (r.source === 'stratus') {
    const file = `records/stratus-${r.technique}.json`;
    expect(existsSync(join(import.meta.dirname, '../../test/fixtures', file)), `${file} is missing`).toBe(true);
    return records(file);
  }
  const build = BUILT[r.technique];
  expect(build, `no STRATUS_BUILT entry for ${r.technique}`).toBeTypeOf('function');
  return build!();
}

const table = rows();

describe("Stratus Red Team's AWS techniques (src/flows/README.md)", () => {
  it('lists the 44 techniques once each, with flows of the catalog, severities and record sources', () => {
    expect(table).toHaveLength(44);
    expect(new Set(table.map((r) => r.technique)).size).toBe(44);
    const ids = new Set(FLOWS.map((f) => f.id));
    for (const r of table) {
      expect(ids.has(r.flow), `${r.technique}: ${r.flow} is not a flow`).toBe(true);
      expect(SEVERITIES as readonly string[], r.technique).toContain(r.severity);
      expect(['stratus', 'built', 'aws-docs'], r.technique).toContain(r.source);
    }
  });

  for (const r of table) {
    it(`${r.technique} raises ${r.flow} (${r.severity}) on its ${r.source} records`, () => {
      const raised = findings(replayOf(r), r.flow, CONFIG[r.technique] ?? {});
      expect(raised.length, `${r.flow} did not fire`).toBeGreaterThan(0);
      expect(raised.map((f) => f.severity)).toContain(r.severity);
    });
  }

  it('uses every Stratus detonation log in test/fixtures', () => {
    const used = new Set(table.filter((r) => r.source === 'stratus').map((r) => r.technique));
    const dir = join(import.meta.dirname, '../../test/fixtures/records');
    const logs = (readFileSync(join(dir, 'SOURCES.md'), 'utf8').match(/stratus-(aws\.[a-z-]+\.[a-z0-9-]+)\.json/g) ?? []).map((f) => f.slice(8, -5));
    for (const t of new Set(logs)) if (existsSync(join(dir, `stratus-${t}.json`))) expect(used.has(t), `${t} has a detonation log but its row does not use it`).toBe(true);
  });
});
