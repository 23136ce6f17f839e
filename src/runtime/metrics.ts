import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from '../store/index.ts';
import { type JobQueue, withTimeout } from './queue.ts';

/**
 * What /metrics reports, in Prometheus format. Counters count what this process did (Prometheus
 * adds up the processes); job counts and source lag are read from the queue and the store at scrape
 * time, so any process shows the whole picture.
 */
export interface Metrics {
  readonly registry: Registry;
  eventsIngested: Counter<'source'>;
  findings: Counter<'flow'>;
  tickets: Counter<'action'>;
  slackMessages: Counter<'action'>;
  jobsProcessed: Counter<'kind' | 'outcome'>;
  jobDuration: Histogram<'kind' | 'outcome'>;
}

export function createMetrics({ store, queue }: { store: Store; queue: JobQueue }): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const eventsIngested = new Counter({ name: 'trailbot_events_ingested_total', help: 'CloudTrail events stored for the first time', labelNames: ['source'], registers: [registry] });
  const findings = new Counter({ name: 'trailbot_findings_total', help: 'Findings raised by flows', labelNames: ['flow'], registers: [registry] });
  const tickets = new Counter({ name: 'trailbot_tickets_total', help: 'Jira tickets created or updated', labelNames: ['action'], registers: [registry] });
  const slackMessages = new Counter({ name: 'trailbot_slack_messages_total', help: 'Slack messages of findings posted, replied to in their thread, or updated', labelNames: ['action'], registers: [registry] });
  const jobsProcessed = new Counter({
    name: 'trailbot_jobs_processed_total',
    help: 'Job tries by kind and outcome (completed, retry, failed)',
    labelNames: ['kind', 'outcome'],
    registers: [registry],
  });
  const jobDuration = new Histogram({
    name: 'trailbot_job_duration_seconds',
    help: 'How long one try of a job took',
    labelNames: ['kind', 'outcome'],
    buckets: [0.005, 0.02, 0.1, 0.5, 1, 2.5, 5, 15, 60, 300],
    registers: [registry],
  });
  new Gauge({
    name: 'trailbot_jobs',
    help: 'Jobs in the queue by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const c = await withTimeout(queue.counts(), 2000, 'queue counts timed out');
        for (const [state, n] of Object.entries(c)) this.set({ state }, n);
      } catch {
        /* the queue is down: /readyz says so; the gauge stays empty */
      }
    },
  });
  new Gauge({
    name: 'trailbot_source_lag_seconds',
    help: 'How far behind now the newest stored event of each source is',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const r = await withTimeout(
          store.db.query<{ source: string; lag: number }>(
            'SELECT source, extract(epoch FROM now() - newest_event_at)::float8 AS lag FROM source_status WHERE newest_event_at IS NOT NULL',
          ),
          2000,
          'store timed out',
        );
        for (const row of r.rows) this.set({ source: row.source }, Math.max(0, Number(row.lag)));
      } catch {
        /* the store is down: /readyz says so */
      }
    },
  });
  new Gauge({
    name: 'trailbot_source_last_run_age_seconds',
    help: 'Seconds since each source was last read',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      this.reset();
      try {
        const r = await withTimeout(
          store.db.query<{ source: string; age: number }>('SELECT source, extract(epoch FROM now() - last_run_at)::float8 AS age FROM source_status'),
          2000,
          'store timed out',
        );
        for (const row of r.rows) this.set({ source: row.source }, Math.max(0, Number(row.age)));
      } catch {
        /* as above */
      }
    },
  });
  return { registry, eventsIngested, findings, tickets, slackMessages, jobsProcessed, jobDuration };
}
