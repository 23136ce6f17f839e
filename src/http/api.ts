import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { parseLimit, parseTimeArg } from '../cli/time.ts';
import { parseRange } from '../time.ts';
import { OUTCOMES, VIAS } from '../events/model.ts';
import { withSummary } from '../events/summary.ts';
import { FINDING_STATUSES, type Finding, type FindingStatus, findingEventIds, findingsPage, getFinding } from '../flows/index.ts';
import { listTickets, type TicketState, ticketBriefs } from '../actions/jira/tickets.ts';
import { listAudit } from '../actions/approvals/store.ts';
import { getReport, listReports } from '../reports/scheduled.ts';
import { REPORT_FORMATS, type ReportFormat, renderReport } from '../reports/index.ts';
import { type JobInfo, JOB_STATES, type JobQueue, type JobState } from '../runtime/queue.ts';
import { bodyLimit } from 'hono/body-limit';
import { enqueue } from '../runtime/enqueue.ts';
import { oneOf, TrailbotError } from '../errors.ts';
import { JOB_KINDS, type JobKind } from '../runtime/jobs.ts';
import { ingestUpload, UPLOAD_MAX_BYTES } from '../runtime/upload.ts';
import type { SearchQuery, Store } from '../store/index.ts';

/** What POST /api/ingest takes: a trail file's bytes as they are (what the CLI sends: octet-stream). */
export const UPLOAD_TYPES: readonly string[] = ['application/octet-stream', 'application/gzip', 'application/x-gzip', 'application/json', 'application/x-ndjson'];

/** The most a POST /api/jobs body may be: a job's data is small (a report id, a source, a note). */
export const JOB_BODY_MAX_BYTES = 1024 * 1024;

/**
 * A time from a query string. An unencoded `+` arrives as a space (form encoding), so a space right
 * before a trailing `HH:MM`/`HHMM` offset of a date-time is read as `+`; a space anywhere else stays.
 */
