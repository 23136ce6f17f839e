import { describeError, TrailbotError } from '../errors.ts';
import type { Unwrapped } from '../events/envelopes.ts';
import type { S3Port } from '../integrations/aws/index.ts';
import { kindOf } from '../integrations/aws/errors.ts';
import { greatest } from '../store/sql.ts';
import type { S3Source } from './config.ts';
import { emptyPart, type PartReport, type PollReport, pool, type SourceContext, summarize } from './context.ts';
import { gunzipped, parseDocument } from './files.ts';
import { trailFileProblem } from './messages.ts';
import { advance, forgetOldObjects, holdLease, markObjects, putAside, recordError, seenObjects } from './state.ts';

const DAY = 86_400_000;

/**
 * CloudTrail log files straight from the trail's bucket:
 * `[prefix/]AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz`.
 * Digest (`CloudTrail-Digest/`) and Insights (`CloudTrail-Insight/`) folders are never listed.
 * Each account-region is a part; its cursor is the first day not yet listed completely. Every poll
 * lists yesterday's and today's folders (files arrive late), and reads the files it has not read
 * before (table source_objects, by key and ETag), so a file listed twice is read once.
 */

/** A log file's records, or why it cannot be read. Gzip is recognised by its magic number. */
export async function readTrailFile(s3: S3Port, bucket: string, key: string, signal?: AbortSignal): Promise<{ items: Unwrapped[]; etag: string; bytes: number; error?: string }> {
  const { body, etag } = await s3.get(bucket, key, { signal });
  let data: Buffer;
  try {
    data = await gunzipped(body);
  } catch (e) {
    return { items: [], etag, bytes: body.length, error: `corrupt gzip data: ${(e as Error).message}` };
  }
  const where = `s3://${bucket}/${key}`;
  let text: string;
  try {
    text = data.toString('utf8');
  } catch (e) {
    return { items: [], etag, bytes: body.length, error: `too large to read: ${(e as Error).message}` };
  }
  const { items, error } = parseDocument(text, key.endsWith('.gz') ? where : `${where}.json`);
  return { items, etag, bytes: body.length, ...(error ? { error } : {}) };
}

export interface TrailPart {
  /** `[o-org/]account/region` */
  name: string;
  account: string;
  region: string;
  /** The region folder: `…/CloudTrail/<region>/` */
  prefix: string;
}

/** Lists the bucket's CloudTrail folders: every account-region, organization trails included. */
export async function discoverParts(s3: S3Port, src: Pick<S3Source, 'bucket' | 'prefix' | 'organizationId' | 'accounts' | 'regions'>, signal?: AbortSignal): Promise<TrailPart[]> {
  const root = `${src.prefix ? `${src.prefix}/` : ''}AWSLogs/`;
  const accountRoots: { org: string | undefined; prefix: string }[] = [];
  const top = src.organizationId ? [`${root}${src.organizationId}/`] : (await s3.listAll(src.bucket, { prefix: root, delimiter: '/', signal })).prefixes;
  for (const p of top) {
    const name = p.slice(root.length, -1);
    if (/^\d{12}$/.test(name)) accountRoots.push({ org: undefined, prefix: p });
    else if (/^o-[a-z0-9]+$/.test(name)) {
      for (const a of (await s3.listAll(src.bucket, { prefix: p, delimiter: '/', signal })).prefixes) {
        if (/^\d{12}$/.test(a.slice(p.length, -1))) accountRoots.push({ org: name, prefix: a });
      }
    }
  }
  const parts: TrailPart[] = [];
  for (const a of accountRoots) {
    const account = a.prefix.slice(0, -1).split('/').pop()!;
    if (src.accounts && !src.accounts.includes(account)) continue;
    const ct = `${a.prefix}CloudTrail/`;
    for (const r of (await s3.listAll(src.bucket, { prefix: ct, delimiter: '/', signal })).prefixes) {
      const region = r.slice(ct.length, -1);
      if (src.regions && !src.regions.includes(region)) continue;
      parts.push({ name: `${a.org ? `${a.org}/` : ''}${account}/${region}`, account, region, prefix: r });
    }
  }
  return parts.sort((x, y) => x.name.localeCompare(y.name));
}

const ymd = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const dayMs = (d: string): number => Date.parse(`${d}T00:00:00Z`);

export interface S3PollOptions {
  deadline?: number;
  /** Read these days (YYYY-MM-DD, inclusive) instead of following the cursor: a backfill of a date range. */
  from?: string | undefined;
  to?: string | undefined;
}

export async function pollS3(ctx: SourceContext, src: S3Source, opts: S3PollOptions = {}): Promise<PollReport> {
  const started = performance.now();
  const deadline = opts.deadline ?? Date.now() + src.maxRun;
  const s3 = await ctx.aws.s3({ account: src.account, roleName: src.roleName, externalId: src.externalId }, src.region);
  const parts = await discoverParts(s3, src, ctx.signal);
  let newest: string | null = null;
  const reports = await pool(parts, 4, (p) =>
    pollTrailPart(ctx, src, s3, p, deadline, opts, (t) => {
      newest = greatest(newest, t);
    }),
  );
  await forgetOldObjects(ctx.store.db, src.id, Math.ceil(src.backfill / DAY) + 15);
  const report = summarize(src.id, 's3', reports, newest, started);
  if (reports.length > 0 && reports.every((r) => r.state === 'failed')) {
    throw new TrailbotError('E_SOURCE', `source ${src.id}: every account-region failed; first: ${reports[0]!.part}: ${reports[0]!.error}`, { hint: 'see `trailbot sources status`' });
  }
  return report;
}

