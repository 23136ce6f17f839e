import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readInputs } from '../sources/files.ts';
import { normalizeItems } from '../ingest.ts';
import { idempotencyKey, JOB_KINDS, jobId, jobPayloads } from './jobs.ts';
import { createLogger, scrub } from './logger.ts';
import { backoffDelay } from './queue.ts';
import { SAMPLE_TRAIL } from './sample.ts';

describe('job ids', () => {
  it('are valid BullMQ ids for every kind: no colon, never all digits, stable for the same work', () => {
    expect(jobId('probe', '12345')).toBe('probe-12345');
    expect(jobId('notify', 'a:b c/d')).toBe('notify-a_b_c_d');
    const a = idempotencyKey('ingest-batch', jobPayloads['ingest-batch'].parse({ source: 'sqs', records: [{ eventID: 'b' }, { eventID: 'a' }] }));
    const b = idempotencyKey('ingest-batch', jobPayloads['ingest-batch'].parse({ source: 'sqs', records: [{ eventID: 'a' }, { eventID: 'b' }] }));
    expect(a).toBe(b);
    const n = jobPayloads.notify.parse({ target: 'jira', findingId: 'f1' });
    expect(idempotencyKey('notify', n)).toBe(idempotencyKey('notify', jobPayloads.notify.parse({ target: 'jira', findingId: 'f1', action: 'open' })));
    expect(idempotencyKey('notify', n)).not.toBe(idempotencyKey('notify', jobPayloads.notify.parse({ target: 'slack', findingId: 'f1' })));
    for (const kind of JOB_KINDS) {
      const id = jobId(kind, 'x:1');
      expect(id).not.toContain(':');
      expect(id).not.toMatch(/^\d+$/);
    }
  });

  it('back off exponentially, as BullMQ does', () => {
    expect([1, 2, 3, 4].map((n) => backoffDelay(1000, n))).toEqual([1000, 2000, 4000, 8000]);
  });
});

describe('logs', () => {
  it('never carry secrets: secret fields are censored, URL passwords and tokens masked', () => {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const log = createLogger({ level: 'info', destination: sink });
    log.info({ config: { slack: { botToken: 'xoxb-1-2-3', signingSecret: 'sig-s3cret' }, approvalSecret: 'appr-s3cret' }, headers: { authorization: 'Bearer abc' } }, 'starting');
    log.error({ err: new Error('connect to postgres://trailbot:pg-s3cret@db:5432/x failed') }, 'cannot reach redis://:rd-s3cret@redis:6379');
    for (const s of ['xoxb-1-2-3', 'sig-s3cret', 'appr-s3cret', 'Bearer abc', 'pg-s3cret', 'rd-s3cret']) expect(out).not.toContain(s);
    expect(out).toContain('postgres://trailbot:***@db:5432/x');
    expect(scrub('token xoxb-123-abc and https://u:p@h/')).toBe('token *** and https://u:***@h/');
  });
});

describe('the sample trail', () => {
  it('is laid out as CloudTrail writes to S3, and every record normalizes', async () => {
    const files: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d)) {
        const p = join(d, e);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(relative(SAMPLE_TRAIL, p));
      }
    };
    walk(SAMPLE_TRAIL);
    expect(files.length).toBeGreaterThan(30);
    for (const f of files) {
      expect(f).toMatch(/^AWSLogs\/(\d{12})\/CloudTrail\/([a-z0-9-]+)\/(\d{4})\/(\d{2})\/(\d{2})\/\1_CloudTrail_\2_\3\4\5T\d{4}Z_[0-9a-f]{16}\.json\.gz$/);
    }
    let events = 0;
    let rejected = 0;
    for await (const f of readInputs([SAMPLE_TRAIL])) {
      expect(f.error).toBeUndefined();
      events += normalizeItems(f.items, () => rejected++).length;
    }
    expect(rejected).toBe(0);
    expect(events).toBe(265);
  });
});
