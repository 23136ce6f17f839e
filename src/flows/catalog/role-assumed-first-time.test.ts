import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { instanceSession, roleSession } from '../../../test/fixtures/flows/build.ts';
import { aliceNewRole, assumeRole, ssoFirstAssumeRoot } from '../../../test/fixtures/flows/identity-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'role-assumed-first-time';

describe(ID, () => {
  it('raises when a person with three weeks of history assumes a new role (built from the API reference)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('medium');
    expect(f.title).toMatch(/^alice assumed arn:aws:iam::444455556666:role\/OrganizationAccountAccessRole for the first time: /);
  });

  it('raises high on a first AssumeRoot, for an Identity Center user', () => {
    const f = findings(ssoFirstAssumeRoot(), ID);
    expect(f).toHaveLength(1);
    expect(f[0]!.severity).toBe('high');
    expect(f[0]!.title).toMatch(/^bob@example\.com took a root session in account 444455556666 for the first time: /);
  });

  it('does not raise while the person is still being learned, nor for a role used before', () => {
    const r = aliceNewRole();
    expect(findings(r.slice(-3), ID)).toEqual([]);
    expect(findings(r.slice(0, -1), ID)).toEqual([]);
    expect(findings(r, ID, { [ID]: { params: { learningPeriod: '30d' } } })).toEqual([]);
  });

  it('ignores programs and workloads: sessions whose names the caller picks, instance roles', () => {
    const prog = aliceNewRole().map((x) => ({ ...x, userIdentity: roleSession('ci', 'alice') }));
    expect(findings(prog, ID)).toEqual([]);
    const inst = aliceNewRole().map((x) => ({ ...x, userIdentity: instanceSession('web', 'i-0a1b2c3d4e5f60718') }));
    expect(findings(inst, ID)).toEqual([]);
    expect(findings([assumeRole(instanceSession('web', 'i-0a1b2c3d4e5f60718'), 'arn:aws:iam::111122223333:role/x', '2024-06-03T09:00:00Z')], ID)).toEqual([]);
  });
});
