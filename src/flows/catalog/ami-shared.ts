import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { type Exposure, exposed, exposureOfPrincipal, mergeExposures } from '../policy.ts';
import { byActor, isCall, succeeded } from '../match.ts';

const ACTIONS = new Set(['ModifyImageAttribute']);

/**
 * Who `launchPermission.add` lets launch the image: `group: all` is everyone, a `userId` another
 * account. Organizations and OUs (`organizationArn`, `organizationalUnitArn`) are the account's own.
 */
export function imageExposure(e: TrailEvent, env: FlowEnv): Exposure {
  const adds = env.request(e).list('launchPermission', 'add');
  return mergeExposures(
    adds.map((x) => {
      const item = x !== null && typeof x === 'object' ? (x as Record<string, unknown>) : {};
      if (item.group === 'all') return { public: true, accounts: [] };
      return exposureOfPrincipal(typeof item.userId === 'string' ? item.userId : null, e, env);
    }),
  );
}

/** Stratus `aws.exfiltration.ec2-share-ami` (and `ami-make-public`). */
export const amiShared = defineFlow({
  id: 'ami-shared',
  kind: 'single',
  severity: 'high',
  description: 'An AMI was made public or shared with an AWS account that is not one of ours.',
  runbook: 'Remove the launch permission (aws ec2 modify-image-attribute --launch-permission Remove=...), find out who the account belongs to, and treat what the image holds (disks, keys, code) as copied.',
  falsePositives: ['Publishing an image on purpose; sharing with a partner or an account not yet listed under accounts: or flows.trustedAccounts.'],
  references: ['stratus: aws.exfiltration.ec2-share-ami', 'stratus: aws.exfiltration.ami-make-public'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, _p, env) => succeeded(e) && isCall(e, 'ec2', ACTIONS) && exposed(imageExposure(e, env)),
  key: (e, _p, env) => `${byActor(e)}|${env.request(e).str('imageId') ?? ''}`,
  context: (e, _p, env) => {
    const x = imageExposure(e, env);
    return { image: env.request(e).str('imageId'), public: x.public, accounts: x.accounts };
  },
});