async function pollTrailPart(
  ctx: SourceContext,
  src: S3Source,
  s3: S3Port,
  p: TrailPart,
  deadline: number,
  opts: S3PollOptions,
  onNewest: (iso: string) => void,
): Promise<PartReport> {
  const report = emptyPart(p.name);
  const db = ctx.store.db;
  const lease = await holdLease(db, src.id, p.name, 's3', ctx.owner, ctx.leaseMs);
  if (!lease) return { ...report, state: 'leased' };
  try {
    const now = ctx.now();
    const today = ymd(now);
    const ranged = opts.from !== undefined;
    let first: string;
    if (ranged) first = opts.from!;
    else if (lease.cursor.doneDay) first = lease.cursor.doneDay;
    else {
      first = ymd(now - src.backfill);
      await advance(db, src.id, p.name, lease.owner, { doneDay: first, tailFrom: dayMs(first) });
    }
    const last = ranged ? (opts.to ?? today) : today;
    for (let d = first; d <= last; d = ymd(dayMs(d) + DAY)) {
      if (Date.now() >= deadline) {
        report.state = 'more';
        return report;
      }
      const folder = `${p.prefix}${d.slice(0, 4)}/${d.slice(5, 7)}/${d.slice(8, 10)}/`;
      const listed = (await s3.listAll(src.bucket, { prefix: folder, signal: ctx.signal })).objects.filter((o) => !trailFileProblem(o.key));
      const seen = await seenObjects(db, src.id, listed.map((o) => o.key));
      const todo = listed.filter((o) => seen.get(o.key) !== o.etag);
      const done = await readFiles(ctx, src.id, s3, src.bucket, todo, report, deadline, onNewest, lease.owner);
      if (!done) {
        report.state = 'more';
        return report;
      }
      // Files for a day can arrive after midnight: a day is finished once the day after it is over too.
      if (!ranged && dayMs(d) + 2 * DAY <= dayMs(today)) {
        if (!(await advance(db, src.id, p.name, lease.owner, { doneDay: ymd(dayMs(d) + DAY) }))) throw new TrailbotError('E_SOURCE', 'another worker took this part over');
      }
      ctx.onProgress?.({ source: src.id, part: p.name, events: report.events, note: d, backfill: (dayMs(d) - dayMs(first) + DAY) / (dayMs(last) - dayMs(first) + DAY) });
    }
    return report;
  } catch (e) {
    const msg = describeError(e);
    ctx.log.warn({ source: src.id, part: p.name, err: msg }, 'S3 trail poll failed');
    await recordError(db, src.id, p.name, 's3', msg).catch(() => undefined);
    return { ...report, state: 'failed', error: msg };
  } finally {
    await lease.release();
  }
}

/**
 * Reads files (8 at a time), stores their events in batches, then marks them read. A file that
 * cannot be parsed is marked with its error and kept aside (it is read again only if it changes).
 * Returns false if the deadline cut it short.
 */
export async function readFiles(
  ctx: SourceContext,
  source: string,
  s3: S3Port,
  bucket: string,
  files: { key: string; etag: string }[],
  report: PartReport,
  deadline: number,
  onNewest: (iso: string) => void,
  owner: string,
): Promise<boolean> {
  const db = ctx.store.db;
  for (let i = 0; i < files.length; i += 16) {
    if (Date.now() >= deadline) return false;
    const batch = files.slice(i, i + 16);
    const read = await pool(batch, 8, async (f) => {
      try {
        return { f, ...(await readTrailFile(s3, bucket, f.key, ctx.signal)) };
      } catch (e) {
        if (kindOf(e) === 'not-found') return { f, items: [], etag: f.etag, bytes: 0, error: 'the object no longer exists' };
        throw e;
      }
    });
    const items = read.flatMap((r) => r.items);
    const put = await ctx.sink.put(items);
    for (const r of put.rejections) await putAside(db, source, r.where, r.reason);
    for (const r of read) if (r.error) await putAside(db, source, `s3://${bucket}/${r.f.key}`, r.error);
    await markObjects(db, source, read.map((r) => ({ key: r.f.key, tag: r.etag, events: r.items.length, error: r.error ?? null })));
    report.events += put.events;
    report.inserted += put.inserted;
    report.duplicates += put.duplicates;
    report.rejected += put.rejections.length + read.filter((r) => r.error).length;
    report.requests += batch.length;
    if (put.newest) onNewest(put.newest);
    await advance(db, source, report.part, owner, {}, { events: put.inserted, duplicates: put.duplicates, requests: batch.length, lastEventAt: put.newest ? Date.parse(put.newest) : null });
  }
  return true;
}
