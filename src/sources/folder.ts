import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import { relative } from 'node:path';
import { describeError, TrailbotError } from '../errors.ts';
import type { Unwrapped } from '../events/envelopes.ts';
import type { FolderSource } from './config.ts';
import { emptyPart, type PollReport, type SourceContext, summarize } from './context.ts';
import { expandPaths, readInputs } from './files.ts';
import { count, markObjects, putAside, seenObjects } from './state.ts';

/**
 * A watched folder of CloudTrail files (any layout, any format `trailbot ingest` reads): for
 * replays, and the embedded default. A file is read once it has settled (unchanged for `settle`),
 * and again only if its size or modification time change (source_objects, keyed by its path
 * inside the folder). A file that cannot be read is kept aside with the reason and not retried
 * until it changes.
 */
export async function pollFolder(ctx: SourceContext, src: FolderSource, opts: { deadline?: number } = {}): Promise<PollReport> {
  const started = performance.now();
  const deadline = opts.deadline ?? Date.now() + src.maxRun;
  const db = ctx.store.db;
  const report = emptyPart('folder');
  let newest: string | null = null;
  try {
    const s = await stat(src.path).catch(() => undefined);
    if (!s?.isDirectory()) {
      throw new TrailbotError('E_SOURCE', `the folder ${src.path} of source ${src.id} does not exist or is not a folder`, { hint: 'create it, or fix path: in the source settings' });
    }
    const { files } = await expandPaths([src.path]);
    const now = ctx.now();
    const candidates: { file: string; key: string; tag: string }[] = [];
    for (const file of files) {
      const st = await stat(file).catch(() => undefined);
      if (!st || now - st.mtimeMs < src.settle) continue; // still being written, perhaps
      candidates.push({ file, key: relative(src.path, file), tag: `${st.size}:${Math.floor(st.mtimeMs)}` });
    }
    const seen = await seenObjects(db, src.id, candidates.map((c) => c.key));
    const todo = candidates.filter((c) => seen.get(c.key) !== c.tag);
    for (let i = 0; i < todo.length; i += 32) {
      if (Date.now() >= deadline) {
        report.state = 'more';
        break;
      }
      const batch = todo.slice(i, i + 32);
      const byFile = new Map(batch.map((c) => [c.file, c]));
      const items: Unwrapped[] = [];
      const outcomes: { c: (typeof batch)[number]; events: number; error: string | null }[] = [];
      for await (const f of readInputs(batch.map((c) => c.file))) {
        const c = byFile.get(f.file)!;
        if (f.error) outcomes.push({ c, events: 0, error: f.error });
        else {
          outcomes.push({ c, events: f.items.length, error: null });
          items.push(...f.items);
        }
      }
      const put = await ctx.sink.put(items);
      for (const r of put.rejections) await putAside(db, src.id, r.where, r.reason);
      for (const o of outcomes) {
        if (!o.error) continue;
        await putAside(db, src.id, o.c.file, o.error);
        ctx.log.error({ source: src.id, file: o.c.file, reason: o.error }, 'file kept aside');
      }
      await markObjects(db, src.id, outcomes.map((o) => ({ key: o.c.key, tag: o.c.tag, events: o.events, error: o.error })));
      const bad = outcomes.filter((o) => o.error);
      report.events += put.events;
      report.inserted += put.inserted;
      report.duplicates += put.duplicates;
      report.rejected += put.rejections.length + bad.length;
      await count(db, src.id, 'folder', 'folder', {
        events: put.inserted,
        duplicates: put.duplicates,
        lastEventAt: put.newest ? Date.parse(put.newest) : null,
        error: bad.length ? `${bad[0]!.c.file}: ${bad[0]!.error}` : null,
      });
      ctx.onProgress?.({ source: src.id, part: 'folder', events: report.events });
      if (put.newest && (!newest || put.newest > newest)) newest = put.newest;
    }
    if (todo.length === 0) await count(db, src.id, 'folder', 'folder', {});
    return summarize(src.id, 'folder', [report], newest, started);
  } catch (e) {
    const msg = describeError(e);
    await count(db, src.id, 'folder', 'folder', { error: msg }).catch(() => undefined);
    throw e;
  }
}

/**
 * Calls `onChange` (debounced) when anything in the folder changes, so `trailbot sources run` reads
 * new files at once rather than at the next scheduled poll. Returns the watcher to close.
 */
export function watchFolder(path: string, onChange: () => void, debounceMs = 300): FSWatcher | undefined {
  let timer: NodeJS.Timeout | undefined;
  try {
    const w = watch(path, { recursive: true }, () => {
      clearTimeout(timer);
      timer = setTimeout(onChange, debounceMs);
    });
    w.on('error', () => undefined);
    return w;
  } catch {
    return undefined; // no recursive watching here: the scheduled polls still find every file
  }
}
