import type { TrailEvent } from '../events/model.ts';

/**
 * Calls the AWS console makes that change nothing a colleague would call "a change by hand".
 * `clickops`, `clickops-burst`, `clickops-production` and the monthly ClickOps report leave them out.
 * Each entry is `service:action`, or `service:*` for a whole service; the reason is beside it.
 *
 * Add to this list (not to a flow) when the console starts making a new bookkeeping call.
 */
export const CONSOLE_HOUSEKEEPING: Readonly<Record<string, string>> = {
  // Signing in and moving between accounts and roles.
  'signin:*': 'sign-in, MFA, password and role-switch steps (ConsoleLogin, CheckMfa, SwitchRole, RenewRole, CredentialChallenge, ...)',
  'sso:Federate': 'IAM Identity Center hands the browser a console session',
  'sso:Authenticate': 'IAM Identity Center sign-in step',
  'sso:Logout': 'IAM Identity Center sign-out',
  'sso:CreateToken': 'the access portal refreshes its token',
  'sso-directory:*': 'the access portal reads its own directory',
  'sts:GetSigninToken': 'federated console sign-in',
  'sts:AssumeRole': 'switching role from the console is sign-in, not a change',
  'iam:ChangePassword': 'a user changing their own password',
  'cognito-idp:InitiateAuth': 'sign-in to an app, not a change',
  'cognito-idp:RespondToAuthChallenge': 'sign-in to an app, not a change',
  // The console's own state: what you looked at, your settings.
  'cloudshell:*': 'CloudShell sessions, heartbeats and credentials for the shell',
  'notifications:*': 'console notification settings',
  'uxc:*': 'console look and feel (favourites, recently visited)',
  'health:*': 'the health dashboard reading events',
  'ce:*': 'Cost Explorer queries and saved views',
  'cost-optimization-hub:*': 'cost recommendations views',
  'resource-explorer-2:*': 'the console search box',
  'q:*': 'Amazon Q chat in the console',
  // Queries and checks that write nothing to the account.
  'logs:StartQuery': 'a CloudWatch Logs Insights query',
  'logs:StopQuery': 'a CloudWatch Logs Insights query',
  'logs:StartLiveTail': 'watching logs live',
  'cloudtrail:StartQuery': 'a CloudTrail Lake query',
  'cloudtrail:LookupEvents': 'reading event history',
  'athena:StartQueryExecution': 'an Athena query (reads data; its results bucket is housekeeping)',
  'athena:StopQueryExecution': 'an Athena query',
  'iam:SimulatePrincipalPolicy': 'the policy simulator',
  'iam:SimulateCustomPolicy': 'the policy simulator',
  'iam:GenerateServiceLastAccessedDetails': 'the Access Advisor tab',
  'iam:GenerateCredentialReport': 'the credential report',
  'access-analyzer:ValidatePolicy': 'the policy editor checking a draft',
  'events:TestEventPattern': 'the rule editor checking a pattern',
  'scheduler:TestScheduleExpression': 'the schedule editor checking an expression',
  'rds:DownloadDBLogFilePortion': 'reading database logs',
  'kms:Decrypt': 'reading a secret or parameter in the console',
  'kms:GenerateDataKey': 'the console encrypting an upload',
  'kms:RetireGrant': 'AWS retiring a grant it no longer needs',
  'servicecatalog:SearchProducts': 'browsing the catalog',
  'servicecatalog:SearchProductsAsAdmin': 'browsing the catalog',
  'servicecatalog:SearchProvisionedProducts': 'browsing the catalog',
  'ssm:StartSession': 'opening a shell on an instance (reported by its own flows, not a configuration change)',
  'ssm:TerminateSession': 'closing a shell',
  'ssm:ResumeSession': 'reopening a shell',
  'ec2-instance-connect:SendSSHPublicKey': 'connecting to an instance (not a configuration change)',
  'glue:BatchGetJobs': 'listing jobs (named like a write)',
  'glue:BatchGetCrawlers': 'listing crawlers (named like a write)',
  'config:SelectResourceConfig': 'an advanced query',
  'securityhub:BatchGetSecurityControls': 'reading controls (named like a write)',
};

function prefixOf(service: string | null): string {
  if (!service) return '';
  const i = service.indexOf('.');
  return i > 0 ? service.slice(0, i) : service;
}

/** Why the console call is housekeeping, or null when it is a real change. */
export function housekeepingReason(service: string | null, action: string | null): string | null {
  const p = prefixOf(service);
  return CONSOLE_HOUSEKEEPING[`${p}:${action ?? ''}`] ?? CONSOLE_HOUSEKEEPING[`${p}:*`] ?? null;
}

/** Read-style names some services log with `readOnly: false` or without `readOnly`. */
const READ_STYLE = /^(Get|List|Describe|Head|Lookup|Search|Query|Scan|BatchGet|Select|View|Preview|Estimate|Check|Validate|Test|Simulate|Poll)[A-Z]/;

const API_NAME = /^[A-Za-z][A-Za-z0-9]*$/;

/**
 * A successful write made from the console: the definition behind the ClickOps flows and report.
 * Sign-in and console housekeeping calls (the list above) and read-style calls are not changes.
 */
export function isConsoleChange(e: TrailEvent): boolean {
  if (e.via !== 'console' || e.outcome !== 'success' || e.readOnly === true) return false;
  // Three flows ask about each console event in turn: the last answer stands while the fields it read are the same.
  const a = e.actor.type;
  if (e === last.e && a === last.actorType && e.action === last.action && e.eventType === last.eventType && e.service === last.service) return last.result;
  let result = false;
  if (a === 'AWSService') result = false;
  // Not an API name (the access portal logs page addresses as event names) or a read-style name.
  else if (!e.action || !API_NAME.test(e.action) || READ_STYLE.test(e.action)) result = false;
  else if (e.eventType === 'AwsConsoleSignIn' || e.eventType === 'AwsServiceEvent') result = false;
  else result = housekeepingReason(e.service, e.action) === null;
  last.e = e;
  last.actorType = a;
  last.action = e.action;
  last.eventType = e.eventType;
  last.service = e.service;
  last.result = result;
  return result;
}
const last: { e: TrailEvent | null; actorType: string | null; action: string | null; eventType: string | null; service: string | null; result: boolean } = {
  e: null,
  actorType: null,
  action: null,
  eventType: null,
  service: null,
  result: false,
};

/** The same rule as SQL over the `events` table (reports), so both agree. */
export function consoleChangeSql(alias: string, param: (v: unknown) => string): string {
  const whole: string[] = [];
  const exact: string[] = [];
  for (const k of Object.keys(CONSOLE_HOUSEKEEPING)) {
    const [svc, act] = k.split(':') as [string, string];
    if (act === '*') whole.push(svc);
    else exact.push(k);
  }
  return `${alias}.via = 'console' AND ${alias}.outcome = 'success' AND ${alias}.read_only IS NOT TRUE
      AND ${alias}.actor_type IS DISTINCT FROM 'AWSService'
      AND ${alias}.event_type IS DISTINCT FROM 'AwsConsoleSignIn' AND ${alias}.event_type IS DISTINCT FROM 'AwsServiceEvent'
      AND ${alias}.action ~ '${API_NAME.source}' AND ${alias}.action !~ '${READ_STYLE.source}'
      AND split_part(${alias}.service, '.', 1) <> ALL(${param(whole)}::text[])
      AND (split_part(${alias}.service, '.', 1) || ':' || ${alias}.action) <> ALL(${param(exact)}::text[])`;
}
