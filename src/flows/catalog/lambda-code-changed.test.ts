import { describe, expect, it } from 'vitest';
import { positiveFinding } from '../../../test/fixtures/flows/cases.ts';
import { overwriteCode, OUTSIDER, setLayers } from '../../../test/fixtures/flows/exposure-records.ts';
import { findings } from '../../../test/fixtures/flows/load.ts';

const ID = 'lambda-code-changed';

describe(ID, () => {
  it("raises on layers set on a function (Stratus lambda-layer-extension: the layer is the account's own, medium)", () => {
    const f = positiveFinding(ID);
    expect(f.severity).toBe('medium');
    expect(f.title).toMatch(/^Lambda function layers changed \(stratus-red-team-lambda-layer-simpleLambda\): christophe /);
  });
  it('raises on code replaced (Stratus lambda-overwrite-code, built: UpdateFunctionCode20150331v2)', () => {
    const f = findings([overwriteCode()], ID);
    expect(f.map((x) => x.severity)).toEqual(['medium']);
    expect(f[0]!.title).toMatch(/^Lambda function code replaced \(orders-api\): mallory /);
  });
  it('is high when a layer comes from an account that is not ours, in the detector and in what it renders', () => {
    const f = findings([setLayers([`arn:aws:lambda:eu-west-1:${OUTSIDER}:layer:telemetry:3`])], ID);
    expect(f).toHaveLength(1);
    expect(f[0]!.severity).toBe('high');
    expect(f[0]!.title).toContain('with a layer from another account');
    expect(findings([setLayers([`arn:aws:lambda:eu-west-1:${OUTSIDER}:layer:telemetry:3`])], ID, { trustedAccounts: [OUTSIDER] })[0]!.severity).toBe('medium');
  });
  it('groups one person’s changes of a day, but a foreign layer after them opens its own high finding', () => {
    const t = (r: ReturnType<typeof overwriteCode>, time: string) => ({ ...r, eventTime: time });
    const f = findings([
      t(overwriteCode(), '2024-06-03T09:00:00Z'),
      t(setLayers([`arn:aws:lambda:eu-west-1:111122223333:layer:ours:1`]), '2024-06-03T09:10:00Z'),
      t(setLayers([`arn:aws:lambda:eu-west-1:${OUTSIDER}:layer:telemetry:3`]), '2024-06-03T09:20:00Z'),
    ], ID);
    expect(f.map((x) => [x.severity, x.count])).toEqual([['medium', 2], ['high', 1]]);
  });
  it('ignores layers removed, deployments by IaC and automation identities', () => {
    expect(findings([setLayers([])], ID)).toEqual([]);
    expect(findings([overwriteCode()], ID, { allow: { automationRoles: ['mallory'] } })).toEqual([]);
  });
});
