import type { Via } from './model.ts';

/**
 * How a call was made, from `sessionCredentialFromConsole`, the user agent and the invoking service.
 * The rules apply in this order; the first that matches wins (documented in README "How `via` is decided"):
 *
 *  1. Infrastructure as code: a user agent, invoking service or source naming Terraform, OpenTofu,
 *     CloudFormation, the CDK, Pulumi, Crossplane, Ansible, the SAM CLI or the Serverless Framework.
 *  2. Console: `sessionCredentialFromConsole: "true"`, a console user agent (`console.*.amazonaws.com`,
 *     `signin.amazonaws.com`, `S3Console`, `AWS Console`), or a browser user agent on a sign-in event.
 *  3. CLI: `aws-cli/`, AWS Tools for PowerShell, `aws-shell`.
 *  4. SDK: boto3 / botocore, the JavaScript, Go, Java, .NET, Ruby, PHP, Rust, C++ and Kotlin SDKs.
 *  5. Service: an `AWSService` actor, an `invokedBy`, or a user agent / source that is an AWS host
 *     name or `AWS Internal`.
 *  6. A browser user agent (`Mozilla/`) on any other call: the console.
 *  7. Otherwise `unknown`.
 */
interface Rule {
  test: RegExp;
  via: Via;
  tool: string;
}

