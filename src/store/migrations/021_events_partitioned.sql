-- `events` partitioned by day (issue 14): retention drops whole day partitions (src/store/retention.ts),
-- never row by row, and a day's indexes stay small. A partitioned table's unique keys must hold its
-- partition key, so the primary key becomes (event_id, time): an event id always comes with the same
-- time (CloudTrail's record of it, or a derived id that hashes the whole record), so a re-delivered
-- event lands on the same key and ON CONFLICT (event_id, time) still refuses it. Day partitions are
-- made ahead by the `store-maintenance` job; anything outside them (an event years old, a clock far
-- ahead) goes to events_default, so ingest never fails for want of a partition.
--
-- The upgrade: the old table is renamed, a partition is made for each of the newest 90 days it holds,
-- its rows are copied across (same ids, once each; older days into events_default) and it is dropped,
-- all in the migration's transaction.
ALTER TABLE events RENAME TO events_unpartitioned;
ALTER TABLE events_unpartitioned RENAME CONSTRAINT events_pkey TO events_unpartitioned_pkey;

CREATE TABLE events (
  event_id        text NOT NULL,
  time            timestamptz NOT NULL,
  account         text,
  region          text,
  service         text,
  action          text,
  read_only       boolean,
  event_type      text,
  event_category  text,
  outcome         text NOT NULL CHECK (outcome IN ('success', 'denied', 'failed')),
  error_code      text,
  error_message   text,
  actor_key       text,
  actor_type      text,
  actor_name      text,
  actor_arn       text,
  actor_account   text,
  principal_id    text,
  access_key_id   text,
  user_name       text,
  role_name       text,
  session_name    text,
  email           text,
  invoked_by      text,
  mfa             boolean,
  via             text NOT NULL,
  tool            text,
  source_ip       text,
  source_address  text,
  user_agent      text,
  resources       jsonb NOT NULL DEFAULT '[]',
  resource_keys   text[] NOT NULL DEFAULT '{}',
  primary_type    text,
  primary_id      text,
  primary_arn     text,
  primary_named   boolean NOT NULL DEFAULT true,
  derived_id      boolean NOT NULL DEFAULT false,
  raw             json NOT NULL,
  ingested_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, time)
) PARTITION BY RANGE (time);
-- lz4 for raw records (migration 006), where the server has it.
DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN ALTER TABLE events ALTER COLUMN raw SET COMPRESSION lz4; END IF; END $$;

CREATE TABLE events_default PARTITION OF events DEFAULT;
ALTER TABLE events_default SET (toast_tuple_target = 8160);

-- Makes the partition of one UTC day (events_YYYYMMDD) unless it exists, and returns its name. Rows
-- of that day already in events_default are moved into it first (a partition cannot be attached
-- while the default one holds rows of its range). Rows keep migration 008's toast_tuple_target.
CREATE FUNCTION events_day_partition(day date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  part text := 'events_' || to_char(day, 'YYYYMMDD');
  lo timestamptz := (day::timestamp AT TIME ZONE 'UTC');
  hi timestamptz := ((day + 1)::timestamp AT TIME ZONE 'UTC');
BEGIN
  IF to_regclass(part) IS NOT NULL THEN
    RETURN part;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION) WITH (toast_tuple_target = 8160)', part);
  EXECUTE format('WITH moved AS (DELETE FROM events_default WHERE time >= %L AND time < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', lo, hi, part);
  EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
  RETURN part;
END
$$;

-- The newest 90 days the store holds get their partitions here; older ones go to events_default, from
-- where the store-maintenance job gives those within the retention their days (120 a run, each run its
-- own transactions) and deletes the rest. A partition for every day in this one transaction would hold
-- a lock on each partition and each of its indexes until the commit: past ~400 days, more than
-- PostgreSQL's lock table holds (max_locks_per_transaction 64 × connections), and the upgrade failed
-- with "out of shared memory".
SELECT events_day_partition(d) FROM (SELECT DISTINCT (time AT TIME ZONE 'UTC')::date AS d FROM events_unpartitioned ORDER BY 1 DESC LIMIT 90) days;
SELECT events_day_partition(d::date) FROM generate_series(current_date - 1, current_date + 3, interval '1 day') AS d;

INSERT INTO events SELECT * FROM events_unpartitioned;
DROP TABLE events_unpartitioned;

-- The same indexes as before (migrations 001, 010 and 020), made on every partition once the rows are
-- in (after the old table and its indexes of the same names are gone).
CREATE INDEX events_actor_time ON events (actor_key, time DESC);
CREATE INDEX events_action_time ON events (action, time DESC);
CREATE INDEX events_time ON events (time DESC);
CREATE INDEX events_resource_keys ON events USING gin (resource_keys);
CREATE INDEX events_access_key_time ON events (access_key_id, time DESC) WHERE access_key_id IS NOT NULL;
CREATE INDEX events_service_time ON events (service, time DESC);
CREATE INDEX events_account_time ON events (account, time DESC);
CREATE INDEX events_region_time ON events (region, time DESC);
CREATE INDEX events_outcome_time ON events (outcome, time DESC);
CREATE INDEX events_via_time ON events (via, time DESC);
CREATE INDEX events_console_changes ON events (time DESC) INCLUDE (actor_name, primary_type, primary_id)
  WHERE via = 'console' AND read_only IS NOT TRUE AND outcome = 'success';

-- Retention deletes flow hits by time (src/store/retention.ts): without this it would read them all.
CREATE INDEX flow_hits_time ON flow_hits (time);
CREATE INDEX source_rejects_at ON source_rejects (at);
