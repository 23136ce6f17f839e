import { describe, expect, it } from 'vitest';
import { record, toEvent } from '../../test/fixtures/flows/load.ts';
import { compileFlows } from './compile.ts';
import { parseFlowsConfig } from './config.ts';
import { asList, fieldsOf, NO_FIELDS } from './fields.ts';

describe('Fields: typed, total reads of a record part', () => {
  // Stratus's ModifySnapshotAttribute: EC2 writes lists as { items: [...] }.
  const share = record('records/stratus-aws.exfiltration.ec2-share-ebs-snapshot.json', 'ModifySnapshotAttribute');

  it('reads strings, numbers, booleans and lists, unwrapping EC2 item lists', () => {
    const req = fieldsOf(share.requestParameters);
    expect(req.present).toBe(true);
    expect(req.str('snapshotId')).toMatch(/^snap-/);
    expect(req.strings('createVolumePermission', 'add', 'items').length).toBe(0); // items hold objects, not strings
    const adds = req.list('createVolumePermission', 'add', 'items');
    expect(adds.length).toBeGreaterThan(0);
    expect(req.list('createVolumePermission', 'add')).toEqual(adds); // { items: [...] } unwrapped
    expect(req.str('nothing', 'here')).toBeNull();
    expect(req.num('snapshotId')).toBeNull();
    expect(req.list('missing')).toEqual([]);
    expect(req.has('snapshotId')).toBe(true);
  });

  it('reads numbers and booleans written as strings, and nothing else as them', () => {
    const f = fieldsOf({ port: '8080', n: 3, on: 'true', off: false, word: 'yes', nested: { deep: [{ cidrIp: '0.0.0.0/0' }, { x: { cidrIp: '10.0.0.0/8' } }] } });
    expect(f.num('port')).toBe(8080);
    expect(f.num('n')).toBe(3);
    expect(f.bool('on')).toBe(true);
    expect(f.bool('off')).toBe(false);
    expect(f.bool('word')).toBeNull();
    expect(f.deep(new Set(['cidrIp']))).toEqual(['0.0.0.0/0', '10.0.0.0/8']);
  });

  it('parses JSON documents written as strings, URL-encoded or not', () => {
    const policy = { Statement: [{ Effect: 'Allow', Principal: '*', Action: 's3:GetObject' }] };
    expect(fieldsOf({ policy: JSON.stringify(policy) }).doc('policy')).toEqual(policy);
    expect(fieldsOf({ policy: encodeURIComponent(JSON.stringify(policy)) }).doc('policy')).toEqual(policy);
    expect(fieldsOf({ policy }).doc('policy')).toEqual(policy);
    expect(fieldsOf({ policy: '{not json' }).doc('policy')).toBeNull();
  });

  it('answers empty for anything that is not a plain object', () => {
    for (const v of [null, undefined, 'text', 3, ['a']]) {
      const f = fieldsOf(v);
      expect(f.present).toBe(false);
      expect(f.get('a')).toBeUndefined();
      expect(f.list('a')).toEqual([]);
    }
    expect(asList('one')).toEqual(['one']);
    expect(asList({ items: [1, 2] })).toEqual([1, 2]);
    expect(asList({ items: [1], other: 1 })).toEqual([{ items: [1], other: 1 }]);
  });

  it('is what env.request/response/additional hand a flow, empty when the record is not at hand', () => {
    const c = compileFlows(parseFlowsConfig({}));
    const { event, raw } = toEvent(share);
    const env = c.env(new Map([[event.eventId, raw!]]));
    expect(env.request(event).str('snapshotId')).toBe(fieldsOf(share.requestParameters).str('snapshotId'));
    expect(env.response(event).present).toBe(share.responseElements !== null && typeof share.responseElements === 'object');
    expect(c.env(new Map()).request(event)).toBe(NO_FIELDS);
  });
});

describe('env: accounts and egress ranges from the flows settings', () => {
  const { event } = toEvent(record('records/stratus-aws.exfiltration.ec2-share-ebs-snapshot.json', 'ModifySnapshotAttribute'));

  it('knows the event’s own account, those under accounts: and flows.trustedAccounts', () => {
    const env = compileFlows(parseFlowsConfig({ trustedAccounts: ['210987654321'] }, { accounts: ['111111111111'] })).env(new Map());
    expect(env.knownAccount(event, event.account!)).toBe(true);
    expect(env.knownAccount(event, '111111111111')).toBe(true);
    expect(env.knownAccount(event, '210987654321')).toBe(true);
    expect(env.knownAccount(event, '999999999999')).toBe(false);
  });

  it('tests addresses against flows.expected.egressCidrs (IPv4 and IPv6), and says when none are set', () => {
    const env = compileFlows(parseFlowsConfig({ expected: { egressCidrs: ['203.0.113.0/24', '198.51.100.7', '2001:db8::/32'] } })).env(new Map());
    expect(env.egressConfigured).toBe(true);
    expect(env.insideEgress('203.0.113.200')).toBe(true);
    expect(env.insideEgress('203.0.114.1')).toBe(false);
    expect(env.insideEgress('198.51.100.7')).toBe(true);
    expect(env.insideEgress('198.51.100.8')).toBe(false);
    expect(env.insideEgress('2001:db8:1::5')).toBe(true);
    expect(env.insideEgress('ec2.amazonaws.com')).toBe(false);
    expect(env.insideEgress(null)).toBe(false);
    const none = compileFlows(parseFlowsConfig({})).env(new Map());
    expect(none.egressConfigured).toBe(false);
    expect(none.insideEgress('203.0.113.200')).toBe(false);
  });

  it('refuses account ids and ranges that are not, naming the key', () => {
    expect(() => parseFlowsConfig({ trustedAccounts: ['12345'] })).toThrow(/flows\.trustedAccounts\.0: expected a 12-digit account id/);
    expect(() => parseFlowsConfig({ expected: { egressCidrs: ['203.0.113.0/33'] } })).toThrow(/flows\.expected\.egressCidrs\.0: expected an IP range/);
    expect(() => parseFlowsConfig({ expected: { egressCidrs: ['nat-gateway'] } })).toThrow(/egressCidrs/);
    expect(() => parseFlowsConfig({ expected: { egressCidr: [] } })).toThrow(/did you mean egressCidrs/);
    expect(() => parseFlowsConfig({ trustedAccount: [] })).toThrow(/did you mean trustedAccounts/);
  });
});
