import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { at, findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'scp-denied';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises when a service control policy denies a call (SSO session)', () => {
    const { records, config } = positive();
    const f = findings(records, ID, config);
    expect(f).toHaveLength(1);
    expect(f[0]!.title).toBe('An organization guardrail stopped james@jsherz.com: tried to look up trusted advisor checks');
  });
  it('ignores denials by identity policies', () => {
    expect(findings([at(`${R}denied.json`, 1)], ID)).toEqual([]);
    expect(findings([at(`${R}denied.json`, 2)], ID)).toEqual([]);
  });
});
