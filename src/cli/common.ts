import { InvalidArgumentError, type Command } from 'commander';
import type { readConfig } from '../config/index.ts';

/** Exit codes: 0 done; 1 done, but some input was rejected; 2 wrong usage or settings; 3 failure; 130/143 stopped by SIGINT/SIGTERM. */
export const EXIT = { ok: 0, rejected: 1, usage: 2, failure: 3 } as const;

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Whether stderr is a terminal (progress bars only there). */
  tty: boolean;
}

/** Commands register through this so they can hand back an exit code. */
export interface Cli {
  program: Command;
  io: Io;
  setExit(code: number): void;
  config: () => ReturnType<typeof readConfig>;
}

/** An option's argument parser that takes one of `values` (commander shows the list on a wrong one). */
export function choice<T extends string>(values: readonly T[]) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return v as T;
  };
}
