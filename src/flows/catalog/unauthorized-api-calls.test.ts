import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { findings, replay, at } from '../../../test/fixtures/flows/load.ts';

const ID = 'unauthorized-api-calls';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises on a burst of denied calls by one role (Stratus ec2-get-password-data)', () => {
    const f = positiveFinding(ID);
    expect(f.count).toBe(30);
    expect(f.title).toBe('stratus-red-team-ec2-get-password-data-role/aws-go-sdk-1722375070115152000 was denied 30 times in account 457448411975 (GetPasswordData)');
  });
  it('ignores automation roles on the allow-list', () => {
    const { records } = positive();
    expect(findings(records, ID, { allow: { automationRoles: ['stratus-red-team-*'] } })).toEqual([]);
  });
  it('leaves denials by a service control policy to scp-denied (nothing doubled)', () => {
    const all = findings(replay(at(`${R}denied.json`, 0), 12, 10));
    expect(all.filter((x) => x.flow === ID)).toEqual([]);
    expect(all.filter((x) => x.flow === 'scp-denied').map((x) => x.count)).toEqual([12]);
  });
});
