import { describe, expect, it } from 'vitest';
import { POSITIVE, positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { sendCommandTo } from '../../../test/fixtures/flows/identity-records.ts';
import { at, findings, record, records } from '../../../test/fixtures/flows/load.ts';
import { FLOWS } from '../registry.ts';

const ID = 'clickops';
const R = 'records/';
const positive = () => POSITIVE[ID]!();
const CONSOLE_UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36';

describe(ID, () => {
  it('raises on a change made in the console (AWS docs: UploadSSHPublicKey)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('low');
    expect(f.title).toBe('Changed by hand in the console: Alice uploaded a SSH public key (IAM user Alice)');
  });
  it('ignores sign-in and console housekeeping: ConsoleLogin, CheckMfa, the access portal, SSO tokens', () => {
    const signIn = [at(`${R}aws-docs-examples.json`, 1), at(`${R}aws-docs-examples.json`, 3), at(`${R}aws-docs-examples.json`, 9)];
    expect(findings(signIn, ID)).toEqual([]);
    expect(findings([record(`${R}actors.json`, 'CreateToken'), records(`${R}actors.json`)[12]!], ID)).toEqual([]);
  });
  it('ignores console reads and changes made through Terraform or the CLI', () => {
    expect(findings(records(`${R}otrf-ec2-proxy-s3-exfiltration.ndjson`), ID)).toEqual([]);
    expect(findings([record(`${R}user-agents.json`, 'TerminateInstances'), record(`${R}writes-data.json`, 'DeleteDBInstance')], ID)).toEqual([]);
  });
  it('leaves console changes a more specific flow reports (nothing doubled)', () => {
    const all = findings([record(`${R}writes-network.json`, 'CreateVpc')]);
    expect(all.map((x) => x.flow)).toEqual(['vpc-change']);
  });
  it('leaves a console command a Detection II flow reports (SendCommand to three instances), not one to a single instance', () => {
    const fromConsole = (ids: string[]) => ({ ...sendCommandTo(ids), userAgent: CONSOLE_UA, sessionCredentialFromConsole: 'true' });
    const three = ['i-0a1b2c3d4e5f60718', 'i-0a1b2c3d4e5f60719', 'i-0a1b2c3d4e5f6071a'];
    expect(findings([fromConsole(three)]).map((x) => x.flow)).toEqual(['ssm-command-many-instances']);
    expect(findings([fromConsole(three.slice(0, 1))]).map((x) => x.flow)).toEqual([ID]);
  });
  it('yields to every other single flow of the catalog, so a new specific flow is not reported twice', () => {
    const yields = new Set(FLOWS.find((f) => f.id === ID)!.yieldsTo);
    expect(FLOWS.filter((f) => f.kind === 'single' && f.id !== ID && !yields.has(f.id)).map((f) => f.id)).toEqual([]);
  });
  it('ignores break-glass roles', () => {
    const { records: r } = positive();
    expect(findings(r, ID, { allow: { breakGlassRoles: ['Alice'] } })).toEqual([]);
  });
});
