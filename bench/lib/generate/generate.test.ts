import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRecords, generateTrail, type GenerateTrailResult } from './index.ts';

const START = new Date('2025-06-02T00:00:00Z');
const DAYS = 2;
const OPTS = { events: 2000, seed: 42, start: START, days: DAYS, accounts: 8, digests: true } as const;

const LOG_RE =
  /^AWSLogs\/(o-[a-z0-9]{10,32})\/(\d{12})\/CloudTrail\/([a-z]{2}(?:-[a-z]+)+-\d)\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{12})_CloudTrail_([a-z0-9-]+)_(\d{8})T(\d{4})Z_([A-Za-z0-9]{16})\.json\.gz$/;
const DIGEST_RE =
  /^AWSLogs\/(o-[a-z0-9]{10,32})\/(\d{12})\/CloudTrail-Digest\/([a-z0-9-]+)\/(\d{4})\/(\d{2})\/(\d{2})\/(\d{12})_CloudTrail-Digest_([a-z0-9-]+)_[A-Za-z0-9-]+_[a-z0-9-]+_(\d{8})T(\d{6})Z\.json\.gz$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

// biome-ignore lint/suspicious/noExplicitAny: parsed CloudTrail JSON, its fields read freely by the assertions below
type Rec = Record<string, any>;
interface LogFile {
  path: string;
  m: RegExpExecArray;
  records: Rec[];
  raw: Buffer;
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

async function readTrail(dir: string): Promise<{ logs: LogFile[]; digests: Array<{ path: string; body: Rec }>; other: string[] }> {
  const logs: LogFile[] = [];
  const digests: Array<{ path: string; body: Rec }> = [];
  const other: string[] = [];
  for (const file of (await walk(dir)).sort()) {
    const rel = relative(dir, file).split(sep).join('/');
    const raw = await readFile(file);
    const m = LOG_RE.exec(rel);
    if (m) {
      const body = JSON.parse(gunzipSync(raw).toString('utf8'));
      expect(Object.keys(body)).toEqual(['Records']);
      logs.push({ path: rel, m, records: body.Records, raw });
    } else if (DIGEST_RE.test(rel)) {
      digests.push({ path: rel, body: JSON.parse(gunzipSync(raw).toString('utf8')) });
    } else other.push(rel);
  }
  return { logs, digests, other };
}

describe('generateTrail', () => {
  let dir = '';
  let res: GenerateTrailResult;
  let trail: Awaited<ReturnType<typeof readTrail>>;
  const all = (): Rec[] => trail.logs.flatMap((f) => f.records);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trailbot-gen-test-'));
    res = await generateTrail({ dir, ...OPTS });
    trail = await readTrail(dir);
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes gzipped {"Records":[...]} files in the CloudTrail S3 layout', () => {
    expect(trail.other).toEqual([]);
    expect(trail.logs.length).toBe(res.files);
    expect(res.events).toBe(OPTS.events);
    expect(all().length).toBe(OPTS.events);
    expect(res.bytes).toBe(trail.logs.reduce((s, f) => s + f.raw.length, 0));
    const orgs = new Set(trail.logs.map((f) => f.m[1]));
    expect(orgs.size).toBe(1);
    for (const { m, raw } of trail.logs) {
      expect(raw[0]).toBe(0x1f); // gzip magic
      expect(raw[1]).toBe(0x8b);
      const [, , acct, region, yyyy, mm, dd, nameAcct, nameRegion, ymd, hhmm] = m;
      expect(nameAcct).toBe(acct);
      expect(nameRegion).toBe(region);
      expect(ymd).toBe(`${yyyy}${mm}${dd}`);
      expect(Number(hhmm.slice(0, 2))).toBeLessThan(24);
      expect(Number(hhmm.slice(2))).toBeLessThan(60);
    }
  });

