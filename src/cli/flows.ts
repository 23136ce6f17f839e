import { Argument, Option } from 'commander';
import { normalizeItems, type Rejection } from '../ingest.ts';
import { compileFlows } from '../flows/compile.ts';
import { deploymentOf, type FlowsConfig, parseFlowsConfig } from '../flows/config.ts';
import { Detector } from '../flows/detector.ts';
import { findingJson } from '../flows/finding.ts';
import { buildReport, DEFAULT_PERIOD, REPORT_FORMATS, REPORT_KINDS, type ReportFormat, type ReportKind, renderReport } from '../reports/index.ts';
import { readInputs } from '../sources/files.ts';
import { type Cli, choice, EXIT } from './common.ts';
import { withStore } from './store.ts';
import { parseSinceUntil } from './time.ts';

/** The `flows:` section of the configuration, validated (E_CONFIG_INVALID names the wrong keys). */
function flowsConfig(cli: Cli): FlowsConfig {
  const c = cli.config();
  return parseFlowsConfig(c.flows, deploymentOf(c));
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** Registers `flows list`, `detect` and `report`. */
export function registerFlowsCommands(cli: Cli): void {
  const { program } = cli;

  const flows = program.command('flows').description("trailbot's built-in judgments about CloudTrail events (the catalog and its settings)");
  flows
    .command('list')
    .description('Each flow: id, kind, severity, whether it is enabled (after trailbot.config.yaml) and what it detects')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) => {
      const c = compileFlows(flowsConfig(cli));
      const rows = c.flows.map((f) => ({
        id: f.id,
        kind: f.def.kind,
        severity: f.severity,
        enabled: f.enabled,
        description: f.def.description,
        runbook: f.def.runbook,
        params: f.params,
        allow: [...f.allow],
      }));
      if (opts.json) {
        cli.io.out(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const w = Math.max(...rows.map((r) => r.id.length));
      cli.io.out(`${pad('ID', w)}  ${pad('KIND', 10)}  ${pad('SEVERITY', 8)}  ${pad('ENABLED', 7)}  DESCRIPTION\n`);
      for (const r of rows) {
        cli.io.out(`${pad(r.id, w)}  ${pad(r.kind, 10)}  ${pad(r.severity, 8)}  ${pad(r.enabled ? 'yes' : 'no', 7)}  ${r.description}\n`);
      }
    });

  program
    .command('detect')
    .description('Evaluate all enabled flows over CloudTrail files, without a store, and print the findings')
    .argument('<path...>', 'files or folders (recursively), any format `normalize` reads; - for stdin')
    .option('--json', 'one JSON object per finding: flow, severity, key, title, summary, count, firstSeen, lastSeen, eventIds')
    .addHelpText(
      'after',
      '\nFirst-seen flows (unexpected-region, new-service) learn their baseline from the events earlier in the same run;\n' +
        'feed files oldest first. Rejected records are reported on stderr and the exit status is then 1.',
    )
    .action(async (paths: string[], opts: { json?: boolean }) => {
      const detector = new Detector(flowsConfig(cli));
      let rejected = 0;
      const onReject = (r: Rejection): void => {
        rejected++;
        cli.io.err(`trailbot: rejected ${r.where}: ${r.reason}\n`);
      };
      for await (const f of readInputs(paths)) {
        if (f.error) {
          onReject({ where: f.file, reason: f.error });
          continue;
        }
        detector.push(normalizeItems(f.items, onReject));
      }
      const found = detector.findings();
      if (opts.json) {
        if (found.length) cli.io.out(`${found.map((x) => JSON.stringify(findingJson(x))).join('\n')}\n`);
      } else {
        for (const x of found) {
          cli.io.out(`[${x.severity}] ${x.title}\n  ${x.summary}\n  ${x.flow} · ${x.count === 1 ? '1 event' : `${x.count} events`} · ${x.firstSeen}${x.count > 1 ? ` – ${x.lastSeen}` : ''}\n\n`);
        }
        if (found.length === 0) cli.io.err('trailbot: no findings\n');
      }
      if (rejected > 0) cli.setExit(EXIT.rejected);
    });

  program
    .command('report')
    .description('A report over the event store: denied calls, changes made by hand in the console, or inactive identities')
    .addArgument(new Argument('<kind>', 'denied, clickops or inactive').argParser(choice(REPORT_KINDS)))
    .option('--since <when>', 'start of the period: 30m, 24h, 7d, 2w or an ISO date (default: denied 7d, clickops 30d, inactive 90d)')
    .option('--until <when>', 'end of the period (default: now)')
    .addOption(new Option('--format <format>', 'md, csv or json').argParser(choice(REPORT_FORMATS)).default('md'))
    .addHelpText('after', '\nThe ClickOps report compares with the period of the same length before --since. The inactive report lists identities with no calls in the period.')
    .action(async (kind: ReportKind, opts: { since?: string; until?: string; format: ReportFormat }) => {
      const now = new Date();
      const r = parseSinceUntil(opts.since ?? DEFAULT_PERIOD[kind], opts.until ?? 'now', { now, sinceFromUntil: true });
      const [since, until] = [r.since!, r.until!];
      await withStore(cli, async (store) => {
        const report = await buildReport(store, kind, { since, until });
        cli.io.out(renderReport(report, opts.format));
      });
    });
}
