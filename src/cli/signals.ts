import type { Cli } from './common.ts';

/** The exit status after a signal, as shells report it (128 + the signal's number). */
export const SIGNAL_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof SIGNAL_EXIT;

export interface Stop {
  /** Aborted on the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /** The signal that came, once one did. */
  readonly by: StopSignal | undefined;
}

export interface InterruptibleOptions {
  /** What the command does on the first signal, said on stderr: "finishing the batch in hand". */
  doing?: string;
  /** A signal is how this command normally ends (`sources run`): the exit status stays as it is. */
  normalStop?: boolean;
}

/**
 * Runs a command so that Ctrl-C (SIGINT) or SIGTERM stops it cleanly rather than killing it: on the
 * first signal `stop.signal` is aborted, the command finishes what it has in hand, says what it did
 * and closes what it opened (the embedded store's lock is released), and the exit status is 130
 * (SIGINT) or 143 (SIGTERM). A second signal exits at once (the lock is still removed on exit).
 */
export async function interruptible<T>(cli: Cli, fn: (stop: Stop) => Promise<T>, opts: InterruptibleOptions = {}): Promise<T> {
  const ac = new AbortController();
  let by: StopSignal | undefined;
  const on = (sig: StopSignal) => (): void => {
    if (by) process.exit(SIGNAL_EXIT[sig]);
    by = sig;
    cli.io.err(`\ntrailbot: ${sig}: ${opts.doing ?? 'finishing what is in hand, then stopping'} (again to quit at once)\n`);
    ac.abort(new Error(`stopped by ${sig}`));
  };
  const onInt = on('SIGINT');
  const onTerm = on('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const stop: Stop = {
    signal: ac.signal,
    get by() {
      return by;
    },
  };
  try {
    return await fn(stop);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    if (by && !opts.normalStop) {
      const code = SIGNAL_EXIT[by];
      cli.setExit(code);
      // A read still waiting (stdin, a pipe) must not keep a stopped command alive.
      setTimeout(() => process.exit(code), 2000).unref();
    }
  }
}

/**
 * For a command that runs until it is stopped (`serve`, `standins`): resolves with the first SIGINT or
 * SIGTERM. A second one calls `onSecond` (which exits at once); without it, the second signal's default
 * action ends the process.
 */
export function untilSignal(onSecond?: (sig: StopSignal) => void): Promise<StopSignal> {
  return new Promise((resolve) => {
    const on = (sig: StopSignal) => (): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (onSecond) {
        process.once('SIGINT', () => onSecond('SIGINT'));
        process.once('SIGTERM', () => onSecond('SIGTERM'));
      }
      resolve(sig);
    };
    const onInt = on('SIGINT');
    const onTerm = on('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
}
