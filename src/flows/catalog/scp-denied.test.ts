import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { at, findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'scp-denied';
const R = 'records/';

describe(ID, () => {
  it('raises when a service control policy denies a call (SSO session)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toBe('An organization guardrail stopped james@jsherz.com: tried to look up trusted advisor checks');
  });
  it('ignores denials by identity policies', () => {
    expect(findings([at(`${R}denied.json`, 1)], ID)).toEqual([]);
    expect(findings([at(`${R}denied.json`, 2)], ID)).toEqual([]);
  });
});
