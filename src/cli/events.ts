import { readFile } from 'node:fs/promises';
import { Option } from 'commander';
import { OUTCOMES, type Outcome, type SummarizedEvent, type TrailEvent, VIAS, type Via } from '../events/model.ts';
import { summarize, withSummary } from '../events/summary.ts';
import { emptyStats, ingestPaths, type IngestStats, normalizeItems, type Rejection } from '../ingest.ts';
import { expandPaths, readInputs } from '../sources/files.ts';
import type { Principal, Store } from '../store/index.ts';
import { type Cli, choice, EXIT } from './common.ts';
import { Progress } from './progress.ts';
import { type Remote, throughServer } from './remote.ts';
import { interruptible, type Stop } from './signals.ts';
import { withStore } from './store.ts';
import { oneOf, TrailbotError } from '../errors.ts';
import { type UploadResult, UPLOAD_MAX_BYTES } from '../runtime/upload.ts';
import { parseLimit, parseSinceUntil } from './time.ts';

function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Asks the running `trailbot serve` when it holds the embedded store, else the store itself. */
async function ask<T>(cli: Cli, direct: (s: Store) => Promise<T>, remote: (api: Remote) => Promise<T>): Promise<T> {
  const api = await throughServer(cli);
  return api ? remote(api) : withStore(cli, direct, { throughServe: true });
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `trailbot ingest` through the running server: each file (folders walked here) sent as it is. */
async function ingestThrough(api: Remote, paths: string[], opts: { onReject: (r: Rejection) => void; onFile: (index: number, total: number, s: IngestStats) => void; signal: AbortSignal }): Promise<IngestStats> {
  const stats = emptyStats();
  const started = performance.now();
  const reject = (r: Rejection): void => {
    stats.rejected++;
    opts.onReject(r);
  };
  const { files, errors } = await expandPaths(paths);
  const total = files.length + errors.length;
  for (const e of errors) {
    stats.failedFiles++;
    reject({ where: e.file, reason: e.error });
  }
  let index = errors.length;
  for (const file of files) {
    if (opts.signal.aborted) {
      stats.interrupted = true;
      stats.unreadFiles = total - index;
      break;
    }
    let bytes: Buffer;
    try {
      bytes = file === '-' ? await readStdin() : await readFile(file);
    } catch (e) {
      stats.failedFiles++;
      reject({ where: file, reason: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` });
      opts.onFile(++index, total, stats);
      continue;
    }
    let r: UploadResult;
    try {
      if (bytes.length > UPLOAD_MAX_BYTES) {
        throw new TrailbotError('E_USAGE', `larger than ${UPLOAD_MAX_BYTES / 1024 / 1024} MiB, more than the running trailbot serve takes; stop it and run \`trailbot ingest\` directly`);
      }
      r = await api.ingest(file === '-' ? '<stdin>' : file, bytes);
    } catch (e) {
      // The server refused this one file (too large, expands too much): the others still go.
      if (!(e instanceof TrailbotError && (e.code === 'E_USAGE' || e.code === 'E_INPUT_SHAPE'))) throw e;
      stats.failedFiles++;
      reject({ where: file, reason: e.message });
      opts.onFile(++index, total, stats);
      continue;
    }
    stats.bytes += bytes.length;
    stats.files += r.files;
    stats.skippedFiles += r.skippedFiles;
    stats.failedFiles += r.failedFiles;
    stats.events += r.events;
    stats.inserted += r.inserted;
    stats.duplicates += r.duplicates;
    for (const x of r.rejections) opts.onReject(x);
    if (r.rejected > r.rejections.length) opts.onReject({ where: file, reason: `${fmtInt(r.rejected - r.rejections.length)} more records rejected (\`trailbot jobs show ${r.job}\` lists the first ones)` });
    stats.rejected += r.rejected;
    opts.onFile(++index, total, stats);
  }
  stats.ms = performance.now() - started;
  return stats;
}

function reportReject(cli: Cli): (r: Rejection) => void {
  return (r) => cli.io.err(`trailbot: rejected ${r.where}: ${r.reason}\n`);
}

function describePrincipal(p: Principal): string {
  const bits = [p.type ?? 'unknown type'];
  if (p.account) bits.push(`account ${p.account}`);
  if (p.arn && p.arn !== p.name) bits.push(p.arn);
  bits.push(`${fmtInt(p.events)} events, last ${p.lastSeen}`);
  return `${p.name ?? p.actorKey} (${bits.join(', ')})`;
}

function printEvents(cli: Cli, events: TrailEvent[], json: boolean, principals?: Principal[]): void {
  if (json) {
    const out: { principals?: Principal[]; events: SummarizedEvent[] } = { events: events.map(withSummary) };
    if (principals) out.principals = principals;
    cli.io.out(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  for (const e of events) cli.io.out(`${summarize(e)}\n`);
}

export function registerEventCommands(cli: Cli): void {
  const { program } = cli;

  program
    .command('normalize')
    .description('Print each CloudTrail record as one normalized JSON object per line (NDJSON), in input order. Needs no store.')
    .argument('<path...>', 'files or folders (recursively): CloudTrail log files (gzipped or not), NDJSON, JSON arrays, LookupEvents responses, EventBridge events; - for stdin')
    .addHelpText('after', '\nRejected records are reported on stderr with file and line or index; the exit status is then 1.')
    .action(async (paths: string[]) => {
      let rejected = 0;
      const onReject = (r: Rejection): void => {
        rejected++;
        reportReject(cli)(r);
      };
      for await (const f of readInputs(paths)) {
        if (f.error) {
          onReject({ where: f.file, reason: f.error });
          continue;
        }
        const lines: string[] = [];
        for (const ing of normalizeItems(f.items, onReject)) lines.push(JSON.stringify(withSummary(ing.event)));
        if (lines.length) cli.io.out(`${lines.join('\n')}\n`);
      }
      if (rejected > 0) cli.setExit(EXIT.rejected);
    });

  program
    .command('ingest')
    .description('Read CloudTrail files into the event store. Re-ingesting the same files adds nothing.')
    .argument('<path...>', 'files or folders (recursively), any format `normalize` reads; - for stdin')
    .option('-q, --quiet', 'no progress bar and no summary line')
    .action(async (paths: string[], opts: { quiet?: boolean }) => {
      const api = await throughServer(cli);
      const run = async (store: Store | undefined, stop: Stop): Promise<void> => {
        const progress = !opts.quiet && cli.io.tty ? new Progress(cli.io.err) : undefined;
        const onReject = (r: Rejection): void => {
          progress?.clear();
          reportReject(cli)(r);
        };
        const stats = store
          ? await ingestPaths(store, paths, {
              onReject,
              signal: stop.signal,
              onFile: (f, s) => progress?.update(f.index, f.total, `${fmtInt(s.events)} events · ${fmtInt(s.events / Math.max(progress.elapsed(), 0.001))} events/s`),
            })
          : await ingestThrough(api!, paths, {
              onReject,
              signal: stop.signal,
              onFile: (i, n, s) => progress?.update(i, n, `${fmtInt(s.events)} events · ${fmtInt(s.events / Math.max(progress.elapsed(), 0.001))} events/s`),
            });
        progress?.clear();
        // Stdin still being read must not keep a stopped command waiting for its end.
        if (stats.interrupted && paths.includes('-')) process.stdin.destroy();
        // Stopped by a signal, the summary is printed even with -q: it says what is stored and what is not.
        if (!opts.quiet || stats.interrupted) {
          const rate = stats.ms > 0 ? (stats.events / stats.ms) * 1000 : 0;
          const skipped = stats.skippedFiles ? `, ${fmtInt(stats.skippedFiles)} digest files skipped` : '';
          const failed = stats.failedFiles ? `, ${fmtInt(stats.failedFiles)} unreadable` : '';
          const done = `${fmtInt(stats.inserted)} events new, ${fmtInt(stats.duplicates)} duplicate, ${fmtInt(stats.rejected)} rejected in ${(stats.ms / 1000).toFixed(1)} s`;
          if (stats.interrupted) {
            const unread = stats.unreadFiles === undefined ? 'no file was read' : `${fmtInt(stats.unreadFiles)} ${stats.unreadFiles === 1 ? 'file was' : 'files were'} not read`;
            cli.io.err(
              `trailbot: stopped by ${stop.by ?? 'a signal'}: ingested ${fmtInt(stats.files)} files${skipped}${failed}: ${done}; ${unread} (ingesting the same paths again adds only what is missing)\n`,
            );
          } else {
            cli.io.err(`ingested ${fmtInt(stats.files)} files${skipped}${failed}: ${done} (${fmtInt(rate)} events/s)\n`);
          }
        }
        if (stats.rejected > 0) cli.setExit(EXIT.rejected);
      };
      const doing = 'storing what was read, then stopping';
      // The flows run in the workers, not here: every new event's id goes to the flows outbox in the
      // transaction that stores it, and the next worker's drainer (src/runtime/outbox.ts) evaluates it.
      await (api ? interruptible(cli, (stop) => run(undefined, stop), { doing }) : withStore(cli, run, { flowOutbox: true, throughServe: true, doing }));
    });

  program
    .command('trail')
    .description("What a person did, newest first, one plain-language line each.")
    .argument('<who>', 'an e-mail or its start (alana@corp), IAM user name, role session name, access key id, ARN or principal id; case-insensitive')
    .option('--since <when>', 'from this time: 30m, 24h, 7d, 2w or an ISO date/time', '7d')
    .option('--until <when>', 'up to this time (same forms)')
    .option('--limit <n>', 'at most this many events', '50')
    .option('--writes-only', 'leave out read-only calls')
    .option('--json', 'print JSON: the matching principals and the events with summaries')
    .action(async (who: string, opts: { since: string; until?: string; limit: string; writesOnly?: boolean; json?: boolean }) => {
      const q = {
        who,
        ...parseSinceUntil(opts.since, opts.until),
        limit: parseLimit(opts.limit),
        writesOnly: opts.writesOnly ?? false,
      };
      const r = await ask(cli, (store) => store.trail(q), (api) => api.trail(q));
      if (opts.json) return printEvents(cli, r.events, true, r.principals);
      if (r.principals.length === 0) {
        cli.io.err(`trailbot: nobody matches ${JSON.stringify(who)} in the store (try an e-mail, user name, session name, access key id or ARN)\n`);
        cli.setExit(EXIT.rejected);
        return;
      }
      cli.io.out(`${r.principals.length === 1 ? 'Principal' : `${r.principals.length} principals`} matching ${JSON.stringify(who)}:\n`);
      for (const p of r.principals) cli.io.out(`  ${describePrincipal(p)}\n`);
      const span = `since ${q.since}${q.until ? ` until ${q.until}` : ''}`;
      cli.io.out(`${r.events.length === 0 ? 'No' : fmtInt(r.events.length)} ${q.writesOnly ? 'changes' : 'events'} ${span}${r.events.length === q.limit ? ` (newest ${q.limit}; raise --limit for more)` : ''}:\n`);
      printEvents(cli, r.events, false);
    });

  program
    .command('search')
    .description('Find stored events. Unlike CloudTrail LookupEvents, the filters combine.')
    .option('--event-id <id>', 'the event id')
    .option('--event-name <name>', 'the API action, e.g. DeleteBucket')
    .option('--user <who>', 'a person, as `trail` understands it')
    .option('--resource-type <type>', 'e.g. AWS::S3::Bucket')
    .option('--resource-name <name>', 'a resource name, id or ARN (case-insensitive)')
    .option('--event-source <source>', 'the service, e.g. s3.amazonaws.com')
    .option('--access-key <id>', 'an access key id')
    .addOption(new Option('--read-only <bool>', 'true: only reads; false: only changes').argParser(choice(['true', 'false'] as const)))
    .option('--account <id>', 'the account id')
    .option('--region <region>', 'e.g. eu-west-1')
    .addOption(new Option('--outcome <outcome>', oneOf(OUTCOMES)).argParser(choice(OUTCOMES)))
    .addOption(new Option('--via <via>', oneOf(VIAS)).argParser(choice(VIAS)))
    .option('--since <when>', 'from this time: 30m, 24h, 7d, 2w or an ISO date/time')
    .option('--until <when>', 'up to this time')
    .option('--limit <n>', 'at most this many events', '50')
    .option('--json', 'print the events as JSON')
    .action(async (o: Record<string, string | boolean | undefined>) => {
      const s = (k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
      const q = {
        eventId: s('eventId'),
        eventName: s('eventName'),
        user: s('user'),
        resourceType: s('resourceType'),
        resourceName: s('resourceName'),
        eventSource: s('eventSource'),
        accessKey: s('accessKey'),
        readOnly: s('readOnly') === undefined ? undefined : s('readOnly') === 'true',
        account: s('account'),
        region: s('region'),
        outcome: s('outcome') as Outcome | undefined,
        via: s('via') as Via | undefined,
        ...parseSinceUntil(s('since'), s('until')),
        limit: parseLimit(s('limit') ?? '50'),
      };
      const r = await ask(cli, (store) => store.search(q), (api) => api.search(q));
      printEvents(cli, r.events, Boolean(o.json));
      if (!o.json && r.events.length === 0) cli.io.err('trailbot: no events match\n');
    });
}
