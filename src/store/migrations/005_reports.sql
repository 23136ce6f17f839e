-- Reports made on a schedule (and by hand through the queue), kept for people and later delivery.
CREATE TABLE reports (
  id          text PRIMARY KEY,
  report_id   text NOT NULL,
  kind        text NOT NULL,
  since       timestamptz NOT NULL,
  until       timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  data        jsonb NOT NULL
);
CREATE INDEX reports_created ON reports (created_at DESC);
CREATE INDEX reports_report ON reports (report_id, created_at DESC);
