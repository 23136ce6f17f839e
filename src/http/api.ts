import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { parseLimit, parseTimeArg } from '../cli/time.ts';
import { withSummary } from '../events/summary.ts';
import { FINDING_STATUSES, type Finding, type FindingStatus, findingEventIds, findingsPage, getFinding } from '../flows/index.ts';
import { getReport, listReports } from '../reports/scheduled.ts';
import { REPORT_FORMATS, type ReportFormat, renderReport } from '../reports/index.ts';
import { JOB_STATES, type JobQueue, type JobState } from '../runtime/queue.ts';
import type { SearchQuery, Store } from '../store/index.ts';

/** A finding in a list: everything but the rendered Slack and Jira bodies (GET /api/findings/:id has them). */
function brief(f: Finding): Omit<Finding, 'slack' | 'jira' | 'body'> {
  const { slack: _s, jira: _j, body: _b, ...rest } = f;
  return rest;
}

/**
 * The read-only JSON API: the same questions the CLI answers (`trail`, `search`), plus the queue's
 * jobs. Query parameters use snake_case; times take the CLI's forms (7d, 2024-08-01, ISO).
 */
export function createApi({ store, queue }: { store: Store; queue: JobQueue }): Hono {
  const api = new Hono();
  const time = (v: string | undefined, name: string): string | undefined => (v ? parseTimeArg(v, name) : undefined);
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
      since: time(q.since ?? '7d', 'since'),
      until: time(q.until, 'until'),
      limit: parseLimit(q.limit ?? '50', 'limit', 1000),
      writesOnly: bool(q.writes_only, 'writes_only') ?? false,
    });
    return c.json({ principals: r.principals, events: r.events.map(withSummary) });
  });

  api.get('/events', async (c) => {
    const q = c.req.query();
    const outcome = q.outcome;
    if (outcome && !['success', 'denied', 'failed'].includes(outcome)) throw new HTTPException(400, { message: 'outcome must be success, denied or failed' });
    const via = q.via;
    if (via && !['console', 'cli', 'sdk', 'iac', 'service', 'unknown'].includes(via)) throw new HTTPException(400, { message: 'via must be console, cli, sdk, iac, service or unknown' });
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
      since: time(q.since, 'since'),
      until: time(q.until, 'until'),
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
    return c.json({ findings: page.findings.map(brief), next: page.next });
  });

  api.get('/findings/:id', async (c) => {
    const id = c.req.param('id');
    const finding = await getFinding(store.db, id);
    if (!finding) throw new HTTPException(404, { message: `no finding ${id}` });
    return c.json({ finding: { ...finding, eventIds: await findingEventIds(store.db, id) } });
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
    return c.json({ backend: queue.backend, counts: await queue.counts(), jobs: await queue.list(state, limit) });
  });

  api.get('/jobs/:id', async (c) => {
    const job = await queue.get(c.req.param('id'));
    if (!job) throw new HTTPException(404, { message: `no job ${c.req.param('id')}` });
    return c.json({ job });
  });

  return api;
}
