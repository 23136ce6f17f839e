// The main block the stand-ins' command lines share (`node src/integrations/jira/standin/cli.ts`, the
// Slack and AWS ones likewise): run, serve until Ctrl-C or SIGTERM, close.
import { fileURLToPath } from 'node:url';
import { untilSignal } from '../../cli/signals.ts';

/** What a stand-in's runCli gives back once it serves. */
export interface RunningStandin {
  close(): Promise<void>;
}

/**
 * When the file at `moduleUrl` (its import.meta.url) is the one node was started with: `run` with the
 * command line's arguments, then say `<name> running; Ctrl-C to stop` and serve until SIGINT or
 * SIGTERM, close the stand-in and exit 0. An error (a bad option) is printed and exits 2; `run`
 * giving back nothing (after --help) ends there. Imported from anywhere else, it does nothing.
 */
export function runStandinCli(moduleUrl: string, name: string, run: (argv: readonly string[]) => Promise<RunningStandin | undefined>): void {
  if (!startedAs(moduleUrl)) return;
  run(process.argv.slice(2)).then(
    (s) => {
      if (!s) return;
      process.stderr.write(`${name} running; Ctrl-C to stop\n`);
      void untilSignal()
        .then(() => s.close())
        .then(() => process.exit(0));
    },
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(2);
    },
  );
}

/** Whether node was started with this file: the same path, or one ending in its last three parts (`jira/standin/cli.ts`). */
function startedAs(moduleUrl: string): boolean {
  const started = process.argv[1];
  if (!started) return false;
  const path = fileURLToPath(moduleUrl);
  return started === path || started.endsWith(`/${path.split('/').slice(-3).join('/')}`);
}
