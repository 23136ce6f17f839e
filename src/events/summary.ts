import { HIDDEN_USER } from './actor.ts';
import { splitAction } from './resources.ts';
import type { Resource, SummarizedEvent, TrailEvent } from './model.ts';
import { compileText, loadWords, readTemplate, textEnv } from '../templates/index.ts';

const words = loadWords();
const env = textEnv();
env.registerPartial('who', compileText(env, readTemplate('summary/who.hbs')));
const sentence = compileText(env, readTemplate('summary/summary.hbs'));
const insightSentence = compileText(env, readTemplate('summary/insight.hbs'));


/** `DBInstance` → `DB instance`, `AccessKey` → `access key`. */
export function humanize(camel: string): string {
  return camel
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(' ')
    .map((w) => (w.length > 1 && w === w.toUpperCase() ? w : w.toLowerCase()))
    .join(' ')
    .trim();
}

/** How a resource type reads: the words table, else `AWS::Foo::BarBaz` → `Foo bar baz`. */
export function resourceLabel(type: string): string {
  const known = words.resourceTypes[type];
  if (known) return known;
  const parts = type.split('::');
  if (parts.length === 3) return `${parts[1]} ${humanize(parts[2]!)}`;
  return humanize(type);
}

function resourcePhrase(r: Resource): string {
  return `the ${resourceLabel(r.type)} ${r.id}`;
}

function article(noun: string): string {
  if (noun === '' || noun.endsWith('s')) return noun;
  return /^[aeiouAEIOU]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

interface Phrase {
  verb: string;
  object: string | null;
}

/**
 * The API version CloudTrail appends to some services' event names: Lambda's
 * `UpdateFunctionConfiguration20150331v2` and `CreateFunctionUrlConfig20211031`, CloudFront's
 * `UpdateDistribution2020_05_31`. It says which version of the API was called, not what was done.
 */
const API_VERSION = /^([A-Za-z]+?)(?:\d{8}(?:v\d+)?|\d{4}_\d{2}_\d{2})$/;

function phraseFor(e: TrailEvent): Phrase {
  const action = e.action === null ? 'an unnamed call' : (API_VERSION.exec(e.action)?.[1] ?? e.action);
  const attempted = e.outcome !== 'success';
  const obj = e.primaryResource ? resourcePhrase(e.primaryResource) : null;
  const special = words.actions[action];
  // A phrase such as "pushed an SSH key to" needs its object; without one, the generic words read better.
  if (special && (special.object === false || (obj && (e.primaryNamed || !special.named)))) {
    const verb = attempted ? (e.outcome === 'failed' && special.failed ? special.failed : `tried to ${special.base}`) : special.past;
    return { verb, object: special.object === false ? null : obj };
  }
  const m = splitAction(action);
  const forms = m ? words.verbs[m[0]] : undefined;
  if (!m || !forms) {
    return { verb: attempted ? `tried to call ${action}` : `called ${action}`, object: obj ? `on ${obj}` : null };
  }
  const verb = attempted ? `tried to ${forms[0]}` : forms[1];
  const rest = humanize(m[1]);
  const r = e.primaryResource;
  if (obj && r && e.primaryNamed) {
    // PutBucketVersioning on a bucket → "set the versioning of the S3 bucket x".
    const noun = r.type.slice(r.type.lastIndexOf(':') + 1);
    const tail = m[1].startsWith(noun) ? m[1].slice(noun.length) : '';
    return { verb, object: tail && /^[A-Z]/.test(tail) ? `the ${humanize(tail)} of ${obj}` : obj };
  }
  if (obj && !rest) return { verb, object: obj };
  const own = rest ? article(rest) : null;
  return { verb, object: r ? `${own} (${resourceLabel(r.type)} ${r.id})` : own };
}

function howPhrase(e: TrailEvent, verb: string): string | null {
  if (e.actor.type === 'AWSService') return null;
  if (e.via === 'service' && e.actor.name === e.tool) return null;
  if (e.via === 'console' && (verb.includes('AWS console') || verb.includes('Identity Center'))) return null;
  if (e.tool && words.tools[e.tool]) return words.tools[e.tool]!;
  const generic = words.vias[e.via];
  if (!generic) return null;
  return generic.replace('{tool}', e.tool ?? 'unknown');
}

function deniedBy(e: TrailEvent): string | null {
  if (e.outcome !== 'denied' || !e.errorMessage) return null;
  if (/service control policy/i.test(e.errorMessage)) return words.deniedBy.scp ?? null;
  if (/permissions boundary/i.test(e.errorMessage)) return words.deniedBy.boundary ?? null;
  return null;
}

/** The data the summary templates read; also used by Slack and Jira templates later. */
export function summaryContext(e: TrailEvent): Record<string, unknown> {
  const { verb, object } = phraseFor(e);
  const time = e.time ?? '';
  return {
    name: e.actor.name,
    isRoot: e.actor.type === 'Root',
    isService: e.actor.type === 'AWSService',
    isAccount: e.actor.type === 'AWSAccount',
    actorAccount: e.actor.accountId ?? e.account,
    hidden: e.actor.userName === HIDDEN_USER && !e.actor.name,
    account: e.account,
    verb,
    object,
    region: e.region,
    how: howPhrase(e, verb),
    sourceIp: e.sourceIp,
    date: time ? time.slice(0, 10) : null,
    clock: time ? time.slice(11, 19) : null,
    denied: e.outcome === 'denied',
    deniedBy: deniedBy(e),
    failed: e.outcome === 'failed' && !(e.action && words.actions[e.action]?.failed),
    errorCode: e.errorCode,
  };
}

/** One plain-language sentence: who did what, to what, where, how and when. */
export function summarize(e: TrailEvent): string {
  if (e.eventCategory === 'Insight') {
    return insightSentence({ action: e.action, service: e.service, region: e.region, account: e.account, date: e.time?.slice(0, 10), clock: e.time?.slice(11, 19) });
  }
  return sentence(summaryContext(e));
}

export function withSummary(e: TrailEvent): SummarizedEvent {
  return { ...e, summary: summarize(e) };
}
