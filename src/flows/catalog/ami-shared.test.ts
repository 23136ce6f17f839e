import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { OTHER_ACCOUNT } from '../../../test/fixtures/flows/build.ts';
import { shareImage } from '../../../test/fixtures/flows/exposure-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'ami-shared';

describe(ID, () => {
  it('raises on an image made public (launch permission for group all)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.title).toBe('AMI made public (ami-0a1b2c3d4e5f60718): mallory');
  });
  it('raises on an image shared with an account that is not ours (Stratus ec2-share-ami, built)', () => {
    const f = findings([shareImage([{ userId: OTHER_ACCOUNT }])], ID);
    expect(f.map((x) => x.title)).toEqual([`AMI shared with another account (ami-0a1b2c3d4e5f60718): mallory shared it with ${OTHER_ACCOUNT}`]);
  });
  it('ignores accounts that are ours, and organizations (the account names them itself)', () => {
    expect(findings([shareImage([{ userId: OTHER_ACCOUNT }])], ID, { trustedAccounts: [OTHER_ACCOUNT] })).toEqual([]);
    expect(findings([shareImage([{ userId: '111122223333' }])], ID)).toEqual([]);
    expect(findings([shareImage([{ organizationArn: 'arn:aws:organizations::111122223333:organization/o-a1b2c3d4e5' } as never])], ID)).toEqual([]);
  });
});
