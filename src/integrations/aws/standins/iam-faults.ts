// Faults the IAM stand-in can be told to inject: an answer held after the write is made, a failure
// instead of the write, an action denied as a missing permission would be (the queue and the holds:
// standin-kit/faults.ts).
import { createFaultQueue, createHeldAnswers } from '../../standin-kit/faults.ts';
import type { Principal } from './credentials.ts';
import { AwsError } from './protocol.ts';

/** Which requests a fault hits: an action name, and optionally a test on its parameters. */
export interface IamFaultMatch {
  action?: string;
  account?: string;
  params?: (p: Record<string, string>) => boolean;
}

export interface IamFaults {
  /**
   * The next `count` matching requests are carried out, then their answers are held `ms` (default 30 s):
   * IAM made the change and the client is still waiting (a test kills the worker meanwhile).
   */
  hold(f?: { count?: number; ms?: number; match?: IamFaultMatch }): void;
  /** Answers held right now. */
  readonly holding: number;
  /** The next `count` matching requests fail (not carried out) with `code` (default ServiceFailure 500). */
  fail(f?: { count?: number; code?: string; status?: number; message?: string; match?: IamFaultMatch }): void;
  /** Refuses `action` (iam:<Action>) with AccessDenied, as a missing permission would, in `account` (default every account). */
  deny(action: string, account?: string): void;
  /** Drops pending faults and denials, and lets held answers go. */
  clear(): void;
}

interface Hold {
  ms: number;
  match?: IamFaultMatch | undefined;
}
interface Failure {
  code: string;
  status: number;
  message: string;
  match?: IamFaultMatch | undefined;
}

export interface IamFaultState {
  readonly faults: IamFaults;
  /** The failure the next matching request gets, used up, or undefined. */
  failureFor(action: string, account: string, params: Record<string, string>): AwsError | undefined;
  /** Refuses `action` on `resource` as IAM refuses a missing permission, when it is denied in `account`. */
  checkDenied(action: string, account: string, caller: Principal, resource: string): void;
  /** Holds a write's answer when a hold matches it (the write is already made). */
  held(action: string, account: string, params: Record<string, string>): Promise<void>;
}

export function createIamFaults(): IamFaultState {
  const holds = createHeldAnswers<Hold>();
  const failures = createFaultQueue<Failure>();
  const denied = new Set<string>();
  const matches = (m: IamFaultMatch | undefined, action: string, account: string, params: Record<string, string>): boolean =>
    !m || ((!m.action || m.action === action) && (!m.account || m.account === account) && (!m.params || m.params(params)));
  const faults: IamFaults = {
    hold({ count = 1, ms = 30_000, match } = {}) {
      holds.add({ ms, match }, count);
    },
    get holding() {
      return holds.holding;
    },
    fail({ count = 1, code = 'ServiceFailure', status, message, match } = {}) {
      failures.add({ code, status: status ?? (code === 'ServiceFailure' ? 500 : code === 'Throttling' ? 400 : 400), message: message ?? (code === 'ServiceFailure' ? 'The request processing has failed because of an unknown error, exception or failure.' : code === 'Throttling' ? 'Rate exceeded' : 'injected by the stand-in'), match }, count);
    },
    deny(action, account) {
      denied.add(`${account ?? '*'}|${action.replace(/^iam:/, '')}`);
    },
    clear() {
      holds.clear();
      failures.clear();
      denied.clear();
    },
  };

  return {
    faults,
    failureFor(action, account, params) {
      const failure = failures.take((f) => matches(f.match, action, account, params));
      if (!failure) return undefined;
      return new AwsError(failure.code, failure.message, { status: failure.status, fault: failure.status >= 500 ? 'Receiver' : 'Sender' });
    },
    checkDenied(action, account, caller, resource) {
      if (denied.has(`*|${action}`) || denied.has(`${account}|${action}`)) {
        throw new AwsError('AccessDenied', `User: ${caller.arn} is not authorized to perform: iam:${action} on resource: ${resource} because no identity-based policy allows the iam:${action} action`, { status: 403 });
      }
    },
    held: (action, account, params) => holds.held((h) => matches(h.match, action, account, params)),
  };
}
