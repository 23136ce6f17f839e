-- Findings made by flows (src/flows). A finding's events live in finding_events; its count and
-- first/last seen are derived from them, so evaluating the same events twice changes nothing.
CREATE TABLE findings (
  id          text PRIMARY KEY,            -- hex, unique per occurrence (safe as a job id)
  key         text NOT NULL,               -- flow:group, stable across occurrences
  flow        text NOT NULL,
  group_key   text NOT NULL,
  kind        text NOT NULL,
  severity    text NOT NULL,
  status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'resolved')),
  anchor      timestamptz NOT NULL,        -- time of the event that opened it; later events join within the dedup period
  first_seen  timestamptz NOT NULL,
  last_seen   timestamptz NOT NULL,
  count       integer NOT NULL DEFAULT 0,
  dimension   jsonb,                       -- first-seen flows: {scope, subject, value}
  title       text NOT NULL DEFAULT '',
  summary     text NOT NULL DEFAULT '',
  body        text NOT NULL DEFAULT '',
  slack       text NOT NULL DEFAULT '',
  jira        jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Which open finding an event joins: the latest of its flow and group.
CREATE INDEX findings_flow_group ON findings (flow, group_key, anchor DESC);
-- "What changed since X" for the Slack and Jira integrations.
CREATE INDEX findings_updated ON findings (updated_at);
CREATE INDEX findings_key ON findings (key);

-- An event joins at most one finding per flow (per flow/scope for first-seen flows).
CREATE TABLE finding_events (
  flow        text NOT NULL,
  event_id    text NOT NULL,
  finding_id  text NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
  time        timestamptz NOT NULL,
  PRIMARY KEY (flow, event_id)
);
CREATE INDEX finding_events_finding ON finding_events (finding_id, time);
CREATE INDEX finding_events_event ON finding_events (event_id);

-- Matches of threshold flows, counted per group within the flow's window.
CREATE TABLE flow_hits (
  flow        text NOT NULL,
  group_key   text NOT NULL,
  event_id    text NOT NULL,
  time        timestamptz NOT NULL,
  PRIMARY KEY (flow, event_id)
);
CREATE INDEX flow_hits_group_time ON flow_hits (flow, group_key, time);

-- First-seen baselines: every value (region, service) each subject (account, person) has used.
CREATE TABLE baselines (
  scope           text NOT NULL,
  subject         text NOT NULL,
  value           text NOT NULL,
  first_seen      timestamptz NOT NULL,
  first_event_id  text NOT NULL,
  PRIMARY KEY (scope, subject, value)
);
CREATE TABLE baseline_subjects (
  scope       text NOT NULL,
  subject     text NOT NULL,
  first_seen  timestamptz NOT NULL,
  PRIMARY KEY (scope, subject)
);
