import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeBackends } from '../test/helpers/backends.ts';
import { records } from '../test/helpers/fixtures.ts';
import { unwrap } from './events/envelopes.ts';
import type { RawRecord } from './events/model.ts';
import { normalize } from './events/normalize.ts';
import { normalizeItems, type Rejection } from './ingest.ts';
import type { Store } from './store/index.ts';
import { rawsByIds } from './store/queries.ts';

/** Real records (two fixture files, those that normalize, one of each id), one with characters JSON must escape and non-ASCII text. */
function sample(): RawRecord[] {
  const seen = new Set<unknown>();
  const out = [...records('aws-docs-examples.json'), ...records('actors.json')].filter((r) => {
    if (seen.has(r.eventID)) return false;
    seen.add(r.eventID);
    try {
      normalize(r);
      return true;
    } catch {
      return false;
    }
  });
  const odd = structuredClone(out[0]!);
  odd.eventID = '6b1d3a2e-8f4c-4c7e-9a51-3f0d2c9e7a10';
  odd.requestParameters = { note: 'line one\nline "two"\ttab \u2028 é 日本 😀', nested: { list: [1, null, true, { k: 'v' }] } };
  out.push(odd);
  return out;
}

function items(raws: RawRecord[]) {
  return raws.flatMap((r, i) => [...unwrap(r, { file: 'sample.json', at: `Records[${i}]` })]);
}

describe('normalizeItems: records as read', () => {
  it('gives each event with its record as JSON, and the record itself, equal to what was read, when asked', () => {
    const raws = sample();
    const rejected: Rejection[] = [];
    const out = normalizeItems(items(raws), (r) => rejected.push(r));
    expect(rejected).toEqual([]);
    expect(out).toHaveLength(raws.length);
    for (let i = 0; i < raws.length; i++) {
      expect(out[i]!.event).toEqual(normalize(raws[i]!));
      expect(out[i]!.rawJson).toBe(JSON.stringify(raws[i]));
      // Kept as UTF-8 bytes (what the store writes), outside the JavaScript heap.
      expect(Buffer.from(out[i]!.rawUtf8!).equals(Buffer.from(JSON.stringify(raws[i]), 'utf8'))).toBe(true);
      expect(out[i]!.raw).toEqual(raws[i]);
      // Parsed once: the same object the next time.
      expect(out[i]!.raw).toBe(out[i]!.raw);
    }
  });

  it('does not keep the objects it was given (a change to them afterwards is not what is stored)', () => {
    const raws = sample();
    const out = normalizeItems(items(raws), () => {});
    raws[0]!.eventName = 'Changed';
    expect(out[0]!.raw.eventName).not.toBe('Changed');
  });

  it('reports a record that does not normalize, with where, and keeps the rest', () => {
    const raws = sample();
    const bad = { eventVersion: '1.08', eventTime: 'not a time', eventName: 'X' } as RawRecord;
    const rejected: Rejection[] = [];
    const out = normalizeItems(items([raws[0]!, bad, raws[1]!]), (r) => rejected.push(r));
    expect(out.map((x) => x.event.eventId)).toEqual([raws[0]!.eventID, raws[1]!.eventID]);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.where).toContain('Records[1]');
  });
});

describe.each(storeBackends('ingest'))('the store keeps the record as read (%s)', (_name, open) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ store, cleanup } = await open());
  });
  afterAll(async () => {
    await cleanup();
  });

  it('stores the record as read (its UTF-8 bytes) and reads back the record equal to the one read', async () => {
    const raws = sample();
    const out = normalizeItems(items(raws), () => {});
    const r = await store.ingest(out);
    expect(r.inserted).toBe(raws.length);
    // (A record without an eventID gets one derived from its content: ask by the events' ids.)
    const back = await rawsByIds(store.db, out.map((x) => x.event.eventId));
    for (let i = 0; i < raws.length; i++) expect(back.get(out[i]!.event.eventId)).toEqual(raws[i]);
  });

  it('writes rawJson verbatim when an Ingestible carries it (key order as given), and stringifies raw when it does not', async () => {
    const [a, b] = sample()
      .slice(0, 2)
      .map((r, i): RawRecord => ({ ...r, eventID: `0f3c9a7e-2b1d-4e8a-9c6f-5d4b3a2e1f0${i}` })) as [RawRecord, RawRecord];
    const reordered = `{${Object.keys(a)
      .reverse()
      .map((k) => `${JSON.stringify(k)}:${JSON.stringify(a[k])}`)
      .join(',')}}`;
    await store.ingest([
      { event: normalize(a), raw: a, rawJson: reordered },
      { event: normalize(b), raw: b },
    ]);
    const back = await rawsByIds(store.db, [a.eventID as string, b.eventID as string]);
    expect(Object.keys(back.get(a.eventID as string)!)).toEqual(Object.keys(a).reverse());
    expect(back.get(a.eventID as string)).toEqual(a);
    expect(Object.keys(back.get(b.eventID as string)!)).toEqual(Object.keys(b));
  });
});
