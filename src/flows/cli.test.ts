import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/main.ts';
import { normalize } from '../events/normalize.ts';
import { FLOWS } from './registry.ts';
import { openStore } from '../store/index.ts';
import { records } from '../../test/fixtures/flows/load.ts';
import { createTestDatabase } from '../../test/helpers/db.ts';

const FIX = join(import.meta.dirname, '..', '..', 'test', 'fixtures');

async function run(argv: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries({ DATABASE_URL: undefined, TRAILBOT_CONFIG: undefined, ...env })) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s), tty: false });
    return { code, out, err };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('trailbot flows list / detect / report', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trailbot-flows-cli-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the catalog with kind, severity and whether each flow is enabled', async () => {
    const cfg = join(dir, 'off.yaml');
    await writeFile(cfg, 'flows:\n  new-service: { enabled: false }\n  clickops-burst: { severity: high }\n');
    const r = await run(['flows', 'list'], { TRAILBOT_CONFIG: cfg });
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toMatch(/^ID +KIND +SEVERITY +ENABLED +DESCRIPTION$/);
    expect(lines).toHaveLength(FLOWS.length + 1);
    expect(r.out).toMatch(/new-service +first-seen +low +no /);
    expect(r.out).toMatch(/clickops-burst +threshold +high +yes /);
  });

  it('detect --json prints one object per finding with the documented fields', async () => {
    const r = await run(['detect', '--json', join(FIX, 'records', 'stratus-aws.persistence.iam-create-admin-user.json')]);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.flow).sort()).toEqual(['access-key-created', 'admin-policy-attached', 'iam-user-created-or-deleted']);
    for (const l of lines) expect(Object.keys(l)).toEqual(['flow', 'severity', 'key', 'title', 'summary', 'count', 'firstSeen', 'lastSeen', 'eventIds']);
  });

  it('detect reads folders, reports rejected records on stderr, keeps going and exits 1', async () => {
    const bad = join(dir, 'mixed.ndjson');
    const good = records('records/writes-logging.json').find((x) => x.eventName === 'StopLogging')!;
    await writeFile(bad, `${JSON.stringify(good)}\n{"eventName":"Nope"}\nnot json\n`);
    const r = await run(['detect', bad]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`rejected ${bad}:2`);
    expect(r.err).toContain(`rejected ${bad}:3`);
    expect(r.out).toContain('[high] CloudTrail changed: Tester stopped logging on the CloudTrail trail example-trail in us-west-2');
  });

  it('a wrong flows setting stops with E_CONFIG_INVALID naming the key (exit 2)', async () => {
    const cfg = join(dir, 'bad.yaml');
    await writeFile(cfg, 'flows:\n  clickops-burst: { params: { moreThen: 5 } }\n');
    const r = await run(['detect', join(FIX, 'flows')], { TRAILBOT_CONFIG: cfg });
    expect(r.code).toBe(2);
    expect(r.err).toContain('E_CONFIG_INVALID');
    expect(r.err).toContain('flows.clickops-burst.params.moreThen: unknown key — did you mean moreThan?');
  });

  it('report prints Markdown, CSV or JSON from the store', async () => {
    const db = await createTestDatabase('trailbot_flows_cli');
    try {
      const store = await openStore({ databaseUrl: db.url, dataDir: dir });
      const denied = records('records/stratus-aws.credential-access.ec2-get-password-data.json');
      await store.ingest(denied.map((raw) => ({ event: normalize(raw), raw })));
      await store.close();
      const args = ['--since', '2024-07-29', '--until', '2024-08-05'];
      const md = await run(['report', 'denied', ...args], { DATABASE_URL: db.url });
      expect(md.code).toBe(0);
      expect(md.out).toContain('| ec2.amazonaws.com | GetPasswordData | 30 |');
      const csv = await run(['report', 'denied', ...args, '--format', 'csv'], { DATABASE_URL: db.url });
      expect(csv.out.split('\r\n')[0]).toMatch(/^section,service,action,count,/);
      const bad = await run(['report', 'everything'], { DATABASE_URL: db.url });
      expect(bad.code).toBe(2);
    } finally {
      await db.drop();
    }
  });
});
