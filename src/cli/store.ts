import { openStore, type Store, type StoreOptions } from '../store/index.ts';
import type { Cli } from './common.ts';
import { type InterruptibleOptions, interruptible, type Stop } from './signals.ts';

export interface CliStoreOptions extends StoreOptions, InterruptibleOptions {
  /**
   * This command goes through a running `trailbot serve` when one holds the embedded store (ingest,
   * trail, search, jobs, tickets): E_STORE_LOCKED's hint says so only then.
   */
  throughServe?: boolean;
}

/**
 * Opens the store for one command and always closes it (releasing the embedded store's lock), on
 * success, on error, and on Ctrl-C/SIGTERM (signals.ts: the command finishes what it has in hand).
 */
export function withStore<T>(cli: Cli, fn: (store: Store, stop: Stop) => Promise<T>, opts: CliStoreOptions = {}): Promise<T> {
  return interruptible(
    cli,
    async (stop) => {
      const c = cli.config();
      const store = await openStore({ databaseUrl: c.databaseUrl, dataDir: c.dataDir, flowOutbox: opts.flowOutbox ?? false, dayPartitions: { retentionMs: c.retention.events }, lock: { throughServe: opts.throughServe ?? false } });
      try {
        return await fn(store, stop);
      } finally {
        await store.close();
      }
    },
    opts,
  );
}
