import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { at, findings, replay } from '../../../test/fixtures/flows/load.ts';

const ID = 'console-login-failures';
const R = 'records/';

describe(ID, () => {
  it('raises on more than 4 failed sign-ins for one user within an hour (replayed AWS docs failure)', () => {
    const f = positiveFinding(ID);
    expect(f.count).toBe(5);
    expect(f.title).toMatch(/^5 failed console sign-ins for anaya in account /);
  });
  it('stays quiet at the limit, when failures are spread out, and for successes', () => {
    const failed = at(`${R}aws-docs-examples.json`, 2);
    expect(findings(replay(failed, 4, 60), ID)).toEqual([]);
    expect(findings(replay(failed, 6, 20 * 60), ID)).toEqual([]);
    expect(findings(replay(at(`${R}aws-docs-examples.json`, 1), 10, 60), ID)).toEqual([]);
  });
  it('uses the configured threshold', () => {
    const failed = at(`${R}aws-docs-examples.json`, 2);
    expect(findings(replay(failed, 3, 60), ID, { [ID]: { params: { moreThan: 2 } } }).map((x) => x.count)).toEqual([3]);
  });
});
