import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { call } from '../../../test/fixtures/flows/build.ts';
import { sagemakerLifecycle } from '../../../test/fixtures/flows/data-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'sagemaker-lifecycle-config';

describe(ID, () => {
  it('raises on a lifecycle configuration created and attached to a notebook (Stratus sagemaker-update-lifecycle-config)', () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('high');
    expect(f.count).toBe(2);
    expect(f.title).toBe('SageMaker start-up script changed (tools-update): mallory created a notebook instance lifecycle config');
  });

  it('raises on the attachment alone', () => {
    const [, , attach] = sagemakerLifecycle();
    const f = findings([attach!], ID);
    expect(f).toHaveLength(1);
    expect(f[0]!.title).toMatch(/^SageMaker start-up script attached \(tools-update\): /);
  });

  it('ignores notebook updates that attach no script, and stopping or starting a notebook', () => {
    const [, stop, , start] = sagemakerLifecycle();
    const resize = call({ source: 'sagemaker.amazonaws.com', name: 'UpdateNotebookInstance', request: { notebookInstanceName: 'research', instanceType: 'ml.t3.large' } });
    expect(findings([stop!, start!, resize], ID)).toEqual([]);
  });
});