export function queryTime(v: string | undefined): string | undefined {
  return v?.replace(/^(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$/, '$1+$2');
}

/** A finding in a list: everything but the rendered Slack and Jira bodies (GET /api/findings/:id has them). */
function withoutBodies(f: Finding): Omit<Finding, 'slack' | 'jira' | 'body'> {
  const { slack: _s, jira: _j, body: _b, ...rest } = f;
  return rest;
}

/**
 * The read-only JSON API: the same questions the CLI answers (`trail`, `search`), plus the queue's
 * jobs. Query parameters use snake_case; times take the CLI's forms (7d, 2024-08-01, ISO).
 */
export function createApi({ store, queue, reportIds }: { store: Store; queue: JobQueue; reportIds?: readonly string[] | undefined }): Hono {
  const api = new Hono();
  // Times in the one grammar (src/time.ts); a bad one is a 400 naming the parameter, never a 500.
  const time = (v: string | undefined, name: string): string | undefined => (v ? parseTimeArg(queryTime(v)!, name) : undefined);
  const range = (since: string | undefined, until: string | undefined) => parseRange(queryTime(since), queryTime(until));
  const bool = (v: string | undefined, name: string): boolean | undefined => {
    if (v === undefined) return undefined;
    if (v === 'true' || v === 'false') return v === 'true';
    throw new HTTPException(400, { message: `${name} must be true or false` });
  };

  api.get('/trail', async (c) => {
    const q = c.req.query();
    if (!q.who) throw new HTTPException(400, { message: 'who is required: an e-mail, user name, session name, access key id or ARN' });
    const r = await store.trail({
      who: q.who,
      ...range(q.since ?? '7d', q.until),
      limit: parseLimit(q.limit ?? '50', 'limit', 1000),
      writesOnly: bool(q.writes_only, 'writes_only') ?? false,
    });
    return c.json({ principals: r.principals, events: r.events.map(withSummary) });
  });

  api.get('/events', async (c) => {
    const q = c.req.query();
    const outcome = q.outcome;
    if (outcome && !(OUTCOMES as readonly string[]).includes(outcome)) throw new HTTPException(400, { message: `outcome must be ${oneOf(OUTCOMES)}` });
    const via = q.via;
    if (via && !(VIAS as readonly string[]).includes(via)) throw new HTTPException(400, { message: `via must be ${oneOf(VIAS)}` });
    const query: SearchQuery = {
      eventId: q.event_id,
      eventName: q.event_name,
      user: q.user,
      resourceType: q.resource_type,
      resourceName: q.resource_name,
      eventSource: q.event_source,
      accessKey: q.access_key,
      readOnly: bool(q.read_only, 'read_only'),
      account: q.account,
      region: q.region,
      outcome: outcome as SearchQuery['outcome'],
      via: via as SearchQuery['via'],
      ...range(q.since, q.until),
      limit: parseLimit(q.limit ?? '50', 'limit', 1000),
    };
    const r = await store.search(query);
    return c.json({ events: r.events.map(withSummary) });
  });

  api.get('/events/:id', async (c) => {
    const id = c.req.param('id');
    const r = await store.search({ eventId: id, limit: 1 });
    const event = r.events[0];
    if (!event) throw new HTTPException(404, { message: `no event ${id}` });
    return c.json({ event: withSummary(event), raw: await store.raw(id) });
  });

  api.get('/findings', async (c) => {
    const q = c.req.query();
    const status = q.status as FindingStatus | undefined;
    if (status && !FINDING_STATUSES.includes(status)) throw new HTTPException(400, { message: `status must be one of ${FINDING_STATUSES.join(', ')}` });
    // updated_since keeps microseconds (a finding's updatedAt has them): an exact UTC time goes to the
    // database as written; rounded to milliseconds, the last finding would come back on every poll.
    const exact = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d{1,6})?Z$/.exec(q.updated_since ?? '');
    const updatedSince = exact && new Date(`${exact[1]}Z`).toISOString().startsWith(exact[1]!) ? exact[0] : time(q.updated_since, 'updated_since');
    // A feed: poll with after=<next> to get every change once, in order (findingsPage).
    const page = await findingsPage(store.db, { after: q.after, updatedSince, flow: q.flow, status, limit: parseLimit(q.limit ?? '100', 'limit', 1000) });
    const tickets = await ticketBriefs(store.db, page.findings.map((f) => f.id));
    return c.json({ findings: page.findings.map((f) => ({ ...withoutBodies(f), ticket: tickets.get(f.id) ?? null })), next: page.next });
  });

  api.get('/findings/:id', async (c) => {
    const id = c.req.param('id');
    const finding = await getFinding(store.db, id);
    if (!finding) throw new HTTPException(404, { message: `no finding ${id}` });
    const ticket = (await ticketBriefs(store.db, [id])).get(id) ?? null;
    return c.json({ finding: { ...finding, eventIds: await findingEventIds(store.db, id), ticket } });
  });

  // The Jira tickets of findings, newest change first (`trailbot tickets`): sent, kept without Jira, failed with why.
  api.get('/tickets', async (c) => {
    const state = c.req.query('state') as TicketState | undefined;
    if (state && !['intent', 'created', 'not-sent', 'failed'].includes(state)) throw new HTTPException(400, { message: 'state must be intent, created, not-sent or failed' });
    return c.json({ tickets: await listTickets(store.db, { state, limit: parseLimit(c.req.query('limit') ?? '100', 'limit', 1000) }) });
  });

  // The approvals' audit log, newest first (`trailbot audit`): every proposal, view, sign-in, decision, refusal and action.
  // Page back with before=<next>.
  api.get('/audit', async (c) => {
    const q = c.req.query();
    const limit = parseLimit(q.limit ?? '100', 'limit', 1000);
    let before: number | undefined;
    if (q.before !== undefined) {
      if (!/^\d{1,18}$/.test(q.before)) throw new HTTPException(400, { message: 'before must be the next value of an earlier answer (a whole number)' });
      before = Number(q.before);
    }
    const entries = await listAudit(store.db, { approvalId: q.approval, findingId: q.finding, action: q.action, before, limit });
    return c.json({ entries, next: entries.length === limit ? String(entries.at(-1)!.seq) : null });
  });

  api.get('/reports', async (c) => {
    const limit = parseLimit(c.req.query('limit') ?? '50', 'limit', 1000);
    return c.json({ reports: await listReports(store, { reportId: c.req.query('report'), limit }) });
  });

  api.get('/reports/:id', async (c) => {
    const id = c.req.param('id');
    const format = (c.req.query('format') ?? 'json') as ReportFormat;
    if (!REPORT_FORMATS.includes(format)) throw new HTTPException(400, { message: `format must be one of ${REPORT_FORMATS.join(', ')}` });
    const stored = await getReport(store, id);
    if (!stored) throw new HTTPException(404, { message: `no report ${id}` });
    if (format === 'json') return c.json(stored);
    const type = format === 'csv' ? 'text/csv; charset=utf-8' : 'text/markdown; charset=utf-8';
    return c.body(renderReport(stored.report, format), 200, { 'content-type': type });
  });

  api.get('/jobs', async (c) => {
    const state = (c.req.query('state') ?? 'failed') as JobState;
    if (!JOB_STATES.includes(state)) throw new HTTPException(400, { message: `state must be one of ${JOB_STATES.join(', ')}` });
    const limit = parseLimit(c.req.query('limit') ?? '50', 'limit', 1000);
    return c.json({ backend: queue.backend, counts: await queue.counts(), jobs: (await queue.list(state, limit)).map(shownJob) });
  });

  api.get('/jobs/:id', async (c) => {
    const job = await queue.get(c.req.param('id'));
    if (!job) throw new HTTPException(404, { message: `no job ${c.req.param('id')}` });
    return c.json({ job: shownJob(job) });
  });

  // ---- Writes, for the CLI while `trailbot serve` holds the embedded store (src/cli/remote.ts). ----

  /** The queue at a glance: what `trailbot jobs list` prints above the jobs. */
  api.get('/queue', async (c) => c.json({ backend: queue.backend, name: queue.name, counts: await queue.counts(), schedules: await queue.schedules() }));

  /**
   * One trail file's bytes as the body (JSON, NDJSON, gzipped or not); `?name=` labels it in the
   * answer's rejections. Ingested by an ingest-file job, flows included; answers when it is done.
   */
  api.post(
    '/ingest',
    bodyLimit({
      maxSize: UPLOAD_MAX_BYTES,
      onError: () => {
        throw new TrailbotError('E_TOO_LARGE', `the file is larger than ${UPLOAD_MAX_BYTES / 1024 / 1024} MiB, the most POST /api/ingest takes`, {
          hint: 'split it, or stop trailbot serve and run `trailbot ingest` directly (it has no such limit)',
        });
      },
    }),
    async (c) => {
      const name = (c.req.query('name') ?? 'upload').slice(0, 1000);
      const bytes = new Uint8Array(await c.req.arrayBuffer());
      return c.json(await ingestUpload(queue, { name, bytes }));
    },
  );

  /**
   * Queues a job as `trailbot jobs add` does: `{ kind, data, key? }`. Not `ingest-file` (its data is a
   * path on the server: POST /api/ingest takes the file itself) nor `remediate` (approvals queue it).
   */
  api.post(
    '/jobs',
    bodyLimit({
      maxSize: JOB_BODY_MAX_BYTES,
      onError: () => {
        throw new TrailbotError('E_TOO_LARGE', `the job is larger than ${JOB_BODY_MAX_BYTES / 1024 / 1024} MiB, the most POST /api/jobs takes`, {
          hint: 'a job names what to do ({"kind": "report", "data": {"report": "daily"}}); files go to POST /api/ingest (`trailbot ingest <path>`)',
        });
      },
    }),
    async (c) => {
      let body: { kind?: unknown; data?: unknown; key?: unknown };
      try {
        body = (await c.req.json()) as typeof body;
      } catch {
        throw new TrailbotError('E_INPUT_NOT_JSON', 'the body is not JSON', { hint: 'send a JSON object: {"kind": "probe", "data": {...}, "key": "..."} with Content-Type: application/json' });
      }
      const kind = body?.kind;
      if (typeof kind !== 'string' || !(JOB_KINDS as string[]).includes(kind)) throw new HTTPException(400, { message: `kind must be one of ${JOB_KINDS.join(', ')}` });
      if (kind === 'ingest-file') throw new HTTPException(400, { message: 'ingest-file jobs name a path on the server and cannot be queued over HTTP; POST the file to /api/ingest (`trailbot ingest <path>` does)' });
      if (kind === 'remediate' || kind === 'approval') throw new HTTPException(400, { message: `${kind} jobs are queued by approvals, not over the API` });
      if (body.key !== undefined && typeof body.key !== 'string') throw new HTTPException(400, { message: 'key must be a string' });
      const report = (body.data as { report?: unknown } | undefined)?.report;
      if (kind === 'report' && reportIds !== undefined && typeof report === 'string' && !reportIds.includes(report)) {
        // Refused now, not queued to fail later: the configured reports are at hand.
        throw new TrailbotError('E_INPUT_SHAPE', `no report ${JSON.stringify(report)} is configured${reportIds.length ? `; the configured reports are ${reportIds.join(', ')}` : ''}`, {
          hint: reportIds.length ? `use one of ${reportIds.join(', ')} (GET /api/reports lists what they made)` : 'add one under reports: in trailbot.config.yaml, then restart the server',
        });
      }
      const r = await enqueue(queue, kind as JobKind, (body.data ?? {}) as never, { key: body.key as string | undefined });
      return c.json({ ...r, backend: queue.backend });
    },
  );

  api.post('/jobs/:id/retry', async (c) => {
    const id = c.req.param('id');
    if (!(await queue.get(id))) throw new HTTPException(404, { message: `no job ${id}` });
    await queue.retry(id);
    return c.json({ id, state: 'waiting' });
  });

  return api;
}

/**
 * A job as the API shows it: a `/trail` job's response_url is a credential (whoever holds it can
 * answer the person as trailbot for 30 minutes), so only its origin is shown.
 */
function shownJob(job: JobInfo): JobInfo {
  const data = job.data as { responseUrl?: unknown } | null | undefined;
  if (!data || typeof data !== 'object' || typeof data.responseUrl !== 'string') return job;
  let origin = '';
  try {
    origin = new URL(data.responseUrl).origin;
  } catch {
    /* not a URL: nothing of it shown */
  }
  return { ...job, data: { ...data, responseUrl: `${origin}/***` } };
}
