-- Slack messages of findings (src/actions/slack/notify.ts): one first message per finding, in the
-- channel the routing gave it; later events go into its thread as replies, at most one per window.
-- state: intent  — written and committed before chat.postMessage; the message carries the finding id
--                  in its metadata, so a retry after a crash between the post and its record looks
--                  for it (conversations.history) before posting again
--        posted  — Slack answered: channel_id and ts are set (ts is the thread of the replies)
--        failed  — Slack refused it for good (error says why and which setting to fix)
CREATE TABLE slack_messages (
  finding_id          text PRIMARY KEY REFERENCES findings (id) ON DELETE CASCADE,
  state               text NOT NULL CHECK (state IN ('intent', 'posted', 'failed')),
  -- As routed (#name or id); channel_id is the id Slack answered with.
  channel             text NOT NULL,
  channel_id          text,
  ts                  text,
  intent_at           timestamptz,
  attempts            integer NOT NULL DEFAULT 0,
  -- The notify job working on this row: another job waits until it is done (a retry of the same job takes it over).
  lease_job           text,
  lease_until         timestamptz,
  error               text,
  -- What the first message shows: the ticket its "Open ticket" button opens, and whether it says resolved.
  shown_ticket        text,
  shown_resolved      boolean NOT NULL DEFAULT false,
  -- What the channel has been told: the finding's count and newest event time at the first message or the last reply.
  reported_count      integer NOT NULL DEFAULT 0,
  reported_last_seen  timestamptz,
  replies             integer NOT NULL DEFAULT 0,
  last_reply_at       timestamptz,
  -- A reply being posted (committed before chat.postMessage): the count it brings the thread up to, and
  -- how many times it was sent; a retry with reply_attempts > 0 looks for it in the thread first.
  reply_upto          integer,
  reply_attempts      integer NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX slack_messages_updated ON slack_messages (updated_at DESC);

-- Scheduled reports delivered to Slack (src/actions/slack/reports.ts): one row per kept report and
-- channel. The summary message (with the report id in its metadata) is posted, then the file
-- uploaded; each step is recorded, so a retried report job does not post either twice.
-- state: intent (nothing recorded yet) → summary (the summary message is posted) → delivered (the file too) | failed
CREATE TABLE report_deliveries (
  report              text NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
  channel             text NOT NULL,
  state               text NOT NULL CHECK (state IN ('intent', 'summary', 'delivered', 'failed')),
  channel_id          text,
  summary_ts          text,
  file_id             text,
  attempts            integer NOT NULL DEFAULT 0,
  upload_attempts     integer NOT NULL DEFAULT 0,
  error               text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (report, channel)
);
