import type { TrailEvent } from '../events/model.ts';
import { serviceOf } from './match.ts';

/**
 * Lambda's CloudTrail event names carry the API version: `AddPermission20150331v2`,
 * `UpdateFunctionCode20150331v2`, `CreateFunctionUrlConfig20211031`. `lambdaCall` gives the plain
 * name (`AddPermission`) for a Lambda event, else null; `lambdaEventNames` lists every versioned name
 * a flow's `actions` must name.
 */
const VERSIONS: Readonly<Record<string, readonly string[]>> = {
  AddPermission: ['20150331', '20150331v2'],
  RemovePermission: ['20150331', '20150331v2'],
  AddLayerVersionPermission: ['20181031'],
  CreateFunction: ['20150331'],
  UpdateFunctionCode: ['20150331', '20150331v2'],
  UpdateFunctionConfiguration: ['20150331', '20150331v2'],
  CreateFunctionUrlConfig: ['20211031'],
  UpdateFunctionUrlConfig: ['20211031'],
  PublishLayerVersion: ['20181031'],
};

/** Every event name CloudTrail may write for these Lambda calls (plain and versioned). */
export function lambdaEventNames(calls: readonly string[]): string[] {
  const out: string[] = [];
  for (const c of calls) {
    out.push(c);
    for (const v of VERSIONS[c] ?? []) out.push(c + v);
  }
  return out;
}

const VERSIONED = /^([A-Za-z]+?)(?:\d{8}(?:v\d+)?)?$/;

/** The plain name of a Lambda call (`AddPermission20150331v2` → `AddPermission`), null for other services. */
export function lambdaCall(e: TrailEvent): string | null {
  if (e.action === null || serviceOf(e) !== 'lambda') return null;
  const m = VERSIONED.exec(e.action);
  return m ? m[1]! : e.action;
}

/** The function's name from an ARN or a name as the request gives it. */
export function functionName(v: string | null): string | null {
  if (v === null) return null;
  const m = /:function:([^:]+)/.exec(v);
  return m ? m[1]! : v;
}
