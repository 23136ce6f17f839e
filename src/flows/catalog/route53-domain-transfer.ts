import { defineFlow } from '../define.ts';
import { byActor, serviceOf, succeeded } from '../match.ts';

/** Route 53 Domains calls that move a domain away (or prepare to) → what they do, in the templates' words. */
const AWAY: Readonly<Record<string, string>> = {
  TransferDomainToAnotherAwsAccount: 'transfer to another AWS account',
  DisableDomainTransferLock: 'transfer lock disabled',
  // The authorization code is what another registrar asks for to take the domain.
  RetrieveDomainAuthCode: 'transfer code retrieved',
};

/** Sigma `aws_route_53_domain_transferred_to_another_account`, `aws_route_53_domain_transferred_lock_disabled`. */
export const route53DomainTransfer = defineFlow({
  id: 'route53-domain-transfer',
  kind: 'single',
  severity: 'critical',
  description: "A Route 53 domain is being moved away: transferred to another AWS account, its transfer lock disabled, or its transfer code read.",
  runbook: 'Confirm the transfer with the domain owner now; if it was not planned, cancel it (CancelDomainTransferToAnotherAwsAccount), turn the transfer lock back on, and rotate the credentials that asked for it.',
  falsePositives: ['A planned move of the domain to another account or registrar.'],
  references: ['sigma: aws_route_53_domain_transferred_to_another_account.yml', 'sigma: aws_route_53_domain_transferred_lock_disabled.yml'],
  params: {},
  dedupPeriod: '24h',
  allow: [],
  actions: Object.keys(AWAY),
  needsRequest: true,
  match: (e) => {
    if (!succeeded(e) || e.action === null || AWAY[e.action] === undefined) return false;
    // Route 53 Domains records as route53domains; Sigma's rules name route53.
    const s = serviceOf(e);
    return s === 'route53domains' || s === 'route53';
  },
  key: byActor,
  context: (e, _p, env) => ({
    domain: env.request(e).str('domainName'),
    step: e.action !== null ? (AWAY[e.action] ?? null) : null,
    toAccount: env.request(e).str('accountId'),
  }),
});
