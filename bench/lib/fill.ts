import type { Ingestible, RawRecord } from '../../src/events/model.ts';
import { normalize } from '../../src/events/normalize.ts';
import type { Store } from '../../src/store/index.ts';

/**
 * Fills a benchmark's store through the store's own ingest (binary COPY): the records normalized and
 * stored `batch` at a time, two writes in flight while the next batch is normalized.
 */
export async function fillStore(store: Store, records: Iterable<RawRecord>, batch = 2000): Promise<void> {
  const inflight: Promise<unknown>[] = [];
  let part: Ingestible[] = [];
  for (const raw of records) {
    part.push({ event: normalize(raw), raw });
    if (part.length === batch) {
      if (inflight.length >= 2) await inflight.shift();
      inflight.push(store.ingest(part));
      part = [];
    }
  }
  if (part.length) inflight.push(store.ingest(part));
  await Promise.all(inflight);
}