const IAC: Rule[] = [
  { test: /opentofu|\btofu\//i, via: 'iac', tool: 'opentofu' },
  { test: /terraform/i, via: 'iac', tool: 'terraform' },
  { test: /cloudformation\.amazonaws\.com|aws-cloudformation|\bcfn-/i, via: 'iac', tool: 'cloudformation' },
  { test: /aws-cdk|\bcdk\//i, via: 'iac', tool: 'cdk' },
  { test: /pulumi/i, via: 'iac', tool: 'pulumi' },
  { test: /crossplane/i, via: 'iac', tool: 'crossplane' },
  { test: /ansible/i, via: 'iac', tool: 'ansible' },
  { test: /aws-sam-cli|\bsam-cli/i, via: 'iac', tool: 'sam' },
  { test: /\bserverless\//i, via: 'iac', tool: 'serverless' },
];

const CONSOLE_AGENT = /^(?:\[)?(?:console\.[a-z0-9.-]*amazonaws\.com|signin\.amazonaws\.com|AWS Console|S3Console)|S3Console\//i;

const CLIENTS: Rule[] = [
  { test: /aws-cli\//i, via: 'cli', tool: 'aws-cli' },
  { test: /AWSPowerShell|aws-powershell/i, via: 'cli', tool: 'aws-powershell' },
  { test: /aws-shell/i, via: 'cli', tool: 'aws-shell' },
  { test: /boto3\//i, via: 'sdk', tool: 'boto3' },
  { test: /botocore\//i, via: 'sdk', tool: 'botocore' },
  { test: /aws-sdk-js|aws-sdk-nodejs|@aws-sdk\/|aws-sdk-javascript/i, via: 'sdk', tool: 'aws-sdk-js' },
  { test: /aws-sdk-go-v2/i, via: 'sdk', tool: 'aws-sdk-go-v2' },
  { test: /aws-sdk-go/i, via: 'sdk', tool: 'aws-sdk-go' },
  { test: /aws-sdk-java/i, via: 'sdk', tool: 'aws-sdk-java' },
  { test: /aws-sdk-dotnet/i, via: 'sdk', tool: 'aws-sdk-dotnet' },
  { test: /aws-sdk-ruby/i, via: 'sdk', tool: 'aws-sdk-ruby' },
  { test: /aws-sdk-php/i, via: 'sdk', tool: 'aws-sdk-php' },
  { test: /aws-sdk-rust/i, via: 'sdk', tool: 'aws-sdk-rust' },
  { test: /aws-sdk-cpp/i, via: 'sdk', tool: 'aws-sdk-cpp' },
  { test: /aws-sdk-kotlin/i, via: 'sdk', tool: 'aws-sdk-kotlin' },
  { test: /stratus-red-team/i, via: 'sdk', tool: 'stratus-red-team' },
];

/** An AWS service host name (`ec2.amazonaws.com`) or `AWS Internal`, as CloudTrail writes for service calls. */
export function isAwsHost(value: string | null): boolean {
  if (value === null) return false;
  if (value === 'AWS Internal') return true;
  return (value.endsWith('.amazonaws.com') || value.endsWith('.amazonaws.com.cn')) && !value.includes(' ');
}

export interface ViaInput {
  userAgent: string | null;
  sourceAddress: string | null;
  invokedBy: string | null;
  actorType: string | null;
  eventSource: string | null;
  fromConsole: unknown;
}

/**
 * User agents repeat heavily within a trail, so classifications are memoized (bounded; cleared when
 * full): user agent → actor type → invoked-by → the three yes/no inputs (console credential, sign-in
 * event, AWS host as source); when the source is an AWS host its name is part of the answer, so those
 * are kept by source too. Nested maps of the values themselves: no key strings built per event.
 */
type Hit = { via: Via; tool: string | null };
type Slots = (Hit | Map<string, Hit> | undefined)[];
const memo = new Map<string, Map<string | null, Map<string | null, Slots>>>();
const MEMO_MAX = 20_000;
const MEMO_KEY_MAX = 1_000;

export function classifyVia(i: ViaInput): Hit {
  const ua = i.userAgent ?? '';
  // A user agent longer than CloudTrail ever writes is classified afresh each time, not kept.
  if (ua.length > MEMO_KEY_MAX || (i.sourceAddress?.length ?? 0) > MEMO_KEY_MAX || (i.invokedBy?.length ?? 0) > MEMO_KEY_MAX || (i.actorType?.length ?? 0) > MEMO_KEY_MAX) return classify(i);
  let byType = memo.get(ua);
  if (byType === undefined) {
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(ua, (byType = new Map()));
  }
  let byInvoker = byType.get(i.actorType);
  if (byInvoker === undefined) byType.set(i.actorType, (byInvoker = new Map()));
  let slots = byInvoker.get(i.invokedBy);
  if (slots === undefined) byInvoker.set(i.invokedBy, (slots = new Array(8)));
  const awsHost = isAwsHost(i.sourceAddress);
  const slot = (i.fromConsole === true || i.fromConsole === 'true' ? 1 : 0) | (i.eventSource === 'signin.amazonaws.com' ? 2 : 0) | (awsHost ? 4 : 0);
  if (!awsHost) {
    let hit = slots[slot] as Hit | undefined;
    if (hit === undefined) slots[slot] = hit = classify(i);
    return hit;
  }
  let bySource = slots[slot] as Map<string, Hit> | undefined;
  if (bySource === undefined) slots[slot] = bySource = new Map();
  let hit = bySource.get(i.sourceAddress!);
  if (hit === undefined) {
    hit = classify(i);
    if (bySource.size < 1000) bySource.set(i.sourceAddress!, hit);
  }
  return hit;
}

function classify(i: ViaInput): { via: Via; tool: string | null } {
  const ua = i.userAgent ?? '';
  for (const r of IAC) {
    if (r.test.test(ua) || (i.invokedBy !== null && r.test.test(i.invokedBy))) return { via: r.via, tool: r.tool };
  }
  if (i.fromConsole === 'true' || i.fromConsole === true) return { via: 'console', tool: 'console' };
  if (CONSOLE_AGENT.test(ua)) return { via: 'console', tool: 'console' };
  const browser = ua.startsWith('Mozilla/');
  if (browser && i.eventSource === 'signin.amazonaws.com') return { via: 'console', tool: 'console' };
  if (ua !== '' && !browser) {
    for (const r of CLIENTS) if (r.test.test(ua)) return { via: r.via, tool: r.tool };
  }
  if (i.actorType === 'AWSService' || i.invokedBy !== null || isAwsHost(i.userAgent) || isAwsHost(i.sourceAddress)) {
    return { via: 'service', tool: i.invokedBy ?? (isAwsHost(i.userAgent) ? i.userAgent : i.sourceAddress) };
  }
  if (browser) return { via: 'console', tool: 'console' };
  return { via: 'unknown', tool: null };
}
