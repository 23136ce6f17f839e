-- The runtime's own tables (src/runtime).

-- Jobs of the inline queue backend (the embedded default, no Redis): the same jobs BullMQ would hold,
-- kept in the store so they survive restarts. A job is claimed with a lease (locked_until); a job whose
-- lease ran out while active belonged to a process that died and is taken again.
CREATE TABLE runtime_jobs (
  queue          text NOT NULL,
  id             text NOT NULL,
  name           text NOT NULL,
  data           jsonb NOT NULL,
  state          text NOT NULL CHECK (state IN ('waiting', 'delayed', 'active', 'completed', 'failed')),
  attempts       integer NOT NULL DEFAULT 1,
  attempts_made  integer NOT NULL DEFAULT 0,
  stalled        integer NOT NULL DEFAULT 0,
  backoff_ms     integer NOT NULL DEFAULT 1000,
  run_at         timestamptz NOT NULL DEFAULT now(),
  locked_until   timestamptz,
  lock_token     text,
  failed_reason  text,
  return_value   jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  processed_at   timestamptz,
  finished_at    timestamptz,
  PRIMARY KEY (queue, id)
);
CREATE INDEX runtime_jobs_due ON runtime_jobs (queue, run_at) WHERE state IN ('waiting', 'delayed');
CREATE INDEX runtime_jobs_active ON runtime_jobs (queue, locked_until) WHERE state = 'active';
CREATE INDEX runtime_jobs_state ON runtime_jobs (queue, state, finished_at DESC);

-- Recurring work of the inline backend, upserted under stable ids like BullMQ's job schedulers.
CREATE TABLE runtime_schedules (
  queue       text NOT NULL,
  id          text NOT NULL,
  every_ms    bigint,
  pattern     text,
  tz          text,
  name        text NOT NULL,
  data        jsonb NOT NULL,
  opts        jsonb NOT NULL DEFAULT '{}',
  next_at     timestamptz NOT NULL,
  iterations  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, id)
);

-- How far each source has got, written by the jobs that read it, whatever the queue backend.
-- /metrics reports now - newest_event_at as the source's lag.
CREATE TABLE source_status (
  source           text PRIMARY KEY,
  newest_event_at  timestamptz,
  last_run_at      timestamptz NOT NULL,
  last_events      bigint NOT NULL DEFAULT 0,
  last_error       text
);
