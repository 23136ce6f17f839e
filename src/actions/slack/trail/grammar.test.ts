import { describe, expect, it } from 'vitest';
import { trailQuerySchema } from '../../../runtime/jobs.ts';
import { type Parsed, parseTrail, type TrailRequest } from './grammar.ts';

const NOW = Date.parse('2024-08-10T12:34:56Z');
const parse = (text: string): Parsed => parseTrail(text, { now: NOW });
const query = (text: string): TrailRequest => {
  const r = parse(text);
  if (r.kind !== 'query') throw new Error(`expected a query for ${JSON.stringify(text)}, got ${JSON.stringify(r)}`);
  // Whatever the grammar accepts, the job takes as it is.
  expect(trailQuerySchema.safeParse(r.query).success).toBe(true);
  return r.query;
};
const problem = (text: string) => {
  const r = parse(text);
  if (r.kind !== 'usage') throw new Error(`expected usage help for ${JSON.stringify(text)}, got ${JSON.stringify(r)}`);
  return r.problem;
};

describe('/trail grammar', () => {
  it('takes who first and defaults to the last 24 hours, nothing filtered', () => {
    expect(query('alana@corp')).toEqual({
      who: 'alana@corp',
      window: { kind: 'last', span: '24h' },
      since: '2024-08-09T12:34:56.000Z',
      until: '2024-08-10T12:34:56.000Z',
      writes: false,
      denied: false,
      console: false,
      live: false,
    });
  });

  it('reads each window', () => {
    expect(query('alana 7d')).toMatchObject({ window: { kind: 'last', span: '7d' }, since: '2024-08-03T12:34:56.000Z' });
    expect(query('alana 30d')).toMatchObject({ window: { kind: 'last', span: '30d' }, since: '2024-07-11T12:34:56.000Z' });
    expect(query('alana since 2024-08-01')).toMatchObject({ window: { kind: 'since', from: '2024-08-01' }, since: '2024-08-01T00:00:00.000Z', until: '2024-08-10T12:34:56.000Z' });
    // Whole days, both included.
    expect(query('alana between 2024-08-01 and 2024-08-03')).toMatchObject({
      window: { kind: 'between', from: '2024-08-01', to: '2024-08-03' },
      since: '2024-08-01T00:00:00.000Z',
      until: '2024-08-03T23:59:59.999Z',
    });
    expect(query('alana between 2024-08-05 and 2024-08-05')).toMatchObject({ since: '2024-08-05T00:00:00.000Z', until: '2024-08-05T23:59:59.999Z' });
    // Today may end the window.
    expect(query('alana between 2024-08-09 AND 2024-08-10')).toMatchObject({ until: '2024-08-10T23:59:59.999Z' });
  });

  it('reads the filters in any order, case-insensitively', () => {
    expect(query('AKIAIOSFODNN7EXAMPLE LIVE console region:EU-West-1 denied writes service:s3 account:111122223333 7d')).toMatchObject({
      who: 'AKIAIOSFODNN7EXAMPLE',
      window: { kind: 'last', span: '7d' },
      writes: true,
      denied: true,
      console: true,
      live: true,
      region: 'eu-west-1',
      service: 's3.amazonaws.com',
      account: '111122223333',
    });
    expect(query('x service:signin.amazonaws.com region:us-gov-west-1')).toMatchObject({ service: 'signin.amazonaws.com', region: 'us-gov-west-1' });
  });

  it('keeps who as typed, and unwraps what Slack turns into links', () => {
    expect(query('arn:aws:iam::111122223333:role/Admin').who).toBe('arn:aws:iam::111122223333:role/Admin');
    expect(query('<mailto:alana@corp.example|alana@corp.example> 7d').who).toBe('alana@corp.example');
    expect(query('  Alana@Corp\u00a0 writes ').who).toBe('Alana@Corp');
  });

  it('answers help', () => {
    expect(parse('help')).toEqual({ kind: 'help' });
    expect(parse('  HELP ')).toEqual({ kind: 'help' });
    // Not "“help” is an option, not a person … e.g. /trail alana@corp help", which would not work either.
    expect(parse('help me')).toEqual({ kind: 'help' });
    expect(parse('help since')).toEqual({ kind: 'help' });
  });

  it('names what is wrong', () => {
    expect(problem('')).toEqual({ code: 'empty' });
    expect(problem('   ')).toEqual({ code: 'empty' });
    expect(problem('7d alana')).toEqual({ code: 'who-first', word: '7d' });
    expect(problem('region:eu-west-1')).toEqual({ code: 'who-first', word: 'region:eu-west-1' });
    expect(problem(`${'a'.repeat(257)}`)).toEqual({ code: 'who-too-long', max: 256 });
    expect(problem('alana yesterday')).toEqual({ code: 'unknown-word', word: 'yesterday', near: undefined });
    expect(problem('alana write')).toEqual({ code: 'unknown-word', word: 'write', near: 'writes' });
    expect(problem('alana regoin:eu-west-1')).toEqual({ code: 'unknown-word', word: 'regoin:eu-west-1', near: 'region:' });
    expect(problem('alana 48h')).toMatchObject({ code: 'unknown-word', word: '48h' });
    expect(problem('alana writes writes')).toEqual({ code: 'twice', what: 'writes' });
    expect(problem('alana region:eu-west-1 region:us-east-1')).toEqual({ code: 'twice', what: 'region:' });
    expect(problem('alana 7d 30d')).toEqual({ code: 'two-windows', first: '7d', second: '30d' });
    expect(problem('alana since 2024-08-01 24h')).toEqual({ code: 'two-windows', first: 'since 2024-08-01', second: '24h' });
  });

  it('names what is wrong with dates', () => {
    expect(problem('alana since')).toEqual({ code: 'date-missing', after: 'since' });
    expect(problem('alana between')).toEqual({ code: 'date-missing', after: 'between' });
    expect(problem('alana between 2024-08-01')).toEqual({ code: 'and-missing', from: '2024-08-01' });
    expect(problem('alana between 2024-08-01 2024-08-03')).toEqual({ code: 'and-missing', from: '2024-08-01' });
    expect(problem('alana since 2024-02-30')).toEqual({ code: 'bad-date', word: '2024-02-30' });
    expect(problem('alana since 01/08/2024')).toEqual({ code: 'bad-date', word: '01/08/2024' });
    expect(problem('alana since 2024-08-01T10:00')).toEqual({ code: 'bad-date', word: '2024-08-01T10:00' });
    expect(problem('alana between 2024-08-01 and 2024-13-01')).toEqual({ code: 'bad-date', word: '2024-13-01' });
    expect(problem('alana since 2024-08-11')).toEqual({ code: 'future-date', date: '2024-08-11' });
    expect(problem('alana between 2024-08-01 and 2024-09-01')).toEqual({ code: 'future-date', date: '2024-09-01' });
    expect(problem('alana between 2024-08-03 and 2024-08-01')).toEqual({ code: 'order', from: '2024-08-03', to: '2024-08-01' });
  });

  it('refuses windows the store and LookupEvents cannot answer', () => {
    expect(problem('alana since 2023-01-01')).toEqual({ code: 'too-long', days: 588, max: 366 });
    expect(query('alana since 2023-08-11')).toMatchObject({ since: '2023-08-11T00:00:00.000Z' });
    expect(problem('alana since 2023-08-10')).toEqual({ code: 'too-long', days: 367, max: 366 });
    // LookupEvents keeps 90 days.
    expect(problem('alana since 2024-05-01 live')).toEqual({ code: 'live-too-old', date: '2024-05-01', max: 90 });
    expect(query('alana since 2024-05-12 live')).toMatchObject({ live: true });
    expect(problem('alana between 2024-01-01 and 2024-01-02 live')).toEqual({ code: 'live-too-old', date: '2024-01-01', max: 90 });
  });

  it('checks the shape of region, service and account', () => {
    expect(problem('alana region:europe')).toEqual({ code: 'bad-region', value: 'europe' });
    expect(problem('alana region:')).toEqual({ code: 'bad-region', value: '' });
    expect(problem('alana service:S3 Bucket')).toMatchObject({ code: 'unknown-word', word: 'Bucket' });
    expect(problem('alana service:s3/../x')).toEqual({ code: 'bad-service', value: 's3/../x' });
    expect(problem('alana account:1234')).toEqual({ code: 'bad-account', value: '1234' });
    expect(problem('alana account:11112222333a')).toEqual({ code: 'bad-account', value: '11112222333a' });
  });
});
