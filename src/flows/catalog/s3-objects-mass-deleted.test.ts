import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { roleSession } from '../../../test/fixtures/flows/build.ts';
import { batchDeletion, deleteObjectsBody, individualDeletion, s3Object } from '../../../test/fixtures/flows/data-records.ts';
import { findings, replay } from '../../../test/fixtures/flows/load.ts';

const ID = 's3-objects-mass-deleted';

describe(ID, () => {
  it('raises on a bucket emptied object by object (Stratus s3-ransomware-individual-deletion, 51 versions)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.count).toBe(51);
    expect(f.title).toBe('Objects deleted in bulk from bucket finance-exports: mallory, 51 deletion calls since 2024-06-03 09:00:00 UTC');
  });

  it('counts objects per bucket: 21 raise, 20 do not, nor 21 in two buckets, nor one object deleted again and again', () => {
    expect(findings(individualDeletion(21), ID)).toHaveLength(1);
    expect(findings(individualDeletion(20), ID)).toEqual([]);
    expect(findings([...individualDeletion(11, 'a-bucket'), ...individualDeletion(10, 'b-bucket')], ID)).toEqual([]);
    expect(findings(replay(individualDeletion(1)[0]!, 40, 5), ID)).toEqual([]);
  });

  it('raises on one DeleteObjects of every version (Stratus s3-ransomware-batch-deletion), sized by its request body', () => {
    const [, batch] = batchDeletion(51);
    expect((batch!.additionalEventData as Record<string, unknown>).bytesTransferredIn).toBe(Buffer.byteLength(deleteObjectsBody(51)));
    const f = findings([batch!], ID);
    expect(f).toHaveLength(1);
    expect(f[0]!.count).toBe(1);
    // Deleting three files from the console is one small DeleteObjects too.
    expect(findings([batchDeletion(3)[1]!], ID)).toEqual([]);
  });

  it('counts a DeleteObjects whose size is not recorded as objectsPerBatch objects', () => {
    const [, sized] = batchDeletion(51);
    const batch = { ...sized!, additionalEventData: { SignatureVersion: 'SigV4' } };
    expect(findings([batch], ID)).toEqual([]);
    expect(findings(replay(batch, 3, 30), ID)).toHaveLength(1); // 3 × 10 > 20
    expect(findings(replay(batch, 3, 30), ID, { [ID]: { params: { objectsPerBatch: 5 } } })).toEqual([]);
    expect(findings([batch], ID, { [ID]: { params: { objectsPerBatch: 25 } } })).toHaveLength(1);
  });

  it('stays quiet for deletions spread over more than 10 minutes, and for an allow-listed application', () => {
    const slow = individualDeletion(30).slice(0, 30).map((r, i) => ({ ...r, eventTime: new Date(Date.parse('2024-06-03T09:00:00Z') + i * 60_000).toISOString().replace('.000Z', 'Z') }));
    expect(findings(slow, ID)).toEqual([]);
    const app = roleSession('queue-worker', 'i-0abc');
    const byApp = Array.from({ length: 30 }, (_, i) => s3Object('DeleteObject', 'tmp-uploads', `in/${i}.json`, { identity: app }));
    expect(findings(byApp, ID)).toHaveLength(1);
    expect(findings(byApp, ID, { allow: { automationRoles: ['queue-worker'] } })).toEqual([]);
  });
});
