import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, record, replay } from '../../../test/fixtures/flows/load.ts';

const ID = 'clickops-burst';
const R = 'records/';

describe(ID, () => {
  it('raises on more than 20 console changes by one person within 24 hours (replayed AWS docs change)', () => {
    const f = positiveFinding(ID);
    expect(f.count).toBe(21);
    expect(f.title).toBe('Alice made 21 changes by hand in the console since 2020-01-10 16:06:40 UTC');
  });
  it('stays quiet at 20, and for 21 changes spread over two days', () => {
    const change = record(`${R}writes-iam.json`, 'UploadSSHPublicKey');
    expect(findings(replay(change, 20, 60), ID)).toEqual([]);
    expect(findings(replay(change, 21, 2.4 * 3600), ID)).toEqual([]);
  });
  it('keeps counting changes that a more specific flow reports', () => {
    expect(findings(replay(record(`${R}writes-network.json`, 'CreateVpc'), 21, 60), ID).map((x) => x.count)).toEqual([21]);
  });
});
