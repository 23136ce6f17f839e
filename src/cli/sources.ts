import { setTimeout as sleep } from 'node:timers/promises';
import { Option } from 'commander';
import { describeError, TrailbotError } from '../errors.ts';
import { summarize, withSummary } from '../events/summary.ts';
import type { PollReport, Sources } from '../sources/index.ts';
import { formatStatus } from '../sources/status.ts';
import type { Store } from '../store/index.ts';
import type { Cli } from './common.ts';
import { untilSignal } from './signals.ts';
import { withStore } from './store.ts';
import { parseDuration, parseLimit, parseRange, parseSinceUntil } from './time.ts';

/** Options the tests need and people rarely do (hidden from --help): a shorter lease, a limiter of their own. */
interface TuningOptions {
  leaseMs?: string;
  limiterPrefix?: string;
}

/** Adds the TuningOptions, hidden from --help, to a command. */
function withTuningOptions(cmd: import('commander').Command): import('commander').Command {
  return cmd
    .addOption(new Option('--lease-ms <ms>', 'lease length of a part (default 15000)').hideHelp())
    .addOption(new Option('--limiter-prefix <p>', 'Redis key prefix of the request limiter').hideHelp());
}

/**
 * The sources and the store for one command. The first SIGINT/SIGTERM aborts `signal`: the page in
 * hand is finished and stored, and the store is closed (signals.ts says the exit status).
 */
async function withSources<T>(cli: Cli, h: TuningOptions, fn: (s: Sources, store: Store, signal: AbortSignal) => Promise<T>, opts: { normalStop?: boolean } = {}): Promise<T> {
  const c = cli.config();
  const { createSources } = await import('../sources/index.ts');
  const leaseMs = h.leaseMs ? Number(h.leaseMs) : undefined;
  if (leaseMs !== undefined && !(leaseMs >= 100)) throw new TrailbotError('E_USAGE', '--lease-ms must be at least 100');
  const sources = createSources({ config: c, leaseMs, limiterPrefix: h.limiterPrefix, log: stderrLog(cli) });
  try {
    // What the sources store here is evaluated by the next worker with flows (the flows outbox).
    return await withStore(cli, (store, stop) => fn(sources, store, stop.signal), { flowOutbox: true, doing: 'finishing the page in hand', ...opts });
  } finally {
    await sources.close();
  }
}

/** Warnings and errors as readable lines on stderr (the service logs JSON; a command talks to a person). */
function stderrLog(cli: Cli) {
  const line = (level: string) => (o: object, msg?: string) => {
    const extra = Object.entries(o)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    cli.io.err(`trailbot: ${level}: ${msg ?? ''} ${extra}\n`);
  };
  return { debug: () => undefined, info: () => undefined, warn: line('warning'), error: line('error') };
}

function reportLine(r: PollReport): string {
  const states = new Map<string, number>();
  for (const p of r.parts) states.set(p.state, (states.get(p.state) ?? 0) + 1);
  const parts = [...states].map(([s, n]) => `${n} ${s}`).join(', ');
  return `${r.source} (${r.kind}): ${r.events} events read, ${r.inserted} new, ${r.duplicates} already stored, ${r.rejected} rejected in ${(r.ms / 1000).toFixed(1)} s${parts ? `; parts: ${parts}` : ''}${r.more ? '; more to read' : ''}`;
}