  it('varies file sizes and spreads files over accounts and regions', () => {
    const sizes = trail.logs.map((f) => f.records.length);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...sizes)).toBeGreaterThan(2 * Math.min(...sizes));
    expect(new Set(sizes).size).toBeGreaterThan(5);
    expect(new Set(trail.logs.map((f) => f.m[2])).size).toBeGreaterThan(3);
    expect(new Set(trail.logs.map((f) => f.m[3])).size).toBeGreaterThan(2);
  });

  it('gives every record a unique UUID v4 eventID and a requestID', () => {
    const ids = all().map((r) => r.eventID);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of all()) {
      expect(r.eventID).toMatch(UUID_RE);
      if (r.eventType === 'AwsApiCall') expect(typeof r.requestID).toBe('string');
    }
  });

  it('keeps eventTime inside the period and sorted within each file', () => {
    const lo = START.getTime();
    const hi = lo + DAYS * 86400000;
    for (const f of trail.logs) {
      let prev = '';
      for (const r of f.records) {
        expect(r.eventTime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
        const t = Date.parse(r.eventTime);
        expect(t).toBeGreaterThanOrEqual(lo);
        expect(t).toBeLessThan(hi);
        expect(r.eventTime >= prev).toBe(true);
        prev = r.eventTime;
      }
      // delivered after the newest event, about every 5 minutes
      const named = Date.parse(`${f.m[9].slice(0, 4)}-${f.m[9].slice(4, 6)}-${f.m[9].slice(6, 8)}T${f.m[10].slice(0, 2)}:${f.m[10].slice(2)}:59Z`);
      expect(named).toBeGreaterThanOrEqual(Date.parse(prev));
      expect(named - Date.parse(f.records[0].eventTime)).toBeLessThan(20 * 60000);
    }
  });

  it('matches accounts, ARNs and regions to the folder the file is in', () => {
    for (const { m, records } of trail.logs) {
      const acct = m[2];
      const region = m[3];
      for (const r of records) {
        const text = JSON.stringify(r);
        expect(r.recipientAccountId).toBe(acct);
        if (r.userIdentity.accountId !== undefined) expect(r.userIdentity.accountId).toBe(acct);
        for (const arn of text.matchAll(/arn:aws:[a-z0-9-]+:[a-z0-9-]*:(\d{12}):/g)) expect(arn[1]).toBe(acct);
        if (r.eventSource === 'iam.amazonaws.com' || r.eventSource === 'signin.amazonaws.com') {
          expect(r.awsRegion).toBe('us-east-1');
        }
        expect(r.awsRegion).toBe(region);
        expect(text).not.toMatch(/stratus|christophe|mordor|pedro|anaya|EXAMPLE/);
      }
    }
  });

  it('uses realistic principals and access keys', () => {
    const recs = all();
    const types = new Set(recs.map((r) => r.userIdentity.type));
    for (const t of ['AssumedRole', 'IAMUser', 'AWSService']) expect(types).toContain(t);
    const keyOwner = new Map<string, string>();
    for (const r of recs) {
      const ui = r.userIdentity;
      if (ui.type === 'AssumedRole') {
        expect(ui.accessKeyId).toMatch(/^ASIA[A-Z0-9]{16}$/);
        expect(ui.arn).toMatch(/^arn:aws:sts::\d{12}:assumed-role\/[^/]+\/.+$/);
        expect(ui.sessionContext.sessionIssuer.arn.endsWith(`/${ui.arn.split('/')[1]}`)).toBe(true);
      }
      if (ui.type === 'IAMUser' && ui.accessKeyId) {
        expect(ui.accessKeyId).toMatch(ui.sessionContext ? /^ASIA/ : /^AKIA/);
      }
      if (ui.accessKeyId) {
        const owner = keyOwner.get(ui.accessKeyId);
        if (owner) expect(owner).toBe(ui.arn);
        keyOwner.set(ui.accessKeyId, ui.arn);
      }
    }
    const sso = recs.filter((r) => /assumed-role\/AWSReservedSSO_[A-Za-z]+_[0-9a-f]{16}\/[a-z0-9.]+@corp\.example$/.test(r.userIdentity.arn ?? ''));
    expect(sso.length).toBeGreaterThan(0);
    // Zipf-like activity: the busiest principal does far more than the median one.
    const counts = new Map<string, number>();
    for (const r of recs) {
      const k = r.userIdentity.arn ?? r.userIdentity.invokedBy;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const sorted = [...counts.values()].sort((a, b) => b - a);
    expect(sorted.length).toBeGreaterThan(20);
    expect(sorted[0]).toBeGreaterThan(5 * sorted[Math.floor(sorted.length / 2)]);
    expect(new Set(recs.map((r) => r.eventName)).size).toBeGreaterThan(20);
  });

  it('writes digest files without Records that point at real log files', () => {
    expect(trail.digests.length).toBe(res.digests);
    expect(trail.digests.length).toBeGreaterThan(0);
    const logKeys = new Set(trail.logs.map((f) => f.path));
    let listed = 0;
    for (const { path, body } of trail.digests) {
      expect(body.Records).toBeUndefined();
      expect(path.split('/')[2]).toBe(body.awsAccountId);
      expect(body.digestS3Object).toBe(path);
      expect(body.digestSignatureAlgorithm).toBe('SHA256withRSA');
      for (const f of body.logFiles) {
        expect(logKeys.has(f.s3Object)).toBe(true);
        expect(f.hashValue).toMatch(/^[0-9a-f]{64}$/);
        listed++;
      }
    }
    expect(listed).toBe(trail.logs.length);
  });

  it('is deterministic for a seed, and generateRecords yields the same records', async () => {
    const again = await mkdtemp(join(tmpdir(), 'trailbot-gen-test-'));
    const other = await mkdtemp(join(tmpdir(), 'trailbot-gen-test-'));
    try {
      await generateTrail({ dir: again, ...OPTS });
      await generateTrail({ dir: other, ...OPTS, seed: 43 });
      const a = await readTrail(again);
      expect(a.logs.map((f) => f.path)).toEqual(trail.logs.map((f) => f.path));
      expect(a.logs.map((f) => f.records)).toEqual(trail.logs.map((f) => f.records));
      expect(a.digests).toEqual(trail.digests);
      const b = await readTrail(other);
      expect(b.logs[0].path).not.toBe(trail.logs[0].path);
      expect(b.logs[0].records[0].eventID).not.toBe(trail.logs[0].records[0].eventID);
    } finally {
      await rm(again, { recursive: true, force: true });
      await rm(other, { recursive: true, force: true });
    }
    const fromGenerator = [...generateRecords({ count: OPTS.events, seed: OPTS.seed, start: START, days: DAYS, accounts: OPTS.accounts })];
    const byId = (x: Rec, y: Rec): number => (x.eventID < y.eventID ? -1 : 1);
    expect(fromGenerator.sort(byId)).toEqual(all().sort(byId));
  });
});
