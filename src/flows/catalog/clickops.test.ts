import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../../test/fixtures/flows/cases.ts';
import { at, findings, record, records } from '../../../test/fixtures/flows/load.ts';

const ID = 'clickops';
const R = 'records/';
const positive = () => POSITIVE[ID]!();

describe(ID, () => {
  it('raises on a change made in the console (AWS docs: UploadSSHPublicKey)', () => {
    const { records, config } = positive();
    const f = findings(records, ID, config);
    expect(f).toHaveLength(1);
    expect(f[0]!.severity).toBe('low');
    expect(f[0]!.title).toBe('Changed by hand in the console: Alice uploaded a SSH public key (IAM user Alice)');
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
  it('ignores break-glass roles', () => {
    const { records: r } = positive();
    expect(findings(r, ID, { allow: { breakGlassRoles: ['Alice'] } })).toEqual([]);
  });
});
