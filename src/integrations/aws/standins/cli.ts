// One-command launcher for the AWS stand-ins:
//   node src/integrations/aws/standins/cli.ts [--port 4566] [--records <file-or-dir>...] [--accounts 111111111111,222222222222] [--role TrailbotReader]
// Prints `export AWS_ENDPOINT_URL_…=…` lines to paste into another shell, then serves until Ctrl-C.
import { parseArgs } from 'node:util';
import { runStandinCli } from '../../standin-kit/cli.ts';
import { startStandins } from './index.ts';
import { DEFAULT_BASE_CREDENTIALS } from './credentials.ts';
import { DEFAULT_MEMBER_ACCOUNTS, DEFAULT_ROLE_NAME } from './sts.ts';
import {
  accountOf,
  cloudTrailNotificationMessage,
  eventTimeMs,
  loadRecordsFromPaths,
  s3EventNotification,
  s3TestEvent,
  shiftNewestTo,
  snsEnvelope,
  toCloudTrailLogObjects,
} from './records.ts';
import type { CloudTrailRecord } from './records.ts';

const HELP = `Usage: node src/integrations/aws/standins/cli.ts [options]

Starts local stand-ins for CloudTrail (LookupEvents), S3, SQS, STS and IAM on one port and prints the
environment that points the AWS SDK (and trailbot) at them. IAM holds a user (one Active key, a console
password) for each IAM user in the records and a role for each role their sessions used.

  --port <n>             port to listen on (default 4566; 0 picks a free one)
  --host <addr>          address to bind (default 127.0.0.1)
  --records <path>       CloudTrail records: JSON array, {"Records":[…]}, NDJSON, gzipped or not,
                         or a directory of those (repeatable)
  --accounts <a,b>       member accounts AssumeRole may enter (default: the accounts found in the
                         records other than the base account, else ${DEFAULT_MEMBER_ACCOUNTS.join(',')})
  --role <name>          role name in each member account (default ${DEFAULT_ROLE_NAME})
  --base-account <id>    account of the printed base key (default ${DEFAULT_BASE_CREDENTIALS.accountId})
  --region <r>           AWS_REGION to print (default us-east-1)
  --now <iso>            CloudTrail stand-in clock for the 90-day window (default: real time)
  --shift-to-now         move each file's records in time so its newest is one minute before "now"
                         (spacing inside a file kept)
  --throttle <n>         LookupEvents requests per second per account-region (default 2; 0 = off)
  --bucket <name>        S3 bucket seeded with CloudTrail log files (default trailbot-cloudtrail)
  --prefix <p>           trail S3 key prefix (default none)
  --queue <name>         SQS queue seeded with one notification per log file (default trailbot-cloudtrail)
  --notify <style>       sns (SNS envelope, default) | sns-raw | s3 (S3 event notifications) | none
  --no-seed              load records into CloudTrail only; leave S3 and SQS empty
  -h, --help             this text
`;

export interface CliOptions {
  port: number;
  host: string;
  records: string[];
  accounts?: string[];
  role: string;
  baseAccount: string;
  region: string;
  now?: number;
  shiftToNow: boolean;
  throttle: number;
  bucket: string;
  prefix?: string;
  queue: string;
  notify: 'sns' | 'sns-raw' | 's3' | 'none';
  seed: boolean;
}

