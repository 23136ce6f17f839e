import type { Config } from '../config/index.ts';
import type { RawRecord } from '../events/model.ts';
import type { Store } from '../store/index.ts';
import type { JobInput, JobKind, JobPayload } from './jobs.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

/**
 * What a job's processor is handed: the store, a way to enqueue follow-up jobs, a child logger
 * (with the job id and kind) and the metrics. Like probot's Context: one object, no globals.
 */
export interface JobContext {
  store: Store;
  enqueue: <K extends JobKind>(kind: K, input: JobInput<K>, opts?: { key?: string; delayMs?: number }) => Promise<{ id: string; duplicate: boolean }>;
  log: Logger;
  metrics: Metrics;
  config: Config | undefined;
  /** `scheduledAt`: when a schedule's job was due (ISO), the same on every try. */
  job: { id: string; kind: string; attempt: number; attempts: number; scheduledAt?: string | undefined };
}

/** What polling a source hands back: raw records (any shape `unwrap` reads) and how far it got. */
export interface PollResult {
  records: RawRecord[];
  /** The newest event time the source has delivered (for the lag metric); defaults to the newest record. */
  newestEventTime?: string | null;
}

export interface FlowsResult {
  /** Findings newly raised, by flow id. */
  findings: Record<string, number>;
  [k: string]: unknown;
}

export interface NotifyResult {
  /** For Jira: what happened to the ticket. */
  ticket?: 'created' | 'updated' | 'unchanged' | 'resolved' | 'not-sent';
  /** For Slack: what happened to the finding's message (posted, a thread reply, the first message updated). */
  message?: 'posted' | 'replied' | 'updated' | 'unchanged';
  [k: string]: unknown;
}

/**
 * The stages later issues plug in (wired in src/main.ts). A job kind whose stage is not wired yet
 * fails at once (UnrecoverableError, visible in `trailbot jobs failed`) saying which one is missing.
 */
export interface Pipeline {
  /** Issue 4 (sources): read what is new from the source named in the payload. */
  pollSource?: (ctx: JobContext, p: JobPayload<'poll-source'>) => Promise<PollResult>;
  /** Issue 5 (flows): run the flows over these stored events, raise findings, enqueue `notify` jobs. */
  evaluateFlows?: (ctx: JobContext, p: JobPayload<'evaluate-flows'>) => Promise<FlowsResult>;
  /** Slack/Jira: tell people about a finding, idempotently (the job id is the key). */
  notify?: (ctx: JobContext, p: JobPayload<'notify'>) => Promise<NotifyResult>;
  /** Jira: the tickets catch-up (enqueue `notify` for findings whose ticket is missing or behind). */
  ticketsSync?: (ctx: JobContext, p: JobPayload<'tickets-sync'>) => Promise<Record<string, unknown>>;
  /** IAM: carry out an approved remediation step. */
  remediate?: (ctx: JobContext, p: JobPayload<'remediate'>) => Promise<Record<string, unknown>>;
  /** Approvals: read a proposal's plan (a dry run), or tell Jira and Slack what became of a decision (src/actions/approvals). */
  approval?: (ctx: JobContext, p: JobPayload<'approval'>) => Promise<Record<string, unknown>>;
  /** Write a periodic report. */
  report?: (ctx: JobContext, p: JobPayload<'report'>) => Promise<Record<string, unknown>>;
  /** Slack: answer a `/trail` command or button through its response_url (src/actions/slack/trail). */
  slackTrail?: (ctx: JobContext, p: JobPayload<'slack-trail'>) => Promise<Record<string, unknown>>;
}
