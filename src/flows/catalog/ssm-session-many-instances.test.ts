import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { ssmSessions } from '../../../test/fixtures/flows/identity-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'ssm-session-many-instances';

describe(ID, () => {
  it('raises on sessions to three instances (Stratus ssm-start-session, built from the API reference)', () => {
    const f = positiveFinding(ID);
    expect(f.title).toMatch(/^alice opened shell sessions on more than 2 instances since 2024-06-03 09:00:00 UTC$/);
  });

  it('does not raise for two instances, nor for many sessions to one', () => {
    expect(findings(ssmSessions(2), ID)).toEqual([]);
    expect(findings(ssmSessions(12, true), ID)).toEqual([]);
  });

  it('follows params.moreThan', () => {
    expect(findings(ssmSessions(3), ID, { [ID]: { params: { moreThan: 3 } } })).toEqual([]);
    expect(findings(ssmSessions(4), ID, { [ID]: { params: { moreThan: 3 } } })).toHaveLength(1);
  });
});
