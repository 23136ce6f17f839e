import { Command, CommanderError, Option } from 'commander';
import { readConfig } from '../config/index.ts';
import { TrailbotError, describeError } from '../errors.ts';
import { VERSION } from '../version.ts';
import { registerAuditCommands } from './audit.ts';
import { type Cli, EXIT, type Io } from './common.ts';
import { registerEventCommands } from './events.ts';
import { registerFlowsCommands } from './flows.ts';
import { registerRuntimeCommands } from './runtime.ts';
import { registerSourcesCommands } from './sources.ts';
import { registerTicketsCommands } from './tickets.ts';

const defaultIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  tty: Boolean(process.stderr.isTTY),
};

export function buildProgram(io: Io = defaultIo): { program: Command; exit: () => number } {
  let exitCode: number = EXIT.ok;
  const program = new Command('trailbot')
    .description('Turns AWS CloudTrail into plain-language answers: who did what, where, how and when.')
    .version(VERSION, '-V, --version')
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
