-- Where each source has got (src/sources). One row per part of a source: an account-region of a
-- LookupEvents source (`123456789012/eu-west-1`), an account-region of an S3 trail, the queue of an
-- SQS source, the folder of a folder source.
--
-- LookupEvents cursor, two windows, each read newest first (as LookupEvents pages come): every event
-- in [from, to] is wanted and those after `low` are stored. The tail is the first run's backfill
-- (up to 90 days back); the head follows new events, from covered_to - overlap to now, and when it is
-- done covered_to moves up to its end. A poller lowers `low` only after a page's events are stored,
-- so a restart never skips one; re-reading the page at `low` only finds duplicates.
CREATE TABLE source_cursors (
  source          text NOT NULL,
  part            text NOT NULL,
  kind            text NOT NULL,
  covered_to      timestamptz,
  head_from       timestamptz,
  head_to         timestamptz,
  head_low        timestamptz,
  tail_from       timestamptz,
  tail_to         timestamptz,
  tail_low        timestamptz,
  -- S3 trails: every day before this one has been listed completely.
  done_day        date,
  -- One worker at a time per part; a lease that runs out (its worker died) is taken over.
  lease_owner     text,
  lease_until     timestamptz,
  events          bigint NOT NULL DEFAULT 0,
  duplicates      bigint NOT NULL DEFAULT 0,
  requests        bigint NOT NULL DEFAULT 0,
  throttled       bigint NOT NULL DEFAULT 0,
  errors          bigint NOT NULL DEFAULT 0,
  last_event_at   timestamptz,
  last_run_at     timestamptz,
  last_error      text,
  last_error_at   timestamptz,
  PRIMARY KEY (source, part)
);

-- Files already read (S3 objects, files of a watched folder), so a file listed or announced again is
-- not fetched again. `tag` is the ETag (S3) or size:mtime (folder): a changed file is read again.
CREATE TABLE source_objects (
  source     text NOT NULL,
  key        text NOT NULL,
  tag        text NOT NULL,
  events     integer NOT NULL DEFAULT 0,
  error      text,
  read_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (source, key)
);
CREATE INDEX source_objects_read_at ON source_objects (source, read_at);

-- What a source could not use: a malformed SQS message (kept here with its body, then deleted from the
-- queue), or records of a file that were rejected. Nothing is dropped without a row here.
CREATE TABLE source_rejects (
  id         bigserial PRIMARY KEY,
  source     text NOT NULL,
  ref        text NOT NULL,
  reason     text NOT NULL,
  body       text,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX source_rejects_source_at ON source_rejects (source, at DESC);

-- The PostgreSQL request limiter: the times of the requests made in the last window, per key
-- (e.g. `cloudtrail/123456789012/eu-west-1`), shared by every process using this database.
-- Unlogged: a slot is worth nothing after a second, and its commit must not wait for the disk.
CREATE UNLOGGED TABLE source_rate_slots (
  key  text NOT NULL,
  at   timestamptz NOT NULL
);
CREATE INDEX source_rate_slots_key_at ON source_rate_slots (key, at);
