import { describe, expect, it } from 'vitest';
import { findings, record, records, replay, toEvent } from '../../test/fixtures/flows/load.ts';
import { parseFlowsConfig } from './config.ts';
import { Detector } from './detector.ts';

const R = 'records/';

describe('engine: grouping and the dedup period', () => {
  const change = record(`${R}writes-iam.json`, 'UploadSSHPublicKey');

  it('joins repeats within the dedup period into one finding with count, first and last seen', () => {
    const [f, ...rest] = findings(replay(change, 3, 3600), 'clickops');
    expect(rest).toEqual([]);
    expect(f!.count).toBe(3);
    expect(f!.firstSeen).toBe('2020-01-10T16:06:40Z');
    expect(f!.lastSeen).toBe('2020-01-10T18:06:40Z');
    expect(f!.eventIds).toHaveLength(3);
  });

  it('opens a new finding with the same key after the dedup period', () => {
    const f = findings(replay(change, 2, 25 * 3600), 'clickops');
    expect(f.map((x) => x.count)).toEqual([1, 1]);
    expect(f[0]!.key).toBe(f[1]!.key);
    expect(f[0]!.id).not.toBe(f[1]!.id);
  });

  it('follows a configured dedup period', () => {
    expect(findings(replay(change, 2, 3600), 'clickops', { clickops: { dedupPeriod: '30m' } })).toHaveLength(2);
  });
});

describe('engine: idempotency in memory', () => {
  it('counts an event once however often it is pushed (a file read twice)', () => {
    const d = new Detector(parseFlowsConfig({}));
    const denied = records(`${R}stratus-aws.credential-access.ec2-get-password-data.json`).map(toEvent);
    d.push(denied);
    d.push(denied);
    d.push(denied.slice(0, 5));
    const f = d.findings().filter((x) => x.flow === 'unauthorized-api-calls');
    expect(f.map((x) => x.count)).toEqual([30]);
  });

  it('counts the same whatever the batch sizes and the order of events within batches', () => {
    const all = [...records(`${R}otrf-ec2-proxy-s3-exfiltration.ndjson`), ...records(`${R}writes-network.json`), ...records(`${R}stratus-aws.credential-access.ec2-get-password-data.json`)];
    const config = parseFlowsConfig({ 'new-service': { params: { learningPeriod: '10m' } } });
    const one = new Detector(config);
    one.push(all.map(toEvent));
    const many = new Detector(config);
    for (let i = 0; i < all.length; i += 7) many.push(all.slice(i, i + 7).reverse().map(toEvent));
    // (A finding's id depends on the first event that arrived: out-of-order batches may anchor it elsewhere.)
    const shape = (d: Detector) => d.findings().map((f) => `${f.key} ${f.count}`).sort();
    expect(shape(many)).toEqual(shape(one));
  });
});

describe('engine: nothing doubled', () => {
  it('reports one event once even when several flows match it', () => {
    const stop = findings([record(`${R}writes-logging.json`, 'StopConfigurationRecorder')]).map((f) => f.flow);
    expect(stop.filter((x) => x === 'logging-disabled' || x === 'config-service-change')).toEqual(['logging-disabled']);
    const key = findings([record(`${R}writes-data.json`, 'ScheduleKeyDeletion')]).map((f) => f.flow);
    expect(key).toContain('kms-key-disabled-or-deleted');
    expect(key).not.toContain('sensitive-delete');
  });

  it('still reports an event through a yielding flow when the preferred flow is disabled', () => {
    const key = findings([record(`${R}writes-data.json`, 'ScheduleKeyDeletion')], undefined, { 'kms-key-disabled-or-deleted': { enabled: false } }).map((f) => f.flow);
    expect(key).toContain('sensitive-delete');
  });
});

describe('engine: the records flows read', () => {
  // Two copies of one event (same id) in one batch, with different request parameters: every copy is
  // judged on the record kept last, as when the records are all kept before matching.
  const allowAll = record('flows/derived.json', 'PutUserPolicy');
  const narrowed = structuredClone(allowAll);
  narrowed.requestParameters = { ...(allowAll.requestParameters as Record<string, unknown>), policyDocument: '{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}' };
  const flowsOf = (batch: typeof allowAll[]) => {
    const d = new Detector(parseFlowsConfig({}));
    d.push(batch.map(toEvent));
    return d.findings().map((f) => f.flow).sort();
  };

  it('judges every copy of an event pushed twice in one batch on the record that came last', () => {
    expect(flowsOf([allowAll, narrowed])).toEqual(['iam-policy-change']);
    expect(flowsOf([narrowed, allowAll])).toEqual(['admin-policy-attached']);
  });
});
