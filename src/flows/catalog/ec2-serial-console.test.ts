import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { call, ssoSession } from '../../../test/fixtures/flows/build.ts';
import { serialConsole } from '../../../test/fixtures/flows/identity-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'ec2-serial-console';

describe(ID, () => {
  it('raises when serial console access is turned on and a key is pushed (Stratus ec2-serial-console-send-ssh-public-key, built)', () => {
    const f = positiveFinding(ID);
    expect(f.count).toBe(2);
    expect(f.title).toMatch(/^Serial console access turned on: alice /);
    expect(findings([serialConsole()[1]!], ID)[0]!.title).toMatch(/^SSH key pushed to the serial console of i-0a1b2c3d4e5f60718: /);
  });

  it('ignores turning it off, refused calls, and break-glass permission sets', () => {
    expect(findings([call({ source: 'ec2.amazonaws.com', name: 'DisableSerialConsoleAccess', request: {} })], ID)).toEqual([]);
    expect(findings([call({ source: 'ec2.amazonaws.com', name: 'EnableSerialConsoleAccess', request: {}, error: { code: 'Client.UnauthorizedOperation' } })], ID)).toEqual([]);
    const glass = serialConsole().map((r) => ({ ...r, userIdentity: ssoSession('BreakGlass', 'oncall@example.com') }));
    expect(findings(glass, ID, { allow: { breakGlassRoles: ['BreakGlass'] } })).toEqual([]);
  });
});