export function parseCliArgs(argv: readonly string[]): CliOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      port: { type: 'string', default: '4566' },
      host: { type: 'string', default: '127.0.0.1' },
      records: { type: 'string', multiple: true, default: [] },
      accounts: { type: 'string' },
      role: { type: 'string', default: DEFAULT_ROLE_NAME },
      'base-account': { type: 'string', default: DEFAULT_BASE_CREDENTIALS.accountId },
      region: { type: 'string', default: 'us-east-1' },
      now: { type: 'string' },
      'shift-to-now': { type: 'boolean', default: false },
      throttle: { type: 'string', default: '2' },
      bucket: { type: 'string', default: 'trailbot-cloudtrail' },
      prefix: { type: 'string' },
      queue: { type: 'string', default: 'trailbot-cloudtrail' },
      notify: { type: 'string', default: 'sns' },
      'no-seed': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return 'help';
  const fail = (msg: string): never => {
    throw new Error(`${msg}\n\n${HELP}`);
  };
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: not a port: ${values.port}`);
  const throttle = Number(values.throttle);
  if (!Number.isFinite(throttle) || throttle < 0) fail(`--throttle: not a number >= 0: ${values.throttle}`);
  const notify = values.notify;
  if (notify !== 'sns' && notify !== 'sns-raw' && notify !== 's3' && notify !== 'none') return fail(`--notify: one of sns, sns-raw, s3, none (got ${notify})`);
  const accounts = values.accounts?.split(',').map((a) => a.trim()).filter(Boolean);
  for (const a of [...(accounts ?? []), values['base-account']]) if (!/^\d{12}$/.test(a)) fail(`not a 12-digit account id: ${a}`);
  let now: number | undefined;
  if (values.now !== undefined) {
    now = Date.parse(values.now);
    if (Number.isNaN(now)) fail(`--now: not a date: ${values.now}`);
  }
  return {
    port,
    host: values.host,
    records: values.records,
    accounts,
    role: values.role,
    baseAccount: values['base-account'],
    region: values.region,
    now,
    shiftToNow: values['shift-to-now'],
    throttle,
    bucket: values.bucket,
    prefix: values.prefix,
    queue: values.queue,
    notify,
    seed: !values['no-seed'],
  };
}

export async function runCli(argv: readonly string[], out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)) {
  const opts = parseCliArgs(argv);
  if (opts === 'help') {
    out(HELP);
    return undefined;
  }
  const loaded = opts.records.length > 0 ? await loadRecordsFromPaths(opts.records) : { records: [], files: [], byFile: [] };
  const nowMs = opts.now ?? Date.now();
  // each file is shifted on its own: files from different captures all end one minute before "now"
  const records: CloudTrailRecord[] = opts.shiftToNow ? loaded.byFile.flatMap((f) => shiftNewestTo(f.records, nowMs - 60_000)) : loaded.records;
  const files = loaded.files;
  const recordAccounts = [...new Set(records.map(accountOf).filter((a): a is string => !!a && a !== opts.baseAccount))].sort();
  const accounts = opts.accounts ?? (recordAccounts.length > 0 ? recordAccounts : [...DEFAULT_MEMBER_ACCOUNTS]);

  const s = await startStandins({
    port: opts.port,
    host: opts.host,
    base: { accountId: opts.baseAccount },
    accounts,
    roleName: opts.role,
    records,
    now: opts.now,
    throttle: opts.throttle === 0 ? false : { limit: opts.throttle, windowMs: 1000 },
    region: opts.region,
  });

  const lines: string[] = [];
  lines.push(`# trailbot AWS stand-ins (CloudTrail LookupEvents, S3, SQS, STS, IAM) on ${s.url}`);
  lines.push(`# ${records.length} CloudTrail records from ${files.length} file(s); base account ${opts.baseAccount}`);
  lines.push(`# AssumeRole targets: ${accounts.map((a) => s.sts.roleArn(a)).join(' ')}`);
  const iam = s.iam.seedFromRecords(records);
  if (iam.users + iam.roles > 0) lines.push(`# IAM: ${iam.users} user(s) and ${iam.roles} role(s) from the records' identities`);
  if (opts.seed && records.length > 0) {
    const logs = toCloudTrailLogObjects(records, { prefix: opts.prefix });
    s.s3.createBucket(opts.bucket);
    for (const f of logs) s.s3.putObject(opts.bucket, f.key, f.body, { contentType: 'application/json', lastModified: eventTimeMs(f.records[f.records.length - 1]) });
    lines.push(`# S3: ${logs.length} log file(s) in s3://${opts.bucket}/${opts.prefix ? `${opts.prefix}/` : ''}AWSLogs/`);
    if (opts.notify !== 'none') {
      const queueUrl = s.sqs.createQueue(opts.queue);
      if (opts.notify === 's3') s.sqs.sendRaw(opts.queue, s3TestEvent(opts.bucket));
      for (const f of logs) {
        const message = cloudTrailNotificationMessage(opts.bucket, [f.key]);
        const body =
          opts.notify === 'sns'
            ? snsEnvelope(message, { topicArn: `arn:aws:sns:${opts.region}:${opts.baseAccount}:${opts.queue}` })
            : opts.notify === 'sns-raw'
              ? message
              : s3EventNotification(opts.bucket, f.key, { size: f.body.length, eTag: s.s3.getObject(opts.bucket, f.key)?.etag ?? '', region: opts.region });
        s.sqs.sendRaw(opts.queue, body);
      }
      lines.push(`# SQS: ${logs.length} ${opts.notify} notification(s) on ${queueUrl}`);
    }
  }
  lines.push('unset AWS_SESSION_TOKEN AWS_PROFILE');
  for (const [k, v] of Object.entries(s.env(opts.region))) lines.push(`export ${k}=${v}`);
  for (const l of lines) out(l);
  return s;
}

runStandinCli(import.meta.url, 'stand-ins', runCli);
