import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { s3Object } from '../../../test/fixtures/flows/data-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 's3-ransom-note';
const put = (key: string, bucket = 'finance-exports') => s3Object('PutObject', bucket, key);

describe(ID, () => {
  it('raises on the note Stratus s3-ransomware-batch-deletion leaves after its DeleteObjects', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('critical');
    expect(f.title).toBe('Ransom note FILES-DELETED.txt written to bucket finance-exports: mallory set the S3 object FILES-DELETED.txt');
  });

  it('knows common note names, in any folder and case', () => {
    for (const key of ['FILES-ENCRYPTED.txt', 'backup/HOW_TO_DECRYPT.html', 'RANSOM_NOTE.md', 'README_TO_RESTORE_YOUR_FILES.txt', 'how-to-recover', 'YOUR_FILES_ARE_ENCRYPTED.txt']) {
      expect(findings([put(key)], ID), key).toHaveLength(1);
    }
  });

  it('ignores ordinary documents and code that merely mention decrypting', () => {
    for (const key of ['README.md', 'docs/how-to-deploy.txt', 'src/decrypt.py', 'lib/files_encrypted.parquet', 'ransomware-report-2024.pdf']) {
      expect(findings([put(key)], ID), key).toEqual([]);
    }
  });

  it('raises once per bucket, and takes names from configuration', () => {
    expect(findings([put('FILES-DELETED.txt', 'a'), put('FILES-DELETED.txt', 'b'), put('FILES-ENCRYPTED.txt', 'a')], ID).map((f) => f.count)).toEqual([2, 1]);
    const cfg = { [ID]: { params: { noteNames: ['pay-up*'] } } };
    expect(findings([put('PAY-UP.txt')], ID, cfg)).toHaveLength(1);
    expect(findings([put('FILES-DELETED.txt')], ID, cfg)).toEqual([]);
  });
});
