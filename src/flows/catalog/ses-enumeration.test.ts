import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { roleSession } from '../../../test/fixtures/flows/build.ts';
import { sesRecon } from '../../../test/fixtures/flows/data-records.ts';
import { findings, replay } from '../../../test/fixtures/flows/load.ts';

const ID = 'ses-enumeration';

describe(ID, () => {
  it("raises on Stratus ses-enumerate's calls (sending enabled, quota, identities, verification)", () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('medium');
    expect(f.title).toBe('mallory looked into sending e-mail from account 111122223333 (GetAccountSendingEnabled, GetIdentityVerificationAttributes, GetSendQuota, ListIdentities)');
  });

  it('counts different questions: three raise, two do not, nor a tool polling the quota all day', () => {
    expect(findings(sesRecon().slice(0, 3), ID)).toHaveLength(1);
    expect(findings(sesRecon().slice(0, 2), ID)).toEqual([]);
    expect(findings(replay(sesRecon()[1]!, 100, 300), ID)).toEqual([]);
  });

  it('honours the automation allow-list', () => {
    const tool = roleSession('mail-monitor', 'poller');
    expect(findings(sesRecon(tool), ID, { allow: { automationRoles: ['mail-monitor'] } })).toEqual([]);
  });
});
