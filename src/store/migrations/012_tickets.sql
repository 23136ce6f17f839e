-- Jira tickets of findings (src/actions/jira). A finding has one current ticket; it may have had
-- others before (a new linked ticket after the old one was closed in Jira): one row per generation.
-- The summary and description are kept exactly as sent (or, without Jira, as they would be sent).
-- state: intent   — written and committed before the create request; a retry searches Jira for the
--                   finding's label before creating again (a crash between create and record)
--        created  — Jira answered with the key; jira_key/jira_id/url are set
--        not-sent — Jira is not configured: the ticket is kept here as it would have been sent
--        failed   — Jira refused it for good (error says why and which setting to fix)
CREATE TABLE tickets (
  finding_id          text NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
  generation          integer NOT NULL CHECK (generation >= 1),
  state               text NOT NULL CHECK (state IN ('intent', 'created', 'not-sent', 'failed')),
  project             text NOT NULL,
  issue_type          text NOT NULL,
  labels              text[] NOT NULL,
  priority            text,
  summary             text NOT NULL,
  description         jsonb NOT NULL,
  jira_key            text,
  jira_id             text,
  url                 text,
  -- From Jira (GET issue or webhooks): the status name, its category (new, indeterminate, done), the assignee.
  status              text,
  status_category     text,
  assignee            jsonb,
  -- The ticket of the previous generation this one links (closed in Jira when new activity came).
  links_key           text,
  intent_at           timestamptz,
  attempts            integer NOT NULL DEFAULT 0,
  -- The notify job working on this row: another job waits until it is done (a retry of the same job takes it over).
  lease_job           text,
  lease_until         timestamptz,
  error               text,
  -- What Jira has been told: the finding's count and newest event time when the ticket or the last comment was sent.
  reported_count      integer NOT NULL DEFAULT 0,
  reported_last_seen  timestamptz,
  comments            integer NOT NULL DEFAULT 0,
  last_comment_at     timestamptz,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (finding_id, generation)
);
-- Webhooks find a ticket by its key.
CREATE UNIQUE INDEX tickets_jira_key ON tickets (jira_key) WHERE jira_key IS NOT NULL;
CREATE INDEX tickets_updated ON tickets (updated_at DESC);

-- Where the tickets catch-up (tickets-sync) has read the findings feed up to (findingsPage's cursor).
CREATE TABLE tickets_sync (
  id          boolean PRIMARY KEY DEFAULT true CHECK (id),
  cursor      text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
