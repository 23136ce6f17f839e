import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readConfig } from '../config/index.ts';
import { TrailbotError, describeError } from '../errors.ts';
import { registerAuditCommands } from './audit.ts';
import { registerEventCommands } from './events.ts';
import { registerFlowsCommands } from './flows.ts';
import { registerRuntimeCommands } from './runtime.ts';
import { registerSourcesCommands } from './sources.ts';
import { registerTicketsCommands } from './tickets.ts';

/** Exit codes: 0 done; 1 done, but some input was rejected; 2 wrong usage or settings; 3 failure; 130/143 stopped by SIGINT/SIGTERM. */
export const EXIT = { ok: 0, rejected: 1, usage: 2, failure: 3 } as const;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Whether stderr is a terminal (progress bars only there). */
  tty: boolean;
}

const defaultIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  tty: Boolean(process.stderr.isTTY),
};

/** Commands register through this so they can hand back an exit code. */
export interface Cli {
  program: Command;
  io: Io;
  setExit(code: number): void;
  config: () => ReturnType<typeof readConfig>;
}

export function choice<T extends string>(values: readonly T[]) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return v as T;
  };
}

export function buildProgram(io: Io = defaultIo): { program: Command; exit: () => number } {
  let exitCode: number = EXIT.ok;
  const program = new Command('trailbot')
    .description('Turns AWS CloudTrail into plain-language answers: who did what, where, how and when.')
    .version('0.1.0', '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();
  let cached: ReturnType<typeof readConfig> | undefined;
  const cli: Cli = {
    program,
    io,
    setExit: (c) => {
      exitCode = Math.max(exitCode, c);
    },
    config: () => (cached ??= readConfig()),
  };
  registerEventCommands(cli);
  registerFlowsCommands(cli);
  registerSourcesCommands(cli);
  registerRuntimeCommands(cli);
  registerTicketsCommands(cli);
  registerAuditCommands(cli);
  program.addOption(new Option('--no-color', 'plain output').hideHelp());
  return { program, exit: () => exitCode };
}

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  const { program, exit } = buildProgram(io);
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT.ok;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exit();
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    io.err(`trailbot: ${describeError(e)}\n`);
    if (e instanceof TrailbotError && (e.code === 'E_USAGE' || e.code === 'E_CONFIG_INVALID')) return EXIT.usage;
    // A command stopped by a signal (130, 143: src/cli/signals.ts) says so, whatever failed on the way out.
    return Math.max(EXIT.failure, exit());
  }
}