/** Registers the sources commands: status, poll, run, backfill, lookup, rejects; and `standins`. */
export function registerSourcesCommands(cli: Cli): void {
  const { program } = cli;
  const sources = program.command('sources').description('The configured sources: LookupEvents, S3 trail files, SQS notifications, watched folders.');

  sources
    .command('status')
    .description('Per source (and account-region): newest event, lag, events stored so far, errors, backfill progress.')
    .option('--json', 'print JSON')
    .option('--brief', 'one line per source')
    .action(async (opts: { json?: boolean; brief?: boolean }) => {
      const c = cli.config();
      const { parseSources, sourcesStatus } = await import('../sources/index.ts');
      const specs = parseSources(c);
      await withStore(cli, async (store) => {
        const list = await sourcesStatus(store, specs);
        cli.io.out(opts.json ? `${JSON.stringify(list, null, 2)}\n` : formatStatus(list, { parts: !opts.brief }));
      });
    });

  withTuningOptions(
    sources
      .command('poll')
      .description('Read what is new from sources once (all, or those named), store it, and say what was done.')
      .argument('[ids...]', 'source ids (default: every source)')
      .option('--until-done', 'poll again until no source has work left (a whole backfill), waiting for parts other workers hold')
      .option('--max-run <duration>', "stop starting new work after this long (default: each source's maxRun)"),
  ).action(async (ids: string[], opts: TuningOptions & { untilDone?: boolean; maxRun?: string }) => {
    const maxRun = opts.maxRun !== undefined ? parseDuration(opts.maxRun, { name: '--max-run', min: 1000 }) : undefined;
    await withSources(cli, opts, async (s, store, signal) => {
      const chosen = ids.length ? ids : s.specs.map((x) => x.id);
      if (chosen.length === 0) throw new TrailbotError('E_USAGE', 'no sources are configured', { hint: 'add some under sources: in trailbot.config.yaml' });
      let failed = 0;
      for (const id of chosen) {
        for (;;) {
          try {
            // An empty queue is not waited on for long: this reads what is there now.
            const r = await s.poll(store, id, { signal: signal, deadline: maxRun !== undefined ? Date.now() + maxRun : undefined, waitSeconds: 2 });
            cli.io.out(`${reportLine(r)}\n`);
            for (const e of r.errors) cli.io.err(`trailbot: ${id}: ${e}\n`);
            if (!opts.untilDone || signal.aborted) break;
            // Parts another worker holds (or held, if it died: its lease runs out) are waited for.
            const held = r.parts.some((p) => p.state === 'leased');
            if (!r.more && !held) break;
            if (!r.more) await sleep(1000, undefined, { signal: signal }).catch(() => undefined);
          } catch (e) {
            failed++;
            cli.io.err(`trailbot: ${id}: ${describeError(e)}\n`);
            break;
          }
        }
      }
      if (failed > 0) cli.setExit(3);
    });
  });

  withTuningOptions(
    sources
      .command('run')
      .description('Keep reading sources (all, or those named) until Ctrl-C: lookup and S3 every `every`, SQS without pause, folders on change.')
      .argument('[ids...]', 'source ids (default: every source)'),
  ).action(async (ids: string[], opts: TuningOptions) => {
    await withSources(
      cli,
      opts,
      async (s, store, signal) => {
      const { runSources } = await import('../sources/index.ts');
      cli.io.err(`trailbot: reading ${ids.length ? ids.join(', ') : s.specs.map((x) => x.id).join(', ')}; Ctrl-C stops\n`);
      await runSources(s, store, {
        ids,
        signal: signal,
        onReport: (r) => {
          if (r.events > 0 || r.errors.length > 0) cli.io.out(`${new Date().toISOString()} ${reportLine(r)}\n`);
        },
        onError: (id, e) => cli.io.err(`trailbot: ${id}: ${describeError(e)}\n`),
      });
      },
      // Ctrl-C is how `sources run` ends: not a failure.
      { normalStop: true },
    );
  });

  withTuningOptions(
    sources
      .command('backfill')
      .description('Read a source\'s past: a lookup source\'s backfill (up to 90 days) to the end, or an S3 trail\'s days from --from to --to.')
      .argument('<id>', 'source id')
      .option('--from <date>', 'S3: first day (YYYY-MM-DD)')
      .option('--to <date>', 'S3: last day (YYYY-MM-DD, default today)'),
  ).action(async (id: string, opts: TuningOptions & { from?: string; to?: string }) => {
    for (const [k, v] of [['--from', opts.from], ['--to', opts.to]] as const) {
      if (v !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(v)) throw new TrailbotError('E_USAGE', `${k} ${v} is not a day`, { hint: 'write it as YYYY-MM-DD' });
    }
    parseRange(opts.from, opts.to, { names: ['--from', '--to'] }); // real days, --from no later than --to
    await withSources(cli, opts, async (s, store, signal) => {
      const spec = s.specs.find((x) => x.id === id);
      if (!spec) throw new TrailbotError('E_USAGE', `there is no source ${JSON.stringify(id)}`, { hint: `configured: ${s.specs.map((x) => x.id).join(', ') || 'none'}` });
      if ((opts.from || opts.to) && spec.kind !== 's3') throw new TrailbotError('E_USAGE', '--from and --to apply to s3 sources', { hint: 'a lookup source backfills the period set by its backfill setting' });
      if (spec.kind === 'sqs' || spec.kind === 'folder') throw new TrailbotError('E_USAGE', `a ${spec.kind} source has no backfill`, { hint: 'use `trailbot sources poll` (or an s3 source over the same bucket for past days)' });
      const parts = new Map<string, { backfill?: number | undefined; events: number }>();
      let last = 0;
      const onProgress = (p: { part: string; backfill?: number | undefined; events: number; note?: string | undefined }): void => {
        parts.set(p.part, { backfill: p.backfill, events: p.events });
        const now = performance.now();
        if (now - last < 1000) return;
        last = now;
        const shares = [...parts.values()].map((x) => x.backfill ?? 1);
        const pct = Math.floor((shares.reduce((a, b) => a + b, 0) / Math.max(1, shares.length)) * 100);
        const events = [...parts.values()].reduce((n, x) => n + x.events, 0);
        cli.io.err(`${cli.io.tty ? '\r\x1b[2K' : ''}backfill ${id}: ${pct}% over ${parts.size} part(s), ${events} events read${p.note ? `, at ${p.note}` : ''}${cli.io.tty ? '' : '\n'}`);
      };
      for (;;) {
        const r = await s.poll(store, id, { signal: signal, from: opts.from ?? (opts.to ? '1970-01-01' : undefined), to: opts.to, onProgress });
        if (cli.io.tty) cli.io.err('\r\x1b[2K');
        cli.io.out(`${reportLine(r)}\n`);
        for (const e of r.errors) cli.io.err(`trailbot: ${id}: ${e}\n`);
        if (signal.aborted) break;
        const held = r.parts.some((p) => p.state === 'leased');
        if (!r.more && !held) break;
        if (!r.more) await sleep(1000, undefined, { signal: signal }).catch(() => undefined);
      }
    });
  });

  withTuningOptions(
    sources
      .command('lookup')
      .description('Ask CloudTrail (LookupEvents) now what someone did, in every account-region of the lookup sources at once.')
      .argument('<who>', 'user name, role session name, SSO e-mail or access key id')
      .option('--since <time>', 'from (30m, 24h, 7d or an ISO time)')
      .option('--until <time>', 'to (default now)')
      .option('--limit <n>', 'at most this many events', '50')
      .option('--timeout <duration>', 'answer within this long; what has not answered is reported', '8s')
      .option('--store', 'also store what was found')
      .option('--json', 'print JSON'),
  ).action(async (who: string, opts: TuningOptions & { since?: string; until?: string; limit: string; timeout: string; store?: boolean; json?: boolean }) => {
    const timeoutMs = parseDuration(opts.timeout, { name: '--timeout', min: 100, max: 600_000 });
    const range = parseSinceUntil(opts.since, opts.until);
    await withSources(cli, opts, async (s, store) => {
      const r = await s.live(store, {
        who,
        since: range.since ? new Date(range.since) : undefined,
        until: range.until ? new Date(range.until) : undefined,
        limit: parseLimit(opts.limit),
        timeoutMs,
        storeFound: Boolean(opts.store),
      });
      if (opts.json) {
        cli.io.out(`${JSON.stringify({ ...r, events: r.events.map(withSummary) }, null, 2)}\n`);
        return;
      }
      for (const e of r.events) cli.io.out(`${summarize(e)}\n`);
      cli.io.out(`${r.events.length} event(s). ${r.note}\n`);
      if (r.partial.length > 0) cli.setExit(1);
    });
  });

  sources
    .command('rejects')
    .description('What sources could not use (malformed SQS messages, unreadable files, rejected records), newest first.')
    .argument('[id]', 'only this source')
    .option('--limit <n>', 'at most this many', '50')
    .option('--body', 'include the kept message bodies')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, opts: { limit: string; body?: boolean; json?: boolean }) => {
      const { readRejects } = await import('../sources/state.ts');
      await withStore(cli, async (store) => {
        const list = (await readRejects(store.db, id, parseLimit(opts.limit))).map((r) => (opts.body ? r : { ...r, body: r.body === null ? null : `(${r.body.length} characters; --body shows it)` }));
        if (opts.json) cli.io.out(`${JSON.stringify(list, null, 2)}\n`);
        else if (list.length === 0) cli.io.out('nothing was rejected\n');
        else for (const r of list) cli.io.out(`${r.at}  ${r.source}  ${r.ref}\n    ${r.reason}${opts.body && r.body ? `\n    ${r.body}` : ''}\n`);
      });
    });

  program
    .command('standins')
    .description('Start local stand-ins for CloudTrail, S3, SQS and STS (one port) and print the settings that point trailbot at them. Ctrl-C stops them.')
    .allowUnknownOption()
    .helpOption(false)
    .argument('[options...]', 'options of the stand-ins (--help lists them: --records, --shift-to-now, --port …)')
    .action(async (args: string[]) => {
      const { runCli } = await import('../integrations/aws/standins/cli.ts');
      let s: Awaited<ReturnType<typeof runCli>>;
      try {
        s = await runCli(args, (l) => cli.io.out(`${l}\n`));
      } catch (e) {
        throw new TrailbotError('E_USAGE', (e as Error).message.split('\n')[0]!, { hint: 'see `trailbot standins --help`' });
      }
      if (!s) return;
      cli.io.err('stand-ins running; Ctrl-C stops them\n');
      await untilSignal();
      await s.close();
    });
}
