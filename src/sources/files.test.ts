import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Unwrapped } from '../events/envelopes.ts';
import { type FileBatch, readInputs } from './files.ts';

const dir = join(import.meta.dirname, '../../test/fixtures/inputs');

async function read(...paths: string[]): Promise<FileBatch[]> {
  const out: FileBatch[] = [];
  for await (const b of readInputs(paths.map((p) => join(dir, p)))) out.push(b);
  return out;
}

const records = (items: Unwrapped[]) => items.filter((i) => i.kind === 'record');
const rejected = (items: Unwrapped[]) => items.filter((i) => i.kind === 'rejected');

describe('readInputs', () => {
  it('walks a CloudTrail S3 layout, gunzips log files and skips the digest folder', async () => {
    const batches = await read('trail');
    expect(batches).toHaveLength(1);
    const [b] = batches;
    expect(b!.file).toMatch(/_CloudTrail_us-east-1_20240801T1330Z_AbCdEfGh12345678\.json\.gz$/);
    expect(records(b!.items)).toHaveLength(3);
    expect(b!.items[0]!.origin.at).toBe('Records[0]');
    expect(b!.index).toBe(1);
    expect(b!.total).toBe(1);
  });

  it('skips a digest file given explicitly, by its content', async () => {
    const [b] = await read('digest.json');
    expect(b!.skipped).toBe('CloudTrail digest file');
    expect(b!.items).toHaveLength(0);
  });

  it('reads LookupEvents responses, parsing each CloudTrailEvent string, and rejects a broken one', async () => {
    const [b] = await read('lookup-events.json');
    expect(records(b!.items)).toHaveLength(3);
    const bad = rejected(b!.items);
    expect(bad).toHaveLength(1);
    expect(bad[0]!.origin.at).toBe('Events[3].CloudTrailEvent');
    expect((bad[0] as { reason: string }).reason).toMatch(/CloudTrailEvent is not valid JSON/);
  });

  it('unwraps EventBridge envelopes and rejects events that are not from CloudTrail', async () => {
    const [b] = await read('eventbridge.ndjson');
    const recs = records(b!.items);
    expect(recs).toHaveLength(3);
    expect(recs[0]!.origin).toEqual({ file: expect.stringContaining('eventbridge.ndjson'), line: 1, at: 'detail' });
    const bad = rejected(b!.items);
    expect(bad).toHaveLength(1);
    expect((bad[0] as { reason: string }).reason).toContain('EC2 Instance State-change Notification');
    expect(bad[0]!.origin.line).toBe(4);
  });

  it('keeps the good lines of NDJSON and names each bad line', async () => {
    const [b] = await read('mixed.ndjson');
    expect(records(b!.items).map((r) => r.origin.line)).toEqual([1, 4, 5, 7]);
    const bad = rejected(b!.items);
    expect(bad.map((r) => r.origin.line)).toEqual([2, 6]);
    expect((bad[0] as { reason: string }).reason).toMatch(/not valid JSON/);
  });

  it('reports entries of Records that are not objects, with their index', async () => {
    const [b] = await read('records-with-bad.json');
    expect(records(b!.items)).toHaveLength(2);
    expect(rejected(b!.items).map((r) => r.origin.at)).toEqual(['Records[1]', 'Records[2]']);
  });

  it('reports a file that is not JSON and a corrupt gzip file as a whole, and goes on', async () => {
    const batches = await read('not-json.json', 'truncated.json.gz', 'array.json');
    expect(batches[0]!.error).toMatch(/not valid JSON/);
    expect(batches[1]!.error).toMatch(/gzip|unexpected end/i);
    expect(records(batches[2]!.items)).toHaveLength(2);
  });

  it('reports a path that does not exist', async () => {
    const [b] = await read('no-such-file.json');
    expect(b!.error).toMatch(/cannot read: ENOENT/);
  });

  it('reads the records in input order across files', async () => {
    const batches = await read('array.json', 'trail');
    const ids = batches.flatMap((b) => records(b.items).map((r) => (r as { raw: { eventID?: string } }).raw.eventID ?? null));
    expect(ids[0]).toBeNull();
    expect(ids).toHaveLength(5);
    expect(ids.slice(2)).toEqual(records(batches[1]!.items).map((r) => (r as { raw: { eventID?: string } }).raw.eventID));
  });
});
